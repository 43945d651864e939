"""The ledger: reservations against every limit, cycles, warnings, auto-recharge, persistence."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.core.budget import (
    AutoRecharge,
    Budget,
    Decision,
    Ledger,
    LedgerEntry,
    Proceed,
    Shrink,
    Stop,
    Ticket,
    Wait,
    cycle_bounds,
)
from harvester.core.pricing import Charge, charge, quote, usd_to_micros, utc_day

SEARCH = "/2/tweets/search/recent"
FOLLOWERS = "/2/users/:id/followers"


def ts(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> float:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp()


T0 = ts(2026, 3, 10, 12, 0, 0)


def flat(ticket: Ticket, now: float, micros: int | None = None) -> Charge:
    """A charge of ``micros`` (default: the whole reservation) for the ticket's route."""
    return Charge(route=ticket.route, day=utc_day(now), micros=ticket.micros if micros is None else micros)


def ticket_of(d: Decision) -> Ticket:
    assert isinstance(d, Proceed | Shrink), d
    return d.ticket


def page(ids: list[int]) -> dict[str, Any]:
    return {"data": [{"id": str(i)} for i in ids], "meta": {"result_count": len(ids)}}


# --- cycles ---


@pytest.mark.parametrize(
    ("now", "day", "start", "end"),
    [
        (ts(2026, 3, 10, 12), 1, ts(2026, 3, 1), ts(2026, 4, 1)),
        (ts(2026, 3, 10, 12), 15, ts(2026, 2, 15), ts(2026, 3, 15)),
        (ts(2026, 3, 15), 15, ts(2026, 3, 15), ts(2026, 4, 15)),  # the boundary belongs to the new cycle
        (ts(2026, 3, 14, 23, 59, 59), 15, ts(2026, 2, 15), ts(2026, 3, 15)),
        (ts(2026, 12, 31, 23), 5, ts(2026, 12, 5), ts(2027, 1, 5)),  # Dec -> Jan
        (ts(2027, 1, 3), 5, ts(2026, 12, 5), ts(2027, 1, 5)),
        (ts(2026, 3, 1), 28, ts(2026, 2, 28), ts(2026, 3, 28)),  # February is short
        (ts(2028, 2, 29), 28, ts(2028, 2, 28), ts(2028, 3, 28)),  # leap day
        (ts(2026, 1, 1), 1, ts(2026, 1, 1), ts(2026, 2, 1)),
    ],
)
def test_cycle_bounds(now: float, day: int, start: float, end: float) -> None:
    assert cycle_bounds(now, day) == (start, end)


def test_cycle_start_day_is_checked() -> None:
    with pytest.raises(ValueError):
        cycle_bounds(T0, 29)
    with pytest.raises(ValueError):
        Budget(cycle_start_day=0)


# --- reserve / settle / cancel ---


def test_no_limits_always_proceeds() -> None:
    ledger = Ledger(Budget())
    assert isinstance(ledger.reserve(T0, "j", quote(SEARCH, 100)), Proceed)


def test_reserve_settle_cancel_and_wait_for_in_flight() -> None:
    ledger = Ledger(Budget(max_usd_per_run=1.0))
    q = quote(SEARCH, 100)  # $0.50
    a, b = ticket_of(ledger.reserve(T0, "j", q)), ticket_of(ledger.reserve(T0, "j", q))
    assert ledger.in_flight == 1_000_000
    waiting = ledger.reserve(T0, "j", q)
    assert isinstance(waiting, Wait) and waiting.until is None
    assert "2 in-flight requests hold $1.00" in waiting.reason
    ledger.cancel(a)
    ledger.cancel(a)  # idempotent
    entry = ledger.settle(b, T0 + 1, flat(b, T0 + 1, 100_000))
    assert entry.micros == 100_000 and entry.reserved == 500_000 and entry.job == "j"
    with pytest.raises(KeyError):
        ledger.settle(b, T0 + 1, flat(b, T0 + 1))
    # $0.90 left: a full page fits again
    assert isinstance(ledger.reserve(T0 + 2, "j", q), Proceed)


def test_shrink_to_what_is_left() -> None:
    ledger = Ledger(Budget(max_usd_per_run=0.30))
    d = ledger.reserve(T0, "j", quote(SEARCH, 100))
    assert isinstance(d, Shrink) and d.max_results == 60
    assert d.ticket.micros == 300_000 and d.ticket.size == 60


