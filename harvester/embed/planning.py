"""Plans: what jobs will cost and take, before anything is spent.

Without a probe nothing is sent: lookups are exact, timelines and mentions have a worst case
(their depth caps), searches and follower lists are unknown. A probe buys the volumes cheaply:
one ``/2/tweets/counts/recent`` per search ($0.005 a request) and one user lookup per 100 users
($0.010 a user), and says what the probe itself cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aiohttp

from harvester.api.auth import BearerAuth
from harvester.api.client import ApiClient
from harvester.clock import wall_time
from harvester.config import Config
from harvester.core import pricing
from harvester.core.duration import format_duration
from harvester.core.estimate import (
    BucketEstimate,
    JobEstimate,
    Volume,
    bucket_time,
    estimate_job,
    runs_in,
    with_runs,
)
from harvester.core.model import JobSpec
from harvester.core.schedule import job_schedule
from harvester.embed.values import Plan
from harvester.errors import ApiError
from harvester.runtime.polling import policy_for

COUNTS = "/2/tweets/counts/recent"


def _csv(values: Sequence[str]) -> str:
    return ",".join(values)


async def probe_volumes(client: ApiClient, token: str, specs: Sequence[JobSpec]) -> tuple[dict[str, Volume], int]:
    """Volumes per job from counts and user metrics; returns them and the probe's own cost."""
    auth = BearerAuth(token)
    volumes: dict[str, Volume] = {}
    cost = 0
    metric = {"timeline": "tweet_count", "followers": "followers_count", "following": "following_count"}
    for spec in specs:
        if spec.kind == "search" and not spec.archive and spec.query:
            total, token_ = 0, None
            while True:
                params = {"query": spec.query, "granularity": "day"}
                params.update({k: v for k, v in (("start_time", spec.start_time), ("end_time", spec.end_time))
                               if v})
                if token_:
                    params["next_token"] = token_
                resp = await client.get(COUNTS, params, auth)
                if resp.status != 200 or not isinstance(resp.body, dict):
                    raise ApiError(f"plan probe: {COUNTS} answered HTTP {resp.status}")
                cost += pricing.DEFAULT_PRICES.counts_recent
                total += int(resp.body.get("meta", {}).get("total_tweet_count", 0))
                token_ = resp.body.get("meta", {}).get("next_token")
                if not token_:
                    break
            volumes[spec.name] = Volume(items=total)
        elif spec.kind in metric and spec.user_ids and not spec.start_time and not spec.end_time:
            total = 0
            for i in range(0, len(spec.user_ids), 100):
                ids = spec.user_ids[i : i + 100]
                resp = await client.get("/2/users", {"ids": _csv(ids), "user.fields": "public_metrics"}, auth)
                if resp.status != 200 or not isinstance(resp.body, dict):
                    raise ApiError(f"plan probe: /2/users answered HTTP {resp.status}")
                data = resp.body.get("data", [])
                cost += len(data) * pricing.DEFAULT_PRICES.user
                total += sum(int(u.get("public_metrics", {}).get(metric[spec.kind], 0)) for u in data)
            volumes[spec.name] = Volume(items=total)
    return volumes, cost


def _short(seconds: float) -> str:
    """``3600`` -> ``1h``: the largest unit that divides exactly, else seconds."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    return format_duration(seconds)


def scheduled(estimate: JobEstimate, spec: JobSpec, now: float) -> JobEstimate:
    """A daemon job's estimate with its runs in 30 days (one-shot jobs unchanged).

    A poll job's sources each run at most once per ``min_interval``: its worst case is that many
    polls of every source (the policy backs quiet sources off towards ``max_interval``, so the
    real figure is usually far lower).
    """
    if spec.extra.get("mode") == "poll":
        policy = policy_for(spec)
        runs = runs_in(policy.min_interval, None, now)
        text = f"poll every {_short(policy.min_interval)}..{_short(policy.max_interval)}"
        return with_runs(estimate, runs=runs, schedule=text)
    sched = job_schedule(spec)
    if sched is None:
        return estimate
    return with_runs(estimate, runs=runs_in(sched.every, sched.next_after, now), schedule=sched.text)


def plan(
    config: Config, specs: Sequence[JobSpec], volumes: Mapping[str, Volume], now: float | None = None
) -> tuple[list[JobEstimate], list[BucketEstimate]]:
    """Estimates per job (with runs in 30 days for scheduled jobs when ``now`` is given) and per bucket.

    The buckets hold one run of every job: the time a backlog needs, not a month's traffic.
    """
    prices = config.pricing
    jobs = [estimate_job(s, volumes.get(s.name), prices) for s in specs]
    if now is not None:
        jobs = [scheduled(j, s, now) for j, s in zip(jobs, specs, strict=True)]
    limits = {r: (e.app, e.user) for r, e in config.limits.endpoints.items()}
    buckets = bucket_time(jobs, {s.name: s for s in specs}, limits or None, config.limits.window_seconds)
    return jobs, buckets


def make_plan(config: Config, specs: Sequence[JobSpec], volumes: Mapping[str, Volume] | None = None,
              probe_cost: int | None = None) -> Plan:
    """The :class:`Plan` of ``specs`` given what is known of their volumes (schedules from today)."""
    jobs, buckets = plan(config, specs, volumes or {}, now=wall_time())
    return Plan(jobs=tuple(jobs), buckets=tuple(buckets), probe_cost=probe_cost)


async def probe_plan(config: Config, specs: Sequence[JobSpec]) -> Plan:
    """Buy the volumes (see the module docstring), then plan with them."""
    token = config.bearer_token()
    async with aiohttp.ClientSession() as session:
        client = ApiClient(session, config.api.base_url, timeout=config.api.timeout_seconds)
        volumes, cost = await probe_volumes(client, token, specs)
    return make_plan(config, specs, volumes, cost)
