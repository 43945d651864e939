"""When to reconnect the stream: X's rules (x-api-spec.md §5, tweepy's figures).

- A connection that worked (HTTP 200) and then ended (a drop, a stall, a disconnect message):
  reconnect at once.
- Network errors (no HTTP answer): back off linearly, +250 ms per attempt, at most 16 s.
- HTTP errors: exponentially from 5 s, doubling, at most 320 s.
- HTTP 429: exponentially from 60 s, doubling (each 429 lengthens the wait).

Each class counts its own consecutive failures; a 200 resets them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

NETWORK_STEP, NETWORK_MAX = 0.25, 16.0
HTTP_START, HTTP_MAX = 5.0, 320.0
RATE_LIMIT_START = 60.0


class Failure(StrEnum):
    """How a connection ended or failed."""

    ENDED = "ended"  # a working connection ended (drop, stall or a disconnect message)
    NETWORK = "network"  # no HTTP answer at all
    HTTP = "http"  # a 5xx or another retryable status
    RATE_LIMIT = "rate_limit"  # a 429 on connect


def backoff(failure: Failure, attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th (1-based) consecutive ``failure``."""
    n = max(attempt, 1)
    if failure is Failure.ENDED:
        return 0.0
    if failure is Failure.NETWORK:
        return min(NETWORK_STEP * n, NETWORK_MAX)
    if failure is Failure.HTTP:
        return min(HTTP_START * 2.0 ** (n - 1), HTTP_MAX)
    return RATE_LIMIT_START * 2.0 ** min(n - 1, 20)


@dataclass
class ReconnectPolicy:
    """Consecutive failures per class since the last 200, and the wait they call for."""

    counts: dict[Failure, int] = field(default_factory=dict)
    total: dict[Failure, int] = field(default_factory=dict)  # every reconnect by class, for status

    def connected(self) -> None:
        """A 200: the next failure starts its class's back-off from the beginning."""
        self.counts.clear()

    def failed(self, failure: Failure) -> float:
        """Count ``failure``; returns the seconds to wait before the next connect."""
        self.total[failure] = self.total.get(failure, 0) + 1
        if failure is Failure.ENDED:
            self.counts.clear()
            return 0.0
        n = self.counts[failure] = self.counts.get(failure, 0) + 1
        return backoff(failure, n)
