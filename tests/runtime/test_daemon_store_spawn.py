"""The daemon's store gives a run's spawned tasks the run's suffix on every page, not only the
first: a later page's spawns without it would collide with the previous run's keys (enqueue
skips existing keys) and the next run would silently lose them. Each page is a claim of its own
(a commit with a next cursor puts the task back to pending)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harvester.clock import LoopClock
from harvester.core.model import NewTask, PageCommit
from harvester.runtime.daemon_store import DaemonStore
from harvester.store.sqlite import SqliteStore

NOW = 1_700_000_000.0


def new(key: str) -> NewTask:
    return NewTask(job="lists", key=key, endpoint="/2/users/:id/owned_lists")


def test_spawns_of_every_page_carry_the_run_suffix(tmp_path: Path) -> None:
    async def main() -> list[str]:
        store = DaemonStore(SqliteStore(tmp_path / "state.db"), LoopClock(epoch=NOW))
        await store.open()
        try:
            await store.enqueue([new("owner:1@1700000000")])
            [task] = await store.claim("w", NOW, 60.0)
            await store.commit_page(PageCommit(task_id=task.id, next_cursor="p2", items=1, spawn=(new("list:a"),)))
            claimed = await store.claim("w", NOW, 60.0, limit=10)  # page 2's claim, and list:a's
            [task] = [t for t in claimed if t.key.startswith("owner:")]
            spawned = [t.key for t in claimed if t.key.startswith("list:")]
            await store.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=1, spawn=(new("list:b"),)))
            return sorted(spawned + [t.key for t in await store.claim("w", NOW, 60.0, limit=10)])
        finally:
            await store.close()

    assert asyncio.run(main()) == ["list:a@1700000000", "list:b@1700000000"]
