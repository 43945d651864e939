"""The daemon's scheduler: each job's runs on its schedule, one run at a time.

See ``runtime/daemon.py`` ("Scheduling", "Changed jobs", "Removed jobs") for the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio
import structlog

from harvester.core.model import JobSpec
from harvester.core.plan import plan_job
from harvester.core.schedule import (
    JobState,
    Schedule,
    ScheduleError,
    collapsed_slots,
    due_runs,
    job_schedule,
    newest_key,
    run_tasks,
)
from harvester.errors import JobSpecError
from harvester.inputs import job_inputs
from harvester.runtime.daemon_store import DaemonStore
from harvester.runtime.definitions import STATE_PREFIX, follow_definitions, requeue_fixable
from harvester.runtime.monitor import JobView
from harvester.runtime.runtime import Runtime

log = structlog.get_logger(__name__)

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
        followed = await follow_definitions(self.store, specs)
        for spec in specs:
            name = spec.name
            state, redefined = followed[name].state, followed[name].redefined
            if redefined:
                changed.append(name)
            elif name not in old:
                added.append(name)
            elif old[name].spec != spec:
                changed.append(name)  # timing only: same generation, new schedule
            job = old.get(name)
            started = job.started if job is not None and not redefined else now
            new[name] = _Job(spec=spec, schedule=schedules[name], state=state, started=started)
            if schedules[name] is None:
                await self.store.enqueue(run_tasks(spec, state, None, inputs=job_inputs(spec)))
        await requeue_fixable(self.store, [s.name for s in specs])
        removed = sorted(set(old) - set(new))
        for name in removed:
            self.store.generations.pop(name, None)
        by_name = {s.name: s for s in specs}
        self.jobs = new
        self.rt.jobs.specs = by_name
        self.rt.machine.specs = by_name
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
                self._note_collapsed(name, job, slot, now)
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

    def _note_collapsed(self, name: str, job: _Job, slot: float, now: float) -> None:
        """Say which slots the run starting now covers without runs of their own."""
        assert job.schedule is not None
        count, slots = collapsed_slots(job.schedule, job.state.last_slot, slot)
        if count:
            shown = [_iso(t) for t in slots] + ([f"... {count - len(slots)} more"] if count > len(slots) else [])
            log.warning("slots_collapsed", job=name, collapsed=count, slots=shown, run_slot=_iso(slot),
                        late=round(now - slot, 3),
                        reason="the previous run outlasted them, or the daemon was not running: one run covers "
                               "them all")  # fmt: skip

    async def jobs_view(self, now: float) -> list[JobView]:
        """Each job's schedule, generation, and lag (for ``/status`` and ``/metrics``).

        ``next_slot`` is never in the past: a slot that is due but not started is ``due_slot``,
        with the slots it will cover (``collapsed``) and the lag since it was due.
        """
        out = []
        for name, job in sorted(self.jobs.items()):
            running = await self.store.pending_count([name]) > 0
            due: list[float] = []
            next_slot: float | None = None
            collapsed = 0
            if job.schedule is not None:
                due = due_runs(job.schedule, job.state.last_slot, now)
                next_slot = job.schedule.next_after(now)
                if due:
                    collapsed = collapsed_slots(job.schedule, job.state.last_slot, due[0], limit=0)[0]
            if running:
                lag = now - max(self.store.last_commit.get(name, self.started_at), job.started)
            elif due:
                lag = now - due[0]
            else:
                lag = 0.0
            out.append(JobView(
                job=name, schedule=job.schedule.text if job.schedule else None,
                generation=job.state.generation, last_slot=job.state.last_slot, next_slot=next_slot,
                running=running, lag=max(0.0, lag), due_slot=due[0] if due else None, collapsed=collapsed,
            ))
        return out

    def __repr__(self) -> str:
        scheduled = sum(1 for j in self.jobs.values() if j.schedule is not None)
        return f"<Scheduler jobs={len(self.jobs)} scheduled={scheduled} runs={self.runs}>"


def _iso(t: float) -> str:
    spec = "milliseconds" if t % 1 else "seconds"
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec=spec).replace("+00:00", "Z")
