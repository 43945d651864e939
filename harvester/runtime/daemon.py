"""``harvester daemon``: the jobs on their schedules, until SIGTERM; SIGHUP reloads the jobs.

Theory of operation
-------------------
One anyio task group owns everything (style rule 15): the worker pool, the scheduler, the
signal task and the shutdown timer; the monitor's aiohttp server is started before the group
and stopped after it. The runtime is the one ``harvester run`` uses (:func:`open_runtime`),
except that it does not end when the queue is empty (``rt.exit_when_drained = False``).

*Scheduling.* :class:`Scheduler` keeps, per job, its :class:`~harvester.core.schedule.JobState`
(saved under ``schedule:<job>``). An unscheduled job is enqueued once (its generation-0 keys are
the keys ``harvester run`` uses, so a daemon continues a run's state). A scheduled job is
enqueued afresh, keys suffixed ``@<slot>``, whenever :func:`due_runs` says a slot is due *and*
its previous run has finished: runs of one job never overlap, and however many slots passed
while a run (or the daemon) was busy, the next run is one run.

*Changed jobs.* A job whose definition changed (on start or on SIGHUP) gets the next generation:
its new tasks carry ``~g<n>``, and the older generations' unfinished tasks are retired: marked
failed with the error ``superseded: ...`` (the store has no other terminal state for them), at
once for the pending ones and on their next claim for those in flight. Their pages already
written stay in the output file. A job whose schedule alone changed keeps its generation.

*Removed jobs* leave ``rt.specs``, ``rt.jobs`` and the gates; their tasks and output stay, and
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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import structlog

from harvester.clock import Clock, LoopClock
from harvester.config import Config
from harvester.core.model import JobSpec, JobStats, NewTask, PageCommit, Task
from harvester.core.plan import plan_job
from harvester.core.schedule import (
    JobState,
    Schedule,
    ScheduleError,
    due_runs,
    job_schedule,
    key_suffix,
    newest_key,
    reconcile,
    run_tasks,
    split_key,
    with_suffix,
)
from harvester.errors import JobSpecError, UserError
from harvester.jobspec import load_jobs
from harvester.runtime.harvest import open_runtime
from harvester.runtime.lock import state_lock
from harvester.runtime.monitor import JobView, Monitor
from harvester.runtime.pool import run_pool
from harvester.runtime.signals import StopReason
from harvester.runtime.stats import RunStats
from harvester.runtime.worker import Runtime
from harvester.store import is_shared_state, redact_url
from harvester.store.base import Store

log = structlog.get_logger(__name__)

STATE_PREFIX = "schedule:"
_SWEEP_AHEAD = 10 * 365 * 86400.0  # claim "now" for a sweep: no not_before hides a task from it
_SWEEP_BATCH = 500


class DaemonStore:
    """The runtime's store, plus what the daemon needs at claim and commit time.

    - Claims skip (and retire) tasks of a job's older generations.
    - Tasks a page spawns get the run suffix of the task that spawned them.
    - The time of each job's last committed page is kept, for the lag metric.

    Everything else is passed through unchanged.
    """

    def __init__(self, inner: Store, clock: Clock) -> None:
        self.inner = inner
        self.clock = clock
        self.generations: dict[str, int] = {}
        self.last_commit: dict[str, float] = {}
        self.retired = 0
        self._claimed: dict[int, Task] = {}

    # -- what differs ---------------------------------------------------------------------

    async def claim(
        self,
        worker: str,
        now: float,
        lease: float,
        limit: int = 1,
        *,
        skip: Collection[tuple[str, str]] = (),
        jobs: Collection[str] | None = None,
    ) -> list[Task]:
        while True:
            tasks = await self.inner.claim(worker, now, lease, limit, skip=skip, jobs=jobs)
            keep: list[Task] = []
            for task in tasks:
                if self._stale(task):
                    await self._retire(task)
                else:
                    self._claimed[task.id] = task
                    keep.append(task)
            if keep or not tasks:
                return keep

    async def commit_page(self, commit: PageCommit) -> None:
        task = self._claimed.pop(commit.task_id, None)
        if task is not None and commit.spawn:
            suffix = key_suffix(task.key)
            if suffix:
                commit = replace(commit, spawn=tuple(with_suffix(t, suffix) for t in commit.spawn))
        await self.inner.commit_page(commit)
        if task is not None:
            self.last_commit[task.job] = self.clock.now()

    async def release(self, task_id: int, *, not_before: float, error: str | None) -> None:
        self._claimed.pop(task_id, None)
        await self.inner.release(task_id, not_before=not_before, error=error)

    async def fail(self, task_id: int, error: str) -> None:
        self._claimed.pop(task_id, None)
        await self.inner.fail(task_id, error)

    async def sweep(self, job: str) -> int:
        """Retire every pending task of ``job``'s older generations now; returns how many."""
        retired = 0
        current: list[Task] = []
        now = self.clock.now()
        while True:
            tasks = await self.inner.claim("daemon-sweep", now + _SWEEP_AHEAD, 60.0, _SWEEP_BATCH, jobs=[job])
            for task in tasks:
                if self._stale(task):
                    await self._retire(task)
                    retired += 1
                else:
                    current.append(task)  # held until the sweep ends, so it is not claimed twice
            if len(tasks) < _SWEEP_BATCH:
                break
        for task in current:
            await self.inner.release(task.id, not_before=now, error=None)
        return retired

    def _stale(self, task: Task) -> bool:
        gen = self.generations.get(task.job)
        return gen is not None and split_key(task.key)[2] != gen

    async def _retire(self, task: Task) -> None:
        gen = self.generations.get(task.job)
        await self.inner.fail(task.id, f"superseded: the job's definition changed (now generation {gen})")
        self.retired += 1

    # -- passed through -------------------------------------------------------------------

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def enqueue(self, tasks: Sequence[NewTask]) -> int:
        return await self.inner.enqueue(tasks)

    async def recover(self) -> int:
        return await self.inner.recover()

    async def output_offsets(self) -> Mapping[str, int]:
        return await self.inner.output_offsets()

    async def job_stats(self) -> list[JobStats]:
        return await self.inner.job_stats()

    async def pending_count(self, jobs: Collection[str] | None = None) -> int:
        return await self.inner.pending_count(jobs)

    async def next_due(self, jobs: Collection[str] | None = None) -> float | None:
        return await self.inner.next_due(jobs)

    async def ledger_entries(self, since: float) -> list[dict[str, Any]]:
        return await self.inner.ledger_entries(since)

    async def add_ledger(self, entries: Sequence[Mapping[str, Any]], *, holds: Sequence[int] = ()) -> None:
        await self.inner.add_ledger(entries, holds=holds)

    async def get_state(self, key: str) -> Any:
        return await self.inner.get_state(key)

    async def put_state(self, key: str, value: Any) -> None:
        await self.inner.put_state(key, value)

    def __getattr__(self, name: str) -> Any:
        # Anything the Store protocol gains later still reaches the backend.
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return (f"<DaemonStore {self.inner!r} claimed={len(self._claimed)} retired={self.retired} "
                f"generations={self.generations}>")


