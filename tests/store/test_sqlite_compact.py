"""A SQLite state gives back the room of the ids the ledger no longer needs (issue 19: a daemon's
state.db grew by the ids of every post it was charged for)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harvester.core.model import StreamCommit
from harvester.store.sqlite import SqliteStore

DAY = 86_400.0
NOW = 1_795_132_800.0


def test_compacting_the_ledger_shrinks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    def entry(at: float, n: int) -> dict[str, object]:
        keys = [["post", str(10**15 + n * 100 + i)] for i in range(100)]  # a page of 100 Posts
        return {"at": at, "run": "r", "job": "a", "route": "/2/tweets/search/recent", "day": "d",
                "micros": 500_000, "reserved": 0, "keys": keys, "posts": 100}  # fmt: skip

    async def main() -> tuple[int, int, int, float]:
        store = SqliteStore(path)
        await store.open()
        try:
            for n in range(2000):
                await store.commit_stream(StreamCommit(ledger=(entry(NOW - DAY + n, n),)))
            await store.commit_stream(StreamCommit(ledger=(entry(NOW, 2000),)))
            before = path.stat().st_size
            compacted = await store.ledger_compact(NOW - 1)
            after = path.stat().st_size
            spent = sum(float(str(e["micros"])) for e in await store.ledger_entries(0.0))
        finally:
            await store.close()
        return before, after, compacted, spent

    before, after, compacted, spent = asyncio.run(main())
    assert compacted == 2000
    assert after < before / 5, (before, after)  # the ids were most of the file
    assert spent == 2001 * 500_000  # the money is all there
