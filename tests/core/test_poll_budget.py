"""Polling to a budget (core.policy Rules 5 and 6): the square-root allocation, its clamps, the
backfill's evidence, bursts, and active_since."""

from __future__ import annotations

import math
import random

import pytest

from harvester.core.policy import (
    DAY,
    Policy,
    budget_scale,
    budget_scale_mixed,
    page_fit,
    poisson_tail,
    prior_from_activity,
)

LO, HI = 900.0, DAY
P = Policy(min_interval=LO, max_interval=HI, page_size=100)


def _intervals(rates: list[float], per_day: float) -> list[float]:
    c = budget_scale(rates, per_day / DAY, LO, HI, P.page_size)
    return [P.budget_interval(r, c) for r in rates]


def _requests_per_day(rates: list[float], intervals: list[float]) -> float:
    """A poll every T of a source posting r a second costs a request, or one per page of what is
    new when that is more (Rule 5c)."""
    return sum(max(DAY / t, r * DAY / P.page_size) for r, t in zip(rates, intervals, strict=True))


@pytest.mark.parametrize(
    ("per_day_rates", "budget"),
    [
        ([0.1, 1, 10, 100], 40),  # some clamp at max, the busiest one is free
        ([0.01] * 50 + [50] * 3, 300),  # many quiet, few busy
        ([5.0] * 10, 100),  # all alike: all equal
        ([0.0, 0.0, 3.0, 300.0], 150),  # silent sources stay at max_interval
        ([2000.0, 0.5, 1.0], 200),  # the busiest polled as often as its pages need
        ([20_000.0, 3.0, 1.0], 250),  # the busiest brings several pages at min_interval
    ],
)
def test_the_allocation_spends_exactly_the_budget_within_the_bounds(per_day_rates: list[float], budget: float) -> None:
    rates = [r / DAY for r in per_day_rates]
    intervals = _intervals(rates, budget)
    assert all(LO <= t <= HI for t in intervals)
    assert _requests_per_day(rates, intervals) == pytest.approx(budget, rel=1e-6)
    # Between the clamps, the interval is proportional to 1 / sqrt(rate), or brings about a page.
    fit = page_fit(P.page_size)
    assert all(r * t <= fit * (1 + 1e-9) for t, r in zip(intervals, rates, strict=True) if t > LO)
    free = [(t, r) for t, r in zip(intervals, rates, strict=True) if LO < t < HI and r * t < fit * (1 - 1e-9)]
    if len(free) > 1:
        products = [t * math.sqrt(r) for t, r in free]
        assert max(products) == pytest.approx(min(products), rel=1e-6)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(4.0, [HI, HI, HI, 0.8 * DAY, 0.08 * DAY]), (1e6, [LO] * 5)],
)
def test_a_budget_out_of_reach_gives_the_bounds(budget: float, expected: list[float]) -> None:
    rates = [r / DAY for r in (0.1, 1.0, 10.0, 100.0, 1000.0)]
    # 4 a day cannot visit 5 sources daily: the bound wins (every source at max_interval, unless
    # its posts need more pages than that: 100 and 1,000 a day are polled every 80 posts, which
    # costs no more requests); a million a day cannot be spent: every source at min_interval.
    assert _intervals(rates, budget) == pytest.approx(expected)


def test_square_root_beats_uniform_and_proportional_at_the_same_budget() -> None:
    rng = random.Random(3)
    rates = [math.exp(rng.gauss(0, 2)) / DAY for _ in range(200)]
    budget = 600.0  # polls a day
    wide = Policy(min_interval=1.0, max_interval=1e9, page_size=100)  # no clamps: the bare rule

    def mean_delay(intervals: list[float]) -> float:  # a post waits T/2 on average
        return sum(r * t / 2 for r, t in zip(rates, intervals, strict=True)) / sum(rates)

    c = budget_scale(rates, budget / DAY, 1.0, 1e9)
    root = [wide.budget_interval(r, c) for r in rates]
    uniform = [len(rates) * DAY / budget] * len(rates)
    total = sum(rates)
    proportional = [total / (r * budget / DAY) for r in rates]
    for other in (uniform, proportional):
        assert sum(1 / t for t in other) == pytest.approx(sum(1 / t for t in root), rel=1e-6)
    assert mean_delay(root) < 0.9 * mean_delay(uniform)
    assert mean_delay(root) < 0.9 * mean_delay(proportional)