@dataclass
class _Job:
    spec: JobSpec
    schedule: Schedule | None
    state: JobState
    started: float  # when its current run was enqueued (or the daemon started)


class Scheduler:
    """Enqueues the jobs' runs when they are due; applies job-set changes (start, SIGHUP)."""

    def __init__(self, rt: Runtime, store: DaemonStore, *, busy_poll: float = 5.0, idle: float = 3600.0) -> None:
        self.rt = rt
        self.store = store
        self.busy_poll = busy_poll
        self.idle = idle
        self.jobs: dict[str, _Job] = {}
        self.runs = 0
        self.started_at = rt.clock.now()
        self._event = anyio.Event()

    async def apply(self, specs: Sequence[JobSpec]) -> dict[str, list[str]]:
        """Make ``specs`` the job set; returns the names added, removed and changed.

        Raises:
            JobSpecError: a schedule does not parse (checked before anything changes).
        """
        schedules: dict[str, Schedule | None] = {}
        for spec in specs:
            try:
                schedules[spec.name] = job_schedule(spec)
            except ScheduleError as exc:
                raise JobSpecError(spec.source, spec.name, "schedule", str(exc)) from exc
        now = self.rt.clock.now()
        old, new = self.jobs, {}
        added: list[str] = []
        changed: list[str] = []
        for spec in specs:
            name = spec.name
            key = STATE_PREFIX + name
            saved = JobState.from_json(await self.store.get_state(key))
            state, redefined = reconcile(spec, saved)
            if state != saved:
                await self.store.put_state(key, state.to_json())
            self.store.generations[name] = state.generation
            if redefined:
                retired = await self.store.sweep(name)
                log.info("job_redefined", job=name, generation=state.generation, retired=retired)
                changed.append(name)
            elif name not in old:
                added.append(name)
            elif old[name].spec != spec:
                changed.append(name)  # timing only: same generation, new schedule
            job = old.get(name)
            started = job.started if job is not None and not redefined else now
            new[name] = _Job(spec=spec, schedule=schedules[name], state=state, started=started)
            if schedules[name] is None:
                await self.store.enqueue(run_tasks(spec, state, None))
        removed = sorted(set(old) - set(new))
        for name in removed:
            self.store.generations.pop(name, None)
        by_name = {s.name: s for s in specs}
        self.jobs = new
        self.rt.specs = by_name
        self.rt.gates.specs = by_name
        self.rt.jobs = frozenset(by_name)
        self.rt.signals.notify()
        self.poke()
        return {"added": added, "removed": removed, "changed": changed}

    def poke(self) -> None:
        """Re-check the schedules now."""
        self._event.set()

    async def run(self) -> None:
        """Enqueue due runs, sleep until the next one is due (or a poke), repeat. Never returns."""
        while True:
            self._event = anyio.Event()
            wake = await self.tick()
            with anyio.move_on_after(max(0.0, wake - self.rt.clock.now())):
                await self._event.wait()

    async def tick(self) -> float:
        """Enqueue every run due now whose previous run has finished; returns when to look again."""
        now = self.rt.clock.now()
        wake = now + self.idle
        for name, job in self.jobs.items():
            if job.schedule is None:
                continue
            due = due_runs(job.schedule, job.state.last_slot, now)
            if due and await self.store.pending_count([name]) > 0:
                wake = min(wake, now + self.busy_poll)  # the previous run is still going
                continue
            if due:
                slot = due[0]
                newest = {}
                for t in plan_job(job.spec):
                    value = await self.store.get_state(newest_key(name, t.key, job.state.generation))
                    if value:
                        newest[t.key] = str(value)
                tasks = run_tasks(job.spec, job.state, slot, newest)
                await self.store.enqueue(tasks)
                job.state = replace(job.state, last_slot=slot)
                await self.store.put_state(STATE_PREFIX + name, job.state.to_json())
                job.started = now
                self.runs += 1
                log.info("run_scheduled", job=name, slot=int(slot), tasks=len(tasks), late=round(now - slot, 3))
                self.rt.signals.notify()
            assert job.state.last_slot is not None
            wake = min(wake, job.schedule.next_after(job.state.last_slot))
        return wake

    async def jobs_view(self, now: float) -> list[JobView]:
        """Each job's schedule, generation, and lag (for ``/status`` and ``/metrics``)."""
        out = []
        for name, job in sorted(self.jobs.items()):
            running = await self.store.pending_count([name]) > 0
            due: list[float] = []
            next_slot: float | None = None
            if job.schedule is not None:
                due = due_runs(job.schedule, job.state.last_slot, now)
                last = job.state.last_slot
                next_slot = due[0] if due else job.schedule.next_after(last if last is not None else now)
            if running:
                lag = now - max(self.store.last_commit.get(name, self.started_at), job.started)
            elif due:
                lag = now - due[0]
            else:
                lag = 0.0
            out.append(JobView(
                job=name, schedule=job.schedule.text if job.schedule else None,
                generation=job.state.generation, last_slot=job.state.last_slot, next_slot=next_slot,
                running=running, lag=max(0.0, lag),
            ))
        return out

    def __repr__(self) -> str:
        scheduled = sum(1 for j in self.jobs.values() if j.schedule is not None)
        return f"<Scheduler jobs={len(self.jobs)} scheduled={scheduled} runs={self.runs}>"


@dataclass
class DaemonResult:
    """How the daemon ended."""

    stop: StopReason | None
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
            async with open_runtime(self.config, [], clock=clock, base_url=self.base_url,
                                    bearer=self.bearer) as rt:
                rt.exit_when_drained = False
                if not is_shared_state(self.config.harvest.state):  # a shared store keeps its short poll
                    rt.idle_poll = self.idle_poll
                store = DaemonStore(rt.store, clock)
                rt.store = store
                self.rt = rt
                self.scheduler = Scheduler(rt, store)
                changes = await self.scheduler.apply(specs)
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
            if self.handle_signals:
                tg.start_soon(self._watch_signals)
            tg.start_soon(self._grace)
            with self._pool_scope:
                await run_pool(rt, self.config.harvest.workers)
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
        self.rt.signals.request_stop(StopReason(reason, clean=True))
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
            changes = await self.scheduler.apply(specs)
        except UserError as exc:
            log.error("jobs_reload_failed", error=" ".join(str(exc).split()))
            return False
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

    def __repr__(self) -> str:
        return (f"<Daemon jobs={len(self.scheduler.jobs) if self.scheduler else 0} "
                f"stopping={self._stopping is not None and self._stopping.is_set()} monitor={self.monitor!r}>")
