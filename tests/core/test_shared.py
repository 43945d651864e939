"""Rules for processes sharing one quota, budget and cap (core.shared, Ledger.absorb, cap holds)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.core.budget import Budget, Ledger, LedgerEntry, Proceed, Shrink, Stop, Wait
from harvester.core.cap import Allow, CapConfig, CapTracker
from harvester.core.pricing import Charge, quote, utc_day
from harvester.core.shared import Hold, expired_hold_entry, grant_release

SEARCH = "/2/tweets/search/recent"
T0 = 1_795_132_800.0


def test_grant_release_counts_only_the_last_span() -> None:
    assert grant_release([], T0, 3, 10.0) == T0
    assert grant_release([T0 - 10.0, T0 - 10.0, T0 - 10.0], T0, 3, 10.0) == T0  # all expired
    assert grant_release([T0 - 9.0, T0 - 5.0], T0, 3, 10.0) == T0
    assert grant_release([T0 - 9.0, T0 - 5.0, T0 - 1.0], T0, 3, 10.0) == T0 + 1.0  # oldest leaves
    assert grant_release([T0 - 1.0, T0 - 9.0, T0 - 5.0, T0 - 2.0], T0, 3, 10.0) == T0 + 5.0
    with pytest.raises(ValueError):
        grant_release([], T0, 0, 10.0)


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(1, 6), span=st.floats(1.0, 20.0), seed=st.integers(0, 10_000))
def test_granting_at_release_times_never_puts_more_than_limit_in_any_span(
    limit: int, span: float, seed: int
) -> None:
    """Several processes asking at random times, each granted only when the rule allows."""
    rng = random.Random(seed)
    grants: list[float] = []
    t = T0
    for _ in range(60):
        t += rng.expovariate(2.0)
        when = grant_release(grants, t, limit, span)
        if when <= t:
            grants.append(t)
        else:
            assert grant_release(grants, when, limit, span) == when  # asking then is granted
    for g in grants:  # every window [g, g + span) holds at most ``limit`` grants
        assert sum(1 for h in grants if g <= h < g + span) <= limit


def test_an_expired_hold_is_charged_at_its_worst_case_on_the_day_it_was_sent() -> None:
    hold = Hold(run="r1", job="j", route=SEARCH, micros=500_000, posts=100, at=T0 - 60, expires=T0 - 1)
    entry = expired_hold_entry(hold, T0 + 86_400)
    assert (entry.micros, entry.reserved, entry.posts, entry.run) == (500_000, 500_000, 100, "r1")
    assert entry.day == utc_day(T0 - 60)


def test_absorb_counts_other_runs_and_their_holds_but_not_its_own_run() -> None:
    ledger = Ledger(Budget(spending_limit_usd=1.0), run="me")
    q = quote(SEARCH, 100)  # $0.50 worst case
    mine = ledger.reserve(T0, "j", q)
    assert isinstance(mine, Proceed)
    ledger.settle(mine.ticket, T0, Charge(route=SEARCH, day=utc_day(T0), micros=200_000))
    own_row = LedgerEntry(at=T0, run="me", job="j", route=SEARCH, day=utc_day(T0), micros=200_000)
    other = LedgerEntry(at=T0, run="them", job="j", route=SEARCH, day=utc_day(T0), micros=300_000)
    ledger.absorb([own_row, other], held_elsewhere=0)
    assert ledger.status(T0).spent_cycle == 500_000  # own row skipped: it was settled here
    ledger.absorb([], held_elsewhere=400_000)  # $0.50 left, $0.40 held by others: shrink
    d = ledger.reserve(T0, "j", q)
    assert isinstance(d, Shrink) and d.max_results == 20
    ledger.cancel(d.ticket)
    ledger.absorb([], held_elsewhere=500_000)  # nothing left until the others settle
    waiting = ledger.reserve(T0, "j", q)
    assert isinstance(waiting, Wait) and "other hosts hold $0.50" in waiting.reason
    later = LedgerEntry(at=T0, run="them", job="j", route=SEARCH, day=utc_day(T0), micros=460_000)
    ledger.absorb([later], held_elsewhere=0)  # they settled $0.46 more: $0.04 < 10 posts left
    stop = ledger.reserve(T0, "j", q)
    assert isinstance(stop, Stop) and stop.limit == "cycle"


def test_cap_counts_in_flight_requests_of_this_and_other_processes() -> None:
    cap = CapTracker(CapConfig(monthly_posts=250, capped_endpoints=(SEARCH,)))
    cap.can_verify = False  # nothing to ask: the estimate decides
    assert cap.admit(SEARCH, 100, 10, T0) == Allow(size=100)
    held = cap.hold(SEARCH, 100)
    cap.set_held_elsewhere(100)
    assert cap.admit(SEARCH, 100, 10, T0) == Allow(size=50)  # cut to the room left
    cap.unhold(held)
    cap.record(T0, SEARCH, 40)
    assert cap.admit(SEARCH, 110, 10, T0) == Allow(size=110)
    assert cap.admit(SEARCH, 111, 10, T0) == Allow(size=110)
    assert cap.hold("/2/users/:id/followers", 1000) == 0  # not a capped route
    cap.set_held_elsewhere(0)
    assert cap.status(T0).remaining == 210


def test_a_per_second_limiter_keeps_its_gap_after_any_hosts_newest_grant() -> None:
    assert grant_release([T0 - 0.5], T0, 300, 900.0, min_gap=1.1) == pytest.approx(T0 + 0.6)
    assert grant_release([T0 - 2.0], T0, 300, 900.0, min_gap=1.1) == T0
    assert grant_release([T0 - 0.5, T0 - 899.0], T0, 2, 900.0, min_gap=1.1) == pytest.approx(T0 + 1.0)