def test_the_backfill_sets_the_rate_at_once() -> None:
    st = P.prior()  # 1 a day, believed for an hour
    seen = P.observe(st, 10 * DAY, 70, exposure=7 * DAY)  # 70 posts over the backfill's week
    assert seen.mean_rate * DAY == pytest.approx(10, rel=0.02)
    blind = P.observe(st, 10 * DAY, 70)  # no span known: the prior stays
    assert blind.mean_rate == st.mean_rate
    quiet = P.observe(st, 10 * DAY, 0, exposure=7 * DAY)
    assert quiet.mean_rate * DAY < 0.01


@pytest.mark.parametrize(
    ("k", "gap_hours", "burst"),
    [(1, 24, False), (2, 24, False), (12, 2, True), (40, 4, True), (0, 24, False)],
)
def test_a_burst_pulls_the_source_in_and_noise_does_not(k: int, gap_hours: float, burst: bool) -> None:
    st = P.observe(P.prior(), 0.0, 7, exposure=7 * DAY)  # about one post a day
    now = gap_hours * 3600
    after = P.observe(st, now, k)
    rate = P.budget_rate(st, after, k, now)
    assert (rate > 2 * after.mean_rate) is burst
    c = budget_scale([after.mean_rate] + [1 / DAY] * 20, 100 / DAY, LO, HI)
    if burst:
        assert P.budget_interval(rate, c) < P.budget_interval(after.mean_rate, c) / 1.4


def test_poisson_tail() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - math.exp(-2))
    assert poisson_tail(3, 0.1) < 2e-4


def test_active_since_is_a_visibly_stronger_prior() -> None:
    plain = prior_from_activity(P, None, None, False)
    active = prior_from_activity(P, None, None, True)
    # The same quiet backfill (2 posts in a week) leaves the active user well ahead ...
    plain_after = P.observe(plain, 7 * DAY, 2, exposure=7 * DAY)
    active_after = P.observe(active, 7 * DAY, 2, exposure=7 * DAY)
    assert active_after.mean_rate > 1.8 * plain_after.mean_rate
    # ... so under a budget it is polled visibly more often (sqrt of the rate ratio).
    c = budget_scale([plain_after.mean_rate, active_after.mean_rate] + [5 / DAY] * 30, 200 / DAY, LO, HI)
    assert P.budget_interval(active_after.mean_rate, c) < P.budget_interval(plain_after.mean_rate, c) / 1.3



@pytest.mark.parametrize("seed", range(6))
def test_mixed_groups_spend_the_budget_in_requests_pages_included(seed: int) -> None:
    """Groups with bounds and page sizes of their own (jobs sharing [daemon] poll_budget): the
    segment sums of budget_scale_mixed equal the requests the intervals cost, source by source."""
    rng = random.Random(seed)
    policies = [Policy(min_interval=900.0, max_interval=DAY, page_size=100),
                Policy(min_interval=60.0, max_interval=3 * DAY, page_size=10)]  # fmt: skip
    groups = [[math.exp(rng.gauss(0, 2.5)) / DAY for _ in range(rng.randint(5, 80))] for _ in policies]
    floor = sum(len(g) * DAY / p.max_interval for g, p in zip(groups, policies, strict=True))
    # The least a budget can buy: every source at max_interval, or a request per `fit` posts.
    pages = sum(sum(g) * DAY / page_fit(p.page_size) for g, p in zip(groups, policies, strict=True))
    budget = (floor + pages) * rng.uniform(1.2, 6.0)
    c = budget_scale_mixed(
        [(g, p.min_interval, p.max_interval, p.page_size) for g, p in zip(groups, policies, strict=True)],
        budget / DAY,
    )
    assert 0 < c < math.inf
    spent = 0.0
    for g, p in zip(groups, policies, strict=True):
        for r in g:
            t = p.budget_interval(r, c)
            assert p.min_interval <= t <= p.max_interval
            spent += max(DAY / t, r * DAY / p.page_size)
    assert spent == pytest.approx(budget, rel=1e-6)
