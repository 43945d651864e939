"""A poll budget below what max_interval alone needs is said once, and the budget wins (Rule 5b)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from harvester.core.model import JobSpec, NewTask, Task
from harvester.core.plan import plan_job
from harvester.runtime.polling import PollRates, next_poll
from harvester.store.sqlite import SqliteStore
from harvester.testing import EPOCH

SPEC = JobSpec(name="tl", kind="timeline", user_ids=("1", "2", "3"),
               extra={"mode": "poll", "min_interval": 900.0, "max_interval": 86_400.0, "poll_budget": 1.0})


def test_a_budget_below_the_max_interval_floor_warns_once_and_is_spent_not_overspent(
    tmp_path: Path,
) -> None:
    async def main() -> list[float]:
        store = SqliteStore(tmp_path / "state.db")
        await store.open()
        book = PollRates()
        waits = []
        try:
            with capture_logs() as logs:
                for task in plan_job(SPEC):
                    claimed = _as_task(task)
                    follow = await next_poll(store, SPEC, claimed, 0, None, EPOCH, book=book)
                    waits.append(follow.task.not_before - EPOCH)
        finally:
            await store.close()
        warned = [e for e in logs if e["event"] == "poll_budget_below_floor"]
        assert len(warned) == 1, logs
        assert warned[0]["per_day"] == 1.0 and warned[0]["floor_per_day"] == 3.0
        assert warned[0]["max_interval_stretch"] == 6.0  # the stretched bounds alone spend half the budget
        return waits

    waits = asyncio.run(main())
    # Three equally quiet sources on 1 request a day: each every 3 days (not every day, the
    # unstretched bound, which would spend 3 a day), within the stretched bound of 6 days.
    assert len(waits) == 3
    assert sum(86_400.0 / w for w in waits) == pytest.approx(1.0, rel=1e-6)
    assert all(w <= 6 * 86_400.0 for w in waits)


def _as_task(new: NewTask) -> Task:
    """The planned task as a worker holds it after its first (backfill) page."""
    return Task(id=1, job=new.job, key=new.key, endpoint=new.endpoint, path_params=new.path_params,
                params=new.params, priority=0, auth=new.auth, write=True, cursor=None, pages=1, items=0,
                attempts=0)  # fmt: skip


def test_the_allocation_is_trimmed_by_what_the_group_spent_over_the_last_day() -> None:
    book = PollRates()
    day = 86_400.0
    assert book.trim("g", 150.0, EPOCH) == 1.0  # nothing metered yet
    for i in range(200):  # 200 requests over the first day: a third over a budget of 150
        book.record("g", EPOCH + i * day / 200, 1)
    assert book.trim("g", 150.0, EPOCH + day / 2) == 1.0  # not a whole day metered yet
    assert book.trim("g", 150.0, EPOCH + day) == pytest.approx(0.85)  # 150/200 = 0.75, clamped
    for i in range(160):  # the next day: 160 requests, 2 pages each for a tenth of the polls
        book.record("g", EPOCH + day + i * day / 160, 2 if i % 10 == 0 else 1)
    # The window is the last day, (now - 1 day, now]: 159 polls, 15 of them of 2 pages.
    assert book.trim("g", 150.0, EPOCH + 2 * day) == pytest.approx(150 / 174)
    assert book.trim("g", 300.0, EPOCH + 2 * day) == pytest.approx(1.15)  # spending short: up, clamped
    assert len(book.spent["g"]) <= 161  # a day of polls, no more