def test_stop_reason_names_the_limit_and_the_figures() -> None:
    ledger = Ledger(Budget(max_usd_per_run=1.0))
    t = ticket_of(ledger.reserve(T0, "j", quote(SEARCH, 100)))
    ledger.settle(t, T0, flat(t, T0, 955_000))
    d = ledger.reserve(T0, "j", quote(SEARCH, 100))
    assert d == Stop(
        limit="run",
        reason="run budget $1.00 reached: spent $0.955, next request needs up to $0.05",
    )


def test_spending_limit_stops_until_the_next_cycle() -> None:
    budget = Budget(spending_limit_usd=1.0, cycle_start_day=15)
    ledger = Ledger(budget)
    now = ts(2026, 4, 14, 23)
    for _ in range(2):
        t = ticket_of(ledger.reserve(now, "j", quote(SEARCH, 100)))
        ledger.settle(t, now, flat(t, now))
    d = ledger.reserve(now, "j", quote(SEARCH, 10))
    assert isinstance(d, Stop) and d.limit == "cycle" and d.resumes_at == ts(2026, 4, 15)
    assert "spending limit $1.00 for the billing cycle reached: spent $1.00" in d.reason
    assert isinstance(ledger.reserve(ts(2026, 4, 15), "j", quote(SEARCH, 100)), Proceed)


def test_every_limit_binds() -> None:
    """The tightest of run budget, spending limit and balance wins."""
    budget = Budget(max_usd_per_run=5.0, spending_limit_usd=0.35, balance_usd=3.0)
    ledger = Ledger(budget)
    d = ledger.reserve(T0, "j", quote(SEARCH, 100))
    assert isinstance(d, Shrink) and d.max_results == 70  # $0.35 holds 70 posts
    ledger2 = Ledger(Budget(max_usd_per_run=5.0, balance_usd=0.5))
    d2 = ledger2.reserve(T0, "j", quote(SEARCH, 100))
    assert isinstance(d2, Shrink) and d2.max_results == 99  # the balance must stay above $0


def test_a_new_run_id_starts_the_run_budget_afresh_but_keeps_the_cycle() -> None:
    budget = Budget(max_usd_per_run=1.0, spending_limit_usd=10.0)
    old = [LedgerEntry(at=T0 - 60, run="r1", job="j", route=SEARCH, day=utc_day(T0), micros=900_000)]
    ledger = Ledger.replay(budget, old, run="r2")
    s = ledger.status(T0)
    assert s.spent_run == 0 and s.spent_cycle == 900_000 and s.spent_today == 900_000


# --- the day and dedup through the ledger ---


def test_seen_keys_clear_at_midnight() -> None:
    ledger = Ledger(Budget(max_usd_per_run=10.0))
    before, after = ts(2026, 3, 10, 23, 59, 59), ts(2026, 3, 11, 0, 0, 0)
    t = ticket_of(ledger.reserve(before, "j", quote(SEARCH, 10)))
    c = charge(SEARCH, page([1, 2, 3]), now=before, seen=ledger.seen(before))
    ledger.settle(t, before, c)
    assert charge(SEARCH, page([1, 2, 3]), now=before, seen=ledger.seen(before)).micros == 0
    assert charge(SEARCH, page([1, 2, 3]), now=after, seen=ledger.seen(after)).micros == 15_000
    s = ledger.status(after)
    assert s.spent_today == 0 and s.spent_run == 15_000


# --- the simulated harvest ---


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("route", [SEARCH, "/2/users/:id/tweets", FOLLOWERS])
def test_simulated_harvest_spends_the_budget_and_never_more(seed: int, route: str) -> None:
    rng = random.Random(seed)
    budget_usd = rng.choice([1.0, 2.37, 3.0, 4.99])
    ledger = Ledger(Budget(max_usd_per_run=budget_usd))
    base = quote(route)
    now = T0
    requests = 0
    while True:
        now += rng.uniform(0.1, 5000)  # crosses midnights: dedup resets
        d = ledger.reserve(now, "sim", base)
        if isinstance(d, Stop):
            break
        t = ticket_of(d)
        n = rng.randint(0, t.size)
        ids = [rng.randint(1, 3000) for _ in range(n)]  # some repeats: dedup lowers charges
        c = charge(route, page(ids), now=now, seen=ledger.seen(now))
        assert c.micros <= t.micros
        ledger.settle(t, now, c)
        requests += 1
    spent = ledger.status(now).spent_run
    limit = int(budget_usd * 1_000_000)
    assert requests > 0
    assert spent <= limit
    assert limit - spent < base.at(base.min_size).micros
    assert d.limit == "run"


