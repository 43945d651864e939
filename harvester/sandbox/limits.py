"""Rate-limit buckets: fixed windows per (route template, app) and per (route template, user).

A window opens at a bucket's first request and lasts ``window_seconds`` of the simulated
clock; that matches every observed header (§3.1) and makes resets predictable for tests.
Every window is recorded (allowed and rejected counts) so tests and benchmarks can check
that a harvester never went over a limit, not just that it eventually finished.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from harvester.sandbox import tables as T
from harvester.sandbox.config import SandboxConfig


@dataclass
class Window:
    """One fixed window of one bucket (mutable while it is the current window)."""

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


class RateLimiter:
    """Checks and counts requests against the sandbox's own limit table."""

    def __init__(self, cfg: SandboxConfig, stats: Stats) -> None:
        self.cfg = cfg
        self.stats = stats
        self._daily: dict[str, Window] = {}
        self._last_ok: dict[str, float] = {}
        self.denied = False

    def limit(self, route: str, user: bool) -> int | None:
        pair = self.cfg.limit_overrides.get(route, T.RATE_LIMITS[route])
        return pair[1] if user else pair[0]

    def _window(self, key: str, limit: int, now: float) -> Window:
        windows = self.stats.windows.setdefault(key, [])
        if not windows or now >= windows[-1].reset:
            windows.append(Window(now, now + self.cfg.window_seconds, limit))
        return windows[-1]

    def check(self, route: str, user_token: str | None, now: float) -> Decision:
        """Count one request; refuse it (without counting it as allowed) when over a limit."""
        key = bucket_key(route, user_token)
        headers: dict[str, str] = {}
        reason = "ok"
        limit = self.limit(route, user_token is not None)
        win = None
        if limit is not None:
            win = self._window(key, limit, now)
            if win.allowed >= limit:
                reason = "window"
        daily = self._daily_window(route, key, user_token is not None, now)
        if daily is not None and daily.allowed >= daily.limit and reason == "ok":
            reason = "daily"
        last = self._last_ok.get(key)
        per_second = route in self.cfg.per_second_routes and last is not None
        if reason == "ok" and per_second and now - (last or 0.0) < self.cfg.per_second_interval:
            reason = "per_second"
        ok = reason == "ok"
        if ok:
            self._last_ok[key] = now
        for w, prefix in ((win, "x-rate-limit"), (daily, self._daily_prefix(user_token))):
            if w is None:
                continue
            if ok:
                w.allowed += 1
            headers[f"{prefix}-limit"] = str(w.limit)
            headers[f"{prefix}-remaining"] = str(max(0, w.limit - w.allowed))
            headers[f"{prefix}-reset"] = str(math.ceil(w.reset))
        if not ok:
            self.stats.too_many[key] += 1
            if win is not None:
                win.rejected += 1
                if self.cfg.denylist_after is not None and win.rejected >= self.cfg.denylist_after:
                    self.denied = True
        return Decision(ok, headers, reason, key)

    @staticmethod
    def _daily_prefix(user_token: str | None) -> str:
        return "x-app-limit-24hour" if user_token is None else "x-user-limit-24hour"

    def _daily_window(self, route: str, key: str, user: bool, now: float) -> Window | None:
        pair = self.cfg.daily_limits.get(route)
        limit = None if pair is None else pair[1] if user else pair[0]
        if limit is None:
            return None
        w = self._daily.get(key)
        if w is None or now >= w.reset:
            w = self._daily[key] = Window(now, now + 86400.0, limit)
        return w
