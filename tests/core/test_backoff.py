"""Capped exponential backoff with full jitter, driven by a seeded RNG."""

from __future__ import annotations

import random

import pytest

from harvester.core.backoff import Backoff, GiveUp, RetryAt


def test_ceilings_double_from_base_up_to_the_cap() -> None:
    b = Backoff(random.Random(0))
    assert [b.ceiling(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert b.ceiling(10_000) == 60  # no overflow for absurd attempts


def test_delays_stay_within_full_jitter_bounds() -> None:
    b = Backoff(random.Random(1), base=0.5, cap=10.0)
    for attempt in range(12):
        for _ in range(200):
            assert 0.0 <= b.delay(attempt) <= min(10.0, 0.5 * 2**attempt)


def test_full_jitter_spreads_over_the_whole_range() -> None:
    b = Backoff(random.Random(2))
    draws = [b.delay(5) for _ in range(2000)]  # uniform on [0, 32]
    assert min(draws) < 1.0 and max(draws) > 31.0
    assert 14.0 < sum(draws) / len(draws) < 18.0


def test_a_seeded_rng_makes_delays_reproducible() -> None:
    first = [Backoff(random.Random(42)).delay(n) for n in range(6)]
    again = [Backoff(random.Random(42)).delay(n) for n in range(6)]
    assert first == again
    assert first[0] == random.Random(42).uniform(0.0, 1.0)


def test_after_places_the_retry_and_gives_up_after_max_attempts() -> None:
    b = Backoff(random.Random(3), max_attempts=2)
    r = b.after(0, 100.0)
    assert isinstance(r, RetryAt) and 100.0 <= r.t <= 101.0 and r.attempt == 0
    assert isinstance(b.after(1, 100.0), RetryAt)
    assert b.after(2, 100.0) == GiveUp(attempts=2)
    assert isinstance(Backoff(random.Random(3)).after(500, 0.0), RetryAt)  # no limit by default


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        Backoff(random.Random(), base=0)
    with pytest.raises(ValueError):
        Backoff(random.Random()).ceiling(-1)
    assert repr(Backoff(random.Random())) == "<Backoff base=1.0s cap=60.0s max_attempts=None>"
