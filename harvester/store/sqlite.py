"""The SQLite store: one file in WAL mode, every write applied by a group committer.

Theory of operation
-------------------
*Durability.* The database runs in WAL mode with ``synchronous=NORMAL``: a commit appends to
the WAL without fsync, and only checkpoints fsync. After a power cut (not a process crash,
which loses nothing) the last few commits may be gone. That is safe by construction: the worker
fsyncs a page's output bytes *before* committing, and on start each output file is cut back to
its committed length, so a lost commit only means its bytes are truncated and its page fetched
again. ``synchronous=FULL`` would buy nothing but an fsync per transaction.

*Group commit.* Every write (claim, commit_page, release, fail, recover, enqueue) becomes an
operation in one queue. A single committer task takes everything queued (up to ``max_batch``
operations) and applies it in one ``BEGIN IMMEDIATE … COMMIT``, then resolves each caller's
future: a call returns only once its change is committed. Claims ride in the same transactions,
which matters more than it looks: each SQLite transaction writes every page it dirtied to the
WAL, so eight claims and eight commits in one transaction write the shared index and ``jobs``
pages once instead of sixteen times. An operation that raises (say :class:`ClaimLost` on a
double commit) fails only its own caller: the transaction is rolled back and replayed with a
savepoint around each operation (savepoints on every batch would cost ~15% of a claim+commit,
and failures are rare). A failed ``COMMIT`` (disk full, I/O error) fails every caller of the
batch with a :class:`StoreError`, and the committer carries on with the next batch.

*Where sqlite3 runs.* By default inline, on the event-loop thread; ``thread=True`` moves every
sqlite3 call to one dedicated thread (same batching). Measured with ``benchmarks/queue.py`` on
two cores (8 workers, 200k tasks), inline completes 10-12k tasks/s and the thread 8.7k/s
(SQLite releases the GIL while it works, but every batch then costs a hop and a loop wake-up);
the thread's only gain is a lower p99 loop lag (1 ms against 5-15 ms). Inline is the default:

- the work is microseconds (a claim plus a commit is ~40 µs of SQLite time, an enqueue ~13 µs a
  row), so a hop costs as much as the work;
- no transaction ever spans an ``await``, so reads on the one connection always see committed
  state and no locking is needed;
- it keeps :class:`~harvester.clock.WarpLoop` honest: while a thread works the loop looks idle,
  and autojump would move virtual time forward across a database call.

The price is loop stalls, which stay short: a batch is at most ``max_batch`` operations (256,
~10 ms); the WAL auto-checkpoint (every 1000 pages: 4 MB copied, two fsyncs) adds a few ms now
and then (the benchmark prints the worst lag); an ``enqueue`` call holds the loop ~13 µs per row,
so pass chunks of a few thousand. A background checkpointer thread was tried and dropped: under
a steady writer it never catches up (the WAL only restarts when a checkpoint finishes with
nothing newer), the WAL grew to the fallback limit and stalls got worse. ``busy_timeout``
(2 s) only matters if another process writes the file (a second harvester, which the daemon's
instance lock prevents); it would stall the loop that long, then fail with a StoreError.

*Leases.* One SQLite file serves one host, so a claim is never taken over, even past its lease:
a live claim is a live worker, and :meth:`SqliteStore.recover` on start returns a dead process's
claims. ``lease_until`` is still recorded, for status.

*Opening.* An existing file is first looked at read-only (:func:`inspect_state`: its header
bytes, then a ``mode=ro`` connection) and only then opened for writing. ``PRAGMA journal_mode =
WAL`` rewrites a database's header, so a foreign SQLite file given as the state by mistake, or a
state written by a newer harvester, must be refused before any pragma runs: it is left
byte-identical. A path that cannot work (a directory, an unreadable file, a folder where the
``-wal`` and ``-shm`` files cannot be created) is named by :func:`state_path_problem` instead of
SQLite's "unable to open database file".

*Queries.* SQL lives in ``sql/sqlite/queries.sql`` and ``sql/sqlite/migrations/``; the schema
version is ``PRAGMA user_version``. Job counters are maintained by triggers (see the first
migration), so ``job_stats`` and ``pending_count`` read one row per job.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import sqlite3
import stat
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, cast

from harvester.core.model import Failure, JobStats, NewTask, PageCommit, StreamCommit, Task
from harvester.errors import StoreError
from harvester.paths import creatable_problem, os_words, writable_file_problem
from harvester.store import ClaimLost
from harvester.store.base import claim_order
from harvester.store.sql_loader import load_migrations, load_queries

__all__ = ["SqliteStore", "inspect_state", "state_path_problem"]

T = TypeVar("T")

MIN_SQLITE = (3, 35, 0)  # UPDATE ... RETURNING
BUSY_TIMEOUT_MS = 2000
CACHE_KIB = 32 * 1024  # page cache; the default 2 MB thrashes on a million-task queue
# ledger_compact rewrites the file (VACUUM) when it is at most this big: the rows it shrinks were
# written in id order, so their pages stay two-thirds empty until rewritten (measured on a month
# of polling: ledger 3.2 MB -> 0.9 MB). A bigger file is left alone: VACUUM holds the store for
# as long as it copies (about 0.1 s per 20 MB here).
VACUUM_MAX_BYTES = 64 * 2**20

_Q = load_queries("sqlite")
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class _Op:
    """A queued write: ``apply`` runs inside the batch transaction, on the database thread.

    ``droppable`` operations (claims) are skipped if their caller is gone before they run;
    ``orphaned`` undoes one whose caller left while it was being applied.
    """

    apply: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    droppable: bool = False
    orphaned: Callable[[Any], None] | None = None


_Outcome = tuple[Any, BaseException | None]


class SqliteStore:
    """The :class:`~harvester.store.base.Store` on one SQLite file.

    Args:
        path: the state file; created (with its directory) if missing.
        thread: run sqlite3 on a dedicated thread instead of the loop thread.
        max_batch: most operations per transaction (bounds one loop stall); 1 disables grouping.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        thread: bool = False,
        max_batch: int = 256,
        cache_kib: int = CACHE_KIB,
    ) -> None:
        if max_batch < 1 or cache_kib < 1:
            raise ValueError("max_batch and cache_kib must be >= 1")
        self._cache_kib = cache_kib
        self._path = Path(path)
        self._thread = thread
        self._max_batch = max_batch
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._queue: list[_Op] = []
        self._wake = asyncio.Event()
        self._committer: asyncio.Task[None] | None = None
        self._closing = False
        self._transactions = 0
        self._operations = 0

    # -- figures ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def transactions(self) -> int:
        """Write transactions committed so far."""
        return self._transactions

    @property
    def operations(self) -> int:
        """Write operations applied so far (over ``transactions``: the batching factor)."""
        return self._operations

    def __repr__(self) -> str:
        mode = "thread" if self._thread else "inline"
        state = "open" if self._conn is not None else "closed"
        return (
            f"<SqliteStore {str(self._path)!r} {state} {mode} queued={len(self._queue)} "
            f"transactions={self._transactions} operations={self._operations}>"
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        if self._conn is not None:
            return
        if self._thread:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="harvester-sqlite")
        try:
            self._conn = await self._call(self._connect)
        except BaseException:
            self._shutdown_executor()
            raise
        self._closing = False
        self._wake = asyncio.Event()  # bound to this loop: a store may be reopened in another
        self._committer = asyncio.get_running_loop().create_task(
            self._run_committer(), name=f"sqlite-committer:{self._path.name}"
        )

    async def close(self) -> None:
        if self._conn is None:
            return
        self._closing = True
        self._wake.set()
        if self._committer is not None:
            await self._committer  # drains the queue: queued commits are not dropped
            self._committer = None
        conn, self._conn = self._conn, None
        try:
            await self._call(conn.close)
        finally:
            self._shutdown_executor()

    def _shutdown_executor(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _connect(self) -> sqlite3.Connection:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"{self._path}: SQLite >= 3.35 is required, this Python has {sqlite3.sqlite_version}"
            )
        problem = state_path_problem(self._path)
        if problem is not None:
            raise StoreError(f"{self._path}: {problem}")
        inspect_state(self._path)  # read-only: nothing is written to a file we refuse
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self._path}: cannot open the state store: {exc}") from exc
        try:
            _configure(conn, self._path, self._cache_kib)
            _migrate(conn, self._path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self._path}: not a usable harvester state file: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    # -- the Store interface: writes -------------------------------------------------------

    async def enqueue(self, tasks: Sequence[NewTask]) -> int:
        if not tasks:
            return 0
        return await self._submit(lambda conn: _insert_tasks(conn, tasks))

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
        if limit < 1:
            return []
        args: dict[str, Any] = {"worker": worker, "now": now, "lease_until": now + lease, "limit": limit}
        query = _Q["claim_tasks"]
        if skip or jobs is not None:
            query = _Q["claim_tasks_filtered"]
            args["skip"] = json.dumps([f"{e} {a}" for e, a in skip])
            args["jobs"] = None if jobs is None else json.dumps(sorted(jobs))

        def apply(conn: sqlite3.Connection) -> list[Task]:
            rows = conn.execute(query, args).fetchall()
            rows.sort(key=lambda r: claim_order(r[6], r[0], r[14], now))
            return [_task(row[:14]) for row in rows]

        def orphaned(tasks: list[Task]) -> None:
            # The caller was cancelled while its claim was being applied (thread mode): hand
            # the tasks back, or they would stay claimed until the next recover().
            for task in tasks:
                future = self._new_future()
                future.add_done_callback(_consume)  # nobody awaits it; a failure is moot
                self._enqueue_op(_Op(_release_apply(task.id, now, None), future))

        return await self._submit(apply, droppable=True, orphaned=orphaned)

    async def commit_page(self, commit: PageCommit) -> None:
        await self._submit(lambda conn: _commit_page(conn, commit))

    async def commit_stream(self, commit: StreamCommit) -> None:
        await self._submit(lambda conn: _commit_stream(conn, commit))

    async def release(self, task_id: int, *, not_before: float, error: str | None) -> None:
        await self._submit(_release_apply(task_id, not_before, error))

    async def finish(self, task_id: int) -> None:
        def apply(conn: sqlite3.Connection) -> None:
            if conn.execute(_Q["finish_task"], {"id": task_id}).fetchone() is None:
                raise ClaimLost(task_id)

        await self._submit(apply)

    async def fail(self, task_id: int, error: str, *, failure: Failure = Failure.REFUSED) -> None:
        def apply(conn: sqlite3.Connection) -> None:
            args = {"id": task_id, "error": error, "failure": str(failure)}
            row = conn.execute(_Q["fail_task"], args).fetchone()
            if row is None:
                raise ClaimLost(task_id)
            if failure is not Failure.SUPERSEDED:
                conn.execute(_Q["set_job_error"], {"job": row[0], "error": error})

        await self._submit(apply)

    async def retry(
        self,
        jobs: Collection[str] | None = None,
        *,
        failures: Collection[Failure] | None = None,
        waiting: bool = False,
        not_before: float = 0.0,
    ) -> int:
        args: dict[str, Any] = {
            "jobs": None if jobs is None else json.dumps(sorted(jobs)),
            "failures": None if failures is None else json.dumps(sorted(str(f) for f in failures)),
            "not_before": not_before,
        }

        def apply(conn: sqlite3.Connection) -> int:
            changed = conn.execute(_Q["retry_failed"], args).rowcount
            if waiting:
                changed += conn.execute(_Q["retry_waiting"], args).rowcount
            return int(changed)

        return await self._submit(apply)

    async def supersede(self, job: str, generation: int, reason: str) -> int:
        args = {"job": job, "generation": generation, "error": reason}
        return await self._submit(lambda conn: int(conn.execute(_Q["supersede"], args).rowcount))

    async def forget(self, job: str, *, state_keys: Sequence[str] = (), state_prefixes: Sequence[str] = ()) -> int:
        def apply(conn: sqlite3.Connection) -> int:
            dropped = conn.execute(_Q["forget_tasks"], {"job": job}).rowcount
            conn.execute(_Q["forget_job"], {"job": job})
            for key in state_keys:
                conn.execute(_Q["forget_state_key"], {"key": key})
            for prefix in state_prefixes:
                conn.execute(_Q["forget_state"], {"prefix": prefix})
            return int(dropped)

        return await self._submit(apply)

    async def recover(self) -> int:
        return await self._submit(lambda conn: conn.execute(_Q["recover"]).rowcount)

    # -- the Store interface: reads --------------------------------------------------------

    async def output_offsets(self) -> Mapping[str, int]:
        rows = await self._read(_Q["output_lengths"])
        return dict(rows)

    async def job_stats(self) -> list[JobStats]:
        rows = await self._read(_Q["job_stats"])
        return [
            JobStats(
                job=job, tasks=tasks, pending=pending, claimed=claimed, done=done,
                failed=failed, pages=pages, items=items, last_error=last_error, superseded=superseded,
            )
            for job, tasks, pending, claimed, done, failed, pages, items, last_error, superseded in rows
        ]  # fmt: skip

    async def generation_stats(self) -> list[JobStats]:
        rows = await self._read(_Q["generation_stats"])
        return [
            JobStats(
                job=job, generation=int(gen), tasks=int(tasks), pending=int(pending), claimed=int(claimed),
                done=int(done), failed=int(failed), superseded=int(superseded), pages=int(pages),
                items=int(items), last_error=None,
            )
            for job, gen, tasks, pending, claimed, done, failed, superseded, pages, items in rows
        ]  # fmt: skip

    async def demand(self, jobs: Collection[str], now: float) -> dict[tuple[str, str], int]:
        rows = await self._read(_Q["demand"], {"jobs": json.dumps(sorted(jobs)), "now": now})
        return {(endpoint, auth): int(n) for endpoint, auth, n in rows}

    async def pending_count(self, jobs: Collection[str] | None = None) -> int:
        if jobs is None:
            rows = await self._read(_Q["pending_count"])
        else:
            rows = await self._read(_Q["pending_count_jobs"], {"jobs": json.dumps(sorted(jobs))})
        return int(rows[0][0])

    async def next_due(self, jobs: Collection[str] | None = None) -> float | None:
        if jobs is None:
            rows = await self._read(_Q["next_due"])
        else:
            rows = await self._read(_Q["next_due_jobs"], {"jobs": json.dumps(sorted(jobs))})
        value = rows[0][0]
        return None if value is None else float(value)

    async def ledger_entries(self, since: float) -> list[dict[str, Any]]:
        rows = await self._read(_Q["ledger_since"], {"since": since})
        return [
            {"at": at, "run": run, "job": job, "route": route, "day": day, "micros": micros,
             "reserved": reserved, "keys": json.loads(keys), "posts": posts}
            for at, run, job, route, day, micros, reserved, keys, posts in rows
        ]  # fmt: skip

    async def add_ledger(self, entries: Sequence[Mapping[str, Any]], *, holds: Sequence[int] = ()) -> None:
        # ``holds`` come only from a shared coordinator (PostgreSQL); one process per SQLite
        # state needs none (store/coordination.py).
        if entries:
            rows = list(entries)
            await self._submit(lambda conn: _insert_ledger(conn, rows))

    async def cache_put(self, rows: Sequence[tuple[str, str, str, float, str]]) -> None:
        if rows:
            batch = list(rows)
            await self._submit(lambda conn: conn.executemany(_Q["cache_put"], batch))

    async def cache_prune(self, before: float) -> int:
        return int(await self._submit(lambda conn: conn.execute(_Q["cache_prune"], {"before": before}).rowcount))

    async def ledger_compact(self, before: float) -> int:
        n = int(await self._submit(lambda conn: conn.execute(_Q["ledger_compact"], {"before": before}).rowcount))
        if n and self._path.stat().st_size <= VACUUM_MAX_BYTES:
            conn = self._require_open()

            def vacuum() -> None:  # outside the committer's transactions, on the store's thread
                # The copy's temporary database on disk, not in memory: a daemon's RSS would keep
                # the high-water mark of a VACUUM in memory (measured: +2.0 MB vs +0.3 MB for 6 MB).
                conn.execute("PRAGMA temp_store = FILE")
                try:
                    conn.execute("VACUUM")  # in WAL mode the copy lands in the WAL ...
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # ... and the file shrinks here
                except sqlite3.Error as exc:  # a reader holding the file (harvester status, say)
                    raise self._store_error(exc) from exc
                finally:
                    conn.execute("PRAGMA temp_store = MEMORY")

            await self._call(vacuum)
        return n

    async def cache_get(self, kind: str, shape: str, ids: Sequence[str], since: float) -> dict[str, str]:
        args = {"kind": kind, "shape": shape, "since": since, "ids": json.dumps(list(ids))}
        return dict(await self._read(_Q["cache_get"], args))

    async def get_state(self, key: str) -> Any:
        rows = await self._read(_Q["get_kv"], {"key": key})
        return json.loads(rows[0][0]) if rows else None

    async def put_state(self, key: str, value: Any) -> None:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
        await self._submit(lambda conn: conn.execute(_Q["put_kv"], {"key": key, "value": text}))

    # -- machinery -------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` where sqlite3 runs: inline, or on the store's thread."""
        if self._executor is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _read(self, sql: str, args: Mapping[str, Any] | None = None) -> list[Any]:
        conn = self._require_open()

        def run() -> list[Any]:
            try:
                return conn.execute(sql, args or {}).fetchall()
            except sqlite3.Error as exc:
                raise self._store_error(exc) from exc

        return await self._call(run)

    def _require_open(self) -> sqlite3.Connection:
        if self._conn is None or self._closing:
            raise StoreError(f"{self._path}: the store is not open")
        return self._conn

    def _new_future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    def _enqueue_op(self, op: _Op) -> None:
        self._queue.append(op)
        self._wake.set()

    async def _submit(
        self,
        apply: Callable[[sqlite3.Connection], T],
        *,
        droppable: bool = False,
        orphaned: Callable[[Any], None] | None = None,
    ) -> T:
        self._require_open()
        future = self._new_future()
        self._enqueue_op(_Op(apply, future, droppable, orphaned))
        return cast(T, await future)

    async def _run_committer(self) -> None:
        try:
            while True:
                if not self._queue:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                batch = self._queue[: self._max_batch]
                del self._queue[: len(batch)]
                live = [op for op in batch if not (op.droppable and op.future.done())]
                if live:
                    await self._apply(live)
                if self._queue:
                    await asyncio.sleep(0)  # inline mode: let the loop breathe between batches
        finally:
            # Cancelled (the loop is going away without close()): nobody may wait forever.
            queued, self._queue = self._queue, []
            for op in queued:
                _settle(op, None, StoreError(f"{self._path}: the store was closed"))

    async def _apply(self, batch: list[_Op]) -> None:
        conn = self._conn
        assert conn is not None
        try:
            outcomes = await self._call(_apply_batch, conn, batch)
        except BaseException as exc:
            # A failed COMMIT (disk full, I/O error) fails every caller of the batch.
            for op in batch:
                _settle(op, None, self._store_error(exc))
            if isinstance(exc, Exception):
                return  # the committer carries on; the next batch may well succeed
            raise
        self._transactions += 1
        self._operations += len(batch)
        for op, (value, error) in zip(batch, outcomes, strict=True):
            _settle(op, value, None if error is None else self._store_error(error))

    def _store_error(self, exc: BaseException) -> BaseException:
        """sqlite3 errors become one-line StoreErrors naming the file; others pass through."""
        if isinstance(exc, sqlite3.Error | asyncio.CancelledError):
            what = "the store was closed" if isinstance(exc, asyncio.CancelledError) else exc
            error = StoreError(f"{self._path}: {what}")
            error.__cause__ = exc
            return error
        return exc


