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
needed - 1) x window plus one pass of the last window, the largest over buckets.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketEstimate:
    """Requests per rate-limit bucket, and how long the bucket needs for them."""

    route: str
    auth: str
    requests: int
    limit: int
    seconds: float


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
    """Expected requests per (route, auth) bucket and the time each needs at its limit."""
    per: dict[tuple[str, str], int] = defaultdict(int)
    for e in estimates:
        spec = specs[e.job]
        if e.requests_expected is not None:
            per[(e.route, spec.auth)] += e.requests_expected
        if spec.usernames and spec.kind not in ("lookup_users",):
            per[(RESOLVE_USERNAMES, spec.auth)] += math.ceil(len(spec.usernames) / 100)
    out = []
    for (route, auth), n in sorted(per.items()):
        app, user = (limits or {}).get(route, (ENDPOINTS[route].app_limit, ENDPOINTS[route].user_limit))
        limit = (app if auth == "app" else user) or 1
        windows = math.ceil(n / limit)
        seconds = max(0, windows - 1) * window
        per_second = ENDPOINTS[route].per_second
        if per_second:
            seconds = max(seconds, n / per_second)
        out.append(BucketEstimate(route=route, auth=auth, requests=n, limit=limit, seconds=seconds))
    return out
