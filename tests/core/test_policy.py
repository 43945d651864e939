"""Adaptive revisit policy: backoff, bursts, starvation guard, ranking, and a simulated month."""

from __future__ import annotations

import random

import pytest

from harvester.core.policy import DAY, STRETCH_SHARE, Policy, SourceState, budget_stretch, prior_from_activity
from harvester.core.policy_sim import (
    FixedStrategy,
    OracleStrategy,
    PolicyStrategy,
    SimSource,
    heavy_tailed_sources,
    simulate,
)

HOUR = 3600.0
POLICY = Policy(min_interval=900, max_interval=DAY, page_size=100, decay_half_life=3 * DAY, target_yield=5)


def _poll(p: Policy, st: SourceState, k: int) -> SourceState:
    now = p.next_poll(st, 0.0 if st.last_poll is None else st.last_poll)
    return p.observe(st, now, k, now - 1 if k else None)


def test_silent_query_backs_off_to_max_and_a_burst_brings_it_down() -> None:
    st = POLICY.prior(50 / DAY)  # believed busy at first
    st = _poll(POLICY, st, 40)
    intervals = []
    for _ in range(12):
        st = _poll(POLICY, st, 0)
        intervals.append(st.interval)
    assert intervals == sorted(intervals) and intervals[-1] == DAY
    assert intervals.index(DAY) <= 8  # multiplicative: a handful of empty polls, not dozens
    assert st.empty_streak == 12
    burst = _poll(POLICY, st, 60)
    assert burst.interval < DAY / 10 and burst.empty_streak == 0
    full = _poll(POLICY, st, 100)
    assert full.saturated and full.interval == POLICY.min_interval
    assert POLICY.expected_yield(full, full.last_poll or 0.0) == POLICY.cap
    # Empty again after the burst: backs off from the burst's interval, not from max.
    after = _poll(POLICY, burst, 0)
    assert burst.interval < after.interval < DAY


def test_observe_is_pure_and_rate_tracks_a_change_of_pace() -> None:
    p, st = POLICY, POLICY.prior()
    now = 0.0
    for _ in range(40):  # 24 items/hour for ~ 2 days
        now += HOUR
        st = p.observe(st, now, 24)
    assert st.mean_rate * HOUR == pytest.approx(24, rel=0.1)
    before = st
    for _ in range(6 * 24):  # silent for 6 days = two half-lives
        now += HOUR
        st = p.observe(st, now, 0)
    assert before.polls == 40 and st.mean_rate < before.mean_rate / 3
    assert p.expected_yield(st, now + HOUR) < p.expected_yield(before, (before.last_poll or 0.0) + HOUR) / 5


def test_inactive_user_is_never_starved() -> None:
    p = Policy(min_interval=900, max_interval=DAY, page_size=100, target_yield=5)
    users = {"busy": p.prior_from_activity(300, 60, False),
             "inactive": prior_from_activity(p, 0.01, 120 * DAY, False)}  # fmt: skip
    users.update({f"u{i}": p.prior_from_activity(50, 600, False) for i in range(20)})
    assert users["inactive"].interval == DAY and users["busy"].interval < HOUR
    polled: dict[str, list[float]] = {u: [] for u in users}
    now = 0.0
    while now < 10 * DAY:  # 2 requests per 15 minutes, far fewer than the busy users want
        for sid in p.rank(users, now, 2):
            polled[sid].append(now)
            users[sid] = p.observe(users[sid], now, 0 if sid == "inactive" else 3)
        now += 900
    gaps = [b - a for a, b in zip(polled["inactive"], polled["inactive"][1:], strict=False)]
    assert polled["inactive"] and max(gaps) <= DAY + 900 and len(polled["inactive"]) >= 9
    assert len(polled["busy"]) > 2 * len(polled["inactive"])


def test_rank_starvation_then_priority_then_yield_then_staleness_within_budget() -> None:
    p = POLICY
    now = 10 * DAY
    base = p.observe(p.prior(10 / HOUR), now - 2 * HOUR, 5)
    states = {
        "hot": base,
        "warm": p.observe(p.prior(2 / HOUR), now - 3 * HOUR, 5),
        "vip": p.observe(p.prior(0.5 / HOUR), now - 20 * HOUR, 5, None),
        "starved": p.observe(p.prior(), now - DAY - 1, 0),
        "new": p.prior(),
        "not_due": p.observe(p.prior(1 / DAY), now - 60, 1),
    }
    states["vip"] = SourceState.from_dict({**states["vip"].to_dict(), "priority": 5})
    ranked = p.rank(states, now, 10)
    assert ranked[:2] == ["new", "starved"]  # never polled, then most overdue
    assert ranked[2] == "vip" and "not_due" not in ranked
    assert ranked.index("hot") < ranked.index("warm")
    assert p.rank(states, now, 3) == ranked[:3]
    assert p.rank(states, now, 0) == []


