"""One (route, auth context) bucket: the three ledgers, the spacing rules, 429 handling.

The rules are in the package docstring (``harvester.core.ratelimit``).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator, Mapping, Sequence

from harvester.core.classify import AuthKind, Quota, RateHeaders, parse_rate_headers
from harvester.core.endpoints import WINDOW_SECONDS
from harvester.core.ratelimit.decisions import (
    BucketFigures,
    Decision,
    LimitKind,
    Pacing,
    Send,
    Ticket,
    WaitReason,
    WaitUntil,
)
from harvester.core.ratelimit.server_clock import ServerClock

RESET_JITTER = 1.0  # resets within a second of each other name the same window
MIN_WINDOW = 1.0  # the shortest window a bucket will believe it learned
MAX_GAP = 60.0  # the widest per-second gap a hidden limiter can teach
_KINDS: tuple[AuthKind, ...] = ("app", "user")


class _Entry:
    """One grant in a bucket's log."""

    __slots__ = ("cancelled", "gone", "granted_at", "window")

    def __init__(self, granted_at: float, window: float | None = None) -> None:
        self.granted_at = granted_at
        self.window = window  # the reset of the server window a header proved it landed in
        self.cancelled = False
        self.gone = False  # expired out of the log (and out of the groups)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else f"window={self.window}"
        return f"<_Entry granted_at={self.granted_at:.3f} {state}>"


class _Quota:
    """A header-tracked window: settled-request estimate of ``remaining`` until ``reset``.

    ``date`` is the server's ``Date`` on the answer that made this claim (None if it had
    none). An answer stamped no earlier (within the same second, the one observed later) is
    newer news and wins even when it names an *earlier* reset (the server changed its mind,
    e.g. shortened its windows); an answer stamped earlier, or without a ``Date`` to order it
    by, never overrides a claim except with a later reset.
    """

    __slots__ = ("date", "limit", "remaining", "reset")

    def __init__(self, limit: int | None, remaining: int, reset: float, date: float | None) -> None:
        self.limit = limit
        self.remaining = remaining
        self.reset = reset
        self.date = date

    def update(self, q: Quota, date: float | None, live: bool) -> _Quota | None:
        """Fold in a header; returns a replacement when it names another window (else updates
        in place, or ignores it). ``live``: the header's reset is still ahead (an earlier reset
        that already passed is no claim at all)."""
        newer = date is not None and (self.date is None or date >= self.date)
        if q.reset > self.reset + RESET_JITTER:
            return _Quota(q.limit or self.limit, q.remaining, q.reset, date)
        if q.reset >= self.reset - RESET_JITTER:  # same window: remaining only ever goes down
            self.remaining = max(0, min(self.remaining - 1, q.remaining))
            if newer:
                self.limit = q.limit or self.limit
                self.date = date
            return None
        # An answer stamped no earlier (same second: observed later) with a live earlier reset:
        # the server moved its reset earlier. Follow it.
        if newer and self.date is not None and live:
            return _Quota(q.limit or self.limit, q.remaining, q.reset, date)
        return None

    def __repr__(self) -> str:
        return f"<_Quota limit={self.limit} remaining={self.remaining} reset={self.reset:.0f}>"

    def to_dict(self, in_flight: int) -> dict[str, object]:
        return {"limit": self.limit, "remaining": max(0, self.remaining - in_flight), "reset": self.reset,
                "date": self.date}


