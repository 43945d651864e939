"""The budget's values: limits, billing cycles, decisions, settled entries and status figures.

The rules are in the package docstring (``harvester.core.budget``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from harvester.core.endpoints import Resource
from harvester.core.pricing import (
    Key,
    micros_to_usd,
)

DAY_SECONDS = 86_400.0

Limit = Literal["run", "cycle", "balance", "credits"]


# --- calendar ------------------------------------------------------------------------------


def _month_start(year: int, month: int, day: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, day, tzinfo=UTC)


def cycle_bounds(now: float, cycle_start_day: int) -> tuple[float, float]:
    """The billing cycle holding ``now``: ``[start, end)`` in epoch seconds.

    A cycle starts at 00:00 UTC on ``cycle_start_day`` (1..28, so every month has it) and ends
    where the next starts. With day 15, 2026-03-10 lies in [Feb 15, Mar 15).
    """
    if not 1 <= cycle_start_day <= 28:
        raise ValueError(f"cycle_start_day must be 1..28, got {cycle_start_day}")
    dt = datetime.fromtimestamp(now, tz=UTC)
    month = dt.month if dt.day >= cycle_start_day else dt.month - 1
    start = _month_start(dt.year, month, cycle_start_day)
    end = _month_start(dt.year, month + 1, cycle_start_day)
    return start.timestamp(), end.timestamp()


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoRecharge:
    """The account's auto-recharge settings, as configured in the developer console.

    Attributes:
        threshold_usd: a recharge triggers when the balance falls below this.
        amount_usd: added per recharge (xAI's console requires at least $25; not enforced here,
            since X's pricing page names no minimum).
        max_per_day: recharges in any rolling 24 h (xAI: 5).
        max_per_month_usd: total recharged per billing cycle (None: no maximum). Neither X nor
            xAI says which month; the billing cycle is used, which is the calendar month when
            ``cycle_start_day`` is 1.
        min_interval_seconds: spacing between recharges (X: at most once per 5 minutes).
        delay_seconds: how long after the trigger the money is assumed to be there; X documents
            no figure, so the model waits a minute rather than assume an instant top-up.
    """

    threshold_usd: float
    amount_usd: float
    max_per_day: int = 5
    max_per_month_usd: float | None = None
    min_interval_seconds: float = 300.0
    delay_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.amount_usd <= 0 or self.threshold_usd < 0:
            raise ValueError("auto_recharge: amount must be > 0 and threshold >= 0")
        if self.max_per_day < 1 or self.min_interval_seconds < 0 or self.delay_seconds < 0:
            raise ValueError("auto_recharge: max_per_day >= 1, intervals >= 0")
        if self.max_per_month_usd is not None and self.max_per_month_usd < self.amount_usd:
            raise ValueError("auto_recharge: max_per_month_usd is below one recharge")


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """Money limits, from config (USD floats; the ledger converts to micro-dollars).

    Attributes:
        max_usd_per_run: spend allowed for one run id (None: no run budget).
        spending_limit_usd: the account's spending limit per billing cycle (None: none set).
        cycle_start_day: day of month (1..28) at 00:00 UTC when a billing cycle starts.
        balance_usd: prepaid balance (None: not tracked), as of ``balance_at``.
        balance_at: epoch seconds the balance was read; charges settled before it are already
            reflected in it (None: it predates every charge the ledger sees).
        warn_at: fractions of each limit at which a warning is due, each reported once.
        auto_recharge: the account's auto-recharge settings (None: off).
    """

    max_usd_per_run: float | None = None
    spending_limit_usd: float | None = None
    cycle_start_day: int = 1
    balance_usd: float | None = None
    balance_at: float | None = None
    warn_at: tuple[float, ...] = (0.8,)
    auto_recharge: AutoRecharge | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.cycle_start_day <= 28:
            raise ValueError(f"cycle_start_day must be 1..28, got {self.cycle_start_day}")
        for name in ("max_usd_per_run", "spending_limit_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if any(not 0 < f <= 1 for f in self.warn_at):
            raise ValueError(f"warn_at fractions must be in (0, 1], got {self.warn_at}")


# --- decisions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    """A reservation in flight: ``micros`` is held until settled or cancelled."""

    id: int
    job: str
    route: str
    micros: int
    size: int
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Proceed:
    """Send the request as quoted; settle or cancel ``ticket`` afterwards."""

    ticket: Ticket


@dataclass(frozen=True, slots=True, kw_only=True)
class Shrink:
    """Send with ``max_results`` (or that many ids) instead; it is reserved under ``ticket``."""

    ticket: Ticket
    max_results: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait:
    """Not now: try again after another request settles (``until`` None) or at ``until``."""

    reason: str
    until: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """A limit is reached; nothing is reserved. An expected end, not an error.

    ``resumes_at`` is when the limit lifts by itself (a new billing cycle), None if never.
    """

    reason: str
    limit: Limit
    resumes_at: float | None = None


Decision: TypeAlias = Proceed | Shrink | Wait | Stop


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetWarning:
    """A threshold crossed, reported once.

    Attributes:
        key: stable identity (``run:0.8``, ``cycle:2026-03-01:0.8``, ``recharge_month:…``,
            ``recharge_day:<epoch>``); a key is never reported twice.
        limit: ``run``, ``cycle``, ``recharge_month`` or ``recharge_day``.
        message: one line for the log and ``harvester status``.
        at: when it became due.
    """

    key: str
    limit: str
    message: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One settled charge, as persisted (one row of the store's ledger table).

    Attributes:
        at: settle time (epoch seconds). run, job, route: who spent it.
        day: the UTC day of the charge (its dedup window).
        micros: actual cost. reserved: the worst case held for it (0 if unknown).
        keys: resources newly charged that day, ``(kind, id)``.
        posts: Posts the response returned on a route that counts toward the monthly cap, so
            that hosts sharing one store can rebuild each other's cap use from the ledger.
    """

    at: float
    run: str
    job: str
    route: str
    day: str
    micros: int
    reserved: int = 0
    keys: tuple[Key, ...] = ()
    posts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "run": self.run,
            "job": self.job,
            "route": self.route,
            "day": self.day,
            "micros": self.micros,
            "reserved": self.reserved,
            "keys": [[str(k), i] for k, i in self.keys],
            "posts": self.posts,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LedgerEntry:
        return cls(
            at=float(d["at"]),
            run=str(d["run"]),
            job=str(d["job"]),
            route=str(d["route"]),
            day=str(d["day"]),
            micros=int(d["micros"]),
            reserved=int(d.get("reserved", 0)),
            keys=tuple((Resource(k), str(i)) for k, i in d.get("keys", ())),
            posts=int(d.get("posts", 0)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitStatus:
    """One limit's figures in micro-dollars (``remaining`` excludes in-flight reservations)."""

    limit: int
    spent: int
    remaining: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetStatus:
    """A snapshot for ``harvester status --json`` (:meth:`to_json` gives USD floats)."""

    now: float
    run: str
    day: str
    cycle_start: float
    cycle_end: float
    spent_run: int
    spent_today: int
    spent_cycle: int
    in_flight: int
    in_flight_count: int
    run_limit: LimitStatus | None
    cycle_limit: LimitStatus | None
    balance: int | None
    recharges_24h: int
    recharged_cycle: int
    next_recharge_at: float | None
    by_endpoint: Mapping[str, int]
    by_job: Mapping[str, int]
    overruns: int
    credits_depleted: str | None
    warnings: tuple[BudgetWarning, ...]

    def to_json(self) -> dict[str, Any]:
        def lim(s: LimitStatus | None) -> dict[str, float] | None:
            if s is None:
                return None
            return {
                "limit_usd": micros_to_usd(s.limit),
                "spent_usd": micros_to_usd(s.spent),
                "remaining_usd": micros_to_usd(s.remaining),
            }

        return {
            "run": self.run,
            "day": self.day,
            "cycle_start": self.cycle_start,
            "cycle_end": self.cycle_end,
            "spent_run_usd": micros_to_usd(self.spent_run),
            "spent_today_usd": micros_to_usd(self.spent_today),
            "spent_cycle_usd": micros_to_usd(self.spent_cycle),
            "in_flight_usd": micros_to_usd(self.in_flight),
            "in_flight_requests": self.in_flight_count,
            "run_budget": lim(self.run_limit),
            "spending_limit": lim(self.cycle_limit),
            "balance_usd": None if self.balance is None else micros_to_usd(self.balance),
            "recharges_24h": self.recharges_24h,
            "recharged_cycle_usd": micros_to_usd(self.recharged_cycle),
            "next_recharge_at": self.next_recharge_at,
            "by_endpoint_usd": {k: micros_to_usd(v) for k, v in sorted(self.by_endpoint.items())},
            "by_job_usd": {k: micros_to_usd(v) for k, v in sorted(self.by_job.items())},
            "overruns": self.overruns,
            "credits_depleted": self.credits_depleted,
            "warnings": [
                {"key": w.key, "limit": w.limit, "message": w.message, "at": w.at} for w in self.warnings
            ],
        }


# --- the ledger ----------------------------------------------------------------------------
