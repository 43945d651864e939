"""Each job's definition against the stored one, for the daemon and ``harvester run`` alike.

Theory of operation
-------------------
Every start (a run, the daemon's start and each SIGHUP) compares each job's definition with the
one saved under ``schedule:<job>`` (:class:`~harvester.core.schedule.JobState`, whose digest is
:func:`~harvester.core.schedule.definition_digest`: what the job harvests, not when). A changed
definition starts the next *generation*: its tasks carry ``~g<n>`` and start afresh, and the
older generations' pending and failed tasks become ``superseded``: no failure, never claimed,
shown by ``harvester status --all`` only. A job no longer in the files is left alone: its tasks
wait (it may come back unchanged and continue), and claims, the run's summary and its exit code
only look at the jobs in the files. ``harvester forget`` drops such a job's queue.

The order is crash-safe: the generation is set, the old generations are superseded, and only
then is the new state saved; a crash in between supersedes again (idempotent) and reaches the
same generation.

A start also puts back the failed tasks of the current generation that running again may fix
(:data:`~harvester.core.model.RERUN_FIXES`: refused credentials, network, 5xx, malformed answers,
429s), attempts reset and cursor kept; a task refused for the job's own parameters stays failed
until its definition changes or ``harvester retry`` is asked.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import structlog

from harvester.core.model import RERUN_FIXES, JobSpec
from harvester.core.schedule import JobState, reconcile
from harvester.runtime.daemon_store import DaemonStore

log = structlog.get_logger(__name__)

STATE_PREFIX = "schedule:"  # + job name: the job's JobState


@dataclass(frozen=True, slots=True)
class Followed:
    """A job's state after its definition was compared with the stored one."""

    state: JobState
    redefined: bool  # the definition changed: a new generation started
    retired: int = 0  # older generations' tasks superseded now


async def follow_definitions(store: DaemonStore, specs: Sequence[JobSpec]) -> dict[str, Followed]:
    """Bring each job's generation up to its definition (see the module docstring)."""
    out: dict[str, Followed] = {}
    for spec in specs:
        name = spec.name
        key = STATE_PREFIX + name
        saved = JobState.from_json(await store.get_state(key))
        state, redefined = reconcile(spec, saved)
        store.generations[name] = state.generation
        retired = 0
        if redefined:
            retired = await store.sweep(name)
            log.info("job_redefined", job=name, generation=state.generation, superseded=retired)
        if state != saved:
            await store.put_state(key, state.to_json())
        out[name] = Followed(state=state, redefined=redefined, retired=retired)
    return out


async def requeue_fixable(store: DaemonStore, jobs: Collection[str]) -> int:
    """Put back the failed tasks of ``jobs`` that running again may fix; returns how many."""
    if not jobs:
        return 0
    count = await store.retry(jobs, failures=RERUN_FIXES)
    if count:
        log.info("failed_tasks_requeued", tasks=count, classes=sorted(str(f) for f in RERUN_FIXES))
    return count


__all__ = ["STATE_PREFIX", "Followed", "follow_definitions", "requeue_fixable"]