# -- running a batch (database thread) ----------------------------------------------------------


def _apply_batch(conn: sqlite3.Connection, batch: list[_Op]) -> list[_Outcome]:
    """Apply ``batch`` in one transaction; an operation that raises fails alone.

    The fast path runs the operations back to back. Only if one raises (rare: a double commit,
    a bug) is the transaction rolled back and replayed with a savepoint around each operation,
    so the others still commit; operations are deterministic, so the replay gives the same
    results. Savepoints on every operation would cost about 15% of a claim+commit.
    """
    try:
        return _run_transaction(conn, batch, isolate=False)
    except _OperationFailed:
        return _run_transaction(conn, batch, isolate=True)


class _OperationFailed(Exception):
    """An operation raised on the fast path; the batch is replayed with savepoints."""


def _run_transaction(conn: sqlite3.Connection, batch: list[_Op], *, isolate: bool) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for op in batch:
            if not isolate:
                try:
                    outcomes.append((op.apply(conn), None))
                except Exception as exc:
                    raise _OperationFailed from exc
                continue
            conn.execute("SAVEPOINT op")
            try:
                value = op.apply(conn)
            except Exception as exc:  # noqa: BLE001 -- not swallowed: it goes to the caller's future
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                outcomes.append((None, exc))
            else:
                conn.execute("RELEASE op")
                outcomes.append((value, None))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            # The original error says more than a failed ROLLBACK would.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return outcomes


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(op: _Op, value: Any, error: BaseException | None) -> None:
    if op.future.done():  # the caller was cancelled
        if error is None and op.orphaned is not None:
            op.orphaned(value)
        return
    if error is None:
        op.future.set_result(value)
    else:
        op.future.set_exception(error)


