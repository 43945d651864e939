"""The stream runner: connect, read, write and commit each Post, reconnect by X's rules.

It holds the app's one connection for every stream job. Everything it decides comes from
``core/stream``: how long to wait before a reconnect (:class:`ReconnectPolicy`), what a line
means (:func:`read_line`), what a refused connect means (:func:`connect_failure`), what the
reconnect asks back and which id ranges recent search fills (:class:`StreamTracker`), whether the
next Post fits the budget and the cap (:mod:`~harvester.core.stream.meter`), and which jobs a Post
goes to (:class:`Router`).

A Post is written once to each of its jobs' files (one line per Post, with ``__harvester`` and
``__twarc``), and committed with its charge and the stream's position in one transaction
(:meth:`Store.commit_stream`). A Post X delivers again (a backfill) is still settled, since X bills
per UTC day whatever the client keeps, but is not written again.

Silence is read on the loop's clock: no line (Post or keep-alive) for ``[stream]
stall_seconds`` ends the connection, as a drop does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import anyio
import structlog

from harvester import __version__
from harvester.config import Config
from harvester.core.endpoints import FIELD_KEYS
from harvester.core.model import JobSpec, StreamCommit
from harvester.core.request import Cause, StopCause
from harvester.core.schedule import run_key
from harvester.core.stream import meter
from harvester.core.stream.fill import fill_tasks
from harvester.core.stream.messages import Disconnect, KeepAlive, PostLine, connect_failure, read_line
from harvester.core.stream.reconnect import Failure, ReconnectPolicy
from harvester.core.stream.recovery import MARGIN_SECONDS, StreamTracker
from harvester.core.stream.rules import Router, wanted_rules
from harvester.core.stream.status import StreamStatus
from harvester.errors import OutputError
from harvester.output import encode_page
from harvester.runtime.runtime import Runtime
from harvester.runtime.stream.api import STREAM_PATH, StreamApi

log = structlog.get_logger(__name__)

CLOSE_WAIT_SECONDS = 5.0  # a stop waits this long for the runner to save its position

POSITION_KEY = "stream:position"
STATUS_KEY = "stream:status"  # the figures, for ``harvester status`` (saved with every commit)
NO_JOB = "(stream)"  # the ledger's job for a Post no stream job's rule matched (someone else's rule)


@dataclass(frozen=True, slots=True)
class _Ended:
    """How one connect went: ``failure`` is the back-off class (None: stop for good, or with
    ``until``, wait for then: the daemon waiting out the cap)."""

    failure: Failure | None
    why: str
    until: float | None = None


class StreamRunner:
    """One filtered-stream connection for every ``kind = "stream"`` job of the runtime."""

    def __init__(self, rt: Runtime, config: Config, api: StreamApi, *, wait_out_limits: bool = False) -> None:
        """``wait_out_limits``: the cap or the spending limit pauses the stream until it resets (the
        daemon) instead of stopping the run (``harvester run``)."""
        self.rt = rt
        self.wait_out_limits = wait_out_limits
        self.config = config
        self.api = api
        self.status = StreamStatus()
        rt.stream = self.status
        self.policy = ReconnectPolicy()
        self.specs: list[JobSpec] = []
        self.router = Router([])
        self.tracker: StreamTracker | None = None
        self._scope: anyio.CancelScope | None = None
        self._changed = anyio.Event()
        self._done = False
        self._started = False
        self._finished = anyio.Event()  # run() saved its position and ended

    def set_jobs(self, specs: Sequence[JobSpec]) -> None:
        """The stream jobs from now on (the rules on the server must already match them)."""
        self.specs = [s for s in specs if s.kind == "stream"]
        self.router = Router(wanted_rules(self.specs))
        self._changed.set()
        if not self.specs and self._scope is not None:  # the last stream job went: let the connection go
            self._scope.cancel()

    def stop(self) -> None:
        """Disconnect now and end :meth:`run` (a stop, the end of ``--for``)."""
        self._done = True
        self._changed.set()
        if self._scope is not None:
            self._scope.cancel()

    async def close(self) -> None:
        """:meth:`stop`, then wait (:data:`CLOSE_WAIT_SECONDS` at most) for :meth:`run` to save
        its position and end."""
        self.stop()
        if self._started:
            with anyio.move_on_after(CLOSE_WAIT_SECONDS):
                await self._finished.wait()

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        rt = self.rt
        self._started = True
        now = rt.clock.now()
        self.status.started = now
        saved = await rt.store.get_state(POSITION_KEY)
        self.tracker = StreamTracker(now, saved if self.config.stream.fill_downtime else None)
        tracker = self.tracker
        filled, recovery_at = False, now
        while not self._done and rt.signals.stop is None:
            if not self.specs:
                self.status.state = "idle"
                self._changed = anyio.Event()
                await self._changed.wait()
                continue
            recovery = tracker.reconnect(rt.clock.now(), fill=self.config.stream.fill_gaps)
            if recovery.fill is not None:
                await self._fill(*recovery.fill)
                filled = True
            self.status.gaps_filled = tracker.gaps_filled
            with anyio.CancelScope() as scope:
                self._scope = scope
                ended = await self._connect(recovery.backfill_minutes)
            if self.status.connected_since is not None and self.status.connected_since >= recovery_at:
                # this outage is over: count it once, by how it was recovered
                if not filled and recovery.backfill_minutes and recovery.gap > 2 * MARGIN_SECONDS:
                    self.status.gaps_backfilled += 1
                filled = False
            recovery_at = rt.clock.now()
            self._scope = None
            if self._done:
                break
            if scope.cancelled_caught:  # no stream job left (set_jobs): wait for one
                continue
            if ended.failure is None and ended.until is not None:
                self.status.state = "waiting"
                log.warning("stream_paused", why=ended.why, until=round(ended.until, 1))
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    await rt.clock.sleep_until(ended.until)
                self._scope = None
                continue
            if ended.failure is None:
                self.status.stop = ended.why
                break
            wait = self.policy.failed(ended.failure)
            self.status.reconnects[ended.failure.value] = self.policy.total[ended.failure]
            self.status.state = "waiting"
            log.info("stream_reconnect", cause=ended.failure.value, why=ended.why, wait=round(wait, 2))
            with anyio.CancelScope() as scope:
                self._scope = scope
                await rt.clock.sleep(wait)
            self._scope = None
        self.status.state = "stopped"
        self.status.stopped_at = rt.clock.now()
        await rt.store.commit_stream(StreamCommit(state=self._state()))
        self._finished.set()

    def _state(self) -> dict[str, Any]:
        """The documents saved with each commit: the position, and the figures as of now."""
        assert self.tracker is not None
        return {POSITION_KEY: self.tracker.to_json(), STATUS_KEY: self.status.to_json(self.rt.clock.now())}

    async def _fill(self, since: int, until: int) -> None:
        tasks, warnings = fill_tasks(self.specs, since, until)
        generations = getattr(self.rt.store, "generations", {})  # a changed job's fills are its new generation's
        tasks = [replace(t, key=run_key(t.key, slot=None, generation=generations.get(t.job, 0))) for t in tasks]
        for w in warnings:
            log.warning("stream_gap_not_filled", reason=w)
        assert self.tracker is not None
        self.status.fill_tasks += len(tasks)
        await self.rt.store.commit_stream(StreamCommit(spawn=tuple(tasks), state=self._state()))
        log.info("stream_gap_fill", since_id=str(since), until_id=str(until), tasks=len(tasks))
        self.rt.signals.notify()

    def _params(self, backfill: int) -> dict[str, str]:
        params: dict[str, str] = {}
        for key, param in FIELD_KEYS.items():
            values = dict.fromkeys(v for s in self.specs for v in getattr(s, key))
            if values:
                params[param] = ",".join(values)
        if backfill:
            params["backfill_minutes"] = str(backfill)
        return params

    async def _connect(self, backfill: int) -> _Ended:
        rt = self.rt
        self.status.state = "connecting"
        self.status.connects += 1
        try:
            async with self.api.connect(self._params(backfill), self.config.api.timeout_seconds) as resp:
                if resp.status != 200:
                    try:
                        body = json.loads(await resp.read() or b"{}")
                    except (ValueError, aiohttp.ClientError):
                        body = {}
                    f = connect_failure(resp.status, body if isinstance(body, dict) else {})
                    if f.capped:
                        rt.machine.cap.on_usage_capped(rt.clock.now(), route=meter.STREAM_ROUTE)
                        return self._limited(StopCause(cause=Cause.CAP, message=f"stream: {f.message}"))
                    if f.stop:
                        rt.signals.request_stop(StopCause(cause=Cause.REFUSED, message=f"stream: {f.message}",
                                                          failure=True))  # fmt: skip
                    return _Ended(f.failure, f.message)
                self.policy.connected()
                self.status.state = "connected"
                self.status.connected_since = rt.clock.now()
                log.info("stream_connected", backfill_minutes=backfill)
                return await self._read(resp)
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError, TimeoutError) as exc:
            return _Ended(Failure.NETWORK, f"{type(exc).__name__}: {exc}")

    async def _read(self, resp: aiohttp.ClientResponse) -> _Ended:
        rt, tracker = self.rt, self.tracker
        assert tracker is not None
        held = self._hold()
        if isinstance(held, StopCause):
            return self._limited(held)
        try:
            while True:
                line = b""
                with anyio.move_on_after(self.config.stream.stall_seconds) as silence:
                    try:
                        line = await resp.content.readline()
                    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
                        return _Ended(Failure.ENDED, f"dropped: {type(exc).__name__}")
                if silence.cancelled_caught:
                    self.status.stalls += 1
                    return _Ended(Failure.ENDED, f"stalled: nothing for {self.config.stream.stall_seconds:g} s")
                if not line:
                    return _Ended(Failure.ENDED, "closed by the server")
                now = rt.clock.now()
                msg = read_line(line)
                if isinstance(msg, KeepAlive | PostLine):  # the stream delivered up to now
                    tracker.heard(now)  # (a disconnect message says nothing of what came before it)
                if isinstance(msg, KeepAlive):
                    self.status.last_keepalive = now
                elif isinstance(msg, PostLine):
                    with anyio.CancelScope(shield=True):  # a stop waits for this Post's commit
                        await self._deliver(msg, held, now)
                    held = self._hold()
                    if isinstance(held, StopCause):
                        return self._limited(held)
                elif isinstance(msg, Disconnect):
                    self.status.disconnects[msg.kind] = self.status.disconnects.get(msg.kind, 0) + 1
                    log.info("stream_disconnect_message", type=msg.kind, detail=msg.detail)
                    if msg.capped:
                        rt.machine.cap.on_usage_capped(now, route=meter.STREAM_ROUTE)
                        return self._limited(StopCause(cause=Cause.CAP, message="stream: the monthly Post cap"))
                    if msg.fatal:
                        rt.signals.request_stop(StopCause(cause=Cause.REFUSED, failure=True,
                                                          message=f"stream disconnected: {msg.kind}: {msg.detail}"))
                        return _Ended(None, msg.kind)
                    return _Ended(Failure.ENDED, f"disconnect message {msg.kind}")
        finally:
            if not isinstance(held, StopCause):
                meter.release(rt.machine.ledger, rt.machine.cap, held)

    def _limited(self, cause: StopCause) -> _Ended:
        """The budget or the cap says no more Posts: stop the run, or (the daemon) pause until the
        limit resets when it says when (a run budget never resets: the daemon stops too)."""
        if self.wait_out_limits and cause.resumes_at is not None:
            return _Ended(None, cause.message, until=cause.resumes_at)
        if self.wait_out_limits and cause.cause is Cause.CAP:
            return _Ended(None, cause.message, until=self.rt.machine.cap.resets_at(self.rt.clock.now()))
        self.rt.signals.request_stop(cause)
        return _Ended(None, cause.message)

    def _hold(self) -> meter.Held | StopCause:
        m = self.rt.machine
        job = self.specs[0].name if self.specs else NO_JOB
        return meter.hold_next(m.ledger, m.cap, m.prices, job, self.rt.clock.now())

    async def _deliver(self, msg: PostLine, held: meter.Held, now: float) -> None:
        """Settle one Post; write it to its jobs and commit it with its charge and position."""
        rt, tracker = self.rt, self.tracker
        assert tracker is not None
        m = rt.machine
        jobs = self.router.jobs(msg.message.get("matching_rules"))
        entry = meter.settle_post(m.ledger, m.cap, m.prices, held, msg.message, now)
        entry_dict = {**entry.to_dict(), "job": jobs[0] if jobs else NO_JOB}
        self.status.last_post = now
        if not jobs or not tracker.keep(msg.id):
            self.status.duplicates = tracker.duplicates
            if entry.micros or entry.posts:
                await rt.store.commit_stream(StreamCommit(ledger=(entry_dict,), state=self._state()))
            return
        retrieved = datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        url = f"{self.api.base_url}{STREAM_PATH}"
        body: dict[str, Any] = {"data": [msg.message["data"]]}
        for extra in ("includes", "matching_rules"):
            if extra in msg.message:
                body[extra] = msg.message[extra]
        async with AsyncExitStack() as stack:
            for job in sorted(jobs):
                await stack.enter_async_context(rt.outputs.locked(job))
            outputs: dict[str, int] = {}
            try:
                for job in jobs:
                    meta = {"job": job, "task": "stream", "retrieved_at": round(now, 3), "path": STREAM_PATH}
                    twarc = {"url": url, "version": f"harvester {__version__}", "retrieved_at": retrieved}
                    outputs[rt.outputs.key(job)] = rt.outputs.append(job, encode_page(body, meta, twarc))
            except OutputError as exc:
                await rt.store.commit_stream(StreamCommit(ledger=(entry_dict,)))
                rt.signals.request_stop(StopCause(cause=Cause.OUTPUT, failure=True, message=f"stream: {exc}"))
                self.stop()
                return
            for job in jobs:
                self.status.posts[job] = self.status.posts.get(job, 0) + 1
            self.status.posts_total += 1
            await rt.store.commit_stream(StreamCommit(outputs=outputs, items=dict.fromkeys(jobs, 1),
                                                      ledger=(entry_dict,), state=self._state()))
        rt.stats.items += len(jobs)