def test_simulated_harvest_with_concurrent_workers() -> None:
    rng = random.Random(7)
    ledger = Ledger(Budget(max_usd_per_run=3.0, spending_limit_usd=2.5, balance_usd=2.75))
    base = quote(SEARCH)
    now = T0
    open_tickets: list[Ticket] = []
    stopped = False
    while not stopped or open_tickets:
        now += 1
        if not stopped and len(open_tickets) < 4:
            d = ledger.reserve(now, "sim", base)
            if isinstance(d, Stop):
                stopped = True
            elif isinstance(d, Proceed | Shrink):
                open_tickets.append(d.ticket)
            else:
                assert isinstance(d, Wait) and open_tickets
        if open_tickets and (stopped or rng.random() < 0.5 or len(open_tickets) == 4):
            t = open_tickets.pop(rng.randrange(len(open_tickets)))
            ids = [rng.randint(1, 10**9) for _ in range(rng.randint(0, t.size))]
            ledger.settle(t, now, charge(SEARCH, page(ids), now=now, seen=ledger.seen(now)))
        s = ledger.status(now)
        assert s.spent_cycle <= 2_500_000 and s.balance is not None and s.balance > 0
    s = ledger.status(now)
    assert 2_500_000 - s.spent_cycle < base.at(base.min_size).micros


# --- warnings ---


def test_warnings_are_reported_once_each() -> None:
    budget = Budget(max_usd_per_run=1.0, spending_limit_usd=2.0, warn_at=(0.5, 0.8))
    ledger = Ledger(budget)
    assert ledger.warnings(T0) == []

    def spend(micros: int) -> None:
        t = ticket_of(ledger.reserve(T0, "j", quote(SEARCH, 100)))
        ledger.settle(t, T0, flat(t, T0, micros))

    spend(500_000)
    assert [w.key for w in ledger.warnings(T0)] == ["run:0.5"]
    assert ledger.warnings(T0) == []
    spend(400_000)  # run 90%, cycle 45%
    assert [w.key for w in ledger.warnings(T0)] == ["run:0.8"]
    ledger2_keys = [w.key for w in ledger.status(T0).warnings]
    assert ledger2_keys == ["run:0.5", "run:0.8"]
    # A new run on the same cycle: the cycle warning comes once, the run's start afresh
    later = Ledger.load_state(budget, ledger.export_state(), run="r2")
    t = ticket_of(later.reserve(T0, "j", quote(SEARCH, 100)))
    later.settle(t, T0, flat(t, T0, 200_000))  # cycle 1.10 of 2.00
    keys = [w.key for w in later.warnings(T0)]
    assert keys == ["cycle:2026-03-01:0.5"]
    assert later.warnings(T0 + 1) == []
    msg = later.status(T0).warnings[-1].message
    assert msg == "50% of the spending limit $2.00 for the cycle from 2026-03-01 spent ($1.10)"


def test_cycle_warnings_come_again_next_cycle() -> None:
    ledger = Ledger(Budget(spending_limit_usd=1.0))
    for now in (T0, ts(2026, 4, 2)):
        t = ticket_of(ledger.reserve(now, "j", quote(SEARCH, 100)))
        ledger.settle(t, now, flat(t, now, 900_000))
        assert len(ledger.warnings(now)) == 1
        assert ledger.warnings(now) == []


# --- auto-recharge projection ---


def recharging(balance: float, **kw: Any) -> Ledger:
    ar = {"threshold_usd": 5.0, "amount_usd": 25.0, "delay_seconds": 0.0, **kw}
    return Ledger(Budget(balance_usd=balance, auto_recharge=AutoRecharge(**ar)))


def test_recharge_lands_after_the_balance_falls_below_the_threshold() -> None:
    ledger = recharging(5.2, delay_seconds=60.0)
    t = ticket_of(ledger.reserve(T0, "j", quote(SEARCH, 100)))
    ledger.settle(t, T0, flat(t, T0))  # $4.70 < $5
    assert ledger.status(T0).balance == 4_700_000
    assert ledger.status(T0).next_recharge_at == T0 + 60
    assert ledger.status(T0 + 60).balance == 29_700_000
    assert ledger.status(T0 + 60).next_recharge_at is None


