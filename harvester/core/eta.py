"""How long the work left will take at the rate limits: the progress view's ETA, sans I/O.

A bucket with ``remaining`` requests to send, ``available`` grants left in its current window,
``limit`` per window of ``window`` seconds and its reset ``reset_in`` seconds away (None:
unknown) needs: nothing but latency if what is left fits the window; else the time to the reset
plus one window per further ``limit`` requests, the last window's share sent at its start. The
run's ETA is the slowest bucket's; a job whose volume is unknown makes it a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Eta:
    """Seconds until the known work is sent; ``at_least``: some job's volume is unknown."""

    seconds: float
    at_least: bool

    def describe(self) -> str:
        if self.seconds < 1:
            text = "under a second"
        elif self.seconds < 90:
            text = f"{self.seconds:.0f}s"
        elif self.seconds < 5400:
            text = f"{self.seconds / 60:.0f} min"
        else:
            text = f"{self.seconds / 3600:.1f} h"
        return ("at least " if self.at_least else "") + text


def bucket_seconds(remaining: int, available: int, limit: int, window: float, reset_in: float | None) -> float:
    """Seconds a bucket needs for ``remaining`` requests (latency aside)."""
    if remaining <= available:
        return 0.0
    later = remaining - available
    first = reset_in if reset_in is not None and reset_in > 0 else window
    return first + (math.ceil(later / max(limit, 1)) - 1) * window


def run_eta(buckets: list[tuple[int, int, int, float, float | None]], unknown: bool) -> Eta:
    """The slowest of ``buckets`` (each ``(remaining, available, limit, window, reset_in)``)."""
    return Eta(seconds=max((bucket_seconds(*b) for b in buckets), default=0.0), at_least=unknown)
