"""What sharing one quota and budget costs per request: admissions per second and their latency.

Run by hand (``python benchmarks/admission.py --url postgresql://postgres@127.0.0.1:5432/test``);
it prints figures and asserts only that nothing was over-granted. Each admission is what a
worker does before every request on a shared store (``runtime/admission.py``): open a session
(one transaction under the shared advisory lock), fold the others' new ledger rows into a real
``core.budget.Ledger``, reserve, log a grant in one of 8 buckets, record a hold; then end the
hold with a ledger row, as the page's commit does. No HTTP, so the figure is the ceiling the
database puts on requests per second for all hosts together.

The baseline, measured in the same run, is the single-process path (SQLite state,
``LocalCoordinator``): the same ledger work with nothing shared.

Each bucket allows ``--limit`` grants per ``--span`` seconds; the benchmark checks afterwards
that no bucket's log holds more than that in any span (it must not, however the processes
interleave).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder's queue.py would shadow the stdlib ``queue`` (concurrent.futures imports it).
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import asyncpg

from harvester.core.budget import Budget, Ledger, LedgerEntry, Proceed
from harvester.core.pricing import Charge, quote, utc_day
from harvester.core.shared import Hold
from harvester.store.base import Store
from harvester.store.coordination import coordinator_for
from harvester.store.postgres import PostgresStore, redact_url
from harvester.store.sqlite import SqliteStore

ROUTE = "/2/tweets/search/recent"
BUCKETS = 8


async def admit_loop(store: Store, run: str, workers: int, seconds: float, start_at: float,
                     limit: int, span: float) -> tuple[int, int, list[float]]:  # fmt: skip
    """Admit as fast as possible for ``seconds``: (granted, refused, latencies in ms)."""
    coord = coordinator_for(store)
    ledger = Ledger(Budget(spending_limit_usd=1e9), run=run)
    for e in await coord.history(0.0):
        ledger.absorb([LedgerEntry.from_dict(e)], 0)
    q = quote(ROUTE, 100)
    granted = refused = 0
    latencies: list[float] = []
    await asyncio.sleep(max(0.0, start_at - time.time()))
    end = start_at + seconds

    async def worker(w: int) -> None:
        nonlocal granted, refused
        n = 0
        while time.time() < end:
            t0 = time.perf_counter()
            now = time.time()
            async with coord.session(now, run) as s:
                ledger.absorb([LedgerEntry.from_dict(e) for e in s.view.entries], s.view.held_micros)
                d = ledger.reserve(now, "bench", q)
                assert isinstance(d, Proceed)
                until = await s.grant(f"{ROUTE} b{(w + n) % BUCKETS}", now, limit, span)
                hold = None
                if until <= now:
                    hold = await s.hold(Hold(run=run, job="bench", route=ROUTE, micros=d.ticket.micros,
                                             posts=100, at=now, expires=now + 60))  # fmt: skip
            latencies.append((time.perf_counter() - t0) * 1000)
            n += 1
            if until > now:
                ledger.cancel(d.ticket)
                refused += 1
                continue
            entry = ledger.settle(d.ticket, now, Charge(route=ROUTE, day=utc_day(now), micros=500_000))
            await store.add_ledger([entry.to_dict()], holds=() if hold is None else (hold,))
            granted += 1

    await asyncio.gather(*(worker(w) for w in range(workers)))
    return granted, refused, latencies


def _pg_process(url: str, schema: str, workers: int, seconds: float, start_at: float, limit: int,
                span: float) -> tuple[int, int, list[float]]:  # fmt: skip
    async def main() -> tuple[int, int, list[float]]:
        store = PostgresStore(url, schema=schema, pool_size=workers + 1)
        await store.open()
        try:
            return await admit_loop(store, f"bench-{uuid.uuid4().hex[:6]}", workers, seconds, start_at,
                                    limit, span)  # fmt: skip
        finally:
            await store.close()

    return asyncio.run(main())


def describe(name: str, granted: int, refused: int, latencies: list[float], seconds: float) -> str:
    total = granted + refused
    p50 = statistics.median(latencies) if latencies else 0.0
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies, default=0.0)
    return (f"{name:<34} {total / seconds:>8,.0f} admissions/s  ({granted:,} granted, {refused:,} refused)"
            f"  latency p50 {p50:.2f} ms  p99 {p99:.2f} ms")  # fmt: skip


async def check_log(url: str, schema: str, limit: int, span: float) -> int:
    """The most grants any bucket's log holds within one span (must be <= limit)."""
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        worst = await conn.fetchval(
            "SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) FROM grants h WHERE h.bucket = g.bucket"
            " AND h.at >= g.at AND h.at < g.at + $1) AS n FROM grants g) AS x", span)  # fmt: skip
        return int(worst)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    print(f"{args.workers} admitting workers per process, {args.seconds:.0f} s each, {BUCKETS} buckets of "
          f"{args.limit} per {args.span:.0f} s; postgresql {redact_url(args.url)}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="harvester-bench-") as tmp:
        store = SqliteStore(Path(tmp) / "state.db")
        await store.open()
        try:
            g, r, lat = await admit_loop(store, "local", args.workers, args.seconds, time.time(), args.limit,
                                         args.span)  # fmt: skip
        finally:
            await store.close()
        print(describe("baseline: sqlite, 1 process (local)", g, r, lat, args.seconds))
    for processes in args.processes:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        setup = PostgresStore(args.url, schema=schema)
        await setup.open()
        await setup.close()
        try:
            start_at = time.time() + 3.0
            with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(_pg_process, args.url, schema, args.workers, args.seconds, start_at,
                                       args.limit, args.span) for _ in range(processes)]  # fmt: skip
                results = [await asyncio.wrap_future(f) for f in futures]
            worst = await check_log(args.url, schema, args.limit, args.span)
        finally:
            conn = await asyncpg.connect(args.url)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
        g = sum(x[0] for x in results)
        r = sum(x[1] for x in results)
        lat = [v for x in results for v in x[2]]
        print(describe(f"postgresql, {processes} process(es), shared", g, r, lat, args.seconds)
              + f"  fullest span {worst}/{args.limit}")  # fmt: skip
        assert worst <= args.limit, "over-granted"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="postgresql://...")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--limit", type=int, default=1000, help="grants per bucket per span")
    p.add_argument("--span", type=float, default=60.0)
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    return p.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