def _insert_tasks(conn: sqlite3.Connection, tasks: Sequence[NewTask]) -> int:
    conn.executemany(_Q["insert_job"], [(job,) for job in {t.job for t in tasks}])
    rows = (
        (t.job, t.key, t.endpoint, _dumps(t.path_params), _dumps(t.params), t.priority,
         t.not_before, t.auth, t.write, t.deadline)
        for t in tasks
    )  # fmt: skip
    return conn.executemany(_Q["insert_task"], rows).rowcount


def _commit_page(conn: sqlite3.Connection, commit: PageCommit) -> None:
    args = {"id": commit.task_id, "cursor": commit.next_cursor, "items": commit.items}
    if conn.execute(_Q["commit_page"], args).rowcount == 0:
        raise ClaimLost(commit.task_id)
    if commit.output_job is not None and commit.output_offset is not None:
        conn.execute(_Q["set_output_length"], {"job": commit.output_job, "length": commit.output_offset})
    if commit.spawn:
        _insert_tasks(conn, commit.spawn)
    if commit.ledger:
        _insert_ledger(conn, commit.ledger)
    if commit.cache:
        conn.executemany(_Q["cache_put"], commit.cache)
    for key, value in commit.state.items():
        conn.execute(_Q["put_kv"], {"key": key, "value": json.dumps(value, separators=(",", ":"), sort_keys=True)})


