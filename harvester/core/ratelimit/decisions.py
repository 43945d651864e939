"""What a bucket answers: grant tickets, waits with reasons, and figures for status."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from harvester.core.classify import AuthKind

Pacing = Literal["auto", "spread", "burst"]
LimitKind = Literal["window", "per_second", "daily", "cap"]
"""Which limit a 429 hit, as ``core.classify`` read it (the bucket does not guess)."""


class WaitReason(StrEnum):
    """Why a bucket said wait: stable names for logs and metrics."""

    WINDOW = "window_exhausted"  # the header window has nothing left until its reset
    DAILY = "daily_exhausted"  # a 24-hour bucket has nothing left
    SLIDING = "window_guard"  # one window's limit already granted within window + latency
    PER_SECOND = "per_second"  # the per-second limiter's gap
    HOLD = "rate_limited"  # a 429 told us to pause
    DENYLIST = "denylist_guard"  # repeated window 429s: stopped for the rest of the window


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    """A granted request. Settle it exactly once: ``observe`` or ``cancel``."""

    route: str
    auth: str
    id: int
    granted_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Send the request now; settle ``ticket`` when it ends."""

    ticket: Ticket


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitUntil:
    """Do not send before ``t`` (local epoch seconds). ``detail`` is for humans."""

    t: float
    reason: WaitReason
    detail: str


Decision = Send | WaitUntil


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketFigures:
    """One bucket's live figures, for ``harvester status`` and metrics.

    Attributes:
        remaining, reset: the header window's estimate (settled requests only) and its reset
            (server epoch seconds); None while the window is unknown.
        available: how many grants the bucket would allow now, all ledgers considered
            (spacing rules aside).
        sent, rejected: grants settled as sent, and 429s seen, over the bucket's life.
        daily_remaining, daily_reset: the tightest known 24-hour bucket, if any.
        stopped_until: end of a denylist-guard stop or a 429 hold, if one is active.
        window: the window length in use: learned from the headers, else the prior.
        window_learned: whether ``window`` was learned from this bucket's own headers.
        min_gap: seconds kept between two grants (a known or learned per-second limiter).
        pace: seconds the pacer keeps between sends now (0: none), and ``demand``: tasks queued.
    """

    route: str
    auth: str
    auth_kind: AuthKind
    limit: int
    remaining: int | None
    reset: float | None
    available: int
    in_flight: int
    sent: int
    rejected: int
    daily_remaining: int | None
    daily_reset: float | None
    stopped_until: float | None
    window: float
    window_learned: bool
    min_gap: float
    pace: float = 0.0
    demand: int = 0
