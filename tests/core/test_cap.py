"""The monthly Post cap: the server decides, the local count estimates, capped routes only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harvester.core.cap import Allow, CapConfig, CapTracker, Hold, Verify, reset_candidates

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
    # The older tiers counted recent search and the filtered stream (x-api-rate-limits.txt).
    assert CapTracker(CapConfig.legacy()).config.capped_endpoints == (SEARCH, "/2/tweets/search/stream")
    assert CapTracker(CapConfig(capped_endpoints=(ARCHIVE,))).counts(ARCHIVE)
    assert not CapTracker(CapConfig(capped_endpoints=(ARCHIVE,))).counts(SEARCH)


def test_without_the_server_the_local_estimate_decides_and_shrinks_first() -> None:
    cap = CapTracker(CapConfig(monthly_posts=250))
    cap.can_verify = False
    cap.record(T0, SEARCH, 100)
    cap.record(T0, USERS, 1000)  # not a capped route: not counted
    cap.record(T0, TIMELINE, 100)
    assert cap.admit(SEARCH, 50, 10, T0) == Allow(size=50)
    assert cap.admit(SEARCH, 100, 10, T0) == Allow(size=50)  # cut to the room left
    assert cap.admit(USERS, 100, 1, T0) == Allow(size=100)
    cap.record(T0, SEARCH, 45)
    d = cap.admit(SEARCH, 100, 10, T0)  # 5 left, the smallest page asks for 10: park on the estimate
    assert isinstance(d, Hold) and d.final and d.until == ts(2026, 8, 1)


def test_an_estimate_at_the_cap_asks_the_server_and_the_server_wins() -> None:
    # The local count includes timeline Posts; the server counts search only.
    cap = CapTracker(CapConfig(monthly_posts=5000))
    cap.rebuild(T0, [(T0, TIMELINE, 4_990), (T0, SEARCH, 10)])
    assert cap.estimate(T0) == 5_000
    assert isinstance(cap.admit(SEARCH, 100, 10, T0), Verify)
    note = cap.observe_usage(T0, "10", "5000", 1)
    assert note is not None and "following the server" in note  # said once
    assert cap.admit(SEARCH, 100, 10, T0) == Allow(size=100)
    assert cap.observe_usage(T0 + 60, "10", "5000", 1) is None
    s = cap.status(T0)
    assert (s.used, s.local, s.server_used, s.disagrees) == (10, 5_000, 10, True)


def test_the_server_at_its_cap_parks_capped_work_until_the_period_ends() -> None:
    cap = CapTracker(CapConfig(monthly_posts=3_000_000))
    cap.observe_usage(T0, "5000", "5000", 1)
    d = cap.admit(SEARCH, 100, 10, T0)
    assert isinstance(d, Hold) and d.final and "server" in d.reason
    assert cap.blocked_until(SEARCH, T0) == cap.resets_at(T0) == ts(2026, 8, 1)
    assert cap.blocked_until(USERS, T0) is None
    assert cap.admit(FOLLOWERS, 1000, 1, T0) == Allow(size=1000)


def test_reads_since_the_server_count_add_to_it_and_a_stale_estimate_verifies_once_per_interval() -> None:
    cap = CapTracker(CapConfig(monthly_posts=1000))
    cap.observe_usage(T0, "900", "1000", 1)
    cap.record(T0, SEARCH, 95)
    assert cap.estimate(T0) == 995
    assert isinstance(cap.admit(SEARCH, 100, 10, T0), Verify)
    assert isinstance(cap.admit(SEARCH, 100, 10, T0), Verify)  # pending: every asker waits for it
    cap.usage_failed(T0)
    d = cap.admit(SEARCH, 100, 10, T0 + 1)
    assert isinstance(d, Hold) and not d.final and d.until == T0 + 30  # a failed read pauses the asking
    assert isinstance(cap.admit(SEARCH, 100, 10, T0 + 30), Verify)


def test_a_lagging_server_count_lower_than_the_local_one_is_followed() -> None:
    cap = CapTracker()
    cap.record(T0, SEARCH, 500)
    cap.observe_usage(T0, 0, 3_000_000, 30)  # ints and strings are counts
    assert cap.status(T0).used == 0


def test_the_smaller_cap_wins() -> None:
    cap = CapTracker()
    cap.observe_usage(T0, "0", "2000000", 18)
    assert cap.status(T0).cap == 2_000_000
    cap = CapTracker(CapConfig(monthly_posts=1000))
    cap.observe_usage(T0, "0", "5000000000", 18)
    assert cap.status(T0).cap == 1000


@pytest.mark.parametrize("usage", ["lots", None, 1.5, True])
def test_bad_counts_raise(usage: object) -> None:
    with pytest.raises((ValueError, TypeError), match="project_usage"):
        CapTracker().observe_usage(T0, usage, "3000000", 18)


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
    cap = CapTracker(CapConfig(), cycle_start_day=1)
    assert cap.resets_at(T0) == ts(2026, 8, 1)
    cap.observe_usage(T0, "10", "3000000", 18)
    assert cap.resets_at(T0) == ts(2026, 8, 18)
    cap.observe_usage(T0, "10", "3000000", 3)  # an earlier reading never moves the reset earlier
    assert cap.resets_at(T0) == ts(2026, 8, 18)


def test_usage_capped_stops_only_capped_routes_until_reset() -> None:
    cap = CapTracker()
    cap.record(T0, SEARCH, 10)
    cap.on_usage_capped(T0, "Monthly")
    assert isinstance(cap.admit(SEARCH, 1, 1, T0), Hold)
    assert isinstance(cap.admit(TIMELINE, 1, 1, T0 + 86_400 * 5), Hold)
    assert cap.admit(USERS, 100, 1, T0) == Allow(size=100)
    assert cap.status(T0).remaining == 0
    reset = cap.resets_at(T0)
    assert reset == ts(2026, 8, 1)
    assert cap.blocked_until(SEARCH, reset - 1) == reset
    assert cap.admit(SEARCH, 100, 10, reset) == Allow(size=100)
    s = cap.status(reset)
    assert (s.used, s.capped_until) == (0, None)
    assert cap.resets_at(reset) == ts(2026, 9, 1)


def test_daily_cap_holds_24_hours() -> None:
    cap = CapTracker()
    cap.on_usage_capped(T0, "Daily")
    assert isinstance(cap.admit(SEARCH, 1, 1, T0 + 86_399), Hold)
    assert cap.admit(SEARCH, 1, 1, T0 + 86_400) == Allow(size=1)


def test_reset_learnt_from_x_keeps_its_day_of_month() -> None:
    cap = CapTracker(CapConfig(), cycle_start_day=1)
    cap.observe_usage(T0, "3000000", "3000000", 18)
    assert isinstance(cap.admit(SEARCH, 100, 10, T0), Hold)
    assert cap.admit(SEARCH, 100, 10, ts(2026, 8, 18)) == Allow(size=100)
    # the next period ends a month after Aug 18, not at the configured Sep 1
    assert cap.resets_at(ts(2026, 8, 18)) == ts(2026, 9, 18)


def test_changing_the_counted_routes_rebuilds_the_count_from_the_ledger() -> None:
    rows = [(T0, SEARCH, 100), (T0, TIMELINE, 4_000), (ts(2026, 6, 30), SEARCH, 999)]  # last: an old period
    wide = CapTracker(CapConfig(capped_endpoints=(SEARCH, TIMELINE)))
    wide.rebuild(T0, rows)
    narrow = CapTracker(CapConfig(capped_endpoints=(SEARCH,)))
    narrow.load_state(wide.export_state())  # the saved state carries no count that could outlive it
    narrow.rebuild(T0, rows)
    assert (wide.status(T0).local, narrow.status(T0).local) == (4_100, 100)


def test_state_round_trip_and_repr() -> None:
    config = CapConfig(monthly_posts=1000)
    cap = CapTracker(config)
    cap.observe_usage(T0, "300", "1000", 1)
    cap.record(T0, SEARCH, 20)
    cap.on_usage_capped(T0, "Daily")
    again = CapTracker(config)
    again.load_state(cap.export_state())
    assert again.status(T0).to_json() | {"local": 0} == cap.status(T0).to_json() | {"local": 0}
    assert again.estimate(T0) == 320
    assert repr(cap).startswith("<CapTracker local=20 server=300/1000 since_read=20")
    assert cap.status(T0).to_json()["remaining"] == 0


def test_routes_the_server_does_not_count_are_learnt_and_no_longer_stopped_by_its_cap() -> None:
    cap = CapTracker(CapConfig(monthly_posts=300))  # configured: search and timelines count
    cap.observe_usage(T0, "0", "300", 1)
    cap.record(T0, TIMELINE, 500)
    cap.record(T0, SEARCH, 120)
    assert isinstance(cap.admit(TIMELINE, 100, 5, T0), Verify)  # the estimate says 620 > 300
    cap.observe_usage(T0 + 1, "120", "300", 1)  # the server grew by exactly the search Posts
    assert cap.status(T0 + 1).uncounted == (TIMELINE,)
    assert cap.admit(TIMELINE, 100, 5, T0 + 1) == Allow(size=100)
    cap.record(T0 + 1, SEARCH, 180)
    cap.record(T0 + 1, TIMELINE, 900)
    cap.observe_usage(T0 + 2, "300", "300", 1)  # the server's cap is reached: search waits, timelines go on
    assert isinstance(cap.admit(SEARCH, 100, 10, T0 + 2), Hold)
    assert cap.admit(TIMELINE, 100, 5, T0 + 2) == Allow(size=100)
    assert cap.blocked_until(TIMELINE, T0 + 2) is None and cap.blocked_until(SEARCH, T0 + 2) is not None
    cap.on_usage_capped(T0 + 3, "Monthly", TIMELINE)  # ... unless the server says it counts them after all
    assert isinstance(cap.admit(TIMELINE, 100, 5, T0 + 3), Hold)


def test_an_ambiguous_growth_teaches_nothing() -> None:
    cap = CapTracker()
    cap.observe_usage(T0, "0", "3000000", 1)
    cap.record(T0, TIMELINE, 50)
    cap.record(T0, SEARCH, 50)
    cap.observe_usage(T0 + 1, "50", "3000000", 1)  # either route alone explains it
    assert cap.status(T0 + 1).uncounted == ()
