"""The span a first (backfill) poll's count covers, so the posterior starts from it (issue 19)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harvester.core.model import Task
from harvester.runtime.polling import TWEPOCH_MS, backfill_exposure, snowflake_time

DAY = 86_400.0
NOW = 1_800_000_000.0


def task(endpoint: str, **params: str) -> Task:
    return Task(id=1, job="j", key="k", endpoint=endpoint, path_params={}, params=params, priority=0, auth="app",
                write=True, cursor=None, pages=0, items=0, attempts=0)  # fmt: skip


def test_backfill_exposure_from_the_window_or_the_oldest_post() -> None:
    week_ago = str(int((NOW - 7 * DAY) * 1000 - TWEPOCH_MS) << 22)
    assert snowflake_time(week_ago) == pytest.approx(NOW - 7 * DAY, abs=0.001)
    timeline = task("/2/users/:id/tweets")
    page = {"data": [{"id": str(int((NOW - 60) * 1000 - TWEPOCH_MS) << 22)}, {"id": week_ago}]}
    assert backfill_exposure(timeline, page, 2, NOW) == pytest.approx(7 * DAY, abs=0.01)
    assert backfill_exposure(timeline, {"meta": {"result_count": 0}}, 0, NOW) == 7 * DAY  # nothing in a week
    assert backfill_exposure(task("/2/tweets/search/recent"), None, 5, NOW) == 7 * DAY  # recent search's window
    start = datetime.fromtimestamp(NOW - 2 * DAY, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert backfill_exposure(task("/2/tweets/search/all", start_time=start), None, 0, NOW) == pytest.approx(2 * DAY)
    assert backfill_exposure(task("/2/tweets/search/all"), None, 0, NOW) is None  # its default window is unsure