class Bucket:
    """One (route, auth context) bucket. See the module docstring for the rules.

    Args:
        route, auth, auth_kind: what the bucket is for.
        limit: the prior (table) limit per window, replaced by ``x-rate-limit-limit``.
        window: the prior window length, seconds, until the bucket's own headers teach it the
            real one (see :meth:`observe`).
        per_second: the hidden requests-per-second limit, if any.
        mode: ``"auto"``, ``"spread"`` or ``"burst"`` pacing (:meth:`pace_interval`).
        reset_margin: seconds added after a reset before it is trusted to have passed. With a
            server that rounds its reset *up* (or sends it exact) none is needed: the skew
            estimate never places a reset early. One that rounds down needs a second.
        late_margin: learn the margin: when a request granted after a reset we believed had
            passed gets a window 429 naming that same reset, the server rounds down, and the
            margin grows to ``late_margin`` (doubling if it happens again, up to 10 s). None
            keeps ``reset_margin`` fixed.
        max_latency: the longest a granted request may take to reach the server. The sliding
            guard is only as good as this bound; the shell must not start a request later than
            this after its grant (cancel and reserve again instead).
        per_second_margin: added to the per-second gap.
        blind_429_hold: how long a 429 without headers holds an unknown window (and the
            shortest denylist stop).
        clock: the shared :class:`ServerClock` (one per API host).
    """

    __slots__ = (
        "_daily",
        "_gap",
        "_groups",
        "_last_send",
        "_learned",
        "_learned_reset",
        "_log",
        "_next_id",
        "_now",
        "_tickets",
        "_w429",
        "_window",
        "auth",
        "auth_kind",
        "blind_429_hold",
        "clock",
        "demand",
        "hold_detail",
        "hold_until",
        "late_margin",
        "limit",
        "max_latency",
        "mode",
        "per_second",
        "per_second_margin",
        "rejected",
        "reset_margin",
        "route",
        "sent",
        "stop_detail",
        "stop_until",
        "window",
    )

    def __init__(
        self,
        *,
        route: str,
        auth: str,
        auth_kind: AuthKind,
        limit: int,
        window: float = WINDOW_SECONDS,
        per_second: float | None = None,
        mode: Pacing = "auto",
        reset_margin: float = 2.0,
        late_margin: float | None = None,
        max_latency: float = 5.0,
        per_second_margin: float = 0.1,
        blind_429_hold: float = 60.0,
        clock: ServerClock | None = None,
    ) -> None:
        if limit < 1 or window <= 0 or max_latency < 0 or reset_margin < 0:
            raise ValueError("need limit >= 1, window > 0, max_latency >= 0, reset_margin >= 0")
        self.route = route
        self.auth = auth
        self.auth_kind: AuthKind = auth_kind
        self.limit = limit
        self.window = window
        self.per_second = per_second
        self.mode: Pacing = mode
        self.reset_margin = reset_margin
        self.late_margin = late_margin
        self.max_latency = max_latency
        self.per_second_margin = per_second_margin
        self.blind_429_hold = blind_429_hold
        self.clock = clock if clock is not None else ServerClock()
        self._window: _Quota | None = None
        self._daily: dict[str, _Quota] = {}
        self._log: deque[_Entry] = deque()
        # The live (not cancelled, not expired) grant times of the log, sorted, grouped by the
        # window a header placed them in (None: not placed). The sliding guard counts and ranks
        # through these in O(groups x log n) instead of rescanning the log on every question
        # (a busy bucket holds thousands of grants per window); groups are few (one or two
        # windows fit in the guard's span, plus None).
        self._groups: dict[float | None, list[float]] = {}
        self._tickets: dict[int, _Entry] = {}
        self._next_id = 1
        self._last_send: float | None = None
        self._now = float("-inf")
        self._w429: dict[float | None, tuple[float, int]] = {}
        self._learned: float | None = None
        self._learned_reset: float | None = None
        self._gap: float | None = None
        self.hold_until = float("-inf")
        self.hold_detail = ""
        self.stop_until = float("-inf")
        self.stop_detail = ""
        self.sent = 0
        self.rejected = 0
        self.demand = 0  # tasks queued on this bucket (the shell refreshes it); paces ``auto``

    # --- time ----------------------------------------------------------------------------

    @property
    def window_length(self) -> float:
        """The window in use: learned from this bucket's headers, else the prior."""
        return self._learned if self._learned is not None else self.window

    @property
    def guard_span(self) -> float:
        """The sliding guard's span (also the shared grant log's across hosts)."""
        return self._span

    @property
    def _span(self) -> float:
        """The sliding guard's span. It only counts grants no header has placed in an ended
        window (answers without headers, requests in flight), and for those a learned window
        *shorter* than the prior cannot be trusted (its sample may come from a request that
        landed after an unseen one opened the window), so the guard keeps the longer of the
        two; a longer learned window (a 24-hour bucket) always counts."""
        return max(self.window, self.window_length) + self.max_latency

    @property
    def _pace_span(self) -> float:
        """The span spread pacing uses while the reset is unknown: the learned window."""
        return self.window_length + self.max_latency

    def _ends_at(self, server_reset: float) -> float:
        """Local time from which a window ending at ``server_reset`` has surely ended."""
        return self.clock.to_local(server_reset) + self.reset_margin

    def _advance(self, now: float) -> float:
        """Move the bucket's time to ``now`` (never back) and drop what expired."""
        now = max(now, self._now)
        self._now = now
        log = self._log
        while log and (log[0].cancelled or log[0].granted_at + self._span <= now):
            e = log.popleft()
            e.gone = True
            if not e.cancelled:
                self._ungroup(e.window, e.granted_at)
        if self._window is not None and now >= self._ends_at(self._window.reset):
            self._window = None
        for kind, d in list(self._daily.items()):
            if now >= self._ends_at(d.reset):
                del self._daily[kind]
        # 429 counts outlive their window by a span: a 429 that cites a reset we believed
        # passed is exactly the kind of repeat the denylist guard is for.
        for key in [k for k in self._w429 if k is not None and now >= self._ends_at(k) + self._span]:
            del self._w429[key]
        blind = self._w429.get(None)
        if blind is not None and now >= blind[0] + self._span:
            del self._w429[None]
        return now

    # --- ledgers at a (future) time t, assuming no new events -------------------------------

    def _excluded(self, reset: float | None, t: float) -> bool:
        return reset is not None and self.clock.known and t >= self._ends_at(reset)

    def _group(self, window: float | None, granted_at: float) -> None:
        bisect.insort_right(self._groups.setdefault(window, []), granted_at)

    def _ungroup(self, window: float | None, granted_at: float) -> None:
        times = self._groups[window]
        i = bisect.bisect_left(times, granted_at)
        assert i < len(times) and times[i] == granted_at, "grant groups out of step with the log"
        del times[i]
        if not times:
            del self._groups[window]

    def _live_groups(self, t: float) -> list[tuple[list[float], int]]:
        """The groups the guard counts at ``t``, each with the index of its first grant still
        within the span at ``t`` (``granted_at + span > t``, the very test the log used)."""
        span = self._span
        return [
            (times, bisect.bisect_right(times, t, key=lambda g: g + span))
            for window, times in self._groups.items()
            if not self._excluded(window, t)
        ]

    def _count(self, t: float) -> int:
        """How many grants the sliding guard counts at ``t``: O(groups x log n)."""
        return sum(len(times) - first for times, first in self._live_groups(t))

    def _counted(self, t: float) -> list[float]:
        """Grant times the sliding guard counts at ``t`` (oldest first), by a scan of the log:
        the plain statement of what :meth:`_count` and :meth:`_kth_newest` answer fast (tests
        check them against it; nothing on the request path calls it)."""
        span = self._span
        return [
            e.granted_at
            for e in self._log
            if not e.cancelled and e.granted_at + span > t and not self._excluded(e.window, t)
        ]

    def _kth_newest(self, t: float, k: int) -> float:
        """The ``k``-th newest grant the guard counts at ``t`` (needs ``k <= _count(t)``).

        It is the largest grant time ``x`` with at least ``k`` counted grants at or after it:
        for each group, a binary search over its own grants (the count is monotone in the
        index), each step counting across the groups by bisection. O(groups² x log² n)."""
        live = self._live_groups(t)

        def at_or_after(x: float) -> int:
            return sum(len(times) - max(first, bisect.bisect_left(times, x)) for times, first in live)

        best = float("-inf")
        for times, first in live:
            lo, hi = first, len(times) - 1  # find the highest index whose grant has >= k at/after it
            found = -1
            while lo <= hi:
                mid = (lo + hi) // 2
                if at_or_after(times[mid]) >= k:
                    found, lo = mid, mid + 1
                else:
                    hi = mid - 1
            if found >= 0:
                best = max(best, times[found])
        assert best > float("-inf"), "fewer counted grants than asked for"
        return best

    def _guard_release(self, t: float) -> float:
        """Earliest time >= t at which fewer than ``limit`` grants are counted."""
        # Exclusions switch on at known times; between two switches only expiry changes counts.
        switches = sorted({self._ends_at(w) for w in self._groups if w is not None})
        starts = [t] + [s for s in switches if s > t] if self.clock.known else [t]
        for i, start in enumerate(starts):
            counted = self._count(start)
            if counted < self.limit:
                return start
            release = self._kth_newest(start, self.limit) + self._span
            if i + 1 == len(starts) or release < starts[i + 1]:
                return max(release, start)
        raise AssertionError("unreachable")

    def _window_at(self, t: float) -> _Quota | None:
        w = self._window
        return w if w is not None and t < self._ends_at(w.reset) else None

    def available(self, now: float) -> int:
        """How many more grants the ledgers allow at ``now`` (spacing rules aside)."""
        now = self._advance(now)
        return self._available_at(now)

    def _available_at(self, t: float) -> int:
        in_flight = len(self._tickets)
        avail = self.limit - self._count(t)
        w = self._window_at(t)
        if w is not None:
            avail = min(avail, w.remaining - in_flight)
        for d in self._daily.values():
            if t < self._ends_at(d.reset):
                avail = min(avail, d.remaining - in_flight)
        return max(0, avail)

    def _requirements(self, t: float) -> Iterator[tuple[float, WaitReason, str]]:
        """Every rule's earliest allowed time, as seen at ``t``."""
        if self.stop_until > t:
            yield self.stop_until, WaitReason.DENYLIST, self.stop_detail
        if self.hold_until > t:
            yield self.hold_until, WaitReason.HOLD, self.hold_detail
        in_flight = len(self._tickets)
        w = self._window_at(t)
        w_avail: int | None = None
        if w is not None:
            w_avail = w.remaining - in_flight
            if w_avail <= 0:
                yield (
                    self._ends_at(w.reset),
                    WaitReason.WINDOW,
                    f"window spent: remaining {w.remaining}, in flight {in_flight}, reset {w.reset:.0f}",
                )
        for kind, d in self._daily.items():
            if t < self._ends_at(d.reset) and d.remaining - in_flight <= 0:
                yield self._ends_at(d.reset), WaitReason.DAILY, f"{kind} 24-hour bucket spent"
        counted = self._count(t)
        if counted >= self.limit:
            yield (
                self._guard_release(t),
                WaitReason.SLIDING,
                f"{counted} grants within {self._span:.0f}s, limit {self.limit}",
            )
        last = self._last_send
        if last is not None and self.min_gap:
            yield last + self.min_gap, WaitReason.PER_SECOND, f"{self.min_gap:.1f}s between requests"

    def next_send(self, now: float) -> tuple[float, WaitReason | None, str]:
        """The earliest time at which :meth:`reserve` would grant, with the binding reason."""
        now = self._advance(now)
        t, reason, detail = now, None, ""
        for _ in range(8):  # rules only relax with time except at a window's end: converges fast
            worst = max(self._requirements(t), key=lambda r: r[0], default=None)
            if worst is None or worst[0] <= t:
                return t, reason, detail
            t, reason, detail = worst
        return t, reason, detail

    # --- events ---------------------------------------------------------------------------

    def reserve(self, now: float) -> Decision:
        """Grant a request now (:class:`Send`) or say when to ask again (:class:`WaitUntil`)."""
        t, reason, detail = self.next_send(now)
        now = self._now
        if t > now:
            assert reason is not None
            return WaitUntil(t=t, reason=reason, detail=detail)
        entry = _Entry(now)
        self._log.append(entry)
        self._group(None, now)
        ticket = Ticket(route=self.route, auth=self.auth, id=self._next_id, granted_at=now)
        self._next_id += 1
        self._tickets[ticket.id] = entry
        self._last_send = now
        return Send(ticket=ticket)

    def _settle(self, ticket: Ticket) -> _Entry:
        entry = self._tickets.pop(ticket.id, None) if ticket.auth == self.auth else None
        if entry is None or ticket.route != self.route:
            raise ValueError(f"unknown or already settled ticket {ticket!r} on {self!r}")
        return entry

    def cancel(self, ticket: Ticket) -> None:
        """The request never reached the server (connect error before sending): hand it back."""
        entry = self._settle(ticket)
        entry.cancelled = True
        if not entry.gone:
            self._ungroup(entry.window, entry.granted_at)

    def observe(
        self,
        ticket: Ticket,
        now: float,
        headers: Mapping[str, str] | None,
        limited: LimitKind | None = None,
    ) -> None:
        """Settle a request that may have reached the server.

        Args:
            ticket: from :class:`Send`.
            now: when the response (or the failure) arrived.
            headers: the response headers; None or empty when there was no response (timeout,
                connection dropped mid-body): the request still counts.
            limited: for a 429, which limit it hit, as ``core.classify`` read it.

        The newest answer describes the bucket: one stamped (``Date``) later than the current
        claim replaces it, even a later reset with an earlier one, so a server that changes its
        limits is followed within one response. Each claim also teaches the window's length
        (:meth:`_learn`), so a shortened window is followed too.
        """
        now = self._advance(now)
        entry = self._settle(ticket)
        self.sent += 1
        h = parse_rate_headers(headers)
        if h.date is not None:
            self.clock.observe(now, h.date)
        q = h.window
        if q is None:
            if self._window is not None:
                self._window.remaining = max(0, self._window.remaining - 1)
        else:
            self._place(entry, q.reset)
            replaced = self._window is None
            if self._window is None:
                self._window = _Quota(q.limit, q.remaining, q.reset, h.date)
            else:
                update = self._window.update(q, h.date, now < self._ends_at(q.reset))
                if update is not None:
                    if update.reset < self._window.reset - RESET_JITTER:
                        self._retract(self._window.reset, update.reset)
                    self._window, replaced = update, True
            if replaced or abs(q.reset - self._window.reset) <= RESET_JITTER:
                self._learn(q.reset, entry.granted_at, fresh=replaced)
            if q.limit and (replaced or self._window.date == h.date):
                self.limit = q.limit
        for kind in _KINDS:
            dq = h.daily(kind)
            d = self._daily.get(kind)
            if dq is not None:
                if d is None:
                    self._daily[kind] = _Quota(dq.limit, dq.remaining, dq.reset, h.date)
                else:
                    self._daily[kind] = d.update(dq, h.date, now < self._ends_at(dq.reset)) or d
            elif d is not None:
                d.remaining = max(0, d.remaining - 1)
        if limited is not None:
            self._on_429(now, h, limited, entry.granted_at)
        self._advance(now)

    def _retract(self, old_reset: float, new_reset: float) -> None:
        """The server moved a window's reset earlier: grants it had placed in that window end
        with the new reset (else the sliding guard would count them until the retracted one)."""
        for e in self._log:
            if e.window is not None and abs(e.window - old_reset) <= RESET_JITTER:
                self._place(e, new_reset)

    def _place(self, entry: _Entry, window: float) -> None:
        """A header placed ``entry`` in the window ending at ``window``: move it to that group."""
        if not entry.cancelled and not entry.gone:
            self._ungroup(entry.window, entry.granted_at)
            self._group(window, entry.granted_at)
        entry.window = window

    def _learn(self, reset: float, granted_at: float, *, fresh: bool) -> None:
        """One sample of the window's length: ``reset`` minus a grant, in server time, plus the
        second a reset may have been rounded down by.

        Only with a known skew (a ``Date`` seen): without one a reset cannot be set against our
        grant times. ``to_server`` never runs ahead of the server and a request cannot land
        before its grant, so the sample of the request that *opened* the window is never short.
        A later request's is (it landed after the window opened). So a new window is measured
        from the earliest of our grants that may have opened it: any earlier grant not proven
        (by its own headers) to belong to an earlier window, answered without headers or still
        in flight. Later samples of the same window only lengthen it (out-of-order answers).
        """
        if not self.clock.known:
            return
        if fresh:
            for e in self._log:
                if e.granted_at >= granted_at:
                    break
                if not e.cancelled and (e.window is None or abs(e.window - reset) <= RESET_JITTER):
                    granted_at = e.granted_at
                    break
        sample = reset - self.clock.to_server(granted_at) + RESET_JITTER
        if sample < MIN_WINDOW:
            return
        if fresh or self._learned is None:
            self._learned, self._learned_reset = sample, reset
        else:
            self._learned = max(self._learned, sample)

    def _hold(self, until: float, detail: str) -> None:
        if until > self.hold_until:
            self.hold_until, self.hold_detail = until, detail

    def _on_429(self, now: float, h: RateHeaders, limited: LimitKind, granted_at: float) -> None:
        """Obey what a 429 said, and count it toward the denylist guard.

        A window 429 leaves the window claim at ``remaining`` 0 until its reset (a newer
        response may still replace it); without headers it empties a known window or holds an
        unknown one for ``blind_429_hold``. A 24-hour 429 leaves its bucket at 0. A per-second
        429 (``remaining`` > 0, no cap body) widens the gap kept between grants: the documented
        one where the route has it, else one second, doubling while the limiter keeps refusing.
        A cap 429 changes nothing here (the cap engine parks the route).

        Guard: two 429s in one window mean our model of the bucket is wrong, and repeated 429s
        get apps denylisted (x-api-rate-limits.txt "Denylist"): the bucket then stops for the
        rest of that window. Only a 429 to a request granted *after* the window's first 429 was
        seen counts as a repeat: requests already in flight could not have known.
        """
        self.rejected += 1
        q = h.window
        key: float | None = self._window.reset if self._window is not None else None
        if limited == "window":
            if q is not None and self.late_margin is not None and granted_at >= self._ends_at(q.reset):
                # Sent after the reset (by our margin) and still refused by that window: the
                # server rounds its reset down. Keep a wider margin from now on.
                self.reset_margin = min(10.0, max(self.late_margin, self.reset_margin * 2))
            if q is None:
                if self._window is not None:
                    self._window.remaining = 0
                else:
                    self._hold(now + self.blind_429_hold, "429 without rate-limit headers")
            else:
                key = q.reset
                if self._window is not None and abs(self._window.reset - q.reset) <= RESET_JITTER:
                    self._window.remaining = 0
            self._hold(now + 1.0, "429: window spent")
        elif limited == "daily":
            daily = [d for d in (h.app_daily, h.user_daily) if d is not None and d.remaining <= 0]
            key = max((d.reset for d in daily), default=key)
        elif limited == "per_second":
            base = 1.0 / self.per_second if self.per_second else 1.0
            self._gap = base if self._gap is None else min(MAX_GAP, max(base, self._gap * 2))
            self._hold(now + self.min_gap, f"429 with remaining > 0: a per-second limiter ({self.min_gap:.1f}s gap)")
        first = self._w429.get(key)
        if first is None:
            self._w429[key] = (now, 1)
            return
        if granted_at < first[0]:
            return  # in flight when the first 429 arrived: not a repeat
        count = first[1] + 1
        self._w429[key] = (first[0], count)
        if count >= 2:
            until = max(self._ends_at(key) if key is not None else first[0] + self._span, now + self.blind_429_hold)
            if until > self.stop_until:
                self.stop_until = until
                self.stop_detail = f"{count} 429s in one window: stopped until its end"

    # --- views ----------------------------------------------------------------------------

    @property
    def min_gap(self) -> float:
        """Seconds kept between two grants: the documented per-second limiter's gap, or a
        wider one a hidden limiter taught with its 429s (0 without either)."""
        known = 1.0 / self.per_second if self.per_second else 0.0
        gap = max(known, self._gap or 0.0)
        return gap + self.per_second_margin if gap else 0.0

    def pace_interval(self, now: float) -> float:
        """Seconds the shell's pacer keeps between sends now (0: as fast as the rules allow).

        The pacing decision; the shell's per-bucket ``aiolimiter`` carries it out
        (``runtime/pacer.py``). ``spread``: what the window has left, spread evenly up to its
        reset, so the last send lands one interval before it and the next window starts full;
        with the reset unknown, the window's limit over the (learned) window. ``burst``: none.
        ``auto``: spread while the bucket's queued demand (:attr:`demand`, tasks claimable on it)
        is more than the window has left, else none: a short backlog goes at once, a long one
        neither idles a window nor piles into a sliding one.
        """
        now = self._advance(now)
        if self.mode == "burst":
            return 0.0
        a = self._available_at(now)
        if a <= 0 or (self.mode == "auto" and self.demand <= a):
            return 0.0  # nothing to pace: the ledgers hold it, or the backlog fits what is left
        w = self._window_at(now)
        left = self._ends_at(w.reset) - now if w is not None else self._pace_span
        return max(0.0, left / a)

    def figures(self, now: float | None = None) -> BucketFigures:
        """Frozen live figures (at ``now``, or at the latest time the bucket saw)."""
        if now is not None:
            self._advance(now)
        t = self._now
        w = self._window_at(t)
        daily = min(self._daily.values(), key=lambda d: d.remaining, default=None)
        stopped = max(self.stop_until, self.hold_until)
        return BucketFigures(
            route=self.route,
            auth=self.auth,
            auth_kind=self.auth_kind,
            limit=self.limit,
            remaining=w.remaining if w else None,
            reset=w.reset if w else None,
            available=self._available_at(t),
            in_flight=len(self._tickets),
            sent=self.sent,
            rejected=self.rejected,
            daily_remaining=daily.remaining if daily else None,
            daily_reset=daily.reset if daily else None,
            stopped_until=stopped if stopped > t else None,
            window=self.window_length,
            window_learned=self._learned is not None,
            min_gap=self.min_gap,
            pace=self.pace_interval(t),
            demand=self.demand,
        )

    def __repr__(self) -> str:
        w = self._window
        win = f"remaining={w.remaining} reset={w.reset:.0f}" if w else "reset=unknown"
        return (
            f"<Bucket {self.route} {self.auth_kind}:{self.auth} limit={self.limit} {win} "
            f"window={self.window_length:.0f}s{'' if self._learned is not None else '(prior)'} "
            f"in_flight={len(self._tickets)} logged={len(self._log)} sent={self.sent} "
            f"429s={self.rejected} mode={self.mode}>"
        )

    # --- persistence ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, object]:
        """Plain-data state. Requests still in flight are saved as sent (they may have landed)."""
        in_flight = len(self._tickets)
        return {
            "route": self.route,
            "auth": self.auth,
            "auth_kind": self.auth_kind,
            "limit": self.limit,
            "window": self._window.to_dict(in_flight) if self._window else None,
            "daily": {k: d.to_dict(in_flight) for k, d in self._daily.items()},
            "log": [[e.granted_at, e.window] for e in self._log if not e.cancelled],
            "last_send": self._last_send,
            "hold_until": self.hold_until if self.hold_until > self._now else None,
            "hold_detail": self.hold_detail,
            "stop_until": self.stop_until if self.stop_until > self._now else None,
            "stop_detail": self.stop_detail,
            "sent": self.sent + in_flight,
            "rejected": self.rejected,
            "learned_window": self._learned,
            "learned_reset": self._learned_reset,
            "gap": self._gap,
            "reset_margin": self.reset_margin,
        }

    def load(self, state: Mapping[str, object]) -> None:
        """Restore what :meth:`to_dict` saved (route, auth and settings stay as constructed)."""
        self.limit = _int(state.get("limit"), self.limit)
        self._window = _quota_from(state.get("window"))
        daily = state.get("daily")
        self._daily = {}
        if isinstance(daily, Mapping):
            for k, v in daily.items():
                d = _quota_from(v)
                if d is not None and k in ("app", "user"):
                    self._daily[k] = d
        self._log = deque()
        self._tickets = {}
        log = state.get("log")
        if isinstance(log, Sequence):
            for item in log:
                if isinstance(item, Sequence) and len(item) == 2:
                    self._log.append(_Entry(_float(item[0], 0.0), opt_float(item[1])))
        self._groups = {}
        for e in self._log:
            self._group(e.window, e.granted_at)
        self._last_send = opt_float(state.get("last_send"))
        self.hold_until = _float(state.get("hold_until"), float("-inf"))
        self.hold_detail = str(state.get("hold_detail") or "")
        self.stop_until = _float(state.get("stop_until"), float("-inf"))
        self.stop_detail = str(state.get("stop_detail") or "")
        self.sent = _int(state.get("sent"), 0)
        self.rejected = _int(state.get("rejected"), 0)
        self._learned = opt_float(state.get("learned_window"))
        self._learned_reset = opt_float(state.get("learned_reset"))
        self._gap = opt_float(state.get("gap"))
        if self.late_margin is not None:  # a margin learned earlier is kept; a fixed one is not overridden
            self.reset_margin = max(self.reset_margin, _float(state.get("reset_margin"), self.reset_margin))
        self._now = max([self._now, *(e.granted_at for e in self._log)])


def opt_float(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _float(v: object, default: float) -> float:
    f = opt_float(v)
    return default if f is None else f


def _int(v: object, default: int) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else default


def _quota_from(v: object) -> _Quota | None:
    if not isinstance(v, Mapping):
        return None
    reset = opt_float(v.get("reset"))
    if reset is None:
        return None
    limit = v.get("limit")
    return _Quota(_int(limit, 0) or None, _int(v.get("remaining"), 0), reset, opt_float(v.get("date")))
