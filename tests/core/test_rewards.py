"""Free xAI credits from X credit purchases (x-api-pay-per-use-pricing.txt, "Free xAI API Credits")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harvester.core.budget import AutoRecharge, Budget, Ledger
from harvester.core.rewards import USD, Purchase, cycle_rewards, owed, tier_percent


def ts(y: int, m: int, d: int, hh: int = 0) -> float:
    return datetime(y, m, d, hh, tzinfo=UTC).timestamp()


def buys(*usd: float) -> list[Purchase]:
    return [Purchase(at=float(i), micros=round(u * USD), source="test") for i, u in enumerate(usd)]


def test_the_pricing_pages_example_row_by_row() -> None:
    # Purchase | Rate | Total owed | Already credited | You receive  (the page's table, verbatim)
    page = [(100, 0, 0, 0, 0), (100, 10, 20, 0, 20), (150, 10, 35, 20, 15), (150, 15, 75, 35, 40),
            (250, 15, 112.50, 75, 37.50), (250, 20, 200, 112.50, 87.50)]
    r = cycle_rewards(buys(*(row[0] for row in page)))
    got = [(p.purchase.micros / USD, p.percent, p.owed / USD, p.credited_before / USD, p.received / USD)
           for p in r.purchases]
    assert got == [tuple(float(x) for x in row) for row in page]
    assert r.total == 1_000 * USD and r.percent == 20 and r.credited == 200 * USD  # "$1,000 | $200"
    assert r.next_tier is None


@pytest.mark.parametrize(("usd", "percent"), [(0, 0), (199.999999, 0), (200, 10), (499.99, 10), (500, 15),
                                              (999.99, 15), (1_000, 20), (25_000, 20)])
def test_tier_boundaries(usd: float, percent: int) -> None:
    assert tier_percent(round(usd * USD)) == percent


def test_crossing_a_tier_pays_the_new_rate_on_the_whole_cycle() -> None:
    assert owed(199 * USD) == 0
    assert owed(200 * USD) == 20 * USD  # the first $199 earn nothing alone; at $200 all of it earns 10 %
    r = cycle_rewards(buys(199, 1))
    assert [p.received for p in r.purchases] == [0, 20 * USD]


def test_next_tier_says_what_crossing_it_would_earn() -> None:
    r = cycle_rewards(buys(350))
    assert r.percent == 10 and r.credited == 35 * USD
    nxt = r.next_tier
    assert nxt is not None and (nxt.at, nxt.percent, nxt.to_go) == (500 * USD, 15, 150 * USD)
    assert nxt.earns == 75 * USD - 35 * USD  # 15 % of $500, less the $35 already credited
    empty = cycle_rewards([])
    assert empty.total == 0 and empty.credited == 0 and empty.next_tier is not None
    assert (empty.next_tier.at, empty.next_tier.earns) == (200 * USD, 20 * USD)


def test_purchases_are_taken_in_time_order() -> None:
    later, earlier = Purchase(at=10.0, micros=300 * USD, source="b"), Purchase(at=1.0, micros=100 * USD, source="a")
    r = cycle_rewards([later, earlier])
    assert [p.purchase.source for p in r.purchases] == ["a", "b"]
    with pytest.raises(ValueError, match="negative"):
        cycle_rewards([Purchase(at=0.0, micros=-1, source="x")])


@given(st.lists(st.integers(min_value=0, max_value=2_000 * USD), max_size=12))
def test_received_adds_up_to_what_the_total_is_owed(amounts: list[int]) -> None:
    r = cycle_rewards([Purchase(at=float(i), micros=m, source="p") for i, m in enumerate(amounts)])
    assert sum(p.received for p in r.purchases) == r.credited == owed(sum(amounts))
    assert all(p.received >= 0 for p in r.purchases)  # the rate never falls within a cycle
    if r.next_tier is not None:
        assert r.next_tier.earns == owed(r.total + r.next_tier.to_go) - r.credited > 0


def test_ledger_lists_the_cycles_modelled_recharges() -> None:
    ledger = Ledger(Budget(balance_usd=1.0, auto_recharge=AutoRecharge(threshold_usd=1_000.0, amount_usd=25.0,
                                                                       delay_seconds=0.0)))
    end_of_march = ts(2026, 3, 31, 23)
    assert ledger.recharges(end_of_march) == ((end_of_march, 25 * USD),)
    assert ledger.recharges(end_of_march + 300) == ((end_of_march, 25 * USD), (end_of_march + 300, 25 * USD))
    assert len(ledger.recharges(end_of_march + 3_540)) == 5  # 5 per rolling 24 h
    assert ledger.recharges(ts(2026, 4, 1, 1)) == ()  # a new cycle counts afresh