def test_wait_for_a_landing_recharge_instead_of_stopping() -> None:
    ledger = recharging(0.6, delay_seconds=60.0)
    t = ticket_of(ledger.reserve(T0, "j", quote(SEARCH, 100)))
    ledger.settle(t, T0, flat(t, T0, 550_000))  # $0.05 left, and below the threshold since T0
    d = ledger.reserve(T0 + 1, "j", quote(SEARCH, 100))
    assert isinstance(d, Wait) and d.until == T0 + 60
    assert "auto-recharge of $25.00 due" in d.reason
    assert isinstance(ledger.reserve(T0 + 60, "j", quote(SEARCH, 100)), Proceed)


def test_recharges_are_five_minutes_apart() -> None:
    ledger = recharging(1.0, threshold_usd=5.0, amount_usd=2.0, min_interval_seconds=300.0)
    assert ledger.status(T0).balance == 3_000_000  # below the threshold at once: lands at T0
    assert ledger.status(T0 + 299).balance == 3_000_000
    assert ledger.status(T0 + 300).balance == 5_000_000
    assert ledger.status(T0 + 10_000).balance == 5_000_000  # not below the threshold any more


def test_at_most_five_recharges_per_rolling_24h_and_a_warning_at_four() -> None:
    ledger = recharging(1.0, threshold_usd=100.0, amount_usd=1.0)
    warnings = []
    for k in range(5):
        s = ledger.status(T0 + 300 * k)
        assert s.recharges_24h == k + 1
        warnings += ledger.warnings(T0 + 300 * k)
    assert [w.message for w in warnings] == ["1 of 5 auto-recharges per 24 h left"]
    s = ledger.status(T0 + 86_399)
    assert s.balance == 6_000_000 and s.recharges_24h == 5 and s.next_recharge_at == T0 + 86_400
    assert ledger.status(T0 + 86_400).balance == 7_000_000
    assert ledger.status(T0 + 86_400 + 299).balance == 7_000_000
    assert ledger.status(T0 + 86_400 + 300).balance == 8_000_000


def test_monthly_maximum_stops_recharges_until_the_next_cycle() -> None:
    ledger = recharging(0.2, threshold_usd=100.0, amount_usd=25.0, max_per_month_usd=50.0)
    now = ts(2026, 3, 31, 12)
    assert ledger.status(now).balance == 25_200_000
    assert ledger.status(now + 300).balance == 50_200_000
    warned = [w.key for w in ledger.warnings(now + 300)]
    assert warned == ["recharge_month:2026-03-01:0.8"]
    ledger.observe_balance(now + 400, 0.05)  # spent elsewhere, say; read from the console
    d = ledger.reserve(now + 500, "j", quote(SEARCH, 100))
    assert isinstance(d, Stop) and d.limit == "balance" and d.resumes_at == ts(2026, 4, 1)
    assert "auto-recharge monthly maximum $50.00 reached ($50.00 recharged this cycle)" in d.reason
    assert ledger.status(ts(2026, 4, 1)).balance == 25_050_000


def test_recharge_pauses_at_a_balance_of_zero() -> None:
    ledger = recharging(0.0)
    s = ledger.status(T0 + 3600)
    assert s.balance == 0 and s.next_recharge_at is None
    d = ledger.reserve(T0 + 3600, "j", quote(SEARCH, 10))
    assert isinstance(d, Stop) and "paused at a balance <= $0" in d.reason


def test_balance_never_reaches_zero_through_reservations() -> None:
    ledger = Ledger(Budget(balance_usd=0.05))
    d = ledger.reserve(T0, "j", quote(SEARCH, 100))
    assert isinstance(d, Stop)  # 10 posts (the minimum) would leave exactly $0.00
    assert d.limit == "balance" and "auto-recharge is off" in d.reason


def test_charges_before_balance_at_are_already_in_the_balance() -> None:
    budget = Budget(balance_usd=10.0, balance_at=T0)
    entries = [
        LedgerEntry(at=T0 - 10, run="r", job="j", route=SEARCH, day=utc_day(T0), micros=1_000_000),
        LedgerEntry(at=T0 + 10, run="r", job="j", route=SEARCH, day=utc_day(T0), micros=2_000_000),
    ]
    assert Ledger.replay(budget, entries, run="r").status(T0 + 20).balance == 8_000_000


