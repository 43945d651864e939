"""``harvester plan``: what the jobs will cost and take, before anything is spent.

Without ``--probe`` nothing is sent: lookups are exact, timelines and mentions have a worst case
(their depth caps), searches and follower lists are unknown. With ``--probe`` the planner buys
the volumes cheaply: one ``/2/tweets/counts/recent`` per search ($0.005 a request) and one user
lookup per 100 users ($0.010 a user), and says what the probe itself cost.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

from harvester.api.auth import BearerAuth
from harvester.api.client import ApiClient
from harvester.clock import LoopClock
from harvester.clock import run as run_loop
from harvester.config import Config
from harvester.core import pricing
from harvester.core.estimate import BucketEstimate, JobEstimate, Volume, bucket_time, estimate_job
from harvester.core.model import JobSpec
from harvester.errors import ApiError

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


def plan(
    config: Config, specs: Sequence[JobSpec], volumes: Mapping[str, Volume]
) -> tuple[list[JobEstimate], list[BucketEstimate]]:
    """Estimates per job and per bucket."""
    prices = config.pricing
    jobs = [estimate_job(s, volumes.get(s.name), prices) for s in specs]
    limits = {r: (e.app, e.user) for r, e in config.limits.endpoints.items()}
    buckets = bucket_time(jobs, {s.name: s for s in specs}, limits or None, config.limits.window_seconds)
    return jobs, buckets


def _n(v: int | None) -> str:
    return "?" if v is None else f"{v:,}"


def _usd(v: int | None) -> str:
    return "?" if v is None else pricing.format_usd(v)


def render(jobs: Sequence[JobEstimate], buckets: Sequence[BucketEstimate], probe_cost: int | None) -> str:
    con = Console(file=sys.stdout, width=130, highlight=False, record=True)
    t = Table(title="plan (expected / worst case; ? = unknown without --probe)")
    for col in ("job", "endpoint", "requests", "resources", "cost", "capped posts"):
        t.add_column(col)
    for j in jobs:
        t.add_row(j.job, j.route, f"{_n(j.requests_expected)} / {_n(j.requests_worst)}",
                  f"{_n(j.resources_expected)} / {_n(j.resources_worst)}",
                  f"{_usd(j.cost_expected)} / {_usd(j.cost_worst)}", _n(j.capped_posts))
    exp = [j.cost_expected for j in jobs]
    t.add_section()
    t.add_row("total", "", "", "", f"{_usd(sum(c for c in exp if c is not None))}"
              + (" + ?" if any(c is None for c in exp) else ""), "")
    con.print(t)
    b = Table(title="rate-limit buckets (expected requests)")
    for col in ("endpoint", "auth", "requests", "limit/window", "time"):
        b.add_column(col)
    for x in buckets:
        b.add_row(x.route, x.auth, f"{x.requests:,}", str(x.limit), f"{x.seconds / 60:,.0f} min")
    con.print(b)
    finish = max((x.seconds for x in buckets), default=0.0)
    con.print(f"time to finish at the rate limits: {finish / 60:,.0f} min (plus request latency)")
    if probe_cost is not None:
        con.print(f"the probe itself cost {pricing.format_usd(probe_cost)}")
    return con.export_text()


def to_json(jobs: Sequence[JobEstimate], buckets: Sequence[BucketEstimate], probe_cost: int | None) -> dict[str, Any]:
    return {"jobs": [asdict(j) for j in jobs], "buckets": [asdict(b) for b in buckets],
            "probe_cost_usd": None if probe_cost is None else pricing.micros_to_usd(probe_cost)}


def plan_command(config: Config, specs: Sequence[JobSpec], *, as_json: bool, probe: bool = False) -> int:
    """Print the plan; with ``probe``, buy the volumes first."""
    volumes: dict[str, Volume] = {}
    probe_cost: int | None = None
    if probe:
        token = config.bearer_token()

        async def run_probe() -> tuple[dict[str, Volume], int]:
            LoopClock()
            async with aiohttp.ClientSession() as session:
                client = ApiClient(session, config.api.base_url, timeout=config.api.timeout_seconds)
                return await probe_volumes(client, token, specs)

        volumes, probe_cost = run_loop(run_probe)
    jobs, buckets = plan(config, specs, volumes)
    if as_json:
        print(json.dumps(to_json(jobs, buckets, probe_cost), indent=2))
    else:
        render(jobs, buckets, probe_cost)
    return 0
