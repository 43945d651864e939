"""What only the PostgreSQL backend promises: leases across hosts, SKIP LOCKED claims, migrations
under concurrency, and error messages without credentials.

Two ``PostgresStore`` instances on one schema stand for two hosts. Runs when
``HARVESTER_TEST_POSTGRES_URL`` is set; each test gets a fresh schema (``pg_schema``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from conftest import POSTGRES_URL

from harvester.core.model import NewTask, PageCommit
from harvester.errors import StoreError
from harvester.store import ClaimLost, open_store
from harvester.store.postgres import PostgresStore, redact_url
from harvester.store.sql_loader import load_migrations

NOW = 1_700_000_000.0


def new(key: str, job: str = "j", **kw: object) -> NewTask:
    return NewTask(job=job, key=key, endpoint="/2/tweets/search/recent", **kw)  # type: ignore[arg-type]


@pytest.fixture
async def hosts(pg_schema: str) -> AsyncIterator[Callable[[], PostgresStore]]:
    """A factory of opened stores on one fresh schema (each one a "host"); all closed afterwards."""
    opened: list[PostgresStore] = []
    assert POSTGRES_URL is not None

    def make() -> PostgresStore:
        store = PostgresStore(POSTGRES_URL, schema=pg_schema, pool_size=4)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            await store.close()


async def open_host(make: Callable[[], PostgresStore]) -> PostgresStore:
    store = make()
    await store.open()
    return store


# -- leases ------------------------------------------------------------------------------------


async def test_an_expired_lease_is_taken_over_and_the_late_commit_is_lost(
    hosts: Callable[[], PostgresStore],
) -> None:
    a, b = await open_host(hosts), await open_host(hosts)
    await a.enqueue([new("t")])
    [task] = await a.claim("w1", NOW, 5.0)
    assert await b.claim("w2", NOW + 5.0, 60.0) == []  # the lease runs to NOW + 5 inclusive
    [taken] = await b.claim("w2", NOW + 5.1, 60.0)
    assert taken.id == task.id
    with pytest.raises(ClaimLost):
        await a.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=1))
    with pytest.raises(ClaimLost):
        await a.release(task.id, not_before=NOW, error="late")
    await b.commit_page(
        PageCommit(task_id=task.id, next_cursor="c1", items=2, output_job="j", output_offset=9)
    )
    [j] = await b.job_stats()
    assert (j.pages, j.items, j.pending, j.claimed, j.last_error) == (1, 2, 1, 0, None)
    assert await a.output_offsets() == {"j": 9}


async def test_a_stale_claim_cannot_commit_after_its_task_came_back(
    hosts: Callable[[], PostgresStore],
) -> None:
    """A-B-A: host a's worker stalls, b takes over and commits, a claims the task again; the
    stalled worker's commit must not land on the new claim."""
    a, b = await open_host(hosts), await open_host(hosts)
    await a.enqueue([new("t")])
    [old] = await a.claim("stalled", NOW, 5.0)
    [taken] = await b.claim("w2", NOW + 10, 60.0)
    await b.commit_page(PageCommit(task_id=taken.id, next_cursor="c1", items=1))
    [again] = await a.claim("fresh", NOW + 11, 60.0)
    assert (again.id, again.cursor) == (old.id, "c1")
    await a.commit_page(PageCommit(task_id=again.id, next_cursor="c2", items=1))  # the fresh claim
    with pytest.raises(ClaimLost):  # the stalled worker comes back: its claim is over
        await a.commit_page(PageCommit(task_id=old.id, next_cursor="x", items=100))
    [j] = await a.job_stats()
    assert (j.pages, j.items) == (2, 2)


async def test_a_store_never_takes_over_its_own_claims(hosts: Callable[[], PostgresStore]) -> None:
    a = await open_host(hosts)
    await a.enqueue([new("t")])
    await a.claim("w1", NOW, 5.0)
    assert await a.claim("w2", NOW + 100, 60.0) == []  # w1 is this process's own, live worker


async def test_recover_returns_only_this_stores_claims(hosts: Callable[[], PostgresStore]) -> None:
    a, b = await open_host(hosts), await open_host(hosts)
    await a.enqueue([new(str(i)) for i in range(4)])
    mine = await a.claim("w", NOW, 60.0, limit=1)
    theirs = await b.claim("w", NOW, 60.0, limit=2)
    assert await a.recover() == 1
    assert await b.claim("w", NOW, 60.0, limit=5) != []  # a's task is pending again
    with pytest.raises(ClaimLost):
        await a.commit_page(PageCommit(task_id=mine[0].id, next_cursor=None, items=1))
    for task in theirs:  # b's claims survived a's recover
        await b.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=1))


async def test_close_hands_claims_back(hosts: Callable[[], PostgresStore]) -> None:
    a, b = await open_host(hosts), await open_host(hosts)
    await a.enqueue([new("t")])
    await a.claim("w", NOW, 3600.0)
    await a.close()
    assert [t.key for t in await b.claim("w", NOW, 60.0)] == ["t"]  # no lease to wait out


