"""Queue throughput: enqueue N single-page tasks, then claim and complete them with W workers.

Run by hand (``python benchmarks/queue.py --tasks 1000000``); it prints figures, it asserts
nothing. No network: each worker loops claim -> commit_page(next_cursor=None, items=1, output
offset), which is exactly the store traffic of a worker whose fetches take no time, so the
figures are the store's ceiling.

A naive baseline runs in the same process on a smaller count: the same store with grouping off
(``max_batch=1``: one transaction per claim, per commit and per enqueued task), which is what
a straightforward "one call, one transaction" store does. The ratio is what group commit buys.

Targets (2 cores): >= 20,000 enqueues/s, >= 5,000 claims+completes/s, peak RSS < 300 MB.

PostgreSQL (``--backend postgresql --url URL --processes 1|2|4``): the tasks (default 100k) are
enqueued into a fresh schema, then ``--processes`` OS processes, each with its own
``PostgresStore`` and ``--workers`` workers, drain the queue together from one start time; the
schema is dropped afterwards. An SQLite run on the same task count is measured in the same run,
for comparison. Printed: enqueue/s, claim+complete/s over all processes, peak RSS per process.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python benchmarks/queue.py``, this folder is sys.path[0] and this file would shadow the
# stdlib ``queue`` (concurrent.futures imports it): drop the folder before importing anything else.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import itertools
import multiprocessing
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import asyncpg

from harvester.core.model import NewTask, PageCommit
from harvester.store.base import Store
from harvester.store.postgres import PostgresStore, redact_url
from harvester.store.sqlite import SqliteStore

JOBS = 10


@dataclass(slots=True, kw_only=True)
class Figures:
    tasks: int
    enqueue_s: float
    complete_s: float
    transactions: int  # during claim+complete
    operations: int
    enqueue_stall_ms: tuple[float, float]  # (p99, max) loop lag
    complete_stall_ms: tuple[float, float]

    @property
    def enqueue_rate(self) -> float:
        return self.tasks / self.enqueue_s

    @property
    def complete_rate(self) -> float:
        return self.tasks / self.complete_s


def new_tasks(n: int) -> Iterator[NewTask]:
    for i in range(n):
        yield NewTask(
            job=f"job{i % JOBS}",
            key=f"user:{i}",
            endpoint="/2/users/:id/tweets",
            path_params={"id": str(10_000_000 + i)},
            params={"max_results": "100"},
            priority=i % 3,
        )


class StallMonitor:
    """How late a 5 ms timer fires: the time the loop was blocked (what any other task waits)."""

    PERIOD = 0.005

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.PERIOD)
            self.lags.append(max(0.0, time.perf_counter() - started - self.PERIOD))

    def take(self) -> tuple[float, float]:
        """(p99, max) lag in ms since the last call."""
        lags, self.lags = sorted(self.lags), []
        if not lags:
            return 0.0, 0.0
        return lags[int(len(lags) * 0.99)] * 1000, lags[-1] * 1000


async def enqueue_all(store: Store, tasks: int, chunk: int) -> int:
    stream = new_tasks(tasks)
    added = 0
    while batch := list(itertools.islice(stream, chunk)):
        added += await store.enqueue(batch)
    return added


async def drain(store: Store, now: float, workers: int, claim_limit: int) -> int:
    """Claim and complete until the queue is empty; returns how many tasks were completed."""
    offsets = dict.fromkeys((f"job{j}" for j in range(JOBS)), 0)
    completed = 0

    async def worker(name: str) -> None:
        nonlocal completed
        while claimed := await store.claim(name, now, 300.0, claim_limit):
            for task in claimed:
                offsets[task.job] += 180  # the page's bytes, appended and fsynced
                commit = PageCommit(
                    task_id=task.id, next_cursor=None, items=1,
                    output_job=task.job, output_offset=offsets[task.job],
                )  # fmt: skip
                await store.commit_page(commit)
                completed += 1

    async with asyncio.TaskGroup() as group:
        for w in range(workers):
            group.create_task(worker(f"w{w}"))
    return completed


async def run_queue(store: SqliteStore, *, tasks: int, workers: int, chunk: int, claim_limit: int) -> Figures:
    await store.open()
    monitor = StallMonitor()
    watcher = asyncio.create_task(monitor.run())
    try:
        started = time.perf_counter()
        added = await enqueue_all(store, tasks, chunk)
        enqueue_s = time.perf_counter() - started
        enqueue_stall = monitor.take()
        assert added == tasks, (added, tasks)

        tx0, ops0 = store.transactions, store.operations
        started = time.perf_counter()
        completed = await drain(store, time.time(), workers, claim_limit)
        complete_s = time.perf_counter() - started
        complete_stall = monitor.take()
        assert completed == tasks, (completed, tasks)
        assert await store.pending_count() == 0
        return Figures(
            tasks=tasks, enqueue_s=enqueue_s, complete_s=complete_s,
            transactions=store.transactions - tx0, operations=store.operations - ops0,
            enqueue_stall_ms=enqueue_stall, complete_stall_ms=complete_stall,
        )  # fmt: skip
    finally:
        watcher.cancel()
        await store.close()


def peak_rss_mb() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024


def report(label: str, f: Figures) -> None:
    print(
        f"{label:<28} {f.tasks:>9,} tasks  enqueue {f.enqueue_rate:>9,.0f}/s  "
        f"claim+complete {f.complete_rate:>8,.0f}/s  {f.operations / max(f.transactions, 1):4.1f} ops/tx  "
        "loop lag p99/max: enqueue {:.1f}/{:.0f} ms, claim+complete {:.1f}/{:.0f} ms".format(
            *f.enqueue_stall_ms, *f.complete_stall_ms
        )
    )


# -- PostgreSQL: several processes on one schema -----------------------------------------------


def _drain_process(
    url: str, schema: str, workers: int, claim_limit: int, start_at: float
) -> tuple[int, float, float]:
    """One process (spawned): open a store, wait for the common start, drain. -> (done, end, RSS)."""

    async def run() -> tuple[int, float]:
        store = PostgresStore(url, schema=schema, pool_size=workers)
        await store.open()
        try:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            done = await drain(store, time.time(), workers, claim_limit)
            return done, time.time()
        finally:
            await store.close()

    done, end = asyncio.run(run())
    return done, end, peak_rss_mb()


async def run_postgres(args: argparse.Namespace, tasks: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(args.url, schema=schema, pool_size=args.workers)
    await store.open()
    try:
        started = time.perf_counter()
        added = await enqueue_all(store, tasks, args.chunk)
        enqueue_s = time.perf_counter() - started
        assert added == tasks, (added, tasks)
        spawn = multiprocessing.get_context("spawn")
        start_at = time.time() + 3.0  # time for every process to start and connect
        with ProcessPoolExecutor(args.processes, mp_context=spawn) as pool:
            futures = [
                pool.submit(_drain_process, args.url, schema, args.workers, args.claim_limit, start_at)
                for _ in range(args.processes)
            ]
            results = [await asyncio.wrap_future(f) for f in futures]
        complete_s = max(end for _, end, _ in results) - start_at
        completed = sum(done for done, _, _ in results)
        assert completed == tasks, (completed, tasks)
        assert await store.pending_count() == 0
    finally:
        await store.close()
        conn = await asyncpg.connect(args.url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    share = ", ".join(f"{done:,}" for done, _, _ in results)
    rss = ", ".join(f"{r:.0f}" for _, _, r in results)
    print(
        f"{'postgresql':<28} {tasks:>9,} tasks  enqueue {tasks / enqueue_s:>9,.0f}/s  "
        f"claim+complete {tasks / complete_s:>8,.0f}/s  ({args.processes} processes x {args.workers} "
        f"workers; tasks per process {share})"
    )
    print(f"peak RSS per drain process: {rss} MB; main process {peak_rss_mb():.0f} MB")


async def main(args: argparse.Namespace) -> None:
    if args.backend == "postgresql":
        if not args.url:
            raise SystemExit("--backend postgresql needs --url postgresql://...")
        tasks = args.tasks or 100_000
        print(f"postgresql {redact_url(args.url)}, {args.processes} processes x {args.workers} workers, "
              f"claim limit {args.claim_limit}; sqlite beside it on the same task count")  # fmt: skip
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="harvester-bench-") as tmp:
            sqlite = await run_queue(
                SqliteStore(Path(tmp) / "grouped.db", thread=args.thread),
                tasks=tasks, workers=args.workers, chunk=args.chunk, claim_limit=args.claim_limit,
            )  # fmt: skip
            report("sqlite (1 process)", sqlite)
        await run_postgres(args, tasks)
        return
    args.tasks = args.tasks or 1_000_000
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="harvester-bench-") as tmp:
        print(f"sqlite {args.workers} workers, claim limit {args.claim_limit}, "
              f"{'thread' if args.thread else 'inline'} mode, in {tmp}")  # fmt: skip
        grouped = await run_queue(
            SqliteStore(Path(tmp) / "grouped.db", thread=args.thread),
            tasks=args.tasks, workers=args.workers, chunk=args.chunk, claim_limit=args.claim_limit,
        )  # fmt: skip
        report("group commit", grouped)
        rss_main = peak_rss_mb()
        db_mb = (Path(tmp) / "grouped.db").stat().st_size / 1e6
        naive = await run_queue(
            SqliteStore(Path(tmp) / "naive.db", thread=args.thread, max_batch=1),
            tasks=args.baseline_tasks, workers=args.workers, chunk=1, claim_limit=1,
        )  # fmt: skip
        report("naive (1 op = 1 transaction)", naive)
    print(
        f"ratio: enqueue x{grouped.enqueue_rate / naive.enqueue_rate:.0f}, "
        f"claim+complete x{grouped.complete_rate / naive.complete_rate:.1f}"
    )
    print(f"peak RSS {rss_main:.0f} MB after the main run ({peak_rss_mb():.0f} MB overall); "
          f"state file {db_mb:.0f} MB")  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=None, help="default 1M (sqlite), 100k (postgresql)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--baseline-tasks", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=2_000, help="tasks per enqueue call")
    parser.add_argument("--claim-limit", type=int, default=1, help="tasks per claim call")
    parser.add_argument("--thread", action="store_true", help="run sqlite3 on a dedicated thread")
    parser.add_argument("--url", default=None, help="postgresql://... (--backend postgresql)")
    parser.add_argument("--processes", type=int, choices=[1, 2, 4], default=1,
                        help="drain processes (--backend postgresql)")  # fmt: skip
    parser.add_argument("--dir", default=None, help="where the state files go (default: a temp dir)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