def _commit_stream(conn: sqlite3.Connection, commit: StreamCommit) -> None:
    for job, length in commit.outputs.items():
        conn.execute(_Q["set_output_length"], {"job": job, "length": length})
    if commit.spawn:
        _insert_tasks(conn, commit.spawn)
    if commit.ledger:
        _insert_ledger(conn, commit.ledger)
    for key, value in commit.state.items():
        conn.execute(_Q["put_kv"], {"key": key, "value": json.dumps(value, separators=(",", ":"), sort_keys=True)})


def _insert_ledger(conn: sqlite3.Connection, entries: Sequence[Mapping[str, Any]]) -> None:
    for e in entries:
        row = dict(e)
        row["keys"] = json.dumps(row.get("keys", []), separators=(",", ":"))
        row.setdefault("reserved", 0)
        row.setdefault("posts", 0)
        conn.execute(_Q["insert_ledger"], row)


def _release_apply(
    task_id: int, not_before: float, error: str | None
) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        args = {"id": task_id, "not_before": not_before, "error": error}
        row = conn.execute(_Q["release_task"], args).fetchone()
        if row is None:
            raise ClaimLost(task_id)
        if error is not None:
            conn.execute(_Q["set_job_error"], {"job": row[0], "error": error})

    return apply


def _task(row: tuple[Any, ...]) -> Task:
    (id_, job, key, endpoint, path_params, params, priority, auth, write,
     cursor, pages, items, attempts, last_error) = row  # fmt: skip
    return Task(
        id=id_, job=job, key=key, endpoint=endpoint, path_params=_loads(path_params),
        params=_loads(params), priority=priority, auth=auth, write=bool(write), cursor=cursor,
        pages=pages, items=items, attempts=attempts, last_error=last_error,
    )  # fmt: skip


