"""Admitting one request: the gates' decision, made inside a coordinator session.

Within one session (``store/coordination.py``) the gates first fold in what other processes
settled and hold, then decide as usual (cap, rate limit, money), and a request they let go is
logged in its bucket's shared grant log and holds its worst case until its page commits. With a
SQLite state the session is free and shows nothing: one process, nothing to share.
"""

from __future__ import annotations

from dataclasses import replace

from harvester.core.model import Task
from harvester.core.plan import PageRequest
from harvester.core.shared import Hold
from harvester.runtime.gates import Admission, Gates, Go
from harvester.store.coordination import Coordinator


async def admit(
    gates: Gates, coordinator: Coordinator, task: Task, request: PageRequest, now: float, lease: float
) -> Admission:
    """Go (with the shared hold recorded), Park or Stop, for ``task``'s next page."""
    async with coordinator.session(now, gates.ledger.run) as session:
        gates.absorb(session.view)
        decision = gates.before_send(task, request, now)
        if not isinstance(decision, Go):
            return decision
        permit = decision.permit
        bucket = gates.limits.bucket(permit.route, permit.rate.auth, gates.auth.kind(permit.rate.auth))
        until = await session.grant(f"{permit.route} {permit.rate.auth}", now, bucket.limit,
                                    bucket.window + bucket.max_latency, bucket.min_gap)  # fmt: skip
        if until > now:
            return gates.withdraw(permit, until, "other processes used this bucket's window")
        micros = permit.money.micros if permit.money is not None else 0
        hold = await session.hold(Hold(run=gates.ledger.run, job=permit.job, route=permit.route,
                                       micros=micros, posts=permit.posts, at=now, expires=now + lease))
        return decision if hold is None else Go(permit=replace(permit, hold=hold))
