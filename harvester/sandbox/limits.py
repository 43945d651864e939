"""Rate-limit buckets: windows per (route template, app) and per (route template, user).

By default a window opens at a bucket's first request and lasts ``window_seconds`` of the
simulated clock; that matches every observed header (x-api-spec.md §3.1) and makes resets
predictable for tests. Every window is recorded (allowed and rejected counts) so tests and
benchmarks can check that a harvester never went over a limit, not just that it eventually
finished.

What a harvester must also survive, each switched on by config or a quirk:

- windows that slide (``sliding_windows``): ``limit`` requests in any trailing window, and
  every answer claims the reset is a whole window away;
- a hidden per-second limiter on every route (``hidden_per_second``), not only full-archive
  search: a 429 while ``remaining`` > 0;
- one bucket shared by several routes (``shared_limit``): :data:`SHARED_ROUTES` count against
  :data:`SHARED_BUCKET`, whose limit is the smallest of theirs;
- limits and windows that change at set times (``window_changes``, ``shrinking_windows``), and
  buckets that announce one limit and reset on a 429 and follow a smaller limit with an earlier
  reset afterwards (``mind_changes``).

With sliding windows the recorded windows are consecutive fixed spans of ``window_seconds``
from a bucket's first request: each is a trailing window of the sliding limit, so its count
never exceeds the limit either, and :meth:`Stats.max_allowed` keeps its meaning.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

from harvester.sandbox import quirks as Q
from harvester.sandbox import tables as T
from harvester.sandbox.config import SandboxConfig, WindowChange

SHARED_BUCKET = "/2/users/*"
SHARED_ROUTES: frozenset[str] = frozenset({T.USERS, T.USERS_BY, T.USER, T.USER_BY_USERNAME, T.FOLLOWERS, T.FOLLOWING})
SHRINK_AFTER = 60.0  # shrinking_windows: from this many simulated seconds after start...
SHRINK_FACTOR = 3.0  # ...every window is this many times shorter


@dataclass
class Window:
    """One window of one bucket (mutable while it is the current window)."""

    start: float
    reset: float
    limit: int
    allowed: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class Decision:
    """Outcome of a rate-limit check: the headers to send, and why it was refused if it was."""

    allowed: bool
    headers: dict[str, str]
    reason: str  # "ok", "window", "daily", "per_second"
    bucket: str


@dataclass
class Stats:
    """Counters for tests: responses by (route, status), 429s by bucket, and every window."""

    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    too_many: Counter[str] = field(default_factory=Counter)
    windows: dict[str, list[Window]] = field(default_factory=dict)

    def max_allowed(self, bucket: str) -> int:
        """Most requests allowed in any one window of ``bucket`` (0 if never used)."""
        return max((w.allowed for w in self.windows.get(bucket, [])), default=0)

    def max_allowed_per_bucket(self) -> dict[str, int]:
        return {b: self.max_allowed(b) for b in self.windows}


def bucket_key(route: str, user_token: str | None) -> str:
    """``"<route> app"`` or ``"<route> user:<token>"``."""
    return f"{route} app" if user_token is None else f"{route} user:{user_token}"


@dataclass(frozen=True)
class Regime:
    """What governs a bucket now: its limit (None: no bucket), window length, and since when."""

    limit: int | None
    window: float
    since: float


class RateLimiter:
    """Checks and counts requests against the sandbox's own limit table.

    ``start`` is the simulated time the sandbox started: ``window_changes`` count from it.
    """

    def __init__(self, cfg: SandboxConfig, stats: Stats, start: float = 0.0) -> None:
        self.cfg = cfg
        self.stats = stats
        self.start = start
        self.quirks = cfg.quirks
        changes = list(cfg.window_changes)
        if Q.SHRINKING_WINDOWS in cfg.quirks:
            changes.append(WindowChange(SHRINK_AFTER, cfg.window_seconds / SHRINK_FACTOR))
        self.schedule = tuple(sorted(changes, key=lambda c: c.after))
        self._daily: dict[str, Window] = {}
        self._last_ok: dict[str, float] = {}
        self._recent: dict[str, deque[float]] = {}
        self._changed_mind: dict[str, float] = {}
        self.denied = False

    # -- what applies ---------------------------------------------------------------------

    def bucket_route(self, route: str) -> str:
        """The route whose bucket ``route`` counts against (the shared one under ``shared_limit``)."""
        return SHARED_BUCKET if Q.SHARED_LIMIT in self.quirks and route in SHARED_ROUTES else route

    def limit(self, route: str, user: bool, now: float | None = None) -> int | None:
        """Requests per window on ``route`` for app (``user`` False) or user auth at ``now``
        (None: at start, before any scheduled change)."""
        pair = self.cfg.limit_overrides.get(route, T.RATE_LIMITS[route])
        if now is not None:
            for change in self.schedule:
                if now >= self.start + change.after and route in change.limits:
                    pair = change.limits[route]
        return pair[1] if user else pair[0]

    def regime(self, route: str, user_token: str | None, now: float) -> Regime:
        """Limit and window length of ``route``'s bucket for this auth at ``now``."""
        user = user_token is not None
        window, since = self.cfg.window_seconds, self.start
        for change in self.schedule:
            if now >= self.start + change.after:
                since = self.start + change.after
                if change.window_seconds is not None:
                    window = change.window_seconds
        br = self.bucket_route(route)
        members = sorted(SHARED_ROUTES) if br == SHARED_BUCKET else [route]
        limits = [n for n in (self.limit(r, user, now) for r in members) if n is not None]
        limit = min(limits) if limits else None
        changed = self._changed_mind.get(bucket_key(br, user_token))
        mind = self.cfg.mind_changes.get(route)
        if changed is not None and mind is not None:
            limit, window, since = mind[0], mind[1], max(since, changed)
        return Regime(limit, window, since)

    # -- checking -------------------------------------------------------------------------

    def _fixed(self, key: str, rg: Regime, limit: int, now: float) -> Window:
        windows = self.stats.windows.setdefault(key, [])
        if windows:
            cur = windows[-1]
            if cur.start < rg.since:  # the regime changed while this window was open: cut it short
                cur.reset = min(cur.reset, max(rg.since, cur.start + rg.window))
        if not windows or now >= windows[-1].reset:
            windows.append(Window(now, now + rg.window, limit))
        win = windows[-1]
        win.limit = limit
        return win

    def _trailing(self, key: str, window: float, now: float) -> deque[float]:
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - window:
            recent.popleft()
        return recent

    def check(self, route: str, user_token: str | None, now: float, consume: bool = True) -> Decision:
        """Count one request; refuse it (without counting it as allowed) when over a limit.

        With ``consume`` False an allowed request is not counted anywhere (the server answers it
        with something other than data, e.g. the usage-cap 429, which comes with remaining > 0).
        """
        key = bucket_key(self.bucket_route(route), user_token)
        rg = self.regime(route, user_token, now)
        sliding = Q.SLIDING_WINDOWS in self.quirks
        reason = "ok"
        win = recent = None
        if rg.limit is not None:
            win = self._fixed(key, rg, rg.limit, now)
            if sliding:
                recent = self._trailing(key, rg.window, now)
                used = len(recent)
            else:
                used = win.allowed
            if used >= rg.limit:
                reason = "window"
        daily = self._daily_window(route, key, user_token is not None, now)
        if daily is not None and daily.allowed >= daily.limit and reason == "ok":
            reason = "daily"
        last = self._last_ok.get(key)
        per_second = route in self.cfg.per_second_routes or Q.HIDDEN_PER_SECOND in self.quirks
        if reason == "ok" and per_second and last is not None and now - last < self.cfg.per_second_interval:
            reason = "per_second"
        ok = reason == "ok"
        count = ok and consume
        if count:
            self._last_ok[key] = now
        headers: dict[str, str] = {}
        if win is not None and rg.limit is not None:
            if count:
                win.allowed += 1
                if recent is not None:
                    recent.append(now)
            used = len(recent) if recent is not None else win.allowed
            reset = now + rg.window if sliding else win.reset
            headers["x-rate-limit-limit"] = str(rg.limit)
            headers["x-rate-limit-remaining"] = str(max(0, rg.limit - used))
            headers["x-rate-limit-reset"] = str(math.ceil(reset))
        if daily is not None:
            prefix = "x-app-limit-24hour" if user_token is None else "x-user-limit-24hour"
            if count:
                daily.allowed += 1
            headers[f"{prefix}-limit"] = str(daily.limit)
            headers[f"{prefix}-remaining"] = str(max(0, daily.limit - daily.allowed))
            headers[f"{prefix}-reset"] = str(math.ceil(daily.reset))
        if not ok:
            self.stats.too_many[key] += 1
            if win is not None:
                win.rejected += 1
                if self.cfg.denylist_after is not None and win.rejected >= self.cfg.denylist_after:
                    self.denied = True
            if route in self.cfg.mind_changes:
                self._changed_mind.setdefault(key, now)
        return Decision(ok, headers, reason, key)

    def _daily_window(self, route: str, key: str, user: bool, now: float) -> Window | None:
        pair = self.cfg.daily_limits.get(route)
        limit = None if pair is None else pair[1] if user else pair[0]
        if limit is None:
            return None
        w = self._daily.get(key)
        if w is None or now >= w.reset:
            w = self._daily[key] = Window(now, now + 86400.0, limit)
        return w
