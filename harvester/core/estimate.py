"""Plan before spending: requests, resources, cost, time and cap use of a set of jobs.

Theory of operation
-------------------
What a job will return is known exactly only for lookups (one resource per id, 100 ids a
request). For everything else the planner works from *volumes*: how many posts a search
matches (from ``GET /2/tweets/counts/recent``, $0.005 a request), how many posts a user has or
how many followers (from a user lookup's ``public_metrics``, $0.010 a user). The shell may fetch
them (``harvester plan --probe``) or not; without a volume a job's expected figures are None and
only its worst case is given, where one exists (timelines are capped at 3,200 posts and mentions
at 800; searches and follower lists have no bound).

Costs use ``core.pricing``: ``worst`` prices every request at its full ``max_results`` with
every expansion billed; ``expected`` prices the expected resources at the unit price (plus one
author per post when ``author_id`` is expanded and includes are billed: an upper estimate,
since many posts share an author). Time to finish is the rate-limit bound: per bucket, (windows
needed - 1) x window plus one pass of the last window, the largest over buckets; it is given for
the expected requests and for the worst case where every job has one.

A daemon job with a ``schedule`` (or ``mode = "poll"``) runs again and again: its estimate is
per run, and :func:`with_runs` adds how many runs 30 days hold (for a poll job, per source, at
most one every ``min_interval``), so its worst case over 30 days is that many runs' worth. A
later run reads only what is new since the last one, so the worst case is a bound, not a guess.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from harvester.core import pricing
from harvester.core.endpoints import (
    ARCHIVE_SEARCH,
    ENDPOINTS,
    KIND_ENDPOINT,
    RESOLVE_USERNAMES,
    WINDOW_SECONDS,
)
from harvester.core.model import JobSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume:
    """What a probe learned: total items the job's sources hold (None: unknown)."""

    items: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEstimate:
    """One job's plan. ``None`` means unknown (no volume, and no bound)."""

    job: str
    route: str
    requests_expected: int | None
    requests_worst: int | None
    resources_expected: int | None
    resources_worst: int | None
    cost_expected: int | None  # micro-dollars
    cost_worst: int | None
    capped_posts: int | None
    runs_30d: int | None = None  # runs in 30 days for a scheduled or poll job; None: it runs once
    schedule: str | None = None  # the schedule as written ("poll every 15m..1d" for a poll job)

    @property
    def cost_worst_30d(self) -> int | None:
        """The worst case over 30 days: one run's worst times the runs (one run if unscheduled)."""
        if self.cost_worst is None:
            return None
        return self.cost_worst * (self.runs_30d or 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketEstimate:
    """Requests per rate-limit bucket, and how long the bucket needs for them."""

    route: str
    auth: str
    requests: int
    limit: int
    seconds: float
    requests_worst: int | None = None  # None: some job on the bucket has no worst case
    seconds_worst: float | None = None
    expected_known: bool = True  # False: ``requests`` is only the known part (a job's volume is unknown)


def route_of(spec: JobSpec) -> str:
    if spec.kind == "search" and spec.archive:
        return ARCHIVE_SEARCH
    return KIND_ENDPOINT[spec.kind]


def page_size(spec: JobSpec) -> int:
    ep = ENDPOINTS[route_of(spec)]
    return spec.max_results or ep.max_results or ep.max_ids or 100


def worst_items(spec: JobSpec) -> int | None:
    """A hard upper bound on the items a job can return, where the API has one."""
    users = len(spec.user_ids) + len(spec.usernames)
    if spec.kind in ("lookup_tweets", "lookup_users"):
        return len(spec.tweet_ids) + users
    ep = ENDPOINTS[route_of(spec)]
    if ep.depth is not None:
        return ep.depth * users
    return None


def estimate_job(
    spec: JobSpec,
    volume: Volume | None,
    prices: pricing.Prices = pricing.DEFAULT_PRICES,
) -> JobEstimate:
    """Requests, resources and cost of ``spec`` (expected from ``volume``, worst from bounds)."""
    route = route_of(spec)
    ep = ENDPOINTS[route]
    size = page_size(spec)
    users = len(spec.user_ids) + len(spec.usernames)
    exact = spec.kind in ("lookup_tweets", "lookup_users")
    sources = 1 if spec.kind == "search" else (0 if exact else users)
    worst = worst_items(spec)
    expected = worst if exact else (None if volume is None or volume.items is None else volume.items)
    if worst is not None and expected is not None:
        expected = min(expected, worst)
    resolve = math.ceil(len(spec.usernames) / 100) if spec.usernames and not exact else 0

    def requests(items: int | None) -> int | None:
        if items is None:
            return None
        if exact:
            return math.ceil(len(spec.tweet_ids) / 100) + math.ceil(len(spec.user_ids) / 100) + math.ceil(
                len(spec.usernames) / 100)
        # one page per ``size`` items per source, and at least one (empty) page per source
        return max(sources, math.ceil(items / size)) + resolve

    per_item = prices.unit(ep.resource)
    includes = pricing.includes_per_item(spec.expansions, prices)
    resolve_cost = len(spec.usernames) * prices.user if resolve else 0

    def cost(items: int | None, reqs: int | None, worst_case: bool) -> int | None:
        if items is None or reqs is None:
            return None
        if worst_case and exact:
            return items * (per_item + includes)
        if worst_case:
            pages = reqs - resolve
            return pages * size * (per_item + includes) + resolve_cost
        author = prices.user if (prices.bill_includes and "author_id" in spec.expansions) else 0
        return items * (per_item + author) + resolve_cost

    r_exp, r_worst = requests(expected), requests(worst)
    capped = expected if ep.capped else 0
    return JobEstimate(
        job=spec.name, route=route, requests_expected=r_exp, requests_worst=r_worst,
        resources_expected=expected, resources_worst=worst,
        cost_expected=cost(expected, r_exp, False), cost_worst=cost(worst, r_worst, True),
        capped_posts=capped,
    )


def bucket_time(
    estimates: Sequence[JobEstimate],
    specs: Mapping[str, JobSpec],
    limits: Mapping[str, tuple[int | None, int | None]] | None = None,
    window: float = WINDOW_SECONDS,
) -> list[BucketEstimate]:
    """Expected and worst-case requests per (route, auth) bucket, and the time each needs at its limit."""
    per: dict[tuple[str, str], int] = defaultdict(int)  # the known expected requests
    unknown: set[tuple[str, str]] = set()  # buckets with a job whose expected requests are unknown
    worst: dict[tuple[str, str], int | None] = defaultdict(int)

    def add(key: tuple[str, str], expected: int | None, most: int | None) -> None:
        if expected is None:
            unknown.add(key)
        else:
            per[key] += expected
        so_far = worst[key]
        worst[key] = None if so_far is None or most is None else so_far + most

    for e in estimates:
        spec = specs[e.job]
        add((e.route, spec.auth), e.requests_expected, e.requests_worst)
        if spec.usernames and spec.kind not in ("lookup_users",):
            resolve = math.ceil(len(spec.usernames) / 100)
            add((RESOLVE_USERNAMES, spec.auth), resolve, resolve)
    out = []
    for route, auth in sorted(worst):
        app, user = (limits or {}).get(route, (ENDPOINTS[route].app_limit, ENDPOINTS[route].user_limit))
        limit = (app if auth == "app" else user) or 1
        n, w = per[(route, auth)], worst[(route, auth)]
        out.append(BucketEstimate(route=route, auth=auth, requests=n, limit=limit,
                                  seconds=_seconds(route, n, limit, window), requests_worst=w,
                                  seconds_worst=None if w is None else _seconds(route, w, limit, window),
                                  expected_known=(route, auth) not in unknown))
    return out


def _seconds(route: str, requests: int, limit: int, window: float) -> float:
    """Time ``requests`` need at ``limit`` per ``window`` (and the route's per-second limit)."""
    seconds = max(0, math.ceil(requests / limit) - 1) * window
    per_second = ENDPOINTS[route].per_second
    if per_second:
        seconds = max(seconds, requests / per_second)
    return float(seconds)


MONTH = 30 * 86_400.0


def runs_in(schedule_every: float | None, next_after: Callable[[float], float] | None, now: float,
            span: float = MONTH) -> int:
    """How many slots fall in ``[now, now + span)``: by arithmetic for ``every``, else by stepping."""
    if schedule_every is not None:
        return max(1, math.ceil(span / schedule_every))
    assert next_after is not None
    count, t = 0, next_after(now - 1e-6)
    while t < now + span and count < 100_000:
        count += 1
        t = next_after(t)
    return max(1, count)


def with_runs(estimate: JobEstimate, *, runs: int, schedule: str) -> JobEstimate:
    """``estimate`` with how often it runs in 30 days (see the module docstring)."""
    return replace(estimate, runs_30d=runs, schedule=schedule)