def test_after_402_everything_stops_until_a_top_up() -> None:
    ledger = Ledger(Budget(max_usd_per_run=10.0))
    t = ticket_of(ledger.reserve(T0, "j", quote(SEARCH, 100)))
    ledger.cancel(t)
    ledger.credits_depleted(T0, "CreditsDepleted: account 1 has no credits")
    for q in (quote(SEARCH, 10), quote("/2/users", 1), quote("/2/usage/tweets")):
        d = ledger.reserve(T0 + 3600, "j", q)
        assert d == Stop(
            limit="credits", reason="credits depleted: CreditsDepleted: account 1 has no credits"
        )
    state = ledger.export_state()
    assert Ledger.load_state(ledger.budget, state).depleted_reason is not None
    ledger.observe_balance(T0 + 7200, 20.0)
    assert ledger.depleted_reason is None
    assert isinstance(ledger.reserve(T0 + 7200, "j", quote(SEARCH, 100)), Proceed)


# --- persistence and status ---


def run_some(ledger: Ledger, rng: random.Random, start: float, n: int) -> list[LedgerEntry]:
    entries = []
    now = start
    for _ in range(n):
        now += rng.uniform(10, 20_000)
        route = rng.choice([SEARCH, FOLLOWERS])
        d = ledger.reserve(now, rng.choice(["a", "b"]), quote(route, 50))
        if not isinstance(d, Proceed | Shrink):
            continue
        ids = [rng.randint(1, 200) for _ in range(rng.randint(0, d.ticket.size))]
        entries.append(ledger.settle(d.ticket, now, charge(route, page(ids), now=now, seen=ledger.seen(now))))
    return entries


def test_replay_rebuilds_the_same_ledger() -> None:
    ar = AutoRecharge(threshold_usd=5.0, amount_usd=10.0, max_per_month_usd=40.0)
    budget = Budget(max_usd_per_run=30.0, spending_limit_usd=25.0, balance_usd=6.0, auto_recharge=ar)
    live = Ledger(budget, run="r")
    entries = run_some(live, random.Random(3), T0, 120)
    persisted = [LedgerEntry.from_dict(json.loads(json.dumps(e.to_dict()))) for e in entries]
    rebuilt = Ledger.replay(budget, reversed(persisted), run="r")
    end = entries[-1].at
    assert rebuilt.status(end) == live.status(end)
    assert rebuilt.seen(end) == live.seen(end)


def test_export_and_load_round_trip_through_json() -> None:
    ar = AutoRecharge(threshold_usd=5.0, amount_usd=10.0)
    budget = Budget(max_usd_per_run=30.0, balance_usd=6.0, auto_recharge=ar)
    live = Ledger(budget, run="r")
    run_some(live, random.Random(4), T0, 60)
    now = T0 + 3_000_000
    live.warnings(now)
    loaded = Ledger.load_state(budget, json.loads(json.dumps(live.export_state())))
    assert loaded.status(now) == live.status(now)
    assert loaded.export_state() == live.export_state()


def test_load_counts_in_flight_reservations_as_spent() -> None:
    budget = Budget(max_usd_per_run=2.0, balance_usd=5.0)
    ledger = Ledger(budget, run="r")
    ledger.reserve(T0, "j", quote(SEARCH, 100))
    loaded = Ledger.load_state(budget, ledger.export_state())
    s = loaded.status(T0 + 1)
    assert s.in_flight == 0 and s.spent_run == 500_000 and s.balance == 4_500_000


def test_status_and_repr_show_the_figures() -> None:
    ledger = Ledger(Budget(max_usd_per_run=2.0, spending_limit_usd=10.0, balance_usd=5.0), run="r")
    t = ticket_of(ledger.reserve(T0, "job-a", quote(SEARCH, 100)))
    ledger.settle(t, T0, flat(t, T0, 250_000))
    ledger.reserve(T0, "job-b", quote(FOLLOWERS, 10))
    s = ledger.status(T0)
    assert s.by_job == {"job-a": 250_000} and s.by_endpoint == {SEARCH: 250_000}
    assert s.in_flight == 100_000 and s.in_flight_count == 1
    assert s.run_limit is not None and s.run_limit.remaining == 1_750_000
    j = s.to_json()
    assert j["spent_run_usd"] == 0.25 and j["run_budget"]["remaining_usd"] == 1.75
    assert j["balance_usd"] == 4.75 and j["by_job_usd"] == {"job-a": 0.25}
    json.dumps(j)
    assert repr(ledger) == (
        "<Ledger run='r' spent_run=$0.25/$2.00 cycle=$0.25/$10.00 today=$0.25 balance=$4.75 "
        "in_flight=1($0.10) seen_today=0 recharges=0>"
    )


