"""Retry delays for transient failures: capped exponential backoff with full jitter.

Theory of operation
-------------------
Used for what the rate-limit headers cannot explain: a 429 without headers, 5xx, timeouts and
dropped connections (``core.classify.Retryable``). Attempt ``n`` (0 for the first retry) waits
``rng.uniform(0, min(cap, base * 2**n))`` seconds: "full jitter", so workers that failed together
do not retry together. The random source is injected (a ``random.Random``), so tests are
deterministic, and ``now`` is an argument: nothing here sleeps or reads a clock.

A 429 that *has* headers never comes here: the engine (``core.ratelimit``) waits for the reset.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_MAX_EXPONENT = 62  # 2**62 s dwarfs any cap; avoids float overflow for absurd attempts


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryAt:
    """Retry at ``t`` (epoch seconds); ``attempt`` is the attempt this delay was drawn for."""

    t: float
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GiveUp:
    """Stop retrying: ``attempts`` retries were already spent."""

    attempts: int


RetryDecision = RetryAt | GiveUp


class Backoff:
    """Capped exponential backoff with full jitter and an injected RNG.

    Args:
        rng: the random source (``random.Random(seed)`` in tests).
        base: the first ceiling, seconds (attempt 0 draws from ``[0, base]``).
        cap: no delay exceeds this.
        max_attempts: :meth:`after` gives up once this many retries were made (None: never).
    """

    __slots__ = ("base", "cap", "max_attempts", "rng")

    def __init__(
        self, rng: random.Random, *, base: float = 1.0, cap: float = 60.0, max_attempts: int | None = None
    ) -> None:
        if base <= 0 or cap <= 0:
            raise ValueError("base and cap must be > 0")
        if max_attempts is not None and max_attempts < 0:
            raise ValueError("max_attempts must be >= 0")
        self.rng = rng
        self.base = base
        self.cap = cap
        self.max_attempts = max_attempts

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt ``attempt`` can draw: ``min(cap, base * 2**attempt)``."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        return min(self.cap, self.base * 2.0 ** min(attempt, _MAX_EXPONENT))

    def delay(self, attempt: int) -> float:
        """A delay in ``[0, ceiling(attempt)]``, drawn from the injected RNG."""
        return self.rng.uniform(0.0, self.ceiling(attempt))

    def after(self, attempt: int, now: float) -> RetryDecision:
        """When to retry after failed attempt number ``attempt`` (0-based), or give up."""
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return GiveUp(attempts=attempt)
        return RetryAt(t=now + self.delay(attempt), attempt=attempt)

    def __repr__(self) -> str:
        return f"<Backoff base={self.base}s cap={self.cap}s max_attempts={self.max_attempts}>"
