"""The errors this process met lately, newest first, for the status page and ``/status``.

The store keeps each job's last error, without a time; an operator looking at a daemon wants
the last few with their times and tasks. Every error a worker meets ends in one of two store
calls: ``release(..., error=...)`` (a retry later) or ``fail(...)`` (given up). :class:`ErrorTap`
wraps the runtime's store and notes both, with the job and task the claim named, in a bounded
:class:`RecentErrors`; everything else passes through untouched.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harvester.clock import Clock
from harvester.core.model import JobStats, NewTask, PageCommit, Task
from harvester.redact import redact
from harvester.store.base import Store

KEEP = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRecord:
    """One error: when, which job and task, what, and whether the task was given up (``final``)."""

    at: float
    job: str
    task: str
    error: str
    final: bool

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "job": self.job, "task": self.task, "error": self.error, "final": self.final}


class RecentErrors:
    """The last :data:`KEEP` errors, newest first."""

    def __init__(self, keep: int = KEEP) -> None:
        self._items: deque[ErrorRecord] = deque(maxlen=keep)

    def add(self, record: ErrorRecord) -> None:
        self._items.appendleft(record)

    def snapshot(self) -> tuple[ErrorRecord, ...]:
        return tuple(self._items)


class ErrorTap:
    """A :class:`~harvester.store.base.Store` that notes the errors passing through it."""

    def __init__(self, inner: Store, clock: Clock, errors: RecentErrors) -> None:
        self.inner = inner
        self.clock = clock
        self.errors = errors
        self._claimed: dict[int, tuple[str, str]] = {}

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
        tasks = await self.inner.claim(worker, now, lease, limit, skip=skip, jobs=jobs)
        for t in tasks:
            self._claimed[t.id] = (t.job, t.key)
        return tasks

    async def release(self, task_id: int, *, not_before: float, error: str | None) -> None:
        job, key = self._claimed.pop(task_id, ("?", str(task_id)))
        await self.inner.release(task_id, not_before=not_before, error=error)
        if error is not None:
            self.errors.add(ErrorRecord(at=self.clock.now(), job=job, task=key, error=redact(error), final=False))

    async def fail(self, task_id: int, error: str) -> None:
        job, key = self._claimed.pop(task_id, ("?", str(task_id)))
        await self.inner.fail(task_id, error)
        self.errors.add(ErrorRecord(at=self.clock.now(), job=job, task=key, error=redact(error), final=True))

    async def commit_page(self, commit: PageCommit) -> None:
        self._claimed.pop(commit.task_id, None)  # done, or pending again: claimed afresh next time
        await self.inner.commit_page(commit)

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

    async def cache_put(self, rows: Sequence[tuple[str, str, str, float, str]]) -> None:
        await self.inner.cache_put(rows)

    async def cache_get(self, kind: str, shape: str, ids: Sequence[str], since: float) -> dict[str, str]:
        return await self.inner.cache_get(kind, shape, ids, since)

    def __repr__(self) -> str:
        return f"<ErrorTap {self.inner!r} recent={len(self.errors.snapshot())}>"
