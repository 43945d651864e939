"""The coordinator seam: local (SQLite, one process) and shared (PostgreSQL, many processes).

The PostgreSQL tests open several stores on one schema, as several hosts would, and check the
three shared records of ``core.shared``: grants (never more than the limit in a span, however
the admissions interleave), holds (seen by the others until the page commits), and settled
ledger rows (each seen exactly once, even one committed late with a lower id).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from conftest import POSTGRES_URL

from harvester.core.model import NewTask, PageCommit
from harvester.core.shared import Hold
from harvester.store.coordination import LocalCoordinator, coordinator_for
from harvester.store.pg_shared import PostgresCoordinator
from harvester.store.postgres import PostgresStore
from harvester.store.sqlite import SqliteStore

T0 = 1_795_132_800.0
SEARCH = "/2/tweets/search/recent"


def entry(run: str, micros: int, at: float = T0) -> dict[str, object]:
    return {"at": at, "run": run, "job": "j", "route": SEARCH, "day": "2026-11-21", "micros": micros,
            "reserved": micros, "keys": [], "posts": 10}  # fmt: skip


async def test_local_coordinator_shows_nothing_and_grants_everything(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    try:
        await store.add_ledger([entry("r", 5)])
        coord = coordinator_for(store)
        assert isinstance(coord, LocalCoordinator)
        assert await coord.history(0.0) == await store.ledger_entries(0.0)
        async with coord.session(T0, "r") as s:
            assert s.view.entries == () and s.view.held_micros == 0
            assert await s.grant("b", T0, 1, 10.0) == T0
            assert await s.grant("b", T0, 1, 10.0) == T0  # one process: its engines decide
            assert await s.hold(Hold(run="r", job="j", route=SEARCH, micros=1, posts=1, at=T0,
                                     expires=T0 + 1)) is None  # fmt: skip
    finally:
        await store.close()


@pytest.fixture
async def hosts(pg_schema: str) -> AsyncIterator[list[PostgresStore]]:
    assert POSTGRES_URL is not None
    stores = [PostgresStore(POSTGRES_URL, schema=pg_schema, pool_size=3) for _ in range(4)]
    for s in stores:
        await s.open()
    try:
        yield stores
    finally:
        for s in stores:
            await s.close()


async def test_concurrent_admissions_never_grant_more_than_the_limit(hosts: list[PostgresStore]) -> None:
    coords = [coordinator_for(s) for s in hosts]
    assert all(isinstance(c, PostgresCoordinator) for c in coords)
    for c in coords:
        await c.history(0.0)

    async def ask(c: object, i: int) -> float:
        assert isinstance(c, PostgresCoordinator)
        async with c.session(T0 + i * 0.001, f"run{i % 4}") as s:
            return await s.grant("search app", T0 + i * 0.001, 5, 10.0)

    answers = await asyncio.gather(*(ask(coords[i % 4], i) for i in range(40)))
    granted = [i for i, t in enumerate(answers) if t == T0 + i * 0.001]
    assert len(granted) == 5
    refused = [t for i, t in enumerate(answers) if i not in granted]
    first = min(T0 + i * 0.001 for i in granted)
    assert min(refused) == pytest.approx(first + 10.0)  # the oldest grant leaves the span
    async with coords[0].session(T0 + 10.5, "run0") as s:  # all five have left by then
        assert await s.grant("search app", T0 + 10.5, 5, 10.0) == T0 + 10.5
        assert await s.grant("other bucket", T0 + 10.5, 5, 10.0) == T0 + 10.5


async def test_holds_are_seen_by_others_until_the_page_commits_with_its_charge(
    hosts: list[PostgresStore],
) -> None:
    a, b = hosts[0], hosts[1]
    ca, cb = coordinator_for(a), coordinator_for(b)
    await ca.history(0.0)
    await cb.history(0.0)
    await a.enqueue([NewTask(job="j", key="k", endpoint=SEARCH)])
    [task] = await a.claim("w", T0, 60.0)
    async with ca.session(T0, "ra") as s:
        hold = await s.hold(Hold(run="ra", job="j", route=SEARCH, micros=500_000, posts=100, at=T0,
                                 expires=T0 + 60))  # fmt: skip
    assert hold is not None
    async with ca.session(T0, "ra") as s:
        assert s.view.held_micros == 0  # its own hold is in its own engines already
    async with cb.session(T0, "rb") as s:
        assert (s.view.held_micros, s.view.held_posts) == (500_000, 100)
    await a.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=3, ledger=(entry("ra", 15_000),),
                                   holds=(hold,)))  # fmt: skip
    async with cb.session(T0 + 1, "rb") as s:
        assert s.view.held_micros == 0
        assert [e["micros"] for e in s.view.entries] == [15_000]
    async with cb.session(T0 + 2, "rb") as s:
        assert s.view.entries == ()  # each row is shown once
    async with ca.session(T0 + 2, "ra") as s:
        assert s.view.entries == ()  # and never to the run that wrote it


async def test_an_expired_hold_becomes_a_worst_case_charge_seen_once(hosts: list[PostgresStore]) -> None:
    dead, alive = coordinator_for(hosts[0]), coordinator_for(hosts[1])
    await alive.history(0.0)
    async with dead.session(T0, "dead") as s:
        await s.hold(Hold(run="dead", job="j", route=SEARCH, micros=250_000, posts=50, at=T0, expires=T0 + 5))
    async with alive.session(T0 + 4, "alive") as s:
        assert s.view.held_micros == 250_000 and s.view.entries == ()
    async with alive.session(T0 + 6, "alive") as s:
        assert s.view.held_micros == 0
        [charged] = s.view.entries
        assert (charged["micros"], charged["posts"], charged["run"]) == (250_000, 50, "dead")
    async with alive.session(T0 + 7, "alive") as s:
        assert s.view.entries == ()
    assert [e["micros"] for e in await hosts[2].ledger_entries(0.0)] == [250_000]


async def test_a_row_committed_late_with_a_lower_id_is_not_missed(
    hosts: list[PostgresStore], pg_schema: str
) -> None:
    assert POSTGRES_URL is not None
    reader = coordinator_for(hosts[0])
    await reader.history(0.0)
    slow = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": pg_schema})
    try:
        tx = slow.transaction()
        await tx.start()
        await slow.execute("INSERT INTO ledger (at, run, job, route, day, micros) "
                           "VALUES ($1, 'slow', 'j', $2, 'd', 7)", T0, SEARCH)  # fmt: skip
        await hosts[1].add_ledger([entry("fast", 11)])  # a higher id, committed first
        async with reader.session(T0, "reader") as s:
            assert [e["micros"] for e in s.view.entries] == [11]
        await tx.commit()
        async with reader.session(T0, "reader") as s:
            assert [e["micros"] for e in s.view.entries] == [7]
        async with reader.session(T0, "reader") as s:
            assert s.view.entries == ()
    finally:
        await slow.close()




async def test_a_per_second_gap_holds_across_hosts(hosts: list[PostgresStore]) -> None:
    a, b = coordinator_for(hosts[0]), coordinator_for(hosts[1])
    async with a.session(T0, "ra") as s:
        assert await s.grant("all app", T0, 300, 905.0, 1.1) == T0
    async with b.session(T0 + 0.5, "rb") as s:
        assert await s.grant("all app", T0 + 0.5, 300, 905.0, 1.1) == pytest.approx(T0 + 1.1)
    async with b.session(T0 + 1.1, "rb") as s:
        assert await s.grant("all app", T0 + 1.1, 300, 905.0, 1.1) == T0 + 1.1


async def test_activity_shows_each_process_claims_expired_leases_and_holds(hosts: list[PostgresStore]) -> None:
    a, b = hosts[0], hosts[1]
    await a.enqueue([NewTask(job="j", key=f"k{i}", endpoint=SEARCH) for i in range(3)])
    await a.claim("w", T0, 10.0, limit=2)
    async with coordinator_for(b).session(T0, "rb") as s:
        await s.hold(Hold(run="rb", job="j", route=SEARCH, micros=70_000, posts=7, at=T0, expires=T0 + 60))
    seen = {h.owner: h for h in await coordinator_for(hosts[2]).activity(T0 + 20.0)}
    assert (seen[a.owner].claims, seen[a.owner].expired, seen[a.owner].holds) == (2, 2, 0)
    assert (seen[b.owner].claims, seen[b.owner].holds, seen[b.owner].held_micros) == (0, 1, 70_000)
    assert await LocalCoordinator(a).activity(T0) == []
