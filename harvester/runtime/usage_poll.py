"""Reading ``GET /2/usage/tweets`` (free): when the cap estimate asks, and every few minutes.

What the server counts is the truth about the monthly cap (``core.cap``): the request machine
asks for a read before anything parks on the local estimate (``CheckUsage``), and a run or the
daemon reads it every ``[cap] usage_poll_seconds`` as well. The request goes through the app's
rate-limit bucket like any other (50 per 15 minutes). Workers asking at once share one read.
"""

from __future__ import annotations

import anyio

from harvester.core.request import Go
from harvester.runtime.events import emit
from harvester.runtime.history import record_reading
from harvester.runtime.runtime import Runtime
from harvester.runtime.send import send

POLL_CHECK_SECONDS = 10.0


async def read_usage(rt: Runtime) -> bool:
    """Read the server's usage into the cap; True if it was read (by this call or meanwhile)."""
    seen = rt.usage_reads
    async with rt.usage_lock:
        if rt.usage_reads != seen:  # another worker read it while this one waited
            return True
        machine = rt.machine
        decision = machine.usage_permit(rt.clock.now())
        if not isinstance(decision, Go):
            machine.cap.usage_failed(rt.clock.now(), None if decision is None else decision.until)
            return False
        outcome = await send(rt, decision.permit)
        events = machine.settle_usage(decision.permit, outcome, rt.clock.now())
        emit(events)
        rt.usage_reads += 1
        read = any(e.name == "usage_read" for e in events)
        if read:  # the day's figure, for the status page's 30-day cap chart
            await record_reading(rt.store, machine.cap.status(rt.clock.now()))
        return read


async def poll_usage(rt: Runtime) -> None:
    """Read the usage whenever it is due, until cancelled (beside the worker pool)."""
    while True:
        cap = rt.machine.cap
        if cap.usage_due(rt.clock.now()):
            await read_usage(rt)
        due = cap.usage_due_at()  # sleep until the next read is due, checking at least every poll period
        wait = POLL_CHECK_SECONDS if due is None else due - rt.clock.now()
        await anyio.sleep(min(max(wait, POLL_CHECK_SECONDS), cap.config.usage_poll_seconds))