async def test_a_cancelled_claim_leaves_nothing_claimed(hosts: Callable[[], PostgresStore]) -> None:
    b = await open_host(hosts)
    await b.enqueue([new("t")])
    for delay in (0.0, 0.0005, 0.001, 0.002, 0.005):  # cancelled before, during, after the statement
        a = await open_host(hosts)
        claim = asyncio.create_task(a.claim("w", NOW, 3600.0))
        await asyncio.sleep(delay)
        claim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claim
        await a.close()  # waits for a claim still in flight, and hands it back
        [j] = await b.job_stats()
        assert (j.pending, j.claimed) == (1, 0)


# -- concurrency -------------------------------------------------------------------------------


async def test_concurrent_claims_over_two_hosts_never_share_a_task(
    hosts: Callable[[], PostgresStore],
) -> None:
    a, b = await open_host(hosts), await open_host(hosts)
    total = 2000
    await a.enqueue([new(f"t{i}", job=f"j{i % 3}", priority=i % 4) for i in range(total)])
    seen: list[int] = []
    rng = random.Random(7)

    async def worker(store: PostgresStore, name: str) -> None:
        while tasks := await store.claim(name, NOW, 60.0, limit=rng.randint(1, 4)):
            for task in tasks:
                seen.append(task.id)
                await store.commit_page(
                    PageCommit(task_id=task.id, next_cursor=None, items=1, output_job=task.job,
                               output_offset=len(seen))
                )  # fmt: skip

    async with asyncio.TaskGroup() as group:
        for w in range(8):
            group.create_task(worker(a if w % 2 else b, f"w{w}"))
    assert len(seen) == total
    assert len(set(seen)) == total
    stats = await b.job_stats()
    assert sum(s.done for s in stats) == sum(s.items for s in stats) == total
    assert sum(s.pending + s.claimed for s in stats) == 0
    assert max((await a.output_offsets()).values()) <= total


async def test_sharded_counters_match_the_tasks(pg_schema: str, hosts: Callable[[], PostgresStore]) -> None:
    a, b = await open_host(hosts), await open_host(hosts)
    await asyncio.gather(
        a.enqueue([new(str(i), job=f"j{i % 2}") for i in range(300)]),
        b.enqueue([new(str(i), job=f"j{i % 3}") for i in range(200, 500)]),
    )
    for store in (a, b) * 5:
        tasks = await store.claim("w", NOW, 60.0, limit=20)
        for n, task in enumerate(tasks):
            if n % 3 == 0:
                await store.fail(task.id, "x")
            elif n % 3 == 1:
                await store.commit_page(PageCommit(task_id=task.id, next_cursor="c", items=n))
    assert POSTGRES_URL is not None
    conn = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": pg_schema})
    try:
        truth = await conn.fetch(
            "SELECT job, count(*) AS tasks, count(*) FILTER (WHERE state = 'pending') AS pending,"
            " count(*) FILTER (WHERE state = 'claimed') AS claimed,"
            " count(*) FILTER (WHERE state = 'done') AS done,"
            " count(*) FILTER (WHERE state = 'failed') AS failed, sum(pages) AS pages,"
            " sum(items) AS items FROM tasks GROUP BY job ORDER BY job"
        )
        shards = await conn.fetchval("SELECT count(DISTINCT shard) FROM job_counts")
    finally:
        await conn.close()
    assert shards >= 2  # two stores, two connections at least: the counters really are split
    got = [
        (s.job, s.tasks, s.pending, s.claimed, s.done, s.failed, s.pages, s.items)
        for s in await a.job_stats()
    ]
    assert got == [tuple(r) for r in truth]
    distinct = {(f"j{i % 2}", i) for i in range(300)} | {(f"j{i % 3}", i) for i in range(200, 500)}
    assert sum(t for _, t, *_ in got) == len(distinct)


# -- the schema --------------------------------------------------------------------------------


async def test_migration_is_idempotent_and_safe_to_race(pg_schema: str) -> None:
    assert POSTGRES_URL is not None
    stores = [PostgresStore(POSTGRES_URL, schema=pg_schema, pool_size=1) for _ in range(4)]
    try:
        await asyncio.gather(*(s.open() for s in stores))  # four processes starting together
        await stores[0].enqueue([new("a")])
    finally:
        for s in stores:
            await s.close()
    again = PostgresStore(POSTGRES_URL, schema=pg_schema)
    await again.open()
    try:
        assert await again.enqueue([new("a")]) == 0  # the same state, nothing re-created
    finally:
        await again.close()
    conn = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": pg_schema})
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM harvester_schema_version ORDER BY 1")]
        assert versions == [m.version for m in load_migrations("postgres")]
        await conn.execute("INSERT INTO harvester_schema_version (version, name) VALUES (999, 'future')")
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="schema version 999 is newer"):
        await PostgresStore(POSTGRES_URL, schema=pg_schema).open()


