"""Keeping the machine told how much work waits on each bucket (auto pacing reads it).

Every few seconds, beside the workers: the store's count of due and claimed tasks per
(route, auth), handed to the request machine, and each bucket's pace retuned from it.
"""

from __future__ import annotations

import anyio

from harvester.runtime.runtime import Runtime

REFRESH_SECONDS = 5.0
IDLE_REFRESH_SECONDS = 60.0  # with no demand, a wake-up (a commit, an enqueue) or the next due task refreshes it


async def refresh_demand(rt: Runtime) -> bool:
    """One refresh: the demand per bucket, and the pace it implies."""
    now = rt.clock.now()
    demand = await rt.store.demand(rt.jobs.names, now)
    rt.machine.set_demand(demand)
    for route, auth in demand:
        if auth in rt.machine.contexts or auth in rt.machine.pools:
            rt.pacer.tune((route, auth), rt.machine.pace_interval(route, auth, now))
    return bool(demand)


async def track_demand(rt: Runtime) -> None:
    """Refresh the demand every few seconds until cancelled."""
    while True:
        if await refresh_demand(rt):
            await anyio.sleep(REFRESH_SECONDS)
            continue
        # Nothing waits on any bucket (a daemon between runs, a stream run): no need to ask the
        # store every few seconds; a notify (a commit, an enqueue) or the next due task wakes it.
        due = await rt.store.next_due(rt.jobs.names)
        now = rt.clock.now()
        wait = IDLE_REFRESH_SECONDS if due is None else min(IDLE_REFRESH_SECONDS, max(REFRESH_SECONDS, due - now))
        await rt.signals.wait(wait)
