"""What only the SQLite backend promises: its file, its pragmas, and the group committer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from harvester.core.model import Failure, NewTask, PageCommit
from harvester.errors import StoreError
from harvester.store import ClaimLost, open_store
from harvester.store.sql_loader import load_migrations
from harvester.store.sqlite import SqliteStore

NOW = 1_700_000_000.0


def new(key: str) -> NewTask:
    return NewTask(job="j", key=key, endpoint="/2/tweets/search/recent")


@pytest.fixture(params=["inline", "thread"])
async def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state.db", thread=request.param == "thread")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


# -- the file ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"this is not a database, just some text\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4000]
)
async def test_a_corrupt_state_file_is_a_one_line_store_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        await SqliteStore(path).open()
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message


async def test_another_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(StoreError, match="not a harvester state file"):
        await SqliteStore(path).open()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StoreError, match="schema version 999 is newer"):
        await SqliteStore(path).open()


async def test_an_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"dir\.db"):
        await SqliteStore(tmp_path / "dir.db").open()


async def test_the_file_is_wal_versioned_and_created_with_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == load_migrations("sqlite")[-1].version
    finally:
        conn.close()


def test_open_store_reads_paths_and_urls(tmp_path: Path) -> None:
    plain = open_store(tmp_path / "a.db")
    assert isinstance(plain, SqliteStore)
    assert plain.path == tmp_path / "a.db"
    url = open_store(f"sqlite:///{tmp_path}/b.db")  # tmp_path is absolute: four slashes in all
    assert isinstance(url, SqliteStore)
    assert url.path == tmp_path / "b.db"
    from harvester.store.postgres import PostgresStore

    assert isinstance(open_store("postgresql://harvester@db/harvester"), PostgresStore)
    with pytest.raises(StoreError, match="unknown store scheme"):
        open_store("mysql://db/harvester")
    with pytest.raises(StoreError, match="sqlite:///"):
        open_store("sqlite://")


async def test_a_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    with pytest.raises(StoreError, match="not open"):
        await store.enqueue([new("a")])
    await store.open()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreError, match="not open"):
        await store.pending_count()


# -- the group committer -----------------------------------------------------------------------


async def test_concurrent_commits_share_transactions(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    await store.enqueue([new(str(i)) for i in range(50)])
    tasks = await store.claim("w", NOW, 60.0, limit=50)
    before = store.transactions
    await asyncio.gather(
        *(
            store.commit_page(
                PageCommit(task_id=t.id, next_cursor=None, items=1, output_job="j", output_offset=i)
            )
            for i, t in enumerate(tasks)
        )
    )
    assert store.transactions - before < 50
    assert store.transactions - before <= 2  # in practice one
    [j] = await store.job_stats()
    assert j.done == 50
    assert await store.output_offsets() == {"j": 49}


async def test_a_failing_operation_fails_only_its_caller(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    await store.enqueue([new(str(i)) for i in range(10)])
    tasks = await store.claim("w", NOW, 60.0, limit=10)
    commits = [PageCommit(task_id=t.id, next_cursor="n", items=1) for t in tasks]
    commits.insert(5, commits[0])  # a double commit in the middle of the batch
    before = store.transactions
    results = await asyncio.gather(*(store.commit_page(c) for c in commits), return_exceptions=True)
    assert [type(r) for r in results] == [type(None)] * 5 + [ClaimLost] + [type(None)] * 5
    assert store.transactions - before == 1
    [j] = await store.job_stats()
    assert (j.pages, j.pending) == (10, 10)


class _FailingCommit:
    """A connection whose next COMMIT fails, as on a full disk."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.armed = True

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def test_a_failed_transaction_fails_every_caller_and_the_store_carries_on(
    sqlite_store: SqliteStore,
) -> None:
    store = sqlite_store
    await store.enqueue([new(str(i)) for i in range(20)])
    tasks = await store.claim("w", NOW, 60.0, limit=20)
    real = store._conn
    assert real is not None
    store._conn = _FailingCommit(real)  # type: ignore[assignment]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(store.commit_page(PageCommit(task_id=t.id, next_cursor=None, items=1)) for t in tasks),
                return_exceptions=True,
            ),
            timeout=5,
        )
    finally:
        store._conn = real
    assert all(isinstance(r, StoreError) and "disk is full" in str(r) for r in results), results
    assert all(str(store.path) in str(r) for r in results)
    [j] = await store.job_stats()
    assert (j.done, j.claimed) == (0, 20)  # rolled back: nothing half-applied
    await asyncio.gather(
        *(store.commit_page(PageCommit(task_id=t.id, next_cursor=None, items=1)) for t in tasks)
    )
    [j] = await store.job_stats()
    assert j.done == 20


