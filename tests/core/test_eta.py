"""The ETA: what fits the window goes now; the rest waits for resets."""

from __future__ import annotations

from harvester.core.eta import Eta, bucket_seconds, run_eta


def test_what_fits_the_window_needs_no_wait() -> None:
    assert bucket_seconds(remaining=16, available=449, limit=450, window=900.0, reset_in=600.0) == 0.0


def test_the_rest_waits_for_the_reset_and_a_window_per_limit() -> None:
    # 10 left in this window (reset in 100 s), then 25 more at 10 a window: reset + 2 more windows
    assert bucket_seconds(remaining=35, available=10, limit=10, window=900.0, reset_in=100.0) == 100.0 + 2 * 900.0
    assert bucket_seconds(remaining=11, available=0, limit=10, window=60.0, reset_in=None) == 60.0 + 60.0


def test_the_run_waits_for_its_slowest_bucket_and_says_when_it_is_a_lower_bound() -> None:
    eta = run_eta([(5, 5, 10, 60.0, 10.0), (30, 0, 10, 60.0, 10.0)], unknown=True)
    assert eta == Eta(seconds=130.0, at_least=True)
    assert eta.describe() == "at least 2 min"
    assert run_eta([], unknown=False).describe() == "under a second"
