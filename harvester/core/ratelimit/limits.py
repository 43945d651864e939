"""All buckets of one API host, created from the limits table on first use, and their state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harvester.core.classify import AuthKind
from harvester.core.endpoints import ENDPOINTS, WINDOW_SECONDS
from harvester.core.ratelimit.bucket import Bucket, opt_float
from harvester.core.ratelimit.decisions import (
    BucketFigures,
    Decision,
    LimitKind,
    Pacing,
    Ticket,
    WaitReason,
    WaitUntil,
)
from harvester.core.ratelimit.server_clock import ServerClock

_STATE_VERSION = 1


class RateLimits:
    """Every bucket, created on first use from ``core.endpoints`` and overrides.

    Args:
        limits: ``{route: (app_limit, user_limit)}`` merged over the table (None: the auth kind
            cannot call the route).
        window: the prior window length, seconds (each bucket learns its own from headers).
        mode: pacing for every bucket (``"spread"`` or ``"burst"``).
        reset_margin, late_margin, max_latency: see :class:`Bucket`.
    """

    __slots__ = ("_buckets", "clock", "late_margin", "limits", "max_latency", "mode", "reset_margin", "window")

    def __init__(
        self,
        limits: Mapping[str, tuple[int | None, int | None]] | None = None,
        *,
        window: float = WINDOW_SECONDS,
        mode: Pacing = "spread",
        reset_margin: float = 2.0,
        late_margin: float | None = None,
        max_latency: float = 5.0,
    ) -> None:
        self.limits = dict(limits or {})
        self.window = window
        self.mode: Pacing = mode
        self.reset_margin = reset_margin
        self.late_margin = late_margin
        self.max_latency = max_latency
        self.clock = ServerClock()
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def bucket(self, route: str, auth: str, auth_kind: AuthKind) -> Bucket:
        """The bucket for (route, auth), created from the table on first use."""
        b = self._buckets.get((route, auth))
        if b is not None:
            if b.auth_kind != auth_kind:
                raise ValueError(f"auth context {auth!r} is {b.auth_kind}, not {auth_kind}")
            return b
        row = ENDPOINTS.get(route)
        if route in self.limits:
            app, user = self.limits[route]
        elif row is not None:
            app, user = row.app_limit, row.user_limit
        else:
            raise KeyError(f"no rate limit known for route {route!r}; add it to the limits overrides")
        limit = app if auth_kind == "app" else user
        if limit is None:
            raise ValueError(f"{route} cannot be called with {auth_kind} auth")
        b = Bucket(
            route=route,
            auth=auth,
            auth_kind=auth_kind,
            limit=limit,
            window=self.window,
            per_second=row.per_second if row is not None else None,
            mode=self.mode,
            reset_margin=self.reset_margin,
            late_margin=self.late_margin,
            max_latency=self.max_latency,
            clock=self.clock,
        )
        self._buckets[(route, auth)] = b
        return b

    def reserve(self, route: str, auth: str, auth_kind: AuthKind, now: float) -> Decision:
        """Ask (route, auth)'s bucket for a grant."""
        return self.bucket(route, auth, auth_kind).reserve(now)

    def choose(self, route: str, contexts: Sequence[str], now: float, auth_kind: AuthKind = "user") -> Decision:
        """Reserve on whichever context in the pool can send soonest (most available on ties).

        The granted ticket's ``auth`` names the context to send with. ``WaitUntil`` is the
        earliest time any of them could send.
        """
        if not contexts:
            raise ValueError("choose() needs at least one auth context")
        best: tuple[float, int, int] | None = None
        best_b: Bucket | None = None
        best_wait: tuple[WaitReason | None, str] = (None, "")
        for i, ctx in enumerate(contexts):
            b = self.bucket(route, ctx, auth_kind)
            t, reason, detail = b.next_send(now)
            key = (t, -b.available(now), i)
            if best is None or key < best:
                best, best_b, best_wait = key, b, (reason, f"{ctx}: {detail}")
        assert best is not None and best_b is not None
        decision = best_b.reserve(now)
        if isinstance(decision, WaitUntil) and best_wait[0] is not None:
            return WaitUntil(t=decision.t, reason=decision.reason, detail=best_wait[1])
        return decision

    def _owner(self, ticket: Ticket) -> Bucket:
        b = self._buckets.get((ticket.route, ticket.auth))
        if b is None:
            raise ValueError(f"unknown ticket {ticket!r}")
        return b

    def observe(
        self, ticket: Ticket, now: float, headers: Mapping[str, str] | None, limited: LimitKind | None = None
    ) -> None:
        """Settle a request that may have reached the server (see :meth:`Bucket.observe`)."""
        self._owner(ticket).observe(ticket, now, headers, limited)

    def cancel(self, ticket: Ticket) -> None:
        """Hand back a request that never reached the server."""
        self._owner(ticket).cancel(ticket)

    def hold(self, route: str, auth: str, auth_kind: AuthKind, until: float, detail: str) -> None:
        """Keep (route, auth) from sending before ``until``: something outside this process
        (other hosts sharing the bucket, see ``core.shared``) has used what the window allows."""
        self.bucket(route, auth, auth_kind)._hold(until, detail)

    def interval(self, route: str, auth: str, auth_kind: AuthKind, now: float) -> float:
        """The pacing interval of (route, auth), for an aiolimiter."""
        return self.bucket(route, auth, auth_kind).interval(now)

    def snapshot(self, now: float | None = None) -> tuple[BucketFigures, ...]:
        """Every bucket's figures, sorted by (route, auth)."""
        return tuple(self._buckets[k].figures(now) for k in sorted(self._buckets))

    def export_state(self) -> dict[str, object]:
        """Plain data (JSON-safe) for the store: buckets and the clock-skew samples."""
        return {
            "version": _STATE_VERSION,
            "skew_samples": self.clock.samples(),
            "buckets": [self._buckets[k].to_dict() for k in sorted(self._buckets)],
        }

    def load_state(self, state: Mapping[str, object]) -> None:
        """Restore :meth:`export_state` output; buckets of unknown routes or kinds are skipped."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported rate-limit state version {state.get('version')!r}")
        samples = state.get("skew_samples")
        if isinstance(samples, Sequence):
            self.clock.load(s for s in map(opt_float, samples) if s is not None)
        buckets = state.get("buckets")
        if not isinstance(buckets, Sequence):
            return
        for item in buckets:
            if not isinstance(item, Mapping):
                continue
            route, auth, kind = item.get("route"), item.get("auth"), item.get("auth_kind")
            if not isinstance(route, str) or not isinstance(auth, str) or kind not in ("app", "user"):
                continue
            try:
                b = self.bucket(route, auth, "app" if kind == "app" else "user")
            except (KeyError, ValueError):
                continue
            b.load(item)

    def __repr__(self) -> str:
        in_flight = sum(len(b._tickets) for b in self._buckets.values())
        return f"<RateLimits buckets={len(self._buckets)} in_flight={in_flight} {self.clock!r}>"
