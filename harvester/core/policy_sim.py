"""A pure simulation of polled sources, to compare revisit strategies under a request budget.

Theory of operation
-------------------
Each :class:`SimSource` emits items as a Poisson process of known ``rate`` (arrival times are
drawn once from the injected RNG, so every strategy sees the same items). Time advances in ticks
of ``tick`` seconds (a rate-limit window by default); at each tick the strategy may spend that
tick's share of ``budget_requests`` (unused requests are lost, as in a rate-limit window). A
poll is one request; it returns the oldest pending items, up to ``page_size`` (the rest wait for
the next poll, as a ``since_id`` poll would page on). Items older than ``retention`` at a poll
are gone (recent search keeps 7 days).

Three strategies: :class:`PolicyStrategy` (the adaptive :class:`~harvester.core.policy.Policy`),
:class:`FixedStrategy` (round-robin: every source at the same interval, spending the whole
budget) and :class:`OracleStrategy` (the policy's rules with the true rates instead of estimates:
each source polled when it is expected to have the target yield). :func:`simulate` reports new
items per request, coverage and the mean delay from posting to capture.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from harvester.core.policy import DAY, Policy, SourceState


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSource:
    """A simulated source: ``rate`` items/second, and the job priority it belongs to."""

    id: str
    rate: float
    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """What a strategy achieved.

    Attributes:
        requests: requests made.
        captured: items captured.
        emitted: items that appeared during the horizon.
        lost: items that aged out before a poll reached them.
        total_delay: sum over captured items of capture time minus creation time, seconds.
        max_gap: the longest time any source went unpolled (from the start), seconds.
    """

    requests: int
    captured: int
    emitted: int
    lost: int
    total_delay: float
    max_gap: float

    @property
    def per_request(self) -> float:
        """New items per request."""
        return self.captured / self.requests if self.requests else 0.0

    @property
    def mean_delay(self) -> float:
        """Mean seconds from posting to capture."""
        return self.total_delay / self.captured if self.captured else math.inf

    @property
    def coverage(self) -> float:
        """Share of the emitted items captured by the end."""
        return self.captured / self.emitted if self.emitted else 1.0

    def __repr__(self) -> str:
        return (
            f"<SimResult {self.per_request:.2f} items/request, {self.requests} requests, "
            f"coverage {self.coverage:.1%}, mean delay {self.mean_delay / 3600:.2f}h, "
            f"max gap {self.max_gap / 3600:.1f}h>"
        )


class Strategy(Protocol):
    """Chooses polls; told what each poll brought."""

    def choose(self, now: float, budget: int) -> list[int]:
        """Indexes of the sources to poll at ``now``, at most ``budget`` of them."""
        ...

    def record(self, source: int, now: float, new_items: int, newest_item_time: float | None) -> None:
        """The poll of ``source`` at ``now`` brought ``new_items``."""
        ...


class PolicyStrategy:
    """The adaptive policy, over states seeded from ``priors`` (default: the policy's prior)."""

    def __init__(
        self, policy: Policy, sources: Sequence[SimSource], priors: Sequence[SourceState] | None = None
    ) -> None:
        self.policy = policy
        self.ids = [s.id for s in sources]
        self.states = {s.id: replace(priors[i] if priors else policy.prior(), priority=s.priority)
                       for i, s in enumerate(sources)}  # fmt: skip
        self._index = {sid: i for i, sid in enumerate(self.ids)}
        self._heap = [(0.0, i) for i in range(len(self.ids))]  # (next poll, index)

    def choose(self, now: float, budget: int) -> list[int]:
        due: list[int] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[1])
        picked = self.policy.rank({self.ids[i]: self.states[self.ids[i]] for i in due}, now, budget)
        chosen = {self._index[sid] for sid in picked}
        for i in due:
            if i not in chosen:
                heapq.heappush(self._heap, (now, i))  # still due
        return [self._index[sid] for sid in picked]

    def record(self, source: int, now: float, new_items: int, newest_item_time: float | None) -> None:
        sid = self.ids[source]
        st = self.policy.observe(self.states[sid], now, new_items, newest_item_time)
        self.states[sid] = st
        heapq.heappush(self._heap, (self.policy.next_poll(st, now), source))


