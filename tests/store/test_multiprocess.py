"""Four OS processes, each with its own PostgresStore on one schema, drain one queue.

Every task has two pages; each commit writes a ledger row naming its (task, page) in the same
statement, so the ledger counts commits. Each (task, page) must be committed exactly once, and
every task must end done. Runs when ``HARVESTER_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

from conftest import POSTGRES_URL

from harvester.core.model import NewTask
from harvester.store.postgres import PostgresStore

PROCESSES = 4
TASKS = 2000
PAGES = 2

WORKER = """
import asyncio, sys
from harvester.core.model import PageCommit
from harvester.store.postgres import PostgresStore

async def main(url, schema, name):
    store = PostgresStore(url, schema=schema, pool_size=4)
    await store.open()
    commits = 0

    async def worker(w):
        nonlocal commits
        while tasks := await store.claim(f"{name}/{w}", 1.0, 600.0, limit=2):
            for task in tasks:
                page = task.pages + 1
                ledger = {"at": 1.0, "run": name, "job": task.job, "route": f"{task.id}:{page}",
                          "day": "d", "micros": 1, "keys": []}
                await store.commit_page(PageCommit(
                    task_id=task.id, next_cursor="more" if page < 2 else None, items=1,
                    ledger=(ledger,)))
                commits += 1

    try:
        await asyncio.gather(*(worker(w) for w in range(4)))
    finally:
        await store.close()
    print(commits)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_four_processes_commit_every_page_exactly_once(pg_schema: str) -> None:
    assert POSTGRES_URL is not None
    store = PostgresStore(POSTGRES_URL, schema=pg_schema)
    await store.open()
    try:
        await store.enqueue(
            [NewTask(job=f"j{i % 5}", key=f"t{i}", endpoint="/2/users/:id/tweets", priority=i % 3)
             for i in range(TASKS)]
        )  # fmt: skip
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WORKER,
                POSTGRES_URL,
                pg_schema,
                f"p{n}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for n in range(PROCESSES)
        ]
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), timeout=60)
        for proc, (_, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err.decode()
        per_process = [int(out) for out, _ in outputs]
        assert sum(per_process) == TASKS * PAGES
        assert sum(1 for n in per_process if n > 0) >= 2  # the work really was shared

        entries = await store.ledger_entries(0.0)
        commits = Counter(e["route"] for e in entries)
        assert len(commits) == TASKS * PAGES
        assert set(commits.values()) == {1}  # every (task, page) exactly once
        stats = await store.job_stats()
        assert sum(s.done for s in stats) == TASKS
        assert sum(s.pages for s in stats) == TASKS * PAGES
        assert sum(s.pending + s.claimed + s.failed for s in stats) == 0
        assert await store.pending_count() == 0
    finally:
        await store.close()