def test_active_users_first_from_activity_hints() -> None:
    p = POLICY
    active = p.prior_from_activity(None, None, True)
    quiet = p.prior_from_activity(0.1, 30 * DAY, False)
    assert active.rate > quiet.rate and active.interval <= quiet.interval
    states = {"quiet": p.observe(quiet, 0.0, 0), "active": p.observe(active, 0.0, 0)}
    assert p.rank(states, DAY, 1) == ["active"]  # both due (and starving): the active one first
    busy = p.prior_from_activity(40, 600, False)
    assert busy.interval < HOUR * 4 and busy.rate > active.rate


def test_state_round_trips_and_shows_its_figures() -> None:
    st = POLICY.observe(POLICY.prior(), 1000.0, 7, 990.0)
    again = SourceState.from_dict(st.to_dict())
    assert again == st
    text = repr(st)
    assert "/day" in text and "polls=1" in text and "every" in text
    assert "target 5/poll" in repr(POLICY)
    with pytest.raises(ValueError):
        Policy(min_interval=10, max_interval=5)
    with pytest.raises(ValueError):
        POLICY.observe(st, 2000.0, -1)


@pytest.mark.parametrize("seed", [1, 2])
def test_simulated_month_beats_fixed_polling_and_nears_the_oracle(seed: int) -> None:
    rng = random.Random(seed)
    sources = heavy_tailed_sources(200, rng)
    horizon, budget = 30 * DAY, 36_000  # fixed round-robin: each source every 4 hours
    fixed = simulate(FixedStrategy(len(sources)), sources, horizon, budget, random.Random(seed + 100))
    policy = simulate(PolicyStrategy(POLICY, sources), sources, horizon, budget, random.Random(seed + 100))
    oracle = simulate(OracleStrategy(POLICY, sources), sources, horizon, budget, random.Random(seed + 100))
    assert policy.per_request >= 2 * fixed.per_request
    assert policy.per_request >= 0.9 * oracle.per_request
    assert policy.coverage >= 0.97 and policy.max_gap <= DAY + 900
    # With as many requests as the policy made, round-robin is much later to capture items.
    matched = simulate(
        FixedStrategy(len(sources)), sources, horizon, policy.requests, random.Random(seed + 100)
    )
    assert policy.mean_delay < matched.mean_delay / 1.5


def test_simulation_under_a_short_quota_still_serves_everyone() -> None:
    rng = random.Random(5)
    sources = [*heavy_tailed_sources(150, rng), SimSource(id="dead", rate=0.0)]
    res = simulate(PolicyStrategy(POLICY, sources), sources, 10 * DAY, 2500, random.Random(6))
    assert res.requests <= 2500 and res.max_gap <= DAY + 2 * 900 and res.per_request > 3


@pytest.mark.parametrize(
    ("groups", "per_day", "stretch"),
    [
        ([(212, DAY)], 300.0, 1.0),  # the bound fits: nothing stretched
        ([(212, DAY)], 212.0, 1.0),  # exactly the floor
        ([(212, DAY)], 150.0, 212 / 75),  # stretched bounds alone spend 75 a day, half of 150
        ([(100, DAY), (100, 2 * DAY)], 100.0, 150 / 50),  # mixed bounds: floor 150 a day
        ([(0, DAY)], 1.0, 1.0),  # no sources
    ],
)
def test_budget_stretch_makes_the_bounds_cost_half_a_budget_below_the_floor(
    groups: list[tuple[int, float]], per_day: float, stretch: float
) -> None:
    got = budget_stretch(groups, per_day / DAY)
    assert got == pytest.approx(stretch)
    if got > 1.0:  # every source at its stretched bound: half the budget
        assert sum(n / (hi * got) for n, hi in groups) * DAY == pytest.approx(STRETCH_SHARE * per_day)