class OracleStrategy(PolicyStrategy):
    """The policy's rules with every source's true rate: no estimation error."""

    def __init__(self, policy: Policy, sources: Sequence[SimSource]) -> None:
        super().__init__(policy, sources, [policy.prior(s.rate) for s in sources])
        self.rates = [s.rate for s in sources]

    def record(self, source: int, now: float, new_items: int, newest_item_time: float | None) -> None:
        sid = self.ids[source]
        full = new_items >= self.policy.cap
        interval = self.policy.min_interval if full else self.policy.interval_for(self.rates[source])
        st = replace(self.states[sid], last_poll=now, polls=self.states[sid].polls + 1, saturated=full,
                     interval=interval, rate=self.rates[source])  # fmt: skip
        self.states[sid] = st
        heapq.heappush(self._heap, (self.policy.next_poll(st, now), source))


class FixedStrategy:
    """Round-robin: the whole budget, every source in turn, so all share one interval."""

    def __init__(self, n_sources: int) -> None:
        self.n = n_sources
        self.next = 0

    def choose(self, now: float, budget: int) -> list[int]:
        out = [(self.next + k) % self.n for k in range(min(budget, self.n))]
        self.next = (self.next + len(out)) % self.n
        return out

    def record(self, source: int, now: float, new_items: int, newest_item_time: float | None) -> None:
        return None


def arrivals(sources: Sequence[SimSource], horizon: float, rng: random.Random) -> list[list[float]]:
    """Each source's item creation times in ``[0, horizon)``, sorted."""
    out = []
    for s in sources:
        times, t = [], 0.0
        if s.rate > 0:
            while True:
                t += rng.expovariate(s.rate)
                if t >= horizon:
                    break
                times.append(t)
        out.append(times)
    return out


def heavy_tailed_sources(n: int, rng: random.Random, median_per_day: float = 1.0, sigma: float = 2.0,
                         max_per_day: float = 2000.0) -> list[SimSource]:  # fmt: skip
    """``n`` sources with log-normal rates (most nearly silent, a few very busy), like X users."""
    mu = math.log(median_per_day)
    return [
        SimSource(id=f"s{i}", rate=min(max_per_day, math.exp(rng.gauss(mu, sigma))) / DAY) for i in range(n)
    ]


def simulate(
    strategy: Strategy,
    sources: Sequence[SimSource],
    horizon: float,
    budget_requests: int,
    rng: random.Random,
    *,
    tick: float = 900.0,
    page_size: int = 100,
    retention: float = 7 * DAY,
) -> SimResult:
    """Run ``strategy`` over ``sources`` for ``horizon`` seconds with ``budget_requests`` in all."""
    items = arrivals(sources, horizon, rng)
    pos = [0] * len(sources)  # first item not yet captured (or lost)
    last = [0.0] * len(sources)
    ticks = max(1, int(horizon // tick))
    requests = captured = lost = 0
    delay = gap = 0.0
    for k in range(ticks):
        now = k * tick
        quota = (k + 1) * budget_requests // ticks - k * budget_requests // ticks
        if quota <= 0:
            continue
        for i in strategy.choose(now, quota)[:quota]:
            requests += 1
            arr = items[i]
            gap = max(gap, now - last[i])
            last[i] = now
            old = bisect.bisect_left(arr, now - retention, pos[i])
            lost += old - pos[i]
            end = bisect.bisect_right(arr, now, old)
            take = min(end - old, page_size)
            got = arr[old : old + take]
            captured += take
            delay += take * now - math.fsum(got)
            pos[i] = old + take
            strategy.record(i, now, take, got[-1] if got else None)
    gap = max([gap] + [horizon - t for t in last])
    return SimResult(requests=requests, captured=captured, emitted=sum(len(a) for a in items), lost=lost,
                     total_delay=delay, max_gap=gap)  # fmt: skip
