"""The daemon's view of the store: run suffixes on spawned keys, and retiring old generations.

See ``runtime/daemon.py`` ("Keys of spawned tasks", "Changed jobs") for why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from harvester.clock import Clock
from harvester.core.model import JobStats, NewTask, PageCommit, Task
from harvester.core.schedule import (
    key_suffix,
    split_key,
    with_suffix,
)
from harvester.store.base import Store

_SWEEP_AHEAD = 10 * 365 * 86400.0  # claim "now" for a sweep: no not_before hides a task from it
_SWEEP_BATCH = 500


class DaemonStore:
    """The runtime's store, plus what the daemon needs at claim and commit time.

    - Claims skip (and retire) tasks of a job's older generations.
    - Tasks a page spawns get the run suffix of the task that spawned them.
    - The time of each job's last committed page is kept, for the lag metric.

    Everything else is passed through unchanged, method by method (a wrapper that forwarded
    unknown attributes would hide a Store method it forgot to wrap).
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

    async def cache_put(self, rows: Sequence[tuple[str, str, str, float, str]]) -> None:
        await self.inner.cache_put(rows)

    async def cache_get(self, kind: str, shape: str, ids: Sequence[str], since: float) -> dict[str, str]:
        return await self.inner.cache_get(kind, shape, ids, since)

    def __repr__(self) -> str:
        return (f"<DaemonStore {self.inner!r} claimed={len(self._claimed)} retired={self.retired} "
                f"generations={self.generations}>")
