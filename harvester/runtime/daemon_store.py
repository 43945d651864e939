"""The generation-aware view of the store: run suffixes on spawned keys, and retiring old
generations. The daemon and ``harvester run`` both work through it (``open_runtime``).

See ``runtime/daemon.py`` ("Keys of spawned tasks", "Changed jobs") and
``runtime/definitions.py`` for why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from harvester.clock import Clock
from harvester.core.model import Failure, JobStats, NewTask, PageCommit, StreamCommit, Task
from harvester.core.schedule import (
    key_suffix,
    split_key,
    with_suffix,
)
from harvester.store.base import Store


class DaemonStore:
    """The runtime's store, plus what generations need at claim and commit time.

    - Claims skip (and retire: ``superseded``) tasks of a job's older generations.
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
            if suffix:  # another job's tasks (a fan-out) carry their own job's generation already
                commit = replace(commit, spawn=tuple(with_suffix(t, suffix) if t.job == task.job else t
                                                     for t in commit.spawn))
        await self.inner.commit_page(commit)
        if task is not None:
            self.last_commit[task.job] = self.clock.now()

    async def finish(self, task_id: int) -> None:
        self._claimed.pop(task_id, None)
        await self.inner.finish(task_id)
    async def commit_stream(self, commit: StreamCommit) -> None:
        await self.inner.commit_stream(commit)

    async def release(self, task_id: int, *, not_before: float, error: str | None) -> None:
        self._claimed.pop(task_id, None)
        await self.inner.release(task_id, not_before=not_before, error=error)

    async def fail(self, task_id: int, error: str, *, failure: Failure = Failure.REFUSED) -> None:
        self._claimed.pop(task_id, None)
        await self.inner.fail(task_id, error, failure=failure)

    async def sweep(self, job: str) -> int:
        """Retire every pending or failed task of ``job``'s older generations now (they become
        ``superseded``, no failure); returns how many. Tasks claimed right now are retired by
        their next claim (:meth:`claim`)."""
        gen = self.generations.get(job)
        if gen is None:
            return 0
        retired = await self.inner.supersede(job, gen, _superseded(gen))
        self.retired += retired
        return retired

    def _stale(self, task: Task) -> bool:
        gen = self.generations.get(task.job)
        return gen is not None and split_key(task.key)[2] != gen

    async def _retire(self, task: Task) -> None:
        gen = self.generations.get(task.job)
        await self.inner.fail(task.id, _superseded(gen), failure=Failure.SUPERSEDED)
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

    async def generation_stats(self) -> list[JobStats]:
        return await self.inner.generation_stats()

    async def retry(
        self,
        jobs: Collection[str] | None = None,
        *,
        failures: Collection[Failure] | None = None,
        waiting: bool = False,
        not_before: float = 0.0,
    ) -> int:
        return await self.inner.retry(jobs, failures=failures, waiting=waiting, not_before=not_before)

    async def supersede(self, job: str, generation: int, reason: str) -> int:
        return await self.inner.supersede(job, generation, reason)

    async def forget(self, job: str, *, state_keys: Sequence[str] = (), state_prefixes: Sequence[str] = ()) -> int:
        return await self.inner.forget(job, state_keys=state_keys, state_prefixes=state_prefixes)

    async def demand(self, jobs: Collection[str], now: float) -> dict[tuple[str, str], int]:
        return await self.inner.demand(jobs, now)

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

    async def cache_prune(self, before: float) -> int:
        return await self.inner.cache_prune(before)

    async def ledger_compact(self, before: float) -> int:
        return await self.inner.ledger_compact(before)

    def __repr__(self) -> str:
        return (f"<DaemonStore {self.inner!r} claimed={len(self._claimed)} retired={self.retired} "
                f"generations={self.generations}>")


def _superseded(generation: int | None) -> str:
    return f"superseded: the job's definition changed (now generation {generation})"