async def test_close_applies_what_is_queued(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    await store.enqueue([new(str(i)) for i in range(5)])
    tasks = await store.claim("w", NOW, 60.0, limit=5)
    pending = [
        asyncio.create_task(store.commit_page(PageCommit(task_id=t.id, next_cursor=None, items=1)))
        for t in tasks
    ]
    await asyncio.sleep(0)  # the commits are queued, not yet applied
    await store.close()
    await asyncio.gather(*pending)
    again = SqliteStore(tmp_path / "state.db")
    await again.open()
    try:
        [j] = await again.job_stats()
        assert j.done == 5
    finally:
        await again.close()


async def test_a_cancelled_claim_leaves_nothing_claimed(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    await store.enqueue([new("a")])
    claim = asyncio.create_task(store.claim("w", NOW, 60.0))
    await asyncio.sleep(0)
    claim.cancel()
    with pytest.raises(asyncio.CancelledError):
        await claim
    await store.pending_count()  # let the committer settle (and undo, in thread mode)
    for _ in range(20):
        [j] = await store.job_stats()
        if j.claimed == 0:
            break
        await asyncio.sleep(0.01)
    assert (j.pending, j.claimed) == (1, 0)
    assert [t.key for t in await store.claim("w2", NOW, 60.0)] == ["a"]


async def test_repr_shows_live_figures(sqlite_store: SqliteStore) -> None:
    await sqlite_store.enqueue([new("a")])
    text = repr(sqlite_store)
    assert "open" in text
    assert "transactions=1" in text
    assert "state.db" in text


async def test_migration_5_classifies_the_failures_of_an_older_state(tmp_path: Path) -> None:
    """A state of schema 4 (failure classes unknown) gets each failed task's class from its error
    text, superseded tasks become a state of their own, and the counters follow."""
    from conftest import LEGACY_FAILURES

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in load_migrations("sqlite")[:4]:
        conn.executescript(f"BEGIN;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;")
    conn.execute("INSERT INTO jobs (job) VALUES ('j')")
    for n, error in enumerate(LEGACY_FAILURES):
        conn.execute("INSERT INTO tasks (job, key, endpoint, state, last_error, cursor, pages) "
                     "VALUES ('j', ?, '/2/tweets/search/recent', 'failed', ?, 'c', 1)", (f"k{n}", error))
    conn.execute("INSERT INTO tasks (job, key, endpoint) VALUES ('j', 'fresh', '/2/tweets/search/recent')")
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        [j] = await store.job_stats()
        assert (j.tasks, j.failed, j.superseded, j.pending, j.pages) == (10, 8, 1, 1, 9)
        # The rebuilt table still takes claims and commits as before.
        assert await store.retry(failures=[Failure.AUTH]) == 1
        claimed = await store.claim("w", NOW, 60.0, limit=5)
        assert sorted(t.key for t in claimed) == ["fresh", "k0"]
        assert {t.key: t.cursor for t in claimed}["k0"] == "c"
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    got = {e: (s, f) for e, s, f in conn.execute("SELECT last_error, state, failure FROM tasks WHERE key <> 'k0' "
                                                 "AND last_error IS NOT NULL")}
    conn.close()
    assert got == {e: sf for e, sf in LEGACY_FAILURES.items() if not e.startswith("HTTP 401")}