_encode = json.JSONEncoder(
    separators=(",", ":"), sort_keys=True
).encode  # json.dumps(**kw) builds one per call


def _dumps(mapping: Mapping[str, str]) -> str:
    if not mapping:
        return "{}"
    return _encode(mapping if isinstance(mapping, dict) else dict(mapping))


@functools.lru_cache(maxsize=4096)
def _loads(text: str) -> Mapping[str, str]:
    """Parsed once per distinct text: most tasks of a job share their ``params``."""
    return _EMPTY if text == "{}" else MappingProxyType(json.loads(text))


# -- connection setup ---------------------------------------------------------------------------


def _configure(conn: sqlite3.Connection, path: Path, cache_kib: int = CACHE_KIB) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise StoreError(f"{path}: cannot use WAL mode here (got {mode!r}); is it on a network drive?")
    conn.execute("PRAGMA synchronous = NORMAL")  # safe: see "Durability" above
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
    conn.execute("PRAGMA temp_store = MEMORY")


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    migrations = load_migrations("sqlite")
    latest = migrations[-1].version
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > latest:
        raise StoreError(
            f"{path}: schema version {version} is newer than this harvester knows ({latest}); "
            "upgrade harvester"
        )
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
        raise StoreError(f"{path}: an SQLite database, but not a harvester state file")
    for migration in migrations[version:]:
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


