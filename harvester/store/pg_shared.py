"""The PostgreSQL coordinator: one transaction, under one advisory lock, per admission.

An admission (``store/coordination.py``) runs, in one transaction that first takes
``pg_advisory_xact_lock`` on this schema's shared-admission key:

1. expired holds become worst-case ledger rows (``core.shared.expired_hold_entry``);
2. the ledger rows this process has not seen (other runs only) and the other owners' holds
   are read: the :class:`~harvester.store.coordination.SharedView`;
3. the process decides (its engines, with the view folded in), then logs its grant and its
   hold, and the transaction commits, releasing the lock.

Admissions therefore happen one at a time across all hosts, which is what makes "N processes
never send more than a window allows and never spend past the budget" hold: each decides
knowing every earlier decision. An admission is a handful of short statements on one
connection; page commits and claims never take this lock.

*Seeing every ledger row exactly once.* Rows carry their writing transaction's id (``xid``).
After each look the process keeps the oldest transaction id still running then (the
``xmin`` of its snapshot): every row of an older transaction is committed or gone for good, so
the next look reads only rows with ``xid >= xmin``, skipping those it already has (kept by id
until they fall below the mark). A row committed late with a lower ``id`` is never missed,
which an ``id > last`` cursor would do. The mark, the rows and the others' holds are read in
*one statement*, so in one snapshot: a page commit deletes its hold and adds its row together,
and reading the two at different moments could see neither (an under-count: while these were
separate statements, four daemons once spent $0.695 against a $0.60 limit).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from harvester.core.shared import Hold, expired_hold_entry, grant_release
from harvester.store.coordination import HostActivity, Session, SharedView
from harvester.store.postgres import PostgresStore, _ledger_arrays
from harvester.store.sql_loader import load_queries

_Q = load_queries("postgres")
SHARED_LOCK = 0x73686172  # "shar": the advisory lock class; the schema's hash is the key


def _entry(row: asyncpg.Record) -> dict[str, Any]:
    return {"at": row["at"], "run": row["run"], "job": row["job"], "route": row["route"],
            "day": row["day"], "micros": row["micros"], "reserved": row["reserved"],
            "keys": json.loads(row["keys"]), "posts": row["posts"]}  # fmt: skip


class _PgSession:
    def __init__(self, conn: asyncpg.Connection, owner: str, view: SharedView) -> None:
        self._conn = conn
        self._owner = owner
        self._view = view

    @property
    def view(self) -> SharedView:
        return self._view

    async def grant(self, bucket: str, now: float, limit: int, span: float, min_gap: float = 0.0) -> float:
        await self._conn.execute(_Q["grants_expire"], bucket, now - span)
        times = [r[0] for r in await self._conn.fetch(_Q["grants_live"], bucket, now - span, limit)]
        until = grant_release(times, now, limit, span, min_gap)
        if until <= now:
            await self._conn.execute(_Q["grant_insert"], bucket, now)
            return now
        return until

    async def hold(self, hold: Hold) -> int | None:
        hold_id: int = await self._conn.fetchval(
            _Q["hold_insert"], self._owner, hold.run, hold.job, hold.route, hold.micros, hold.posts,
            hold.at, hold.expires,
        )  # fmt: skip
        return hold_id


class PostgresCoordinator:
    """Admissions shared by every process on one PostgreSQL store (see the module docstring)."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self._mark: int | None = None  # xmin of the last look (as an int: xid8 is 64-bit)
        self._seen: dict[int, int] = {}  # ledger id -> xid, for rows at or above the mark

    async def history(self, since: float) -> list[dict[str, Any]]:
        with self.store._errors("cannot read the ledger"):
            rows = await self.store._require_open().fetch(_Q["ledger_history"], since)
        self._mark = int(rows[0]["mark"])
        self._seen = {r["id"]: int(r["xid"]) for r in rows if r["id"] is not None and int(r["xid"]) >= self._mark}
        return [_entry(r) for r in rows if r["id"] is not None]

    async def activity(self, now: float) -> list[HostActivity]:
        with self.store._errors("cannot read the hosts' activity"):
            rows = await self.store._require_open().fetch(_Q["activity"], now)
        return [HostActivity(owner=r[0], claims=int(r[1]), expired=int(r[2]), holds=int(r[3]),
                             held_micros=int(r[4])) for r in rows]  # fmt: skip

    @asynccontextmanager
    async def session(self, now: float, run: str) -> AsyncIterator[Session]:
        store = self.store
        pool = store._require_open()
        with store._errors("shared admission failed"):
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(_Q["shared_lock"], SHARED_LOCK)
                await self._expire_holds(conn, now)
                view = await self._look(conn, run)
                yield _PgSession(conn, store.owner, view)

    async def _expire_holds(self, conn: asyncpg.Connection, now: float) -> None:
        gone = await conn.fetch(_Q["holds_expire"], now)
        if gone:
            entries = [
                expired_hold_entry(
                    Hold(run=r["run"], job=r["job"], route=r["route"], micros=r["micros"],
                         posts=r["posts"], at=r["at"], expires=r["expires"]), now,
                ).to_dict()
                for r in gone
            ]  # fmt: skip
            await conn.execute(_Q["insert_ledger"], *_ledger_arrays(entries), [])

    async def _look(self, conn: asyncpg.Connection, run: str) -> SharedView:
        first = self._mark is None  # no history read: everything before this look counts as seen
        mark = self._mark
        rows = await conn.fetch(_Q["shared_view"], mark, run, self.store.owner)
        fresh = [] if first else [r for r in rows if r["id"] is not None and r["id"] not in self._seen]
        for r in rows:
            if r["id"] is not None:
                self._seen[r["id"]] = int(r["xid"])
        new_mark = int(rows[0]["mark"])
        self._mark = new_mark
        self._seen = {i: x for i, x in self._seen.items() if x >= new_mark}
        return SharedView(entries=tuple(_entry(r) for r in fresh), held_micros=int(rows[0]["held_micros"]),
                          held_posts=int(rows[0]["held_posts"]))  # fmt: skip


__all__ = ["PostgresCoordinator"]
