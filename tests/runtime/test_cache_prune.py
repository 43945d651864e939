"""The object cache keeps only what a lookup can still use: the current UTC day's objects, and only
the kinds some job looks up (issue 19: a daemon of poll jobs grew it by every post it read)."""

from __future__ import annotations

from pathlib import Path

import anyio

from harvester.clock import LoopClock
from harvester.core.model import JobSpec, StreamCommit
from harvester.runtime import cache
from harvester.store.sqlite import SqliteStore
from harvester.testing import run_virtual

DAY = 86_400.0
MIDNIGHT = 1_795_132_800.0 - 1_795_132_800.0 % DAY  # a UTC midnight


def test_only_lookup_jobs_make_the_cache_keep_anything() -> None:
    poll = JobSpec(name="p", kind="timeline", user_ids=("1",), extra={"mode": "poll"})
    search = JobSpec(name="s", kind="search", query="x")
    assert cache.wanted([poll, search]) == frozenset()
    assert cache.wanted([poll, JobSpec(name="l", kind="lookup_tweets", tweet_ids=("1",))]) == {"post"}
    assert cache.wanted([JobSpec(name="u", kind="lookup_users", user_ids=("1",))]) == {"user"}


def test_prune_runs_at_every_utc_midnight(tmp_path: Path) -> None:
    async def main() -> list[set[str]]:
        store = SqliteStore(str(tmp_path / "state.db"))
        await store.open()
        clock = LoopClock(epoch=MIDNIGHT + 10 * 3600)  # 10:00 UTC
        await store.cache_put([("post", "s", "old", MIDNIGHT - 3600, "{}"), ("post", "s", "today", MIDNIGHT + 3600, "{}")])
        seen = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(cache.prune, store, clock)
            await anyio.sleep(1)
            seen.append(set(await store.cache_get("post", "s", ["old", "today", "late"], 0.0)))
            await store.cache_put([("post", "s", "late", MIDNIGHT + 23 * 3600, "{}")])
            await clock.sleep_until(MIDNIGHT + DAY + 60)  # just past the next midnight
            seen.append(set(await store.cache_get("post", "s", ["old", "today", "late"], 0.0)))
            tg.cancel_scope.cancel()
        await store.close()
        return seen

    at_start, after_midnight = run_virtual(main)
    assert at_start == {"today"}
    assert after_midnight == set()


def test_the_ledger_keeps_a_day_of_charged_ids_and_all_of_its_money(tmp_path: Path) -> None:
    """The ledger's ids (X's per-UTC-day dedup) are dropped after their day; its money stays."""

    def entry(at: float, post: str) -> dict[str, object]:
        return {"at": at, "run": "r", "job": "a", "route": "/2/tweets", "day": "d", "micros": 5000,
                "reserved": 0, "keys": [["post", post]], "posts": 1}  # fmt: skip

    async def main() -> list[list[tuple[int, list[list[str]]]]]:
        store = SqliteStore(str(tmp_path / "state.db"))
        await store.open()
        clock = LoopClock(epoch=MIDNIGHT + 10 * 3600)
        await store.commit_stream(StreamCommit(ledger=(entry(MIDNIGHT - 3600, "old"), entry(MIDNIGHT + 3600, "today"))))
        seen = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(cache.prune, store, clock)
            await anyio.sleep(1)
            seen.append([(e["micros"], e["keys"]) for e in await store.ledger_entries(0.0)])
            await clock.sleep_until(MIDNIGHT + DAY + 60)
            seen.append([(e["micros"], e["keys"]) for e in await store.ledger_entries(0.0)])
            tg.cancel_scope.cancel()
        await store.close()
        return seen

    at_start, after_midnight = run_virtual(main)
    assert at_start == [(5000, []), (5000, [["post", "today"]])]
    assert after_midnight == [(5000, []), (5000, [])]
