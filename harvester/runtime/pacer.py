"""Pacing: one ``aiolimiter`` leaky bucket per rate-limit bucket, retuned from the core.

The request machine decides the pace (``RequestMachine.pace_interval``: how far apart sends on
a bucket should be now, from what its window has left, its reset and its queued demand); this
module carries it out with ``aiolimiter.AsyncLimiter``, a leaky bucket of capacity one that
drips at that rate, so successive sends on a bucket are one interval apart. The core still
keeps the window budget and the reservations: the pacer only spaces what the core grants.

Claims skip a bucket whose pacer has no capacity (:meth:`Pacer.busy`), exactly as they skip a
closed bucket, so a worker never holds a task while it waits for its turn, and idle workers
wake when the first paced bucket is ready again (:meth:`Pacer.next_ready`).

Two things ``aiolimiter`` does not do, wrapped thinly here: retuning a limiter's rate in place
(:class:`Limiter.retune`: the level already used is kept, only the drip changes), and saying
when it will next have capacity without waiting for it (:meth:`Limiter.ready_in`). Both read
the limiter's own level and ``loop.time()``, so they follow ``WarpLoop``'s fast-forwarded time
like everything else.
"""

from __future__ import annotations

from aiolimiter import AsyncLimiter

Key = tuple[str, str]  # (route, auth name): what claims skip


class Limiter(AsyncLimiter):
    """An ``AsyncLimiter`` of capacity one whose drip rate can be changed in place."""

    def __init__(self, interval: float) -> None:
        super().__init__(max_rate=1, time_period=interval)

    @property
    def interval(self) -> float:
        return float(self.time_period)

    def retune(self, interval: float) -> None:
        """Drip at one send per ``interval`` from now on (the level used so far is kept)."""
        if interval == self.time_period:
            return
        self._leak()  # settle the drip at the old rate up to now
        self.time_period = interval
        self._rate_per_sec = 1.0 / interval
        self._wake_next()

    def ready_in(self) -> float:
        """Seconds until one more send fits (0 when it fits now)."""
        self._leak()
        excess = self._level + 1 - self.max_rate
        return max(0.0, excess / self._rate_per_sec)


class Pacer:
    """The limiters of every paced bucket; an unpaced bucket has none."""

    def __init__(self) -> None:
        self._limiters: dict[Key, Limiter] = {}

    def tune(self, key: Key, interval: float) -> None:
        """Pace ``key`` at one send per ``interval`` seconds (0: unpaced)."""
        limiter = self._limiters.get(key)
        if interval <= 0:
            if limiter is not None and not limiter._waiters:
                del self._limiters[key]
            return
        if limiter is None:
            self._limiters[key] = Limiter(interval)
        else:
            limiter.retune(interval)

    def busy(self) -> frozenset[Key]:
        """Buckets whose next send must wait for its turn: claims skip them."""
        return frozenset(k for k, lim in self._limiters.items() if lim.ready_in() > 0)

    def next_ready(self) -> float | None:
        """Seconds until the first busy bucket's turn comes, or None if none is busy."""
        waits = [w for lim in self._limiters.values() if (w := lim.ready_in()) > 0]
        return min(waits) if waits else None

    async def turn(self, key: Key) -> None:
        """Take ``key``'s turn (at once when it has come; else wait for it)."""
        limiter = self._limiters.get(key)
        if limiter is not None:
            await limiter.acquire()

    def interval(self, key: Key) -> float:
        limiter = self._limiters.get(key)
        return 0.0 if limiter is None else limiter.interval

    def __repr__(self) -> str:
        return f"<Pacer paced={len(self._limiters)} busy={len(self.busy())}>"