def test_overrun_is_recorded() -> None:
    ledger = Ledger(Budget(max_usd_per_run=2.0))
    t = ticket_of(ledger.reserve(T0, "j", quote(SEARCH, 10)))
    ledger.settle(t, T0, flat(t, T0, t.micros + 1))
    assert ledger.status(T0).overruns == 1


# --- the property ---

ops = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.sampled_from([SEARCH, FOLLOWERS, "/2/users"]), st.integers(1, 100)),
        st.tuples(st.just("settle"), st.integers(0, 50), st.sampled_from([0.0, 1.0]) | st.floats(0, 1)),
        st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0.0)),
        st.tuples(
            st.just("tick"), st.integers(0, 50), st.sampled_from([1.0, 300.0]) | st.floats(0, 3 * 86_400)
        ),
    ),
    min_size=4,
    max_size=80,
)
# Multiples of 5 cents hit "fits exactly" often; the floats cover the rest.
optional_usd = (
    st.none() | st.integers(0, 40).map(lambda k: k / 20) | st.floats(0, 5).map(lambda x: round(x, 6))
)


@settings(max_examples=300, deadline=None, database=None)  # no .hypothesis/ in the repo
@given(
    ops=ops,
    run_usd=optional_usd,
    limit_usd=optional_usd,
    balance_usd=optional_usd,
    recharge=st.none() | st.tuples(st.floats(0, 10), st.floats(0.5, 10), st.integers(1, 5)),
)
def test_settled_spend_never_exceeds_any_limit(
    ops: list[tuple[str, Any, Any]],
    run_usd: float | None,
    limit_usd: float | None,
    balance_usd: float | None,
    recharge: tuple[float, float, int] | None,
) -> None:
    ar = None
    if recharge is not None:
        threshold, amount, per_day = recharge
        ar = AutoRecharge(
            threshold_usd=threshold, amount_usd=amount, max_per_day=per_day, max_per_month_usd=amount * 3
        )
    budget = Budget(
        max_usd_per_run=run_usd,
        spending_limit_usd=limit_usd,
        balance_usd=balance_usd,
        auto_recharge=ar,
        cycle_start_day=10,
    )
    ledger = Ledger(budget)
    now = ts(2026, 3, 9, 20)
    open_tickets: list[Ticket] = []
    for op, a, b in ops:
        if op == "reserve":
            d = ledger.reserve(now, "j", quote(a, b) if a == "/2/users" else quote(a, max(b, 10)))
            if isinstance(d, Proceed | Shrink):
                open_tickets.append(d.ticket)
        elif op in ("settle", "cancel") and open_tickets:
            t = open_tickets.pop(a % len(open_tickets))
            if op == "settle":
                ledger.settle(t, now, flat(t, now, int(t.micros * b)))
            else:
                ledger.cancel(t)
        elif op == "tick":
            now += b
        s = ledger.status(now)
        if run_usd is not None:
            assert s.spent_run <= usd_to_micros(run_usd)
        if limit_usd is not None:
            assert s.spent_cycle <= usd_to_micros(limit_usd)
        if balance_usd is not None and balance_usd > 0:
            assert s.balance is not None and s.balance > 0
        assert s.in_flight == sum(t.micros for t in open_tickets)


@settings(max_examples=200, deadline=None, database=None)
@given(
    sizes=st.lists(st.integers(10, 100), min_size=1, max_size=30),
    run_usd=optional_usd,
    limit_usd=optional_usd,
    balance_usd=optional_usd,
)
def test_reservations_in_flight_together_fit_every_limit(
    sizes: list[int], run_usd: float | None, limit_usd: float | None, balance_usd: float | None
) -> None:
    """The extreme case: reserve everything first, then every request costs its full worst case."""
    ledger = Ledger(Budget(max_usd_per_run=run_usd, spending_limit_usd=limit_usd, balance_usd=balance_usd))
    tickets = [
        d.ticket
        for n in sizes
        if isinstance(d := ledger.reserve(T0, "j", quote(SEARCH, n)), Proceed | Shrink)
    ]
    for t in tickets:
        ledger.settle(t, T0, flat(t, T0))
    s = ledger.status(T0)
    if run_usd is not None:
        assert s.spent_run <= usd_to_micros(run_usd)
    if limit_usd is not None:
        assert s.spent_cycle <= usd_to_micros(limit_usd)
    if balance_usd is not None and balance_usd > 0:
        assert s.balance is not None and s.balance > 0
