"""The store interface: queue, cursors, output offsets (and later ledger, cache, limiter state).

Theory of operation
-------------------
Everything that must survive a crash lives behind :class:`Store`. Two backends implement it:
SQLite (WAL, the embedded default) and PostgreSQL (several hosts). One contract test suite
(``tests/store/test_contract.py``) runs on both.

*Atomic progress.* A page changes three things: the output file (bytes appended), the task's
cursor (and counters), and possibly new tasks. The worker appends and fsyncs the page first, then
calls :meth:`Store.commit_page`, which records the cursor and the output file's new length in
one transaction. On start, each output file is cut back to its committed length, so bytes whose
commit never happened disappear and their page is fetched again: nothing lost, nothing twice.

*Claims.* :meth:`Store.claim` hands out pending tasks whose ``not_before`` has passed, highest
priority first, and marks them claimed with a lease. A single-host run calls
:meth:`Store.recover` on start to put claims left by a dead process back to pending; a
multi-host store instead lets leases expire.

*Batching.* Backends may group several commits into one transaction (group commit); a call
returns only after its own change is durable in the database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from harvester.core.model import Failure, JobStats, NewTask, PageCommit, StreamCommit, Task


class Store(Protocol):
    """Persistent state shared by workers (and, on PostgreSQL, by hosts)."""

    async def open(self) -> None:
        """Connect, and create or migrate the schema."""
        ...

    async def close(self) -> None:
        """Flush pending commits and disconnect."""
        ...

    async def enqueue(self, tasks: Sequence[NewTask]) -> int:
        """Add tasks; a (job, key) already present is left unchanged. Returns how many were new."""
        ...

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
        """Claim up to ``limit`` due pending tasks, highest priority first, oldest first.

        ``skip`` leaves out tasks whose ``(endpoint, auth)`` bucket is closed right now, so a
        waiting bucket never holds a worker; ``jobs`` limits the claim to this run's jobs.
        """
        ...

    async def commit_page(self, commit: PageCommit) -> None:
        """Record a fetched page atomically: cursor, counters, output offset, spawned tasks.

        With ``next_cursor`` None the task becomes done; otherwise it goes back to pending,
        claimable at once.
        """
        ...

    async def commit_stream(self, commit: StreamCommit) -> None:
        """Record streamed Posts atomically: the output lengths, their charges, fill tasks for a
        gap, and the stream's position. No task is involved (the stream is no task)."""
        ...

    async def release(self, task_id: int, *, not_before: float, error: str | None) -> None:
        """Give a claimed task back without progress (retry later); counts an attempt if error."""
        ...

    async def finish(self, task_id: int) -> None:
        """Mark a claimed task done without a page: its job reached its item limit (``limit``),
        so its remaining pages are not wanted. Raises ClaimLost if the claim is gone."""
        ...

    async def fail(self, task_id: int, error: str, *, failure: Failure = Failure.REFUSED) -> None:
        """Mark a claimed task failed, keeping the error for ``harvester status`` and the
        failure's class for what a rerun does with it (:meth:`retry`).

        ``Failure.SUPERSEDED`` is no failure: the task becomes ``superseded`` (an older
        generation's work), is counted apart and leaves the job's last error alone.
        """
        ...

    async def retry(
        self,
        jobs: Collection[str] | None = None,
        *,
        failures: Collection[Failure] | None = None,
        waiting: bool = False,
        not_before: float = 0.0,
    ) -> int:
        """Put failed tasks back to pending; returns how many tasks changed.

        Attempts are reset and the cursor is kept: a task continues with the page after its last
        committed one, and never fetches a committed page again. ``jobs``: only these jobs'
        tasks; ``failures``: only failures of these classes (None: any); ``waiting``: also make
        pending tasks that are waiting out a retry back-off due at ``not_before``, attempts reset.
        Superseded and done tasks never change.
        """
        ...

    async def supersede(self, job: str, generation: int, reason: str) -> int:
        """Mark every pending or failed task of ``job`` from another generation than
        ``generation`` superseded (``reason`` as its last error); returns how many.

        A task's generation is its key's ``~g<n>`` suffix (none: 0, ``core.schedule``). Claimed
        tasks are left to their claimer, which retires them (:meth:`fail` with
        ``Failure.SUPERSEDED``) when it next sees them.
        """
        ...

    async def forget(self, job: str, *, state_keys: Sequence[str] = (), state_prefixes: Sequence[str] = ()) -> int:
        """Drop ``job``'s queue: its tasks and counters, and the saved documents named in
        ``state_keys`` or whose key starts with one of ``state_prefixes``. Its committed output
        length and its ledger rows stay (the output file is kept as written; money spent stays
        spent). Returns the tasks dropped."""
        ...

    async def recover(self) -> int:
        """Return every claimed task to pending (single host, on start). Returns the count."""
        ...

    async def output_offsets(self) -> Mapping[str, int]:
        """Committed length of each job's output file."""
        ...

    async def job_stats(self) -> list[JobStats]:
        """Progress per job, for status and the demo summary."""
        ...

    async def generation_stats(self) -> list[JobStats]:
        """Progress per job *and generation* (``JobStats.generation`` set; ``last_error`` None),
        oldest generation first. Reads every task: for ``harvester status --all``, not for loops."""
        ...

    async def demand(self, jobs: Collection[str], now: float) -> dict[tuple[str, str], int]:
        """Tasks due at ``now`` or claimed, per ``(endpoint, auth)`` among ``jobs``: each
        rate-limit bucket's queued demand (auto pacing reads it)."""
        ...

    async def pending_count(self, jobs: Collection[str] | None = None) -> int:
        """Tasks pending or claimed (the queue depth), of ``jobs`` if given."""
        ...

    async def next_due(self, jobs: Collection[str] | None = None) -> float | None:
        """Earliest ``not_before`` among pending tasks (of ``jobs``), or None if there are none."""
        ...

    async def ledger_entries(self, since: float) -> list[dict[str, Any]]:
        """Settled charges at or after ``since``, oldest first (``LedgerEntry.to_dict`` shape)."""
        ...

    async def add_ledger(self, entries: Sequence[Mapping[str, Any]], *, holds: Sequence[int] = ()) -> None:
        """Persist charges settled outside a page commit (a request that failed but may be billed).

        ``holds``: shared-budget holds (``store.coordination``) that end with these entries, in
        the same transaction; given alone, they just end (a request that surely cost nothing).
        """
        ...

    async def cache_put(self, rows: Sequence[tuple[str, str, str, float, str]]) -> None:
        """Remember fetched objects: ``(kind, shape, id, fetched_at, json body)`` rows."""
        ...

    async def cache_get(self, kind: str, shape: str, ids: Sequence[str], since: float) -> dict[str, str]:
        """Objects of ``ids`` fetched (with that shape) at or after ``since``: id -> json body."""
        ...

    async def cache_prune(self, before: float) -> int:
        """Forget the objects fetched before ``before``; returns how many."""
        ...

    async def ledger_compact(self, before: float) -> int:
        """Drop the charged ids of ledger rows settled before ``before`` (the current UTC day's
        start: ids dedup charges only within their day); money and Post counts stay. Returns
        how many rows shrank."""
        ...

    async def get_state(self, key: str) -> Any:
        """A saved JSON document (engine state), or None."""
        ...

    async def put_state(self, key: str, value: Any) -> None:
        """Save a JSON document under ``key``, replacing any earlier one."""
        ...


def claim_order(priority: int, id_: int, deadline: float | None, now: float) -> tuple[bool, float, int, int]:
    """The claim order of returned rows: past their deadline first (earliest first), then by
    priority and id (the store's ``claim_tasks``)."""
    late = deadline is not None and deadline <= now
    return (not late, deadline if late and deadline is not None else 0.0, -priority, id_)
