"""A poll budget below what max_interval alone needs is said once, and max_interval wins."""

from __future__ import annotations

import asyncio
from pathlib import Path

from structlog.testing import capture_logs

from harvester.core.model import JobSpec, NewTask, Task
from harvester.core.plan import plan_job
from harvester.runtime.polling import PollRates, next_poll
from harvester.store.sqlite import SqliteStore
from harvester.testing import EPOCH

SPEC = JobSpec(name="tl", kind="timeline", user_ids=("1", "2", "3"),
               extra={"mode": "poll", "min_interval": 900.0, "max_interval": 86_400.0, "poll_budget": 1.0})


def test_a_budget_below_the_max_interval_floor_warns_once_and_keeps_every_source_within_max_interval(
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
        return waits

    waits = asyncio.run(main())
    assert waits and all(w <= 86_400.0 for w in waits)  # the bound wins over the budget


def _as_task(new: NewTask) -> Task:
    """The planned task as a worker holds it after its first (backfill) page."""
    return Task(id=1, job=new.job, key=new.key, endpoint=new.endpoint, path_params=new.path_params,
                params=new.params, priority=0, auth=new.auth, write=True, cursor=None, pages=1, items=0,
                attempts=0)  # fmt: skip
