"""Keeping the machine told how much work waits on each bucket (auto pacing reads it).

Every few seconds, beside the workers: the store's count of due and claimed tasks per
(route, auth), handed to the request machine, and each bucket's pace retuned from it.
"""

from __future__ import annotations

import anyio

from harvester.runtime.runtime import Runtime

REFRESH_SECONDS = 5.0
IDLE_REFRESH_SECONDS = 60.0  # with an empty queue, a wake-up (a commit, an enqueue) or this refreshes it


async def refresh_demand(rt: Runtime) -> bool:
    """One refresh: the demand per bucket, and the pace it implies."""
    now = rt.clock.now()
    demand = await rt.store.demand(rt.jobs.names, now)
    rt.machine.set_demand(demand)
    for route, auth in demand:
        if auth in rt.machine.contexts or auth in rt.machine.pools:
            rt.repace(route, auth, now)
    return bool(demand)


async def track_demand(rt: Runtime) -> None:
    """Refresh the demand every few seconds until cancelled."""
    while True:
        if await refresh_demand(rt) or await rt.store.pending_count(rt.jobs.names):
            await anyio.sleep(REFRESH_SECONDS)
            continue
        # An empty queue (a daemon between runs, a stream run without a gap to fill): no need to
        # ask the store every few seconds; a notify (a commit, an enqueue) wakes it, or a minute.
        await rt.signals.wait(IDLE_REFRESH_SECONDS)
