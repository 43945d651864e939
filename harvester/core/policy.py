"""Adaptive revisit policy for recurring (``mode = "poll"``) sources: when to poll each one next.

Theory of operation
-------------------
A polled source (a search, a user's timeline or mentions, re-read with ``since_id``) is modelled
as a Poisson process of new items with an unknown rate ``λ`` (items per second). What we know of
``λ`` is a Gamma(``alpha``, ``beta``) posterior: ``alpha`` counts items seen, ``beta`` seconds
watched, both starting from a prior (:meth:`Policy.prior`, or :func:`prior_from_activity` for a
user). Every poll is an observation of ``k`` new items over the ``dt`` seconds since the last
one. Old evidence fades with a half-life: before adding ``(k, dt)`` the excess of ``alpha`` and
``beta`` over the prior is multiplied by ``0.5 ** (dt / half_life)``, so a source that changes
pace is re-learned in a few half-lives and the posterior never hardens.

Rule 1, *the target yield.* A poll is worth making when it is expected to bring ``target_yield``
new items (a fraction of a page). The next poll is due ``target_yield / rate`` after this one,
clamped to ``[min_interval, max_interval]``. The scheduling ``rate`` is the larger of the
posterior mean and the rate of the poll just made (``k / dt``): the posterior alone, with its
memory of a quiet past, would take hours to believe a burst; this way a burst brings the interval
down at once and the next empty poll starts backing off again from there.

Rule 2, *backoff.* After an empty poll the interval grows at least by ``backoff`` (×2), so a
silent query walks up to ``max_interval`` in a handful of polls even when its prior was generous,
and stays there: never more than ``max_interval`` between two polls (no starvation), and a poll
that brings anything resets the interval from the rate.

Rule 3, *a full page means more.* ``k`` at the page cap is a censored count (there may be more
waiting): the source is due again after ``min_interval``, whatever the rate says.

Rule 4, *ranking under a short quota.* :meth:`Policy.rank` orders the sources that are due:
first any that reached ``max_interval`` (the starvation guard: most overdue first, then the
likelier to yield), then by job
priority, then by expected new items per request, then by staleness. It stops when the request
budget is spent. Sources not yet due are never chosen: a poll made early is a poll whose items
a later poll would have brought anyway.

Rule 5, *a request budget* (``poll_budget``). Given a budget of ``B`` polls per second for a
job's sources, the intervals are no longer set by the yield target: each source ``i`` is polled
every ``T_i = c / sqrt(rate_i)``, clamped to ``[min_interval, max_interval]``, with ``c`` the one
value for which ``sum(1 / T_i) = B`` (:func:`budget_scale`, a water-filling over the clamps). Why
the square root: a Poisson source polled every ``T`` has its posts wait ``T / 2`` on average, so
the mean delay over all posts is ``sum(rate_i * T_i) / (2 * sum(rate_i))``; minimising that under
``sum(1 / T_i) = B`` (Lagrange) gives ``T_i`` proportional to ``1 / sqrt(rate_i)``. It spends the
budget on every source, the quiet ones too (which the yield target leaves at ``max_interval``),
but less than proportionally to their rate, which is what minimises delay. The allocation reads
each source's posterior mean; the source being scheduled uses its scheduling rate (Rule 1), so a
burst still pulls it in at once, and a full page still means ``min_interval`` (Rule 3). Backoff
(Rule 2) is not applied: under a budget the posterior's fall after empty polls does that job.

Rule 5b, *a budget below the floor.* Visiting every source once per ``max_interval`` costs
``sum(1 / max_interval)`` polls a second (the floor). A budget below that cannot keep the bound,
and the budget is what the user pays for, so the budget wins: every ``max_interval`` of the
group is stretched by one factor (:func:`budget_stretch`), chosen so that visiting every source
at its stretched bound costs half the budget; the other half goes, by the square root, to the
sources that post. (Stretching only to the floor would leave nothing to allocate: every source
at its bound is fixed-interval polling, the worst use of a budget.) The runtime says so once.

Rule 5c, *a request is the unit of cost, not a poll.* A source that posts more than a page
between two polls costs a request per page whenever it is polled, so polling it sooner costs
nothing more: under a budget a source is polled every ``min(c / sqrt(rate), fit / rate)``, where
``fit`` (:func:`page_fit`: 80 for pages of 100) is what one page holds almost surely, and the
budget counts requests (a source that still brings several pages at ``min_interval`` costs
``rate / page_size``), so multi-page polls do not overspend it.

Rule 6, *the first poll teaches.* The first poll of a source is its backfill: everything it
posted over a known span (the search window, or back to the oldest post returned). Its count over
that span (``exposure``) enters the posterior as evidence like any other, so a source's rate is
about right after its first poll rather than after days of polls.

Why this shape: a fixed interval spends most requests on sources that have nothing new (heavy-
tailed rates: most users post less than once a day, a few hundred times); the yield target makes
requests roughly equally productive, which is what a request budget rewards, while the clamps
bound the delay of the quiet ones. :mod:`harvester.core.policy_sim` measures it against fixed
polling and an oracle that knows the true rates.

Nothing here reads a clock, sleeps, logs or does I/O: time is ``now``, states are frozen values.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

DAY = 86_400.0
BURST_P = 0.01  # a poll's count this unlikely under the posterior is a burst (Rule 5)
ACTIVE_BOOST = 4.0  # an active_since user's prior rate, times the plain one
ACTIVE_PRIOR_SECONDS = 7 * DAY  # ... worth a week of watching, as much as a backfill


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceState:
    """What the policy knows of one polled source.

    Attributes:
        alpha: Gamma posterior shape: (decayed) items seen, plus the prior's.
        beta: Gamma posterior rate: (decayed) seconds watched, plus the prior's.
        prior_alpha: the prior's shape, which decay returns ``alpha`` towards.
        prior_beta: the prior's seconds, which decay returns ``beta`` towards.
        rate: the scheduling rate, items/second (Rule 1): max(posterior mean, last poll's rate).
        last_poll: time of the last poll, or None before the first.
        last_new_item_time: creation time of the newest item seen, if any.
        polls: polls observed.
        empty_streak: consecutive polls that brought nothing.
        interval: seconds from the last poll to the next (Rules 1-3).
        saturated: the last poll came back full (Rule 3).
        priority: the job's priority; higher is polled first among sources that are due.
    """

    alpha: float
    beta: float
    prior_alpha: float
    prior_beta: float
    rate: float
    last_poll: float | None = None
    last_new_item_time: float | None = None
    polls: int = 0
    empty_streak: int = 0
    interval: float = 0.0
    saturated: bool = False
    priority: int = 0

    @property
    def mean_rate(self) -> float:
        """Posterior mean of the rate, items/second."""
        return self.alpha / self.beta

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, for the store."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceState:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, missing optional ones defaulted."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def __repr__(self) -> str:
        last = "never" if self.last_poll is None else f"{self.last_poll:.0f}"
        return (
            f"<SourceState {self.rate * DAY:.2f}/day (mean {self.mean_rate * DAY:.2f}/day) "
            f"every {self.interval:.0f}s polls={self.polls} empty={self.empty_streak} last={last}"
            f"{' saturated' if self.saturated else ''} prio={self.priority}>"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Revisit rules for one job's sources (see the module docstring).

    Attributes:
        min_interval: shortest time between two polls of a source, seconds.
        max_interval: longest; every source is polled at least this often.
        page_size: items one request can return.
        max_pages: requests one poll may make (a poll's yield is capped at page_size × max_pages).
        decay_half_life: half-life of the rate evidence, seconds.
        target_yield: new items a poll should expect; default a fifth of a page.
        backoff: factor by which the interval grows at least after an empty poll.
        prior_rate: items/second assumed of a source nothing is known about.
        prior_seconds: how many seconds of watching the prior is worth (a weak prior: a few polls
            outweigh it whatever the rate).
    """

    min_interval: float
    max_interval: float
    page_size: int = 100
    max_pages: int = 1
    decay_half_life: float = 3 * DAY
    target_yield: float | None = None
    backoff: float = 2.0
    prior_rate: float = 1.0 / DAY
    prior_seconds: float = 3600.0
    _target: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        if not 0 < self.min_interval <= self.max_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        if self.page_size < 1 or self.max_pages < 1 or self.decay_half_life <= 0 or self.backoff < 1:
            raise ValueError("page_size, max_pages >= 1; decay_half_life > 0; backoff >= 1")
        target = self.page_size / 5 if self.target_yield is None else self.target_yield
        if not 0 < target <= self.page_size * self.max_pages:
            raise ValueError("target_yield must be in (0, page_size * max_pages]")
        object.__setattr__(self, "_target", float(target))

    @property
    def cap(self) -> int:
        """Most items one poll can bring."""
        return self.page_size * self.max_pages

    def prior(
        self, rate: float | None = None, *, priority: int = 0, seconds: float | None = None
    ) -> SourceState:
        """A fresh source believed to produce ``rate`` items/second (default ``prior_rate``), as
        if watched for ``seconds`` (default ``prior_seconds``)."""
        r = max(self.prior_rate if rate is None else rate, 1e-12)
        b = self.prior_seconds if seconds is None else seconds
        return SourceState(alpha=r * b, beta=b, prior_alpha=r * b, prior_beta=b, rate=r,
                           interval=self.interval_for(r), priority=priority)  # fmt: skip

    def prior_from_activity(
        self,
        posts_per_day: float | None,
        last_tweet_age: float | None,
        active_since: bool,
        *,
        priority: int = 0,
    ) -> SourceState:
        """Seed a user's state from what is known of their activity (see :func:`prior_from_activity`)."""
        return prior_from_activity(self, posts_per_day, last_tweet_age, active_since, priority=priority)

    def _clamp(self, interval: float) -> float:
        return min(self.max_interval, max(self.min_interval, interval))

    def interval_for(self, rate: float) -> float:
        """Seconds until a source producing ``rate`` items/second has ``target_yield`` new, clamped."""
        return self._clamp(self._target / rate) if rate > 0 else self.max_interval

    def budget_interval(self, rate: float, scale: float) -> float:
        """Rules 5 and 5c: the interval of a source producing ``rate`` items/second when the
        job's budget gives the scale ``c`` (:func:`budget_scale`): ``c / sqrt(rate)``, or
        sooner when that would bring more than a page (``page_fit(page_size) / rate``: the
        extra polls cost nothing, the posts take as many requests either way), clamped."""
        if scale <= 0:
            return self.min_interval
        if rate <= 0:
            return self.max_interval
        fit = page_fit(self.page_size) / rate
        return self._clamp(fit if math.isinf(scale) else min(scale / math.sqrt(rate), fit))

    def observe(
        self,
        state: SourceState,
        now: float,
        new_items: int,
        newest_item_time: float | None = None,
        *,
        exposure: float | None = None,
    ) -> SourceState:
        """The state after a poll at ``now`` that brought ``new_items`` (pure).

        ``exposure``: for a first poll, the seconds of posting its items cover (Rule 6); without
        it a first poll teaches nothing about the rate."""
        if new_items < 0:
            raise ValueError("new_items must be >= 0")
        if state.last_poll is None and exposure is not None and exposure > 0:
            alpha, beta = state.alpha + new_items, state.beta + exposure
            rate = alpha / beta
        elif state.last_poll is None:
            # The first poll is the full harvest of an unknown past: no exposure to divide by,
            # so it teaches nothing about the rate (seed that with prior_from_activity).
            alpha, beta, rate = state.alpha, state.beta, state.mean_rate
        else:
            dt = max(0.0, now - state.last_poll)
            d = 0.5 ** (dt / self.decay_half_life)
            alpha = state.prior_alpha + d * (state.alpha - state.prior_alpha) + new_items
            beta = state.prior_beta + d * (state.beta - state.prior_beta) + dt
            rate = max(alpha / beta, new_items / dt if dt > 0 else 0.0)
        saturated = new_items >= self.cap
        interval = self.interval_for(rate)
        empty = state.empty_streak + 1 if new_items == 0 and state.last_poll is not None else 0
        if empty and state.interval > 0:
            interval = self._clamp(max(interval, state.interval * self.backoff))
        if saturated:
            interval = self.min_interval
        newest = state.last_new_item_time
        if newest_item_time is not None and (newest is None or newest_item_time > newest):
            newest = newest_item_time
        return replace(state, alpha=alpha, beta=beta, rate=rate, last_poll=now, last_new_item_time=newest,
                       polls=state.polls + 1, empty_streak=empty, interval=interval, saturated=saturated)  # fmt: skip

    def budget_rate(self, before: SourceState, after: SourceState, new_items: int, now: float) -> float:
        """The rate Rule 5 schedules a source by after a poll: its posterior mean, or the poll's
        own count over its gap when that count is a surprise under the posterior before it
        (a Poisson tail under 1 %: a burst). Plain ``max(mean, k / dt)`` (Rule 1) would take
        every lucky single post of a quiet source for a burst and spend the budget on noise."""
        if before.last_poll is None or new_items == 0:
            return after.mean_rate
        dt = max(0.0, now - before.last_poll)
        if dt <= 0:
            return after.mean_rate
        if poisson_tail(new_items, before.mean_rate * dt) < BURST_P:
            return max(after.mean_rate, new_items / dt)
        return after.mean_rate

    def next_poll(self, state: SourceState, now: float) -> float:
        """When the source should be polled next (``now`` if it never was)."""
        if state.last_poll is None:
            return now
        return state.last_poll + state.interval

    def expected_yield(self, state: SourceState, now: float) -> float:
        """Expected new items if polled at ``now``, capped at what one poll can bring."""
        if state.last_poll is None:
            return float(self.cap)
        if state.saturated:
            return float(self.cap)
        return min(float(self.cap), state.rate * max(0.0, now - state.last_poll))

    def per_request(self, state: SourceState, now: float) -> float:
        """Expected new items per request if polled at ``now``."""
        y = self.expected_yield(state, now)
        return y / self.requests(state, now)

    def requests(self, state: SourceState, now: float) -> int:
        """Requests a poll at ``now`` is expected to make."""
        return max(1, min(self.max_pages, math.ceil(self.expected_yield(state, now) / self.page_size)))

    def starving(self, state: SourceState, now: float) -> bool:
        """Never polled, or not polled for ``max_interval``."""
        return state.last_poll is None or now - state.last_poll >= self.max_interval

    def rank(self, states: Mapping[str, SourceState], now: float, budget_requests: int) -> list[str]:
        """The sources to poll at ``now`` with at most ``budget_requests`` requests, in order
        (Rule 4). A starving source costs one request even if more pages may follow."""
        starving: list[tuple[float, float, str]] = []
        due: list[tuple[int, float, float, str]] = []
        for sid, st in states.items():
            if self.starving(st, now):
                since = -math.inf if st.last_poll is None else st.last_poll
                starving.append((since, -self.per_request(st, now), sid))
            elif self.next_poll(st, now) <= now:
                stale = now - st.last_poll if st.last_poll is not None else math.inf
                due.append((-st.priority, -self.per_request(st, now), -stale, sid))
        starving.sort()
        due.sort()
        out: list[str] = []
        left = budget_requests
        for *_, sid in starving:
            if left < 1:
                return out
            out.append(sid)
            left -= 1
        for *_, sid in due:
            cost = self.requests(states[sid], now)
            if cost > left:
                if left < 1:
                    break
                continue
            out.append(sid)
            left -= cost
        return out

    def __repr__(self) -> str:
        return (
            f"<Policy [{self.min_interval:.0f}s, {self.max_interval:.0f}s] target {self._target:g}/poll "
            f"cap {self.cap} half-life {self.decay_half_life / DAY:g}d backoff ×{self.backoff:g}>"
        )


def poisson_tail(k: int, mu: float) -> float:
    """P(N >= k) for N ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    term = math.exp(-mu)
    below = term
    for i in range(1, k):
        term *= mu / i
        below += term
    return max(0.0, 1.0 - below)


STRETCH_SHARE = 0.5  # under Rule 5b, the share of the budget the stretched bounds alone spend


def budget_stretch(groups: Iterable[tuple[int, float]], per_second: float) -> float:
    """Rule 5b's factor on every ``max_interval`` of a budget group: 1.0 when the budget visits
    each source at least once per its ``max_interval`` (``groups``: ``(sources, max_interval)``
    pairs), else the factor at which those visits cost :data:`STRETCH_SHARE` of the budget."""
    floor = sum(n / hi for n, hi in groups if n > 0 and hi > 0)
    if per_second <= 0 or floor <= per_second:
        return 1.0
    return floor / (STRETCH_SHARE * per_second)


def page_fit(page_size: float | None) -> float:
    """Rule 5c: the new posts a poll can expect and still, almost surely, fit in one page: two
    Poisson standard deviations under the page size (80 of 100; P(more) about 2 %). ``inf``
    without a page size (no page cost)."""
    if page_size is None or math.isinf(page_size):
        return math.inf
    return max(1.0, page_size - 2.0 * math.sqrt(page_size))


def budget_scale(
    rates: Iterable[float],
    per_second: float,
    min_interval: float,
    max_interval: float,
    page_size: float | None = None,
) -> float:
    """Rule 5's scale ``c``: polling each source as :meth:`Policy.budget_interval` says makes
    ``per_second`` requests a second in all (:func:`budget_scale_mixed` with one set of bounds)."""
    return budget_scale_mixed([(rates, min_interval, max_interval, page_size)], per_second)


@dataclass(frozen=True, slots=True)
class _Part:
    """One group's sorted square roots of the rates, with prefix sums of the roots and the rates."""

    roots: list[float]
    roots_sum: list[float]
    rates_sum: list[float]
    lo: float
    hi: float
    page: float  # inf: no page cost
    fit: float  # page_fit(page)

    def spend(self, c: float) -> float:
        """Requests a second of this group's sources at scale ``c`` (Rules 5 and 5c).

        Each source's interval is ``clamp(min(c / x, fit / x**2))`` with ``x = sqrt(rate)``,
        which falls as ``x`` grows: the slowest at ``max_interval``, then ``c / x`` (cost
        ``x / c``), then ``fit / x**2`` (cost ``x**2 / fit``: a page per ``fit`` posts), then
        ``min_interval``, where a source posting more than a page per ``min_interval`` costs
        ``x**2 / page`` (it pages through what is new). Each boundary is found by bisection."""
        roots, n = self.roots, len(self.roots)
        crossover = c * c / self.fit if not math.isinf(self.fit) else 0.0  # the interval where both meet
        x_hi = c / self.hi if crossover <= self.hi else math.sqrt(self.fit / self.hi)
        x_lo = c / self.lo if crossover <= self.lo else math.sqrt(self.fit / self.lo)
        h = bisect.bisect_right(roots, x_hi)  # [0, h): max_interval
        low = max(h, bisect.bisect_left(roots, x_lo, lo=h))  # [low, n): min_interval
        k = bisect.bisect_right(roots, self.fit / c if c > 0 else math.inf, h, low)  # [h, k): c / x
        m = bisect.bisect_right(roots, math.sqrt(self.page / self.lo), low, n)  # [m, n): several pages
        total = h / self.hi + (self.roots_sum[k] - self.roots_sum[h]) / c
        if k < low:
            total += (self.rates_sum[low] - self.rates_sum[k]) / self.fit
        total += (m - low) / self.lo
        if m < n:
            total += (self.rates_sum[n] - self.rates_sum[m]) / self.page
        return total


def budget_scale_mixed(groups: Iterable[tuple[Any, ...]], per_second: float) -> float:
    """Rule 5's scale ``c`` for sources in groups with bounds of their own (the jobs sharing a
    daemon-wide budget): each group is ``(rates, min_interval, max_interval[, page_size])``.

    ``0.0`` when even every source at its ``min_interval`` spends less (all go at
    ``min_interval``); ``inf`` when the largest ``c`` still spends more (every source at its
    ``max_interval``, or as often as a page's worth of posts needs: the bounds and the pages win
    over the budget). Bisection on ``log c`` over each group's sorted square roots with prefix
    sums: O(n log n) for the sorts, O(groups x log n) per step.
    """
    parts: list[_Part] = []
    lo_c, hi_c = math.inf, 0.0
    for rates, min_interval, max_interval, *rest in groups:
        roots = sorted(math.sqrt(max(r, 0.0)) for r in rates)
        if not roots:
            continue
        page = math.inf if not rest or rest[0] is None else float(rest[0])
        roots_sum, rates_sum = [0.0], [0.0]
        for x in roots:
            roots_sum.append(roots_sum[-1] + x)
            rates_sum.append(rates_sum[-1] + x * x)
        parts.append(_Part(roots, roots_sum, rates_sum, min_interval, max_interval, page, page_fit(page)))
        positive = [x for x in roots if x > 0]
        if positive:
            lo_c, hi_c = min(lo_c, positive[0] * min_interval), max(hi_c, positive[-1] * max_interval)
    if not parts:
        return 0.0
    if hi_c == 0.0:  # nothing posts: every source at max_interval
        return math.inf

    def spend(c: float) -> float:
        return sum(part.spend(c) for part in parts)

    if per_second >= spend(lo_c):  # at lo_c every source is at min_interval
        return 0.0
    if per_second <= spend(hi_c):  # at hi_c and above, nothing moves any more
        return math.inf
    a, b = math.log(lo_c), math.log(hi_c)  # spend(e^a) is the most, spend(e^b) the least
    for _ in range(100):
        mid = (a + b) / 2
        if spend(math.exp(mid)) > per_second:
            a = mid
        else:
            b = mid
        if b - a < 1e-10:
            break
    return math.exp((a + b) / 2)


def prior_from_activity(
    policy: Policy,
    posts_per_day: float | None,
    last_tweet_age: float | None,
    active_since: bool,
    *,
    priority: int = 0,
) -> SourceState:
    """Seed a user's state from what is known of their activity.

    ``posts_per_day`` (say, from the profile's tweet count over account age) sets the prior rate;
    ``last_tweet_age`` (seconds since their newest post) is added as silent exposure, so a user
    not seen posting for weeks starts near the bottom; ``active_since`` (the user signed in
    recently, x-api-rate-limits.txt "Prioritize active users") multiplies the prior's rate by
    :data:`ACTIVE_BOOST` and makes it worth :data:`ACTIVE_PRIOR_SECONDS` of watching instead of
    one day, so it still shows after a backfill's week of evidence (a plain prior is a few polls'
    worth: they override it).
    """
    rate = policy.prior_rate if posts_per_day is None else max(posts_per_day, 1e-3) / DAY
    seconds = DAY
    if active_since:
        rate *= ACTIVE_BOOST
        seconds = ACTIVE_PRIOR_SECONDS
    state = policy.prior(rate, priority=priority, seconds=seconds)
    if last_tweet_age is not None and last_tweet_age > 0:
        # No post for `age` seconds is Poisson evidence: beta grows by the silent exposure.
        beta = state.beta + last_tweet_age
        r = state.alpha / beta
        state = replace(state, beta=beta, prior_beta=beta, rate=r, interval=policy.interval_for(r))
    return state
