"""Admitting one request: the machine's decision, made inside a coordinator session.

Within one session (``store/coordination.py``) the machine first folds in what other processes
settled and hold, then decides as usual (cap, rate limit, money), and a request it lets go is
logged in its bucket's shared grant log and holds its worst case until its page commits. With a
SQLite state the session is free and shows nothing: one process, nothing to share.
"""

from __future__ import annotations

from dataclasses import replace

from harvester.core.model import Task
from harvester.core.plan import PageRequest
from harvester.core.request import Admission, CheckUsage, Go
from harvester.core.shared import Hold
from harvester.runtime.runtime import Runtime
from harvester.runtime.usage_poll import read_usage


async def admit(rt: Runtime, task: Task, request: PageRequest) -> Admission:
    """The machine's admission for ``task``'s next page, with the shared grant and hold recorded."""
    machine = rt.machine
    now = rt.clock.now()
    async with rt.coordinator.session(now, machine.ledger.run) as session:
        machine.absorb(session.view)
        decision = machine.admit(task, request, now)
        if not isinstance(decision, Go):
            return decision
        permit = decision.permit
        key, limit, span, gap = machine.grant_terms(permit)
        until = await session.grant(key, now, limit, span, gap)
        if until > now:
            return machine.withdraw(permit, until, "other processes used this bucket's window")
        micros = permit.money.micros if permit.money is not None else 0
        hold = await session.hold(Hold(run=machine.ledger.run, job=permit.job, route=permit.route, micros=micros,
                                       posts=permit.posts, at=now, expires=now + rt.settings.lease))  # fmt: skip
        return decision if hold is None else Go(permit=replace(permit, hold=hold))


async def admit_checked(rt: Runtime, task: Task, request: PageRequest) -> Admission:
    """:func:`admit`, reading ``/2/usage/tweets`` first whenever the cap asks for the server's
    count (twice at most: a :class:`CheckUsage` after that is the caller's to wait out)."""
    admission = await admit(rt, task, request)
    for _ in range(2):
        if not isinstance(admission, CheckUsage):
            break
        await read_usage(rt)
        admission = await admit(rt, task, request)
    return admission
