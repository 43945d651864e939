"""``harvester daemon``: the jobs on their schedules, until SIGTERM; SIGHUP reloads the jobs.

Theory of operation
-------------------
One anyio task group owns everything (style rule 15): the worker pool, the scheduler, the
signal task and the shutdown timer; the monitor's aiohttp server is started before the group
and stopped after it. The runtime is the one ``harvester run`` uses (:func:`open_runtime`),
except that it does not end when the queue is empty (``RunSettings.exit_when_drained``).

*Scheduling.* :class:`Scheduler` keeps, per job, its :class:`~harvester.core.schedule.JobState`
(saved under ``schedule:<job>``). An unscheduled job is enqueued once (its generation-0 keys are
the keys ``harvester run`` uses, so a daemon continues a run's state). A scheduled job is
enqueued afresh, keys suffixed ``@<slot>``, whenever :func:`due_runs` says a slot is due *and*
its previous run has finished: runs of one job never overlap, and however many slots passed
while a run (or the daemon) was busy, the next run is one run.

*Changed jobs.* A job whose definition changed (on start or on SIGHUP) gets the next generation:
its new tasks carry ``~g<n>``, and the older generations' unfinished tasks are retired: they
become ``superseded`` (a state of its own, no failure: ``harvester status --all`` shows them),
at once for the pending and failed ones and on their next claim for those in flight. Their pages
already written stay in the output file. A job whose schedule alone changed keeps its
generation. ``harvester run`` follows the job files the same way (``runtime/definitions.py``).

*Removed jobs* leave ``rt.jobs`` and the machine's specs; their tasks and output stay, and
if the job comes back unchanged it continues where it stopped.

*Stopping.* SIGTERM or SIGINT: stop claiming (a clean stop request), let in-flight requests
finish and commit for up to ``[daemon] grace_seconds``, then cancel what is left and exit 0.
Every page is committed as it is written, so there is nothing to flush but the engines' state,
which :func:`open_runtime` saves on the way out. A second signal cancels at once. A page
cancelled between its write and its commit is cut off the output file on the next start.

*One daemon per state store*: :mod:`harvester.runtime.lock`, taken before anything is opened.

*Keys of spawned tasks.* A resolve page (usernames to ids) spawns per-user tasks with the plain
planner keys; :class:`DaemonStore` adds the run's suffix to them at commit, so a later run's
users are harvested again instead of colliding with the first run's.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import structlog

from harvester.clock import Clock, LoopClock
from harvester.config import APP_AUTH, Config
from harvester.core.model import JobSpec, JobStats
from harvester.core.request import Cause, StopCause
from harvester.errors import UserError
from harvester.jobspec import load_jobs
from harvester.runtime import cache
from harvester.runtime.daemon_store import DaemonStore
from harvester.runtime.demand import track_demand
from harvester.runtime.harvest import open_runtime
from harvester.runtime.lock import state_lock
from harvester.runtime.monitor import Monitor
from harvester.runtime.pool import run_pool
from harvester.runtime.runtime import RunSettings, Runtime
from harvester.runtime.scheduler import Scheduler
from harvester.runtime.stats import RunStats
from harvester.runtime.stream import RuleBook, StreamApi, StreamApiError, StreamRunner
from harvester.runtime.stream.rulebook import OURS_KEY
from harvester.runtime.usage_poll import poll_usage
from harvester.store import redact_url

log = structlog.get_logger(__name__)

# The daemon's SQLite page cache. Its queue is its jobs' sources, not a million tasks, and the
# state file grows (ledger, done polls): a page cache sized for `harvester run` would grow the
# daemon's memory with the file for months (issue 19).
DAEMON_SQLITE_CACHE_KIB = 1024


@dataclass
class DaemonResult:
    """How the daemon ended."""

    stop: StopCause | None
    stats: RunStats
    jobs: list[JobStats]
    runs: int = 0
    retired: int = 0
    forced: bool = False  # the grace period ran out and in-flight work was cancelled
    extra: dict[str, Any] = field(default_factory=dict)


class Daemon:
    """The long-running harvester: schedules, signals, monitor, graceful stop.

    Args:
        config: the configuration (``[daemon]`` for grace, monitor address, SIGHUP).
        job_paths: job files or folders, re-read on SIGHUP.
        clock: defaults to a :class:`LoopClock` (tests and benchmarks pass a warped one).
        base_url, bearer: override the API address and token (sandboxes).
        metrics_port: override ``[daemon] metrics_port`` (0: any free port).
        handle_signals: install SIGTERM/SIGINT/SIGHUP handlers (main thread only).
        idle_poll: how long an idle worker sleeps before looking at the queue again; the
            scheduler wakes the workers itself whenever it enqueues, so this is a safety net.
        on_ready: called once the monitor listens and the jobs are enqueued.
    """

    def __init__(
        self,
        config: Config,
        job_paths: Sequence[Path | str],
        *,
        clock: Clock | None = None,
        base_url: str | None = None,
        bearer: str | None = None,
        metrics_port: int | None = None,
        handle_signals: bool = True,
        idle_poll: float = 60.0,
        on_ready: Callable[[Daemon], None] | None = None,
    ) -> None:
        self.config = config
        self.job_paths = [Path(p) for p in job_paths]
        self.clock = clock
        self.base_url = base_url
        self.bearer = bearer
        self.metrics_port = config.daemon.metrics_port if metrics_port is None else metrics_port
        self.handle_signals = handle_signals
        self.idle_poll = idle_poll
        self.on_ready = on_ready
        self.rt: Runtime | None = None
        self.scheduler: Scheduler | None = None
        self.stream: StreamRunner | None = None
        self.rules: RuleBook | None = None
        self.monitor: Monitor | None = None
        self.forced = False
        self._stopping: anyio.Event | None = None  # made in run(): anyio needs the loop
        self._pool_done: anyio.Event | None = None
        self._pool_scope: anyio.CancelScope | None = None

    def load(self) -> list[JobSpec]:
        """Read and validate the job files (``JobSpecError`` on the first problem)."""
        return load_jobs(self.job_paths, config=self.config)

    async def run(self) -> DaemonResult:
        """Run until stopped; the engines' state is saved and the store closed on the way out."""
        specs = self.load()
        self._stopping, self._pool_done, self._pool_scope = anyio.Event(), anyio.Event(), anyio.CancelScope()
        lock = state_lock(self.config.harvest.state)
        lock.acquire()
        try:
            clock = self.clock or LoopClock()
            settings = RunSettings(lease=self.config.harvest.lease_seconds, exit_when_drained=False,
                                   idle_poll=self.idle_poll, sqlite_cache_kib=DAEMON_SQLITE_CACHE_KIB)
            async with open_runtime(self.config, [], clock=clock, base_url=self.base_url, bearer=self.bearer,
                                    settings=settings) as rt, AsyncExitStack() as stack:  # fmt: skip
                store = rt.store
                assert isinstance(store, DaemonStore)  # open_runtime's generation-aware store
                self.rt = rt
                rt.poll_rates.daemon_budget = self.config.daemon.poll_budget
                self.scheduler = Scheduler(rt, store)
                # The stream's rules first: a rule the server refuses stops the start before
                # anything is queued (and on SIGHUP keeps the old jobs).
                api = await stack.enter_async_context(StreamApi(
                    self.base_url or self.config.api.base_url, rt.credentials[APP_AUTH],
                    user_agent=self.config.api.user_agent, timeout=self.config.api.timeout_seconds))  # fmt: skip
                self.rules = RuleBook(api, rt.store, prune=self.config.stream.prune_rules)
                self.stream = StreamRunner(rt, self.config, api, wait_out_limits=True)
                if any(s.kind == "stream" for s in specs) or await self._ours():
                    await self.rules.apply(specs)
                changes = await self.scheduler.apply(specs)
                self.stream.set_jobs(specs)
                self.monitor = Monitor(rt, self.scheduler)
                port = await self.monitor.start(self.config.daemon.metrics_host, self.metrics_port)
                log.info("daemon_started", pid=os.getpid(), jobs=sorted(changes["added"] + changes["changed"]),
                         metrics=f"http://{self.config.daemon.metrics_host}:{port}/metrics", port=port,
                         state=redact_url(self.config.harvest.state), recovered=rt.recovered, truncated=rt.truncated)
                if self.on_ready is not None:
                    self.on_ready(self)
                try:
                    await self._serve(rt, self.scheduler)
                finally:
                    await self.monitor.stop()
                jobs = await rt.store.job_stats()
                result = DaemonResult(stop=rt.signals.stop, stats=rt.stats, jobs=jobs,
                                      runs=self.scheduler.runs, retired=store.retired, forced=self.forced)
        finally:
            lock.release()
        log.info("daemon_stopped", reason=result.stop.message if result.stop else None,
                 requests=result.stats.requests, pages=result.stats.pages, forced=result.forced)
        return result

    async def _serve(self, rt: Runtime, scheduler: Scheduler) -> None:
        assert self._pool_scope is not None and self._pool_done is not None
        async with anyio.create_task_group() as tg:
            tg.start_soon(scheduler.run)
            if self.stream is not None:
                tg.start_soon(self.stream.run)
            tg.start_soon(poll_usage, rt)
            tg.start_soon(track_demand, rt)
            tg.start_soon(cache.prune, rt.store, rt.clock)
            if self.handle_signals:
                tg.start_soon(self._watch_signals)
            tg.start_soon(self._grace)
            with self._pool_scope:
                await run_pool(rt, self.config.harvest.workers)
            if self.stream is not None:
                await self.stream.close()  # it saves its position, then ends
            self._pool_done.set()
            tg.cancel_scope.cancel()

    def stop(self, reason: str) -> None:
        """Stop claiming; in-flight pages get ``grace_seconds`` to commit. Twice: cancel now."""
        if self.rt is None or self._stopping is None or self._pool_scope is None:
            return
        if self._stopping.is_set():
            log.warning("stop_forced", reason=reason)
            self.forced = True
            self._pool_scope.cancel()
            return
        log.info("daemon_stopping", reason=reason, grace=self.config.daemon.grace_seconds)
        self.rt.signals.request_stop(StopCause(cause=Cause.SIGNAL, message=reason))
        if self.stream is not None:
            self.stream.stop()
        self._stopping.set()

    async def _grace(self) -> None:
        assert self._stopping is not None and self._pool_done is not None and self._pool_scope is not None
        await self._stopping.wait()
        with anyio.move_on_after(self.config.daemon.grace_seconds):
            await self._pool_done.wait()
        if not self._pool_done.is_set():
            log.warning("grace_expired", grace=self.config.daemon.grace_seconds)
            self.forced = True
            self._pool_scope.cancel()

    async def reload(self) -> bool:
        """Re-read the job files and apply them; a bad file keeps the old jobs (one error line)."""
        if self.scheduler is None or self._stopping is None or self._stopping.is_set():
            return False
        try:
            specs = self.load()
            if self.rules is not None and (any(s.kind == "stream" for s in specs) or await self._ours()):
                await self.rules.apply(specs)  # refused: nothing changed on the server, old jobs stay
            changes = await self.scheduler.apply(specs)
        except (UserError, StreamApiError) as exc:
            log.error("jobs_reload_failed", error=" ".join(str(exc).split()))
            return False
        if self.stream is not None:
            self.stream.set_jobs(specs)
        log.info("jobs_reloaded", jobs=len(specs), **changes)
        return True

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as received:
            async for signum in received:
                name = signal.Signals(signum).name
                if signum == signal.SIGHUP:
                    if self.config.daemon.reload_on_sighup:
                        log.info("reload_requested", signal=name)
                        await self.reload()
                    else:
                        log.info("reload_disabled", signal=name)
                else:
                    self.stop(f"stopped by {name}")

    async def _ours(self) -> bool:
        """Whether harvester has rules on the server (to delete once no stream job is left)."""
        return self.rt is not None and bool(await self.rt.store.get_state(OURS_KEY))

    def __repr__(self) -> str:
        return (f"<Daemon jobs={len(self.scheduler.jobs) if self.scheduler else 0} "
                f"stopping={self._stopping is not None and self._stopping.is_set()} monitor={self.monitor!r}>")
