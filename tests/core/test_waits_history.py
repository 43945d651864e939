"""Why a job waits (core.waits) and spend and cap use by day (core.history): pure rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from harvester.core.history import DayTotals, daily, day_totals, first_needed
from harvester.core.model import JobStats
from harvester.core.ratelimit import BucketFigures
from harvester.core.request import Cause, StopCause
from harvester.core.waits import job_wait

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()
SEARCH = "/2/tweets/search/recent"


def stats(**kw: int | str | None) -> JobStats:
    base: dict[str, Any] = {"job": "j", "tasks": 1, "pending": 0, "claimed": 0, "done": 0, "failed": 0, "pages": 0,
                            "items": 0, "last_error": None}
    return JobStats(**{**base, **kw})


def bucket(auth: str = "app", available: int = 5, reset: float | None = NOW + 300,
           stopped_until: float | None = None) -> BucketFigures:
    return BucketFigures(route=SEARCH, auth=auth, auth_kind="app" if auth == "app" else "user", limit=450,
                         remaining=available, reset=reset, available=available, in_flight=0, sent=10, rejected=0,
                         daily_remaining=None, daily_reset=None, stopped_until=stopped_until, window=900.0,
                         window_learned=True, min_gap=0.0)


def wait(**kw: Any) -> tuple[str, str, float | None]:
    args: dict[str, Any] = {"now": NOW, "stats": stats(pending=1), "next_run": None, "buckets": [bucket()],
                            "keys": {(SEARCH, "app")}, "waits": {}, "next_due": None, "stop": None, **kw}
    w = job_wait(**args)
    return w.state, w.reason, w.until


def test_each_reason_in_its_order() -> None:
    assert wait() == ("queued", "due; waiting for a free worker", None)
    assert wait(next_due=NOW + 30) == ("waiting", "next task due at 2026-11-20 12:00:30 UTC (a retry's backoff, or pacing)",
                                       NOW + 30)
    closed = wait(buckets=[bucket(available=0)], next_due=NOW + 30)
    assert closed == ("waiting", f"rate limit: {SEARCH} (app) has 0 of 450 left; resets at 2026-11-20 12:05:00 UTC",
                      NOW + 300)
    cap = StopCause(cause=Cause.CAP, message="3,000,000 of 3,000,000 Posts used", resumes_at=NOW + 86_400)
    named = wait(waits={(SEARCH, "app"): cap}, buckets=[bucket(available=0)])
    assert named == ("waiting", "cap: 3,000,000 of 3,000,000 Posts used", NOW + 86_400)
    assert wait(stats=stats(pending=1, claimed=2), waits={(SEARCH, "app"): cap})[:2] == ("fetching", "2 tasks in flight")
    budget = StopCause(cause=Cause.RUN_BUDGET, message="run budget $1.00 reached")
    assert wait(stats=stats(claimed=1), stop=budget) == ("stopped", "run stopped (run_budget): run budget $1.00 reached",
                                                          None)


def test_a_bucket_of_another_job_or_a_held_one() -> None:
    assert wait(buckets=[bucket(auth="alice", available=0)]) == ("queued", "due; waiting for a free worker", None)
    held = wait(buckets=[bucket(stopped_until=NOW + 60, reset=None)])
    assert held == ("waiting", (f"rate limit: {SEARCH} (app) held after a 429 or by the denylist guard until "
                               "2026-11-20 12:01:00 UTC"), NOW + 60)


def test_a_pool_waits_only_when_every_member_is_closed() -> None:
    keys = {(SEARCH, "pool"), (SEARCH, "alice"), (SEARCH, "bob")}
    one = [bucket(auth="alice", available=0), bucket(auth="bob", available=3)]
    assert wait(keys=keys, buckets=one)[0] == "queued"
    both = [bucket(auth="alice", available=0, reset=NOW + 50), bucket(auth="bob", available=0, reset=NOW + 90)]
    assert wait(keys=keys, buckets=both)[0] == "waiting" and wait(keys=keys, buckets=both)[2] == NOW + 50


@pytest.mark.parametrize(("kw", "expected"), [
    ({"stats": None}, ("idle", "no tasks yet", None)),
    ({"stats": stats(done=1)}, ("done", "", None)),
    ({"stats": stats(failed=1, last_error="HTTP 400: bad query")}, ("failed", "HTTP 400: bad query", None)),
    ({"stats": stats(done=1), "next_run": NOW + 3600}, ("scheduled", "next run at 2026-11-20 13:00:00 UTC",
                                                        NOW + 3600)),
    ({"stats": None, "next_run": NOW - 5}, ("scheduled", "due now; it starts when a worker is free", NOW)),
])
def test_jobs_with_nothing_queued(kw: dict[str, Any], expected: tuple[str, str, float | None]) -> None:
    assert wait(**kw) == expected


def entry(day: str, micros: int, route: str = SEARCH, posts: int = 0) -> dict[str, Any]:
    at = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() + 3600
    return {"at": at, "day": day, "route": route, "micros": micros, "posts": posts}


def test_days_and_running_totals_restart_with_each_billing_cycle() -> None:
    rows = [entry("2026-11-14", 1_000_000, posts=10), entry("2026-11-14", 500_000, "/2/users"),
            entry("2026-11-15", 2_000_000, posts=20), entry("2026-11-19", 250_000, posts=5)]
    totals = day_totals(rows, lambda route: route == SEARCH)
    assert totals["2026-11-14"] == DayTotals(spend=1_500_000, posts=10)  # /2/users: spend, not the cap
    now = datetime(2026, 11, 19, 18, tzinfo=UTC).timestamp()
    days = daily(totals, {"2026-11-15": 18}, now=now, days=6, cycle_start_day=15)
    assert [d.day for d in days] == ["2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18",
                                     "2026-11-19"]
    assert [d.spend for d in days] == [1_500_000, 2_000_000, 0, 0, 0, 250_000]
    assert [d.cycle_spend for d in days] == [1_500_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000, 2_250_000]
    assert [d.cycle_posts for d in days] == [10, 20, 20, 20, 20, 25]  # a new cycle on the 15th
    assert [d.server_posts for d in days] == [None, 18, None, None, None, None]
    assert days[-1].to_json()["cycle_spend_usd"] == 2.25


def test_running_totals_start_before_the_window() -> None:
    now = datetime(2026, 11, 20, 6, tzinfo=UTC).timestamp()
    since = first_needed(now, 3, cycle_start_day=1)
    assert since == datetime(2026, 11, 1, tzinfo=UTC).timestamp()  # the window's cycle began on the 1st
    totals = day_totals([entry("2026-11-02", 7_000_000, posts=70), entry("2026-11-20", 1_000_000, posts=1)],
                        lambda route: True)
    days = daily(totals, {}, now=now, days=3, cycle_start_day=1)
    assert [(d.day, d.spend, d.cycle_spend, d.cycle_posts) for d in days] == [
        ("2026-11-18", 0, 7_000_000, 70), ("2026-11-19", 0, 7_000_000, 70), ("2026-11-20", 1_000_000, 8_000_000, 71)]
