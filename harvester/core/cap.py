"""The monthly Post cap: how many capped Post reads are left, and until when a cap 429 holds.

Theory of operation
-------------------
Pay-per-use projects may read at most 3,000,000 Posts per billing cycle (x-api-spec.md §6.1;
2M before 2026-08-13). Above it X answers ``429`` with a ``usage-capped`` problem (§2.3), which is
not a rate limit: waiting for the window does nothing. On pay-per-use every Post read route
counts (``Endpoint.capped``); the older tiers counted only recent search and the filtered stream
(``Endpoint.legacy_capped``). Which routes count is configuration (:class:`CapConfig`).

Rule 1, count locally, trust the larger. :meth:`CapTracker.record` adds the Posts each capped
page returned. ``GET /2/usage/tweets`` (§4) may lag or leave pay-per-use reads out, so
:meth:`CapTracker.observe_usage` only ever *raises* the count (``max(local, remote)``) and only
ever *lowers* the cap (``min(config, remote)``). Its counts arrive as JSON strings; both strings
and ints are accepted.

Rule 2, never assume the cap resets sooner than it may. The period ends at the billing cycle's
end (``cycle_start_day``). ``cap_reset_day`` from the usage endpoint is documented as "days left"
but observed values look like a day of the month (§4, UNCONFIRMED); the tracker computes both
readings and keeps the **later** reset, and never moves a known reset earlier. A later reset
only stops capped jobs longer than needed; an earlier one would send requests into 429s.

Rule 3, a cap stops only capped routes. After :meth:`CapTracker.on_usage_capped` the capped
routes are refused until the reset (a ``Daily`` cap: 24 h from now, later than any midnight);
user lookups and followers/following go on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from harvester.core.budget import cycle_bounds
from harvester.core.endpoints import ENDPOINTS

DEFAULT_POST_CAP = 3_000_000  # per billing cycle on pay-per-use, §6.1
DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CapConfig:
    """Which reads count toward the Post cap, and how many are allowed.

    Attributes:
        limit: Posts per billing cycle.
        routes: route templates that count; None means every endpoint with ``capped`` (or, with
            ``legacy``, with ``legacy_capped``) in the endpoints table.
        legacy: the older tiers' rule (recent search and filtered stream only).
        cycle_start_day: the billing cycle's first day (1..28, 00:00 UTC), as in ``Budget``.
    """

    limit: int = DEFAULT_POST_CAP
    routes: frozenset[str] | None = None
    legacy: bool = False
    cycle_start_day: int = 1

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError(f"cap limit must be >= 0, got {self.limit}")
        if not 1 <= self.cycle_start_day <= 28:
            raise ValueError(f"cycle_start_day must be 1..28, got {self.cycle_start_day}")

    def counted_routes(self) -> frozenset[str]:
        if self.routes is not None:
            return self.routes
        return frozenset(r for r, e in ENDPOINTS.items() if (e.legacy_capped if self.legacy else e.capped))


@dataclass(frozen=True, slots=True, kw_only=True)
class CapStatus:
    """A snapshot for ``harvester status``."""

    used: int
    cap: int
    remaining: int
    resets_at: float
    capped_until: float | None
    routes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "used": self.used,
            "cap": self.cap,
            "remaining": self.remaining,
            "resets_at": self.resets_at,
            "capped_until": self.capped_until,
            "routes": list(self.routes),
        }


def _to_int(value: str | int, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a count, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}: not a count: {value!r}") from None


def _midnight(dt: datetime) -> datetime:
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)


def reset_candidates(now: float, cap_reset_day: int) -> list[float]:
    """Both readings of ``cap_reset_day`` as epoch seconds (00:00 UTC).

    "Days left": today's midnight plus that many days. "Day of month": the next date strictly
    after today with that day number (months without it are skipped, not clamped: later is
    safer). Out-of-range days give only the first reading.
    """
    today = _midnight(datetime.fromtimestamp(now, tz=UTC))
    out = [(today + timedelta(days=max(cap_reset_day, 0))).timestamp()]
    if 1 <= cap_reset_day <= 31:
        y, m = today.year, today.month
        if today.day >= cap_reset_day:
            y, m = y + m // 12, m % 12 + 1
        for _ in range(12):
            try:
                out.append(datetime(y, m, cap_reset_day, tzinfo=UTC).timestamp())
                break
            except ValueError:  # this month has no such day
                y, m = y + m // 12, m % 12 + 1
    return out


class CapTracker:
    """Counts capped Post reads in the current cap period and refuses what would exceed it."""

    def __init__(self, config: CapConfig | None = None) -> None:
        self.config = config or CapConfig()
        self._routes = self.config.counted_routes()
        self._cap = self.config.limit
        self._used = 0
        self._reset_at: float | None = None
        self._capped_until: float | None = None
        self._held = 0  # Posts requests in flight may still return (this process)
        self._held_elsewhere = 0  # the same, for other processes sharing the cap

    def counts(self, route: str) -> bool:
        """Whether reads on ``route`` count toward the cap."""
        return route in self._routes

    def record(self, now: float, route: str, posts: int) -> None:
        """Add the Posts a page of ``route`` returned (``meta.result_count``)."""
        self._advance(now)
        if self.counts(route):
            self._used += max(posts, 0)

    def hold(self, route: str, posts: int) -> int:
        """Count a request in flight at its largest size until :meth:`unhold`; returns what it
        held (0 on a route the cap does not count), to pass back to :meth:`unhold`."""
        held = max(posts, 0) if self.counts(route) else 0
        self._held += held
        return held

    def unhold(self, held: int) -> None:
        r"""The request behind :meth:`hold` ended (its Posts, if any, were :meth:`record`\ ed)."""
        self._held = max(0, self._held - held)

    def at_least(self, now: float, used: int) -> None:
        """Raise this period's count to ``used`` if it is higher (e.g. rebuilt from the ledger)."""
        self._advance(now)
        self._used = max(self._used, used)

    def set_held_elsewhere(self, posts: int) -> None:
        """Posts other processes' requests in flight may still return."""
        self._held_elsewhere = max(0, posts)

    def observe_usage(
        self, now: float, project_usage: str | int, project_cap: str | int, cap_reset_day: int
    ) -> None:
        """Fold in ``GET /2/usage/tweets``: the larger usage, the smaller cap, the later reset."""
        self._advance(now)
        self._used = max(self._used, _to_int(project_usage, "project_usage"))
        self._cap = min(self._cap, _to_int(project_cap, "project_cap"))
        assert self._reset_at is not None
        self._reset_at = max([self._reset_at, *reset_candidates(now, cap_reset_day)])

    def allows(self, route: str, now: float, max_results: int) -> bool:
        """Whether a request of up to ``max_results`` Posts on ``route`` stays under the cap."""
        if not self.counts(route):
            return True
        self._advance(now)
        if self._capped_until is not None:
            return False
        return self._used + self._held + self._held_elsewhere + max_results <= self._cap

    def remaining(self, now: float) -> int:
        """Capped Posts left in this period (0 while capped)."""
        self._advance(now)
        if self._capped_until is not None:
            return 0
        return max(self._cap - self._used, 0)

    def on_usage_capped(self, now: float, period: str = "Monthly") -> None:
        """X said ``usage-capped``: refuse capped routes until the reset.

        ``period`` is the problem's ``period``: ``Daily`` holds 24 h; anything else (``Monthly``,
        missing, unknown) holds until the cap period ends.
        """
        self._advance(now)
        until = now + DAY_SECONDS if period == "Daily" else self.resets_at(now)
        self._capped_until = max(until, self._capped_until or until)
        if period != "Daily":
            self._used = max(self._used, self._cap)

    def resets_at(self, now: float) -> float:
        """When the current cap period ends (the latest plausible reset)."""
        self._advance(now)
        assert self._reset_at is not None
        return self._reset_at

    def status(self, now: float) -> CapStatus:
        self._advance(now)
        assert self._reset_at is not None
        return CapStatus(
            used=self._used,
            cap=self._cap,
            remaining=self.remaining(now),
            resets_at=self._reset_at,
            capped_until=self._capped_until,
            routes=tuple(sorted(self._routes)),
        )

    def export_state(self) -> dict[str, Any]:
        return {
            "version": 1,
            "used": self._used,
            "cap": self._cap,
            "reset_at": self._reset_at,
            "capped_until": self._capped_until,
        }

    @classmethod
    def load_state(cls, config: CapConfig, state: Mapping[str, Any]) -> CapTracker:
        if state.get("version") != 1:
            raise ValueError(f"unknown cap state version {state.get('version')!r}")
        tracker = cls(config)
        tracker._used = int(state["used"])
        tracker._cap = min(config.limit, int(state["cap"]))
        tracker._reset_at = None if state["reset_at"] is None else float(state["reset_at"])
        tracker._capped_until = None if state["capped_until"] is None else float(state["capped_until"])
        return tracker

    def __repr__(self) -> str:
        capped = f" capped_until={self._capped_until}" if self._capped_until is not None else ""
        return f"<CapTracker used={self._used}/{self._cap} resets_at={self._reset_at}{capped}>"

    def _advance(self, now: float) -> None:
        if self._reset_at is None:
            self._reset_at = cycle_bounds(now, self.config.cycle_start_day)[1]
        if self._capped_until is not None and now >= self._capped_until:
            self._capped_until = None
        if now >= self._reset_at:
            # A new period. Its end is the later of the configured cycle's end and one month
            # after the reset just passed (a reset learnt from X keeps its day of month).
            passed = datetime.fromtimestamp(self._reset_at, tz=UTC)
            y, m = passed.year + passed.month // 12, passed.month % 12 + 1
            try:
                month_later = datetime(y, m, passed.day, tzinfo=UTC).timestamp()
            except ValueError:  # e.g. Jan 31 -> Mar 1, later is safer
                month_later = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC).timestamp()
            self._reset_at = max(cycle_bounds(now, self.config.cycle_start_day)[1], month_later)
            while self._reset_at <= now:  # a long gap: several periods passed
                self._reset_at = cycle_bounds(self._reset_at, self.config.cycle_start_day)[1]
            self._used = 0
            self._cap = self.config.limit


__all__ = ["DEFAULT_POST_CAP", "CapConfig", "CapStatus", "CapTracker", "reset_candidates"]
