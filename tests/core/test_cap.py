"""The monthly Post cap: local vs remote counts, capped routes only, the later reset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harvester.core.cap import CapConfig, CapTracker, reset_candidates

SEARCH = "/2/tweets/search/recent"
ARCHIVE = "/2/tweets/search/all"
TIMELINE = "/2/users/:id/tweets"
LOOKUP = "/2/tweets"
USERS = "/2/users"
FOLLOWERS = "/2/users/:id/followers"
FOLLOWING = "/2/users/:id/following"


def ts(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> float:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp()


T0 = ts(2026, 7, 21, 12)


def test_default_routes_are_every_post_read() -> None:
    cap = CapTracker()
    assert all(cap.counts(r) for r in (SEARCH, ARCHIVE, TIMELINE, LOOKUP, "/2/users/:id/mentions"))
    assert not any(cap.counts(r) for r in (USERS, "/2/users/by", FOLLOWERS, FOLLOWING, "/2/usage/tweets"))


def test_legacy_and_explicit_routes() -> None:
    assert CapTracker(CapConfig(legacy=True)).config.counted_routes() == frozenset({SEARCH})
    assert CapTracker(CapConfig(routes=frozenset({ARCHIVE}))).counts(ARCHIVE)
    assert not CapTracker(CapConfig(routes=frozenset({ARCHIVE}))).counts(SEARCH)


def test_local_count_and_allows() -> None:
    cap = CapTracker(CapConfig(limit=250))
    cap.record(T0, SEARCH, 100)
    cap.record(T0, USERS, 1000)  # not a capped route: not counted
    cap.record(T0, TIMELINE, 100)
    assert cap.remaining(T0) == 50
    assert cap.allows(SEARCH, T0, 50)
    assert not cap.allows(SEARCH, T0, 51)
    assert cap.allows(USERS, T0, 100)


def test_remote_usage_larger_wins_and_strings_are_counts() -> None:
    cap = CapTracker()
    cap.record(T0, SEARCH, 500)
    cap.observe_usage(T0, "43435", "3000000", 30)
    assert cap.status(T0).used == 43_435
    cap.record(T0, SEARCH, 100)
    assert cap.status(T0).used == 43_535  # local reads add on top of what X reported
    cap.observe_usage(T0, 0, 3_000_000, 30)  # a lagging "0" does not lower the count
    assert cap.status(T0).used == 43_535


def test_the_smaller_cap_wins() -> None:
    cap = CapTracker()
    cap.observe_usage(T0, "0", "2000000", 18)
    assert cap.status(T0).cap == 2_000_000
    cap.observe_usage(T0, "0", "5000000000", 18)
    assert cap.status(T0).cap == 2_000_000


def test_bad_counts_raise() -> None:
    with pytest.raises(ValueError, match="project_usage"):
        CapTracker().observe_usage(T0, "lots", "3000000", 18)


@pytest.mark.parametrize(
    ("now", "value", "expected"),
    [
        # 2026-07-21, "18": 18 days left = Aug 8; day 18 = Aug 18 -> both readings listed
        (ts(2026, 7, 21, 12), 18, [ts(2026, 8, 8), ts(2026, 8, 18)]),
        # 2026-10-01, "30": Oct 31 vs Oct 30
        (ts(2026, 10, 1, 12), 30, [ts(2026, 10, 31), ts(2026, 10, 30)]),
        # today is the 10th, "10": 10 days left vs next month's 10th (never "today")
        (ts(2026, 5, 10, 12), 10, [ts(2026, 5, 20), ts(2026, 6, 10)]),
        # "31" in a 30-day month: skipped to the next month that has it, not clamped
        (ts(2026, 4, 2), 31, [ts(2026, 5, 3), ts(2026, 5, 31)]),
        (ts(2026, 12, 20), 5, [ts(2026, 12, 25), ts(2027, 1, 5)]),  # Dec -> Jan
        (ts(2026, 4, 2), 45, [ts(2026, 5, 17)]),  # not a day of month: days left only
    ],
)
def test_reset_candidates(now: float, value: int, expected: list[float]) -> None:
    assert reset_candidates(now, value) == expected


def test_the_later_reset_is_kept() -> None:
    cap = CapTracker(CapConfig(cycle_start_day=1))
    assert cap.resets_at(T0) == ts(2026, 8, 1)
    cap.observe_usage(T0, "10", "3000000", 18)
    assert cap.resets_at(T0) == ts(2026, 8, 18)
    cap.observe_usage(T0, "10", "3000000", 3)  # an earlier reading never moves the reset earlier
    assert cap.resets_at(T0) == ts(2026, 8, 18)


def test_usage_capped_stops_only_capped_routes_until_reset() -> None:
    cap = CapTracker()
    cap.record(T0, SEARCH, 10)
    cap.on_usage_capped(T0, "Monthly")
    assert not cap.allows(SEARCH, T0, 1)
    assert not cap.allows(TIMELINE, T0 + 86_400 * 5, 1)
    assert cap.allows(USERS, T0, 100) and cap.allows(FOLLOWERS, T0, 1000) and cap.allows(FOLLOWING, T0, 1)
    assert cap.remaining(T0) == 0
    reset = cap.resets_at(T0)
    assert reset == ts(2026, 8, 1)
    assert not cap.allows(SEARCH, reset - 1, 1)
    assert cap.allows(SEARCH, reset, 100)
    s = cap.status(reset)
    assert (s.used, s.capped_until) == (0, None)
    assert cap.resets_at(reset) == ts(2026, 9, 1)


def test_daily_cap_holds_24_hours() -> None:
    cap = CapTracker()
    cap.on_usage_capped(T0, "Daily")
    assert not cap.allows(SEARCH, T0 + 86_399, 1)
    assert cap.allows(SEARCH, T0 + 86_400, 1)


def test_reset_learnt_from_x_keeps_its_day_of_month() -> None:
    cap = CapTracker(CapConfig(cycle_start_day=1))
    cap.observe_usage(T0, "2999990", "3000000", 18)
    assert not cap.allows(SEARCH, T0, 100)
    assert cap.allows(SEARCH, ts(2026, 8, 18), 100)
    # the next period ends a month after Aug 18, not at the configured Sep 1
    assert cap.resets_at(ts(2026, 8, 18)) == ts(2026, 9, 18)


def test_state_round_trip_and_repr() -> None:
    config = CapConfig(limit=1000)
    cap = CapTracker(config)
    cap.record(T0, SEARCH, 300)
    cap.on_usage_capped(T0, "Daily")
    again = CapTracker.load_state(config, cap.export_state())
    assert again.status(T0) == cap.status(T0)
    assert repr(cap) == f"<CapTracker used=300/1000 resets_at={ts(2026, 8, 1)} capped_until={T0 + 86_400}>"
    assert cap.status(T0).to_json()["remaining"] == 0
