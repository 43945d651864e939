"""One harvest run, wired end to end: store, plan, outputs, session, machine, pool.

``harvest`` is what ``harvester run`` and ``harvester demo`` call. It opens the store, puts back
claims a dead process left, plans the jobs (enqueueing is idempotent, so a rerun continues
rather than restarts; a job whose definition changed starts afresh as a new generation, and
failed tasks a rerun may fix are put back: ``runtime/definitions.py``), cuts output files back
to their committed lengths, and runs the pool until the queue is drained or something stops it. State is saved whatever happens: every page
is committed as it is written, so there is nothing to flush at the end but the engines' state.

How a run ends (:attr:`RunResult.outcome`): ``complete`` (every job asked for is done),
``stopped`` (on purpose with work left: a budget, the spending limit, credits, the monthly cap,
a long rate-limit wait; the cause says which, the figures that decided it and when the work can
continue), ``failed`` (a job failed, the credentials were refused, or an output file could not
be written), ``interrupted`` (a signal). The CLI maps them to exit codes 0, 3, 1 and 130.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import structlog

from harvester.api.auth import AuthContext
from harvester.api.client import ApiClient
from harvester.clock import Clock, LoopClock
from harvester.config import APP_AUTH, Config
from harvester.core.duration import format_duration
from harvester.core.model import JobSpec, JobStats, NewTask
from harvester.core.request import Cause, RequestMachine, StopCause
from harvester.core.schedule import iter_run_tasks
from harvester.core.stream.status import StreamStatus
from harvester.inputs import job_inputs
from harvester.output import OutputFiles
from harvester.runtime.daemon_store import DaemonStore
from harvester.runtime.definitions import follow_definitions, requeue_fixable
from harvester.runtime.demand import refresh_demand, track_demand
from harvester.runtime.lock import idle_slots, node_slot, state_lock
from harvester.runtime.pool import run_pool
from harvester.runtime.runtime import JobSet, RunSettings, Runtime
from harvester.runtime.stats import RunStats
from harvester.runtime.stream import RuleBook, StreamApi, StreamRunner
from harvester.runtime.usage_poll import poll_usage
from harvester.runtime.wiring import STATE_CACHE, STATE_STOP, build_machine, credentials, export_state
from harvester.store import is_shared_state, open_store
from harvester.store.base import Store
from harvester.store.coordination import coordinator_for

log = structlog.get_logger(__name__)

ENQUEUE_BATCH = 2_000  # tasks per enqueue while planning (constant memory, few transactions)
SHARED_IDLE_POLL = 1.0  # seconds between claims of an idle worker on a shared store


@dataclass
class RunResult:
    """What a run did, and why it ended."""

    stats: RunStats
    jobs: list[JobStats]
    stop: StopCause | None
    machine: RequestMachine
    recovered: int = 0
    truncated: dict[str, int] = field(default_factory=dict)
    stream: StreamStatus | None = None

    @property
    def outcome(self) -> str:
        """``complete``, ``stopped``, ``failed`` or ``interrupted`` (see the module docstring).

        A ``--for`` that ran its time with nothing half done is complete; with tasks left
        (a gap still being filled, say) it is stopped."""
        if self.stop is not None and self.stop.cause is Cause.SIGNAL:
            return "interrupted"
        if any(j.failed for j in self.jobs) or (self.stop is not None and self.stop.failure):
            return "failed"
        timed = self.stop is not None and self.stop.cause is Cause.DURATION
        if (self.stop is not None and not timed) or any(j.pending or j.claimed for j in self.jobs):
            return "stopped"
        return "complete"

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


@asynccontextmanager
async def open_runtime(
    config: Config,
    specs: Sequence[JobSpec],
    *,
    clock: Clock,
    base_url: str | None = None,
    max_usd: float | None = None,
    bearer: str | None = None,
    recover: bool = True,
    settings: RunSettings | None = None,
    signers: Mapping[str, AuthContext] | None = None,
    before_enqueue: Callable[[Store], Awaitable[object]] | None = None,
    enqueue: bool = True,
    run_id: str | None = None,
) -> AsyncIterator[Runtime]:
    """Everything a pool of workers needs, opened and restored; saved and closed on exit.

    On entry: open the store, put back claims a dead process left (single host), bring each
    job's generation up to its definition and enqueue its tasks (idempotent; a changed job starts
    afresh, ``runtime/definitions.py``), put back the failed tasks a rerun may fix, cut output
    files back to their committed lengths, and restore the engines (buckets, cap, ledger).
    ``before_enqueue`` runs on the open store before any job is followed or queued (the stream's
    rules: a rule the server refuses leaves the queue and the generations as they were). The
    runtime's store is the generation-aware :class:`DaemonStore`. On exit, whatever happened: save the engines' state, close
    the output files and the store. Used by ``harvest`` (one run), the daemon and ``plan --probe``.

    ``enqueue=False`` (the probe) leaves the jobs, their generations and their tasks as they are and
    records no run stop: only the engines (buckets, cap, ledger) are restored and saved, so what
    the probe's own requests spend and learn is the next run's to see. ``run_id`` names the run in
    the ledger (default ``run-<start>-<host>-<pid>``).
    """
    creds = signers if signers is not None else credentials(config, bearer)  # a missing token fails here
    store = open_store(config.harvest.state, sqlite_cache_kib=settings.sqlite_cache_kib if settings else None)
    await store.open()
    node, slot = "", None
    if is_shared_state(config.harvest.state):  # several processes: each writes its own files
        try:
            node, slot = node_slot(Path(config.harvest.output_dir))
        except BaseException:
            await store.close()
            raise
    outputs = OutputFiles(Path(config.harvest.output_dir), fsync=config.harvest.fsync, node=node)
    generations = DaemonStore(store, clock)  # generations, as the daemon keeps them
    try:
        recovered = await store.recover() if recover else 0
        if before_enqueue is not None:
            await before_enqueue(store)
        followed = await follow_definitions(generations, specs) if enqueue else {}
        for s in specs if enqueue else ():  # in batches: a job's file of a million ids is never held whole
            batch: list[NewTask] = []
            for t in iter_run_tasks(s, followed[s.name].state, None, inputs=job_inputs(s)):
                batch.append(t)
                if len(batch) >= ENQUEUE_BATCH:
                    await store.enqueue(batch)
                    batch = []
            if batch:
                await store.enqueue(batch)
        if enqueue:
            await requeue_fixable(generations, [s.name for s in specs])
        known = {j.job for j in await store.job_stats()} | {s.name for s in specs}
        offsets = await store.output_offsets()
        truncated = outputs.prepare(offsets, known)
        for name, idle in idle_slots(Path(config.harvest.output_dir)) if node else ():
            try:  # a dead process's slot: cut its uncommitted tails now, not when it is reused
                other = OutputFiles(Path(config.harvest.output_dir), node=name)
                truncated |= {f"{name}/{job}": n for job, n in other.prepare(offsets, known).items()}
            finally:
                idle.release()
        if truncated:
            log.info("output_truncated_to_commit", jobs=truncated)
        by_name = {s.name: s for s in specs}
        run_id = run_id or f"run-{int(clock.now())}-{socket.gethostname()}-{os.getpid()}"
        coordinator = coordinator_for(store)
        machine = await build_machine(config, store, clock.now(), by_name, max_usd=max_usd, run=run_id,
                                      coordinator=coordinator)  # fmt: skip
        if enqueue and any(s.limit is not None for s in specs):  # a job's limit counts its current generation's items
            current = {s.name: followed[s.name].state.generation for s in specs}
            for g in await store.generation_stats():
                if g.job in current and (g.generation or 0) == current[g.job]:
                    machine.job_items[g.job] = g.items
        settings = settings or RunSettings(lease=config.harvest.lease_seconds)
        if node:  # another process's release or commit does not wake this one: poll often
            settings = replace(settings, idle_poll=min(settings.idle_poll, SHARED_IDLE_POLL))
        async with aiohttp.ClientSession() as session:
            client = ApiClient(session, base_url or config.api.base_url, timeout=config.api.timeout_seconds,
                               user_agent=config.api.user_agent)  # fmt: skip
            rt = Runtime(clock=clock, store=generations, outputs=outputs, client=client, machine=machine,
                         credentials=creds, coordinator=coordinator, settings=settings, jobs=JobSet(by_name),
                         recovered=recovered, truncated=truncated)  # fmt: skip
            try:
                yield rt
            finally:
                for key, value in export_state(machine).items():
                    await store.put_state(key, value)
                saved = await store.get_state(STATE_CACHE) or {}
                await store.put_state(STATE_CACHE, {
                    "hits": int(saved.get("hits", 0)) + rt.stats.cache_hits,
                    "requests_saved": int(saved.get("requests_saved", 0)) + rt.stats.requests_saved,
                })  # fmt: skip
                stop = rt.signals.stop
                if enqueue:  # a probe is not a run: the last run's stop stays what status shows
                    await store.put_state(STATE_STOP, None if stop is None else {**stop.to_json(), "at": clock.now()})
    finally:
        outputs.close()
        await store.close()
        if slot is not None:
            slot.release()


async def harvest(
    config: Config,
    specs: Sequence[JobSpec],
    *,
    clock: Clock | None = None,
    base_url: str | None = None,
    max_usd: float | None = None,
    bearer: str | None = None,
    handle_signals: bool = False,
    on_runtime: Callable[[Runtime], None] | None = None,
    watch: Callable[[Runtime], Coroutine[Any, Any, None]] | None = None,
) -> RunResult:
    """Harvest ``specs`` to completion (or until stopped); returns the run's figures."""
    clock = clock or LoopClock()
    signers = credentials(config, bearer)  # a missing token fails before anything is touched
    streaming = any(s.kind == "stream" for s in specs)
    settings = None
    if streaming:  # the stream has no end of its own: the run ends by --for, a stop or a signal
        settings = RunSettings(lease=config.harvest.lease_seconds, exit_when_drained=False, idle_poll=300.0)
    # One process per SQLite state: a run beside a daemon would put back the daemon's claims.
    lock = state_lock(config.harvest.state)
    lock.acquire()
    try:
        stack = AsyncExitStack()
        api: StreamApi | None = None
        if streaming:  # the stream's own session (no silent reconnects): only a run with stream jobs opens it
            api = await stack.enter_async_context(StreamApi(
                base_url or config.api.base_url, signers[APP_AUTH], user_agent=config.api.user_agent,
                timeout=config.api.timeout_seconds))  # fmt: skip

        async def rules(store: Store) -> None:  # the server's rules first: refused, nothing is queued
            assert api is not None
            await RuleBook(api, store, prune=config.stream.prune_rules).apply(specs)

        async with stack, open_runtime(config, specs, clock=clock, base_url=base_url, max_usd=max_usd,
                                       bearer=bearer, signers=signers, settings=settings,
                                       before_enqueue=rules if streaming else None) as rt:  # fmt: skip
            if on_runtime is not None:
                on_runtime(rt)
            runner: StreamRunner | None = None
            if api is not None:
                runner = StreamRunner(rt, config, api)
                runner.set_jobs(specs)
            async with anyio.create_task_group() as tg:
                if runner is not None:
                    tg.start_soon(runner.run)
                if config.harvest.run_for is not None:
                    tg.start_soon(_run_for, rt, runner, config.harvest.run_for)
                if handle_signals:
                    tg.start_soon(_stop_on_signals, rt, tg.cancel_scope)
                if watch is not None:
                    tg.start_soon(watch, rt)
                if rt.settings.usage_poll:
                    tg.start_soon(poll_usage, rt)
                await refresh_demand(rt)  # the first pace is known before the first claim
                tg.start_soon(track_demand, rt)
                await run_pool(rt, config.harvest.workers)
                if runner is not None:
                    await runner.close()  # it saves its position, then ends
                tg.cancel_scope.cancel()
            jobs = [j for j in await rt.store.job_stats() if j.job in rt.jobs.names]
            return RunResult(stats=rt.stats, jobs=jobs, stop=rt.signals.stop, machine=rt.machine,
                             recovered=rt.recovered, truncated=rt.truncated,
                             stream=runner.status if runner is not None else None)  # fmt: skip
    finally:
        lock.release()


async def _run_for(rt: Runtime, runner: StreamRunner | None, seconds: float) -> None:
    """``run --for``: after ``seconds``, stop claiming and disconnect the stream."""
    await rt.clock.sleep(seconds)
    rt.signals.request_stop(StopCause(cause=Cause.DURATION, message=f"ran for {format_duration(seconds)} (--for)"))
    if runner is not None:
        runner.stop()


async def _stop_on_signals(rt: Runtime, abort: anyio.CancelScope) -> None:
    """SIGINT/SIGTERM: stop claiming; in-flight pages finish and commit; then the run ends.
    A second signal aborts at once (a page caught between its write and its commit is cut back
    off its file on the next start: nothing is lost or written twice)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
        async for signum in received:
            name = signal.Signals(signum).name
            if rt.signals.stop is not None and rt.signals.stop.cause is Cause.SIGNAL:
                log.warning("abort_requested", signal=name)
                abort.cancel()
                return
            log.warning("stop_requested", signal=name)
            print("stopping after in-flight pages (Ctrl-C again to abort)", file=sys.stderr, flush=True)
            rt.signals.request_stop(StopCause(cause=Cause.SIGNAL, message=f"stopped by {name}"))