# -- looking before opening ---------------------------------------------------------------------

_HEADER = b"SQLite format 3\x00"
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)", re.IGNORECASE)


def state_path_problem(path: Path) -> str | None:
    """Why a state file cannot be opened (or created) at ``path`` for writing, or None.

    Checked: the path is a regular file (not a directory, a loop or a broken link) that this
    process may read and write, in a folder where SQLite can create ``-wal``/``-shm`` files; or,
    if it does not exist, the nearest existing folder above it lets it be created.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            return f"is a broken symlink (it points to {os.readlink(path)!r})"
        return creatable_problem(path)
    except OSError as exc:
        return os_words(exc)
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a state file"
    problem = writable_file_problem(path)
    if problem is not None:
        return problem
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return (f"its folder {folder} is not writable (SQLite keeps {path.name}-wal and {path.name}-shm "
                "beside the state file)")
    return None


def _harvester_tables(version: int) -> set[str]:
    """The tables a harvester state at schema ``version`` has (those its migrations create)."""
    return {
        name for m in load_migrations("sqlite")[:version] for name in _CREATE_TABLE.findall(m.sql)
    }


def inspect_state(path: Path) -> None:
    """Refuse an existing file that is not a state this harvester can use, without writing to it.

    An empty or missing file is fine (a new state). Otherwise the header must be SQLite's, and
    a read-only connection must find either an empty database or harvester's tables at a
    schema version this harvester knows. A WAL database with no ``-wal`` file beside it is
    read with ``immutable=1``: a plain read-only connection would create ``-wal`` and ``-shm``
    files and leave them behind. With a ``-wal`` file present (a process has it open, or one
    died), the normal read-only connection reads the log too and creates nothing new.

    Raises:
        StoreError: not SQLite, a foreign database, or a newer schema (the file is untouched).
    """
    try:
        with path.open("rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"{path}: {os_words(exc)}") from exc
    if not header:
        return
    if len(header) < 100 or not header.startswith(_HEADER):
        raise StoreError(f"{path}: not a usable harvester state file: not an SQLite database")
    wal_mode = header[18] == 2
    uri = path.resolve().as_uri() + "?mode=ro"
    if wal_mode and not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: not a usable harvester state file: {exc}") from exc
    latest = load_migrations("sqlite")[-1].version
    if version > latest:
        raise StoreError(
            f"{path}: schema version {version} is newer than this harvester knows ({latest}); "
            "upgrade harvester"
        )
    if version == 0 and tables:
        raise StoreError(f"{path}: an SQLite database, but not a harvester state file")
    missing = _harvester_tables(version) - tables
    if missing:
        raise StoreError(
            f"{path}: an SQLite database, but not a harvester state file "
            f"(schema version {version} without the tables {', '.join(sorted(missing))})"
        )
