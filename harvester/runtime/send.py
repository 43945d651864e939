"""Sending one admitted request: the only place a request crosses the network."""

from __future__ import annotations

from harvester.core.model import Task
from harvester.core.request import Answer, Lost, Outcome, Permit, Settlement
from harvester.errors import TransportError
from harvester.runtime.events import emit
from harvester.runtime.runtime import Runtime


async def send(rt: Runtime, permit: Permit) -> Outcome:
    """GET ``permit``'s request with its auth context; a transport failure is an outcome too."""
    rt.stats.requests += 1
    try:
        resp = await rt.client.get(permit.request.path, permit.request.params, rt.credentials[permit.auth],
                                   now=rt.clock.now())  # fmt: skip
    except TransportError as exc:
        return Lost(reason=str(exc))
    rt.stats.count_status(permit.route, resp.status)
    return Answer(status=resp.status, headers=resp.headers, body=resp.body, parse_error=resp.parse_error)


async def exchange(rt: Runtime, task: Task, permit: Permit) -> Settlement:
    """Send ``permit``'s request and settle the outcome for ``task``: the bucket's pace follows
    the answer's headers and the settlement's events are logged; carrying out its verdict and
    booking its ledger rows is the caller's."""
    outcome = await send(rt, permit)
    now = rt.clock.now()
    settlement = rt.machine.settle(permit, outcome, task, now)
    rt.repace(task.endpoint, task.auth, now)
    emit(settlement.events)
    return settlement
