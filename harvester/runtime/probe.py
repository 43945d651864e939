"""``plan --probe``'s requests, sent the way a run sends its pages.

Each probe request (``core/probe``) is a synthetic task of its job: the request machine admits it
inside the coordinator session (rate limits, cap, budget), the pacer paces it, it is sent and
settled, and its ledger rows are booked in the store, filed under the job and the real route, so
``harvester report`` and the next run's budget see what the probe spent. Where a worker would
give a parked task back to the queue, the probe, which has no queue, waits (up to the run's
``park_horizon``); where a run would stop (a budget, the credits, a refusal), the probe stops
with one line saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import assert_never

import structlog

from harvester.core import plan, pricing
from harvester.core.estimate import Volume
from harvester.core.model import JobSpec, Task
from harvester.core.page import Page
from harvester.core.probe import probe_requests, probe_task, tally
from harvester.core.request import (
    CheckUsage,
    Commit,
    Fail,
    Finish,
    Go,
    Halt,
    Park,
    Reject,
    Resend,
    Retry,
    Stop,
    Wait,
)
from harvester.errors import ApiError, StopHarvest
from harvester.runtime.admission import admit_checked
from harvester.runtime.runtime import Runtime
from harvester.runtime.send import exchange

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a probe learnt and what it cost (micro-dollars, as settled and booked)."""

    volumes: dict[str, Volume]
    cost: int
    requests: int


async def probe_volumes(rt: Runtime, specs: Sequence[JobSpec]) -> ProbeResult:
    """Volumes per job that a probe can size (``core.probe.probe_requests``), and their cost."""
    volumes: dict[str, Volume] = {}
    cost = 0
    sent = rt.stats.requests
    n = 0
    for spec in specs:
        requests = probe_requests(spec)
        if requests is None:
            continue
        total = 0
        for request in requests:
            n += 1
            task: Task | None = probe_task(spec, request, n)
            while task is not None:  # a counts answer may come in pages
                page, next_cursor, micros = await fetch(rt, task)
                total += tally(request, page)
                cost += micros
                task = None if next_cursor is None else replace(task, cursor=next_cursor, pages=task.pages + 1)
        volumes[spec.name] = Volume(items=total)
    return ProbeResult(volumes=volumes, cost=cost, requests=rt.stats.requests - sent)


async def fetch(rt: Runtime, task: Task) -> tuple[Page, str | None, int]:
    """One page of ``task`` through admission, send and settlement: the page, the cursor of the
    next one (None: no more) and what was booked for it (retries and resends included).

    Raises:
        StopHarvest: a budget, the credits, the cap or a long rate-limit wait stopped the probe.
        ApiError: the request was refused (the job's line says which and why).
    """
    request = plan.page_request(task)
    key = (task.endpoint, task.auth)
    booked = 0
    while True:
        await rt.pacer.turn(key)
        admission = await admit_checked(rt, task, request)
        match admission:
            case Go(permit=permit):
                pass
            case Park(until=until, reason=reason):
                await _wait(rt, task, until, reason)
                continue
            case CheckUsage(reason=reason):
                await _wait(rt, task, rt.clock.now() + 1.0, reason)
                continue
            case Stop(cause=cause):
                raise StopHarvest(_stopped(rt, task, cause.message))
            case Finish(reason=reason) | Reject(reason=reason):
                raise ApiError(f"plan --probe: job {task.job}: {task.endpoint}: {reason}")
            case _:
                assert_never(admission)
        settlement = await exchange(rt, task, permit)
        await rt.store.add_ledger(settlement.ledger, holds=settlement.holds)
        booked += sum(int(row.get("micros", 0)) for row in settlement.ledger)
        verdict = settlement.verdict
        match verdict:
            case Commit(page=page, result=result):
                return page, result.next_cursor, booked
            case Resend(request=renamed):  # a known rename: admit the renamed request instead
                request = renamed
            case Retry(until=until, reason=reason):
                task = replace(task, attempts=task.attempts + 1)
                await _wait(rt, task, until, reason)
            case Wait(until=until, reason=reason):
                await _wait(rt, task, until, reason)
            case Fail(reason=reason):
                raise ApiError(f"plan --probe: job {task.job}: {task.endpoint}: {reason}")
            case Halt(cause=cause) if cause.failure:  # credentials refused: a failure, not a stop
                raise ApiError(_stopped(rt, task, cause.message))
            case Halt(cause=cause):
                raise StopHarvest(_stopped(rt, task, cause.message))
            case _:
                assert_never(verdict)


async def _wait(rt: Runtime, task: Task, until: float, reason: str) -> None:
    """Wait for ``task``'s bucket (or budget day, or backoff) as a parked run would; a wait past
    the run's ``park_horizon`` stops the probe instead (a run would end there too)."""
    now = rt.clock.now()
    if until - now > rt.settings.park_horizon:
        at = datetime.fromtimestamp(until, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise StopHarvest(_stopped(rt, task, f"{reason}; it could go on at {at}"))
    if until - now >= 1.0:
        log.info("probe_waiting", job=task.job, route=task.endpoint, reason=reason, seconds=round(until - now, 1))
    await rt.clock.sleep(max(until - now, 1e-3))  # never a spin: the machine's next answer needs time to move


def _stopped(rt: Runtime, task: Task, why: str) -> str:
    spent = pricing.format_usd(rt.machine.run_spent)
    return f"plan --probe stopped at job {task.job} ({task.endpoint}), the probe having spent {spent}: {why}"


__all__ = ["ProbeResult", "fetch", "probe_volumes"]
