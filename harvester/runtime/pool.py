"""The worker pool: N workers in one anyio task group, sharing one session and one store.

Every task has an owner: the pool's task group owns the workers, and the pool returns only when
all of them have returned (queue drained, stop requested) or one failed, in which case the
group cancels the rest. A stop request (budget, credits, signal) lets in-flight pages finish and
commit; workers simply stop claiming.
"""

from __future__ import annotations

import anyio

from harvester.runtime.runtime import Runtime
from harvester.runtime.worker import Worker


async def run_pool(rt: Runtime, workers: int) -> None:
    """Run ``workers`` workers until the queue is drained or a stop is requested."""
    async with anyio.create_task_group() as tg:
        for n in range(workers):
            tg.start_soon(Worker(rt, f"{rt.settings.worker_prefix}w{n}").run)