async def test_a_schema_with_foreign_tables_is_refused(pg_schema: str) -> None:
    assert POSTGRES_URL is not None
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'CREATE SCHEMA "{pg_schema}"; CREATE TABLE "{pg_schema}".tasks (x int)')
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="no schema version"):
        await PostgresStore(POSTGRES_URL, schema=pg_schema).open()


def test_open_store_reads_postgres_urls() -> None:
    for url in ("postgresql://harvester@db/harvester", "postgres://harvester@db/harvester"):
        assert isinstance(open_store(url), PostgresStore)


# -- errors ------------------------------------------------------------------------------------


def test_redact_url_drops_passwords() -> None:
    assert redact_url("postgresql://u:hunter2@db:5432/x") == "postgresql://u@db:5432/x"
    assert redact_url("postgres://db/x?password=hunter2&sslmode=require") == (
        "postgres://db/x?password=%2A%2A%2A&sslmode=require"
    )
    assert redact_url("postgresql://db/x") == "postgresql://db/x"


def _chain(exc: BaseException | None) -> str:
    parts = []
    while exc is not None:
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:s3cret-pw@127.0.0.1:1/test",  # connection refused
        "postgresql://nobody:s3cret-pw@127.0.0.1:5432/no_such_database_xyz",  # refused by the server
        "postgresql://postgres:s3cret-pw@127.0.0.1:notaport/test",  # a bad URL
        "postgresql://postgres@127.0.0.1:1/test?password=s3cret-pw",
    ],
)
async def test_connection_errors_are_one_line_without_the_password(url: str) -> None:
    if POSTGRES_URL is None:
        pytest.skip("HARVESTER_TEST_POSTGRES_URL is not set")
    with pytest.raises(StoreError) as caught:
        await PostgresStore(url, connect_timeout=5.0).open()
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret-pw" not in message
    assert "s3cret-pw" not in repr(caught.value)
    assert "127.0.0.1" in message
    assert "s3cret-pw" not in _chain(caught.value.__cause__)


async def test_a_closed_store_refuses_calls() -> None:
    store = PostgresStore("postgresql://u:pw@127.0.0.1:1/x")
    with pytest.raises(StoreError, match="not open") as caught:
        await store.pending_count()
    assert "pw" not in str(caught.value).replace("postgresql", "")
    await store.close()  # never opened: nothing to do


async def test_repr_shows_live_figures(hosts: Callable[[], PostgresStore]) -> None:
    a = await open_host(hosts)
    await a.enqueue([new("a"), new("b")])
    await a.claim("w", NOW, 60.0, limit=2)
    text = repr(a)
    assert "open" in text and "claims=2" in text and a.owner in text


async def test_commits_count_once_per_claim(hosts: Callable[[], PostgresStore]) -> None:
    """Many concurrent double commits: each claim lands exactly once."""
    a = await open_host(hosts)
    await a.enqueue([new(str(i)) for i in range(50)])
    tasks = await a.claim("w", NOW, 60.0, limit=50)
    commits = [PageCommit(task_id=t.id, next_cursor=None, items=1) for t in tasks] * 2
    results = await asyncio.gather(*(a.commit_page(c) for c in commits), return_exceptions=True)
    outcome = Counter(type(r).__name__ for r in results)
    assert outcome == {"NoneType": 50, "ClaimLost": 50}
    [j] = await a.job_stats()
    assert (j.done, j.items) == (50, 50)


async def test_migration_5_classifies_the_failures_of_an_older_state(pg_schema: str) -> None:
    """As on SQLite: a schema-4 state's failed tasks get their class from their error text."""
    from conftest import LEGACY_FAILURES

    assert POSTGRES_URL is not None
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'CREATE SCHEMA "{pg_schema}"; SET search_path TO "{pg_schema}"')
        await conn.execute("CREATE TABLE harvester_schema_version (version integer PRIMARY KEY, name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())")
        for m in load_migrations("postgres")[:4]:
            await conn.execute(m.sql)
            await conn.execute("INSERT INTO harvester_schema_version (version, name) VALUES ($1, $2)",
                               m.version, m.name)
        await conn.execute("INSERT INTO jobs (job) VALUES ('j')")
        for n, error in enumerate(LEGACY_FAILURES):
            await conn.execute("INSERT INTO tasks (job, key, endpoint, state, last_error, cursor, pages) "
                               "VALUES ('j', $1, '/2/tweets/search/recent', 'failed', $2, 'c', 1)", f"k{n}", error)
        await conn.execute("INSERT INTO tasks (job, key, endpoint) VALUES ('j', 'fresh', '/2/tweets/search/recent')")
    finally:
        await conn.close()
    store = PostgresStore(POSTGRES_URL, schema=pg_schema)
    await store.open()
    try:
        [j] = await store.job_stats()
        assert (j.tasks, j.failed, j.superseded, j.pending, j.pages) == (10, 8, 1, 1, 9)
    finally:
        await store.close()
    conn = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": pg_schema})
    try:
        rows = await conn.fetch("SELECT last_error, state, failure FROM tasks WHERE last_error IS NOT NULL")
    finally:
        await conn.close()
    assert {r[0]: (r[1], r[2]) for r in rows} == LEGACY_FAILURES
