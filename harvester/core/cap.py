"""The monthly Post cap: the server's count is the truth, the local one an estimate.

Theory of operation
-------------------
Pay-per-use projects may read at most 3,000,000 Posts per billing cycle (x-api-spec.md §6.1).
Above it X answers ``429`` with a ``usage-capped`` problem (§2.3), which is not a rate limit:
waiting for the window does nothing. Which routes X counts is not certain (every Post read on
pay-per-use; recent search and the stream on older tiers, ``Endpoint.legacy_capped``), and
``GET /2/usage/tweets`` (free, §4) says what X counted. So:

Rule 1, the server decides, the local count estimates. The local count is the Posts the
configured routes (``[cap] capped_endpoints``) returned this period, rebuilt from the ledger at
start (so changing which routes count changes the count at once). After a read of
``/2/usage/tweets`` the estimate is *the server's figure plus what the configured routes
returned since that read*. When the estimate says a request does not fit, the tracker does not
park on its own word: it asks for a fresh read (:class:`Verify`), and only the server's answer
(its usage >= its cap) or a ``usage-capped`` 429 parks capped work (until the period ends). If
the server cannot be asked (no app token, the endpoint failing) the estimate decides, on the safe
side. Counts arrive as JSON strings; strings and ints are accepted.

Rule 1b, learn which routes the server counts. Between two reads the tracker knows how many
Posts each configured route returned; when exactly one set of routes explains how much the
server's count grew, the routes outside it are not counted by the server: they leave the
estimate, and the server's cap no longer stops them (a ``usage-capped`` 429 on a route marks
it counted). So a harvest whose configured routes are wider than the server's is not stopped
early, and one whose routes are narrower still stops at the server's word.

Rule 2, shrink before parking. A request that does not fit whole is sent with ``max_results``
cut to the room left (within the endpoint's bounds), as the budget does with money.

Rule 3, never assume the cap resets sooner than it may. The period ends at the billing cycle's
end (``cycle_start_day``). ``cap_reset_day`` from the usage endpoint is documented as "days left"
but observed values look like a day of the month (§4, UNCONFIRMED); the tracker computes both
readings and keeps the **later** reset, and never moves a known reset earlier. A ``Daily`` cap
429 holds 24 hours.

Rule 4, a cap stops only capped routes: user lookups and followers/following go on.

Rule 5, say when the two counts disagree. After each read, when the server's count and the
local count for the period differ by more than 5 % (and 10 Posts), the tracker reports it once
(the shell logs it) and ``status`` shows both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from harvester.core.budget import cycle_bounds
from harvester.core.endpoints import ENDPOINTS

DEFAULT_POST_CAP = 3_000_000  # per billing cycle on pay-per-use, §6.1
DAY_SECONDS = 86_400.0
DISAGREE_FRACTION = 0.05
DISAGREE_MIN_POSTS = 10
VERIFY_INTERVAL = 1.0  # least time between two reads the estimate asks for (its bucket limits the rest)
FAILED_READ_PAUSE = 30.0  # after a failed read, the estimate waits this long before asking again
_STATE_VERSION = 2

DEFAULT_CAPPED_ENDPOINTS: tuple[str, ...] = tuple(r for r, e in ENDPOINTS.items() if e.capped)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapConfig:
    """``[cap]``: how many Posts a billing cycle allows, which routes count, how often to ask X.

    Attributes:
        monthly_posts: Posts per billing cycle (the server's ``project_cap`` wins if smaller).
        capped_endpoints: route templates whose Posts the local estimate counts.
        usage_poll_seconds: how often a long run re-reads ``GET /2/usage/tweets``.
    """

    monthly_posts: int = DEFAULT_POST_CAP
    capped_endpoints: tuple[str, ...] = DEFAULT_CAPPED_ENDPOINTS
    usage_poll_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.monthly_posts < 0:
            raise ValueError(f"monthly_posts must be >= 0, got {self.monthly_posts}")
        if self.usage_poll_seconds <= 0:
            raise ValueError(f"usage_poll_seconds must be > 0, got {self.usage_poll_seconds}")

    @classmethod
    def legacy(cls, **kw: Any) -> CapConfig:
        """The older tiers' rule: recent search (and the stream) only."""
        routes = tuple(r for r, e in ENDPOINTS.items() if e.legacy_capped)
        return cls(capped_endpoints=routes, **kw)


# --- decisions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Allow:
    """Send; ``size`` is the request's size (cut to the room left when it did not fit whole)."""

    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Verify:
    """The estimate says no, but the server has not been asked since it changed: read
    ``GET /2/usage/tweets`` (:meth:`CapTracker.observe_usage`), then ask again."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    """Not now. ``until``: when to ask again; ``final``: the server said the cap is reached
    (or nothing else can be learnt before ``until``), so capped work waits for that."""

    until: float
    reason: str
    final: bool


CapDecision = Allow | Verify | Hold


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerUsage:
    """One read of ``GET /2/usage/tweets``: what X counted, and when it was read."""

    at: float
    used: int
    cap: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CapStatus:
    """A snapshot for ``harvester status`` and the stop line."""

    used: int  # the estimate decisions use
    local: int  # the configured routes' Posts this period, counted here
    server_used: int | None
    server_cap: int | None
    server_read_at: float | None
    cap: int
    remaining: int
    resets_at: float
    capped_until: float | None
    disagrees: bool
    routes: tuple[str, ...]
    uncounted: tuple[str, ...] = ()  # configured routes the server showed it does not count

    def to_json(self) -> dict[str, Any]:
        return {
            "used": self.used, "local": self.local, "server_used": self.server_used,
            "server_cap": self.server_cap, "server_read_at": self.server_read_at, "cap": self.cap,
            "remaining": self.remaining, "resets_at": self.resets_at, "capped_until": self.capped_until,
            "disagrees": self.disagrees, "routes": list(self.routes), "uncounted": list(self.uncounted),
        }  # fmt: skip

    def describe(self) -> str:
        """The counts in words: ``4,980 of 5,000 Posts (server 4,980 at …; local 5,010)``."""
        server = "not read" if self.server_used is None else f"{self.server_used:,}"
        return f"{self.used:,} of {self.cap:,} Posts used (server: {server}; local count: {self.local:,})"


def _to_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
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
    """The period's Post reads: the server's last word, what was read since, what is in flight."""

    def __init__(self, config: CapConfig | None = None, cycle_start_day: int = 1) -> None:
        if not 1 <= cycle_start_day <= 28:
            raise ValueError(f"cycle_start_day must be 1..28, got {cycle_start_day}")
        self.config = config or CapConfig()
        self.cycle_start_day = cycle_start_day
        self._routes = frozenset(self.config.capped_endpoints)
        self._local = 0  # the configured routes' Posts this period
        self._since: dict[str, int] = {}  # the configured routes' Posts since the server's last read
        self._uncounted: set[str] = set()  # configured routes the server showed it does not count
        self._server: ServerUsage | None = None
        self._reset_at: float | None = None
        self._capped_until: float | None = None
        self._held = 0  # Posts requests in flight may still return (this process)
        self._held_elsewhere = 0  # the same, for other processes sharing the cap
        self._verify_after = float("-inf")  # no read forced by the estimate before this
        self._verify_pending = False  # a read was asked for and has not come back
        self.can_verify = True  # the shell can read /2/usage/tweets (an app token exists)
        self._disagreement_told = False

    # -- counting -----------------------------------------------------------------------------

    def counts(self, route: str) -> bool:
        """Whether reads on ``route`` count toward the local count (``capped_endpoints``)."""
        return route in self._routes

    def server_counts(self, route: str) -> bool:
        """Whether ``route`` counts as far as decisions go: configured, and not shown uncounted."""
        return route in self._routes and route not in self._uncounted

    @property
    def _since_read(self) -> int:
        return sum(n for route, n in self._since.items() if route not in self._uncounted)

    def rebuild(self, now: float, entries: Iterable[tuple[float, str, int]]) -> None:
        """Set this period's local count from the ledger's ``(at, route, posts)`` rows (the
        configured routes only), e.g. at start: a saved count would outlive a change of routes."""
        self._advance(now)
        start = cycle_bounds(now, self.cycle_start_day)[0]
        self._local = sum(max(p, 0) for at, route, p in entries if at >= start and self.counts(route))

    def record(self, now: float, route: str, posts: int) -> None:
        """Add the Posts a page of ``route`` returned (another process's, or this one's)."""
        self._advance(now)
        if self.counts(route) and posts > 0:
            self._local += posts
            self._since[route] = self._since.get(route, 0) + posts

    def hold(self, route: str, posts: int) -> int:
        """Count a request in flight at its largest size until :meth:`unhold`; returns what it
        held (0 on a route the cap does not count), to pass back to :meth:`unhold`."""
        held = max(posts, 0) if self.counts(route) else 0
        self._held += held
        return held

    def unhold(self, held: int) -> None:
        r"""The request behind :meth:`hold` ended (its Posts, if any, were :meth:`record`\ ed)."""
        self._held = max(0, self._held - held)

    def set_held_elsewhere(self, posts: int) -> None:
        """Posts other processes' requests in flight may still return."""
        self._held_elsewhere = max(0, posts)

    # -- the server ---------------------------------------------------------------------------

    def observe_usage(self, now: float, project_usage: object, project_cap: object, cap_reset_day: object) -> str | None:
        """Fold in a read of ``GET /2/usage/tweets``; returns a line to log when the server's
        count and the local one disagree by more than 5 % (said once per period).

        Raises:
            TypeError, ValueError: a count that is not a count.
        """
        self._advance(now)
        used = _to_int(project_usage, "project_usage")
        cap = _to_int(project_cap, "project_cap")
        day = _to_int(cap_reset_day, "cap_reset_day") if cap_reset_day is not None else None
        previous = self._server
        if previous is not None:
            self._attribute(used - previous.used)
        self._server = ServerUsage(at=now, used=max(used, 0), cap=max(cap, 0))
        self._since = {}
        self._verify_pending = False
        if day is not None:
            assert self._reset_at is not None
            self._reset_at = max([self._reset_at, *reset_candidates(now, day)])
        diff = abs(used - self._local)
        if (not self._disagreement_told and diff > DISAGREE_MIN_POSTS
                and diff > DISAGREE_FRACTION * max(used, self._local)):
            self._disagreement_told = True
            return (f"the server counts {used:,} Posts this period, the local count is {self._local:,} "
                    f"(routes {', '.join(sorted(self._routes)) or 'none'}): following the server")
        return None

    def _attribute(self, grew: int) -> None:
        """Which routes the server counted since its last read: the one set of routes whose
        Posts add up to how much its count grew (none found, or several: nothing learnt)."""
        read = sorted(r for r, n in self._since.items() if n > 0)
        if not read or len(read) > 8:
            return
        fits = [subset for subset in _subsets(read) if sum(self._since[r] for r in subset) == grew]
        if len(fits) != 1:
            return
        counted = set(fits[0])
        self._uncounted |= set(read) - counted
        self._uncounted -= counted

    def usage_failed(self, now: float, retry_at: float | None = None) -> None:
        """A read of ``/2/usage/tweets`` failed, or could not be sent before ``retry_at`` (its
        bucket is closed): do not ask again before then (default: for a while)."""
        self._verify_after = retry_at if retry_at is not None else now + FAILED_READ_PAUSE
        self._verify_pending = False

    def usage_due(self, now: float) -> bool:
        """Whether a periodic read is due (every ``usage_poll_seconds``; at once if never read)."""
        self._advance(now)
        if not self.can_verify:
            return False
        return self._server is None or now >= self._server.at + self.config.usage_poll_seconds

    def usage_due_at(self) -> float | None:
        """When the next periodic read falls due (None: at once, or never without an app token)."""
        if self._server is None or not self.can_verify:
            return None
        return self._server.at + self.config.usage_poll_seconds

    def on_usage_capped(self, now: float, period: str = "Monthly", route: str | None = None) -> None:
        """X said ``usage-capped``: refuse capped routes until the reset.

        ``period`` is the problem's ``period``: ``Daily`` holds 24 h; anything else (``Monthly``,
        missing, unknown) holds until the cap period ends.
        """
        self._advance(now)
        until = now + DAY_SECONDS if period == "Daily" else self.resets_at(now)
        self._capped_until = max(until, self._capped_until or until)
        if route is not None:
            self._uncounted.discard(route)  # the server counts it: it just said so

    # -- the decision -------------------------------------------------------------------------

    def estimate(self, now: float) -> int:
        """The period's count decisions use: the server's last figure plus what was read since,
        or the local count if the server was never read this period."""
        self._advance(now)
        if self._server is None:
            return self._local
        return self._server.used + self._since_read

    def limit(self) -> int:
        """The cap: the configured one, or the server's if smaller."""
        if self._server is None:
            return self.config.monthly_posts
        return min(self.config.monthly_posts, self._server.cap)

    def admit(self, route: str, size: int, min_size: int, now: float) -> CapDecision:
        """May a request for up to ``size`` Posts on ``route`` go (``min_size``: the smallest
        size the endpoint accepts)?"""
        decision = self._decide(route, size, min_size, now)
        if isinstance(decision, Verify):
            self._verify_pending = True
            self._verify_after = now + VERIFY_INTERVAL
        return decision

    def _decide(self, route: str, size: int, min_size: int, now: float) -> CapDecision:
        """:meth:`admit`'s answer, without its side effects (so :meth:`blocked_until` can ask)."""
        if not self.server_counts(route):
            return Allow(size=size)
        self._advance(now)
        if self._capped_until is not None:
            return Hold(until=self._capped_until, reason="the server answered usage-capped", final=True)
        room = self.limit() - self.estimate(now) - self._held - self._held_elsewhere
        if room >= size:
            return Allow(size=size)
        if room >= max(min_size, 1):
            return Allow(size=room)
        if self._server is not None and self._server.used >= self._server.cap:
            return Hold(until=self.resets_at(now), reason="the server's count reached its cap", final=True)
        in_flight = self._held + self._held_elsewhere
        if in_flight and self.limit() - self.estimate(now) >= max(min_size, 1):
            return Hold(until=now + 1.0, reason="waiting for requests in flight to settle", final=False)
        stale = self._server is None or self._since_read > 0
        if stale and self.can_verify:
            if self._verify_pending or now >= self._verify_after:
                return Verify(reason=f"the local estimate leaves {max(room, 0):,} Posts, asking the server")
            return Hold(until=self._verify_after, reason="the local estimate is at the cap", final=False)
        if not self.can_verify:
            return Hold(until=self.resets_at(now), reason="the local estimate reached the cap", final=True)
        return Hold(until=self.resets_at(now),
                    reason=f"{max(room, 0):,} Posts left under the cap, the smallest request asks for {min_size}",
                    final=True)

    def blocked_until(self, route: str, now: float) -> float | None:
        """Until when capped work on ``route`` waits for good (a final :class:`Hold` for its
        smallest request), or None: claims skip a blocked route's tasks, and the blocks agree
        with :meth:`admit`, so a released task is not claimed again only to be refused."""
        ep = ENDPOINTS.get(route)
        smallest = (ep.min_results or 1) if ep is not None else 1
        decision = self._decide(route, smallest, smallest, now)
        return decision.until if isinstance(decision, Hold) and decision.final else None

    def resets_at(self, now: float) -> float:
        """When the current cap period ends (the latest plausible reset)."""
        self._advance(now)
        assert self._reset_at is not None
        return self._reset_at

    def status(self, now: float) -> CapStatus:
        self._advance(now)
        assert self._reset_at is not None
        used = self.estimate(now)
        server = self._server
        diff = abs(server.used - self._local) if server is not None else 0
        return CapStatus(
            used=used,
            local=self._local,
            server_used=server.used if server else None,
            server_cap=server.cap if server else None,
            server_read_at=server.at if server else None,
            cap=self.limit(),
            remaining=0 if self._capped_until is not None else max(self.limit() - used, 0),
            resets_at=self._reset_at,
            capped_until=self._capped_until,
            disagrees=server is not None and diff > DISAGREE_MIN_POSTS
            and diff > DISAGREE_FRACTION * max(server.used, self._local),
            routes=tuple(sorted(self._routes)),
            uncounted=tuple(sorted(self._uncounted)),
        )

    # -- persistence ----------------------------------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """The server's last word and the holds it put on the period (the local count is not
        saved: it is rebuilt from the ledger)."""
        s = self._server
        return {
            "version": _STATE_VERSION,
            "server": None if s is None else {"at": s.at, "used": s.used, "cap": s.cap},
            "since": dict(self._since),
            "uncounted": sorted(self._uncounted),
            "reset_at": self._reset_at,
            "capped_until": self._capped_until,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`export_state` (a state of another version is ignored: the server is
        simply read again)."""
        if state.get("version") != _STATE_VERSION:
            return
        server = state.get("server")
        if isinstance(server, Mapping):
            self._server = ServerUsage(at=float(server["at"]), used=int(server["used"]), cap=int(server["cap"]))
            since = state.get("since")
            self._since = {str(k): int(v) for k, v in since.items()} if isinstance(since, Mapping) else {}
        uncounted = state.get("uncounted")
        if isinstance(uncounted, list):
            self._uncounted = {str(r) for r in uncounted} & self._routes
        self._reset_at = None if state.get("reset_at") is None else float(state["reset_at"])
        self._capped_until = None if state.get("capped_until") is None else float(state["capped_until"])

    def __repr__(self) -> str:
        capped = f" capped_until={self._capped_until}" if self._capped_until is not None else ""
        server = f" server={self._server.used}/{self._server.cap}" if self._server else ""
        return f"<CapTracker local={self._local}{server} since_read={self._since_read} resets_at={self._reset_at}{capped}>"

    # -- periods --------------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        if self._reset_at is None:
            self._reset_at = cycle_bounds(now, self.cycle_start_day)[1]
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
            self._reset_at = max(cycle_bounds(now, self.cycle_start_day)[1], month_later)
            while self._reset_at <= now:  # a long gap: several periods passed
                self._reset_at = cycle_bounds(self._reset_at, self.cycle_start_day)[1]
            self._local = 0
            self._since = {}
            self._server = None
            self._disagreement_told = False


def _subsets(items: list[str]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for item in items:
        out += [(*s, item) for s in out]
    return out


__all__ = [
    "DEFAULT_CAPPED_ENDPOINTS",
    "DEFAULT_POST_CAP",
    "Allow",
    "CapConfig",
    "CapDecision",
    "CapStatus",
    "CapTracker",
    "Hold",
    "ServerUsage",
    "Verify",
    "reset_candidates",
]
