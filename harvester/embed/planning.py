"""Plans: what jobs will cost and take, before anything is spent.

Without a probe nothing is sent: lookups are exact, timelines and mentions have a worst case
(their depth caps), searches and follower lists are unknown. A probe buys the volumes cheaply:
one counts request per search ($0.005 a request) and one user lookup per 100 user ids or
usernames ($0.010 a user), sent as a run sends (admission, rate limits, budget) and booked in the
ledger under each job and route (``core/probe``, ``runtime/probe``); it says what it cost.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from harvester.clock import Clock, LoopClock, wall_time
from harvester.config import Config
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
from harvester.core.plan import plan_job
from harvester.core.schedule import INCREMENTAL, job_schedule
from harvester.embed.values import Plan
from harvester.inputs import FILE_KEYS, check_file
from harvester.runtime.harvest import open_runtime
from harvester.runtime.lock import state_lock
from harvester.runtime.polling import policy_for
from harvester.runtime.probe import ProbeResult, probe_volumes
from harvester.runtime.runtime import RunSettings


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
    real figure is usually far lower). A stream job holds a connection instead: no runs, no
    requests, each Post priced as it arrives, with no bound but the budget and the cap.
    """
    if spec.kind == "stream":
        return replace(estimate, requests_expected=0, requests_worst=0, schedule="streamed")
    if spec.extra.get("mode") == "poll":
        policy = policy_for(spec)
        runs = runs_in(policy.min_interval, None, now)
        text = f"poll every {_short(policy.min_interval)}..{_short(policy.max_interval)}"
        budget = spec.extra.get("poll_budget")
        if budget:  # the budget bounds the polls: 30 days of it spread over the job's sources
            sources = max(1, sum(1 for t in plan_job(spec) if t.endpoint in INCREMENTAL))
            runs = min(runs, math.ceil(30 * float(budget) / sources))
            text += f", {float(budget):g} requests/day"
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
    owners = {name: u.user_id for name, u in config.auth.users.items()}
    jobs = [estimate_job(s, volumes.get(s.name), prices, file_values=_file_values(s), owner_id=owners.get(s.auth))
            for s in specs]  # fmt: skip
    if now is not None:
        jobs = [scheduled(j, s, now) for j, s in zip(jobs, specs, strict=True)]
    limits = {r: (e.app, e.user) for r, e in config.limits.endpoints.items()}
    buckets = bucket_time(jobs, {s.name: s for s in specs}, limits or None, config.limits.window_seconds)
    return jobs, buckets


def _file_values(spec: JobSpec) -> int:
    """The ids and usernames of a job's files (read through once, in constant memory)."""
    total = 0
    for key, what in FILE_KEYS.items():
        path = getattr(spec, key)
        if path is not None:
            total += check_file(Path(path), what, spec.ids_column)
    return total


def make_plan(config: Config, specs: Sequence[JobSpec], volumes: Mapping[str, Volume] | None = None,
              probe_cost: int | None = None) -> Plan:
    """The :class:`Plan` of ``specs`` given what is known of their volumes (schedules from today)."""
    jobs, buckets = plan(config, specs, volumes or {}, now=wall_time())
    return Plan(jobs=tuple(jobs), buckets=tuple(buckets), probe_cost=probe_cost)


async def probe(config: Config, specs: Sequence[JobSpec], *, clock: Clock | None = None,
                max_usd: float | None = None, bearer: str | None = None) -> ProbeResult:  # fmt: skip
    """Buy the volumes (``runtime/probe``): through the run's admission, booked in the state's ledger.

    The state is opened as a run opens it, minus the queue: nothing is enqueued, no job's
    generation moves and no claim is put back (a run on a shared state keeps its own). A SQLite
    state is locked for the probe's length, as a run locks it.
    """
    lock = state_lock(config.harvest.state)
    lock.acquire()
    try:
        settings = RunSettings(lease=config.harvest.lease_seconds, usage_poll=False)
        clock = clock or LoopClock()
        # A run of its own in the ledger (its run budget is its own, even beside a run of this process).
        run_id = f"probe-{int(clock.now())}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        async with open_runtime(config, specs, clock=clock, max_usd=max_usd, bearer=bearer, recover=False,
                                settings=settings, enqueue=False, run_id=run_id) as rt:  # fmt: skip
            return await probe_volumes(rt, specs)
    finally:
        lock.release()


async def probe_plan(config: Config, specs: Sequence[JobSpec], *, clock: Clock | None = None,
                     max_usd: float | None = None, bearer: str | None = None) -> Plan:  # fmt: skip
    """Buy the volumes (see :func:`probe`), then plan with them; ``Plan.probe_cost`` is what was booked."""
    result = await probe(config, specs, clock=clock, max_usd=max_usd, bearer=bearer)
    return make_plan(config, specs, result.volumes, result.cost)
