"""Soak: the daemon for a simulated month against the in-process sandbox, on a fast-forwarding loop.

Run by hand (``python benchmarks/soak.py --days 30 --faults 0.01``); it prints figures and
asserts nothing. One :class:`~harvester.clock.WarpLoop` with autojump runs both the sandbox and
the daemon, so rate-limit windows, schedules and the world's new posts share one virtual
timeline and a month passes in seconds. The jobs: a recent search every 15 minutes, and the
timelines of a few active users every hour (no time bounds: each run reads what is there then).

Printed: RSS at start and end (psutil), requests, pages, items, 429s, 5xx (the injected faults),
errors that were not injected (failed tasks, error log events, 4xx other than 429), runs
scheduled, and simulated days per real second.
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# benchmarks/queue.py would shadow the standard library's ``queue`` for scripts run from here.
sys.path[:] = [p for p in sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import sys
from pathlib import Path

# Run as ``python benchmarks/soak.py``, this folder is sys.path[0] and benchmarks/queue.py would
# shadow the stdlib ``queue`` (anyio imports it): drop the folder before importing anything else.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import io
import logging
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any

import anyio
import psutil
import structlog

from harvester.clock import LoopClock, WarpLoop
from harvester.runtime.daemon import Daemon, DaemonResult
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import APP_TOKEN, EPOCH, make_config

ACTIVE_USERS = ("8288491", "94399023", "980201543", "761545", "4465035")

EVENTS: Counter[tuple[str, str]] = Counter()


def _count(_: Any, level: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    EVENTS[(level, str(event.get("event")))] += 1
    raise structlog.DropEvent


def jobs_folder(tmp: Path) -> Path:
    folder = tmp / "jobs"
    folder.mkdir()
    (folder / "soak.toml").write_text(f"""
[[job]]
name = "search-15m"
kind = "search"
query = "qiqipa"
max_results = 100
schedule = "*/15 * * * *"

[[job]]
name = "timelines-hourly"
kind = "timeline"
user_ids = {list(ACTIVE_USERS)!r}
max_results = 100
schedule = "0 * * * *"
""".replace("'", '"'))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0, help="simulated days")
    ap.add_argument("--faults", type=float, default=0.0, help="5xx fault rate injected by the sandbox")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--jump-after", type=float, default=0.0005,
                    help="real seconds of idleness before the loop jumps to its next timer")
    ap.add_argument("--pacing", choices=("spread", "burst"), default="spread")
    ap.add_argument("--trace", action="store_true", help="report live memory by package at the end (slower)")
    args = ap.parse_args()

    structlog.configure(processors=[_count], wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
                        logger_factory=lambda *_: structlog.PrintLogger(io.StringIO()))
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        folder = jobs_folder(tmp)
        config = make_config(tmp, workers=args.workers, fsync=False, pacing=args.pacing)
        config = replace(config, daemon=replace(config.daemon, metrics_port=0))
        rss0 = proc.memory_info().rss
        if args.trace:
            tracemalloc.start()

        async def soak() -> tuple[DaemonResult, Counter[tuple[str, int]]]:
            clock = LoopClock(epoch=EPOCH)
            sb = Sandbox(SandboxConfig(epoch=EPOCH, fault_5xx_rate=args.faults), clock)
            sb.add_app_token(APP_TOKEN)
            url = await sb.start()
            cfg = replace(config, api=replace(config.api, base_url=url))
            daemon = Daemon(cfg, [folder], clock=clock, bearer=APP_TOKEN, handle_signals=False, idle_poll=900.0)
            results: list[DaemonResult] = []

            async def go() -> None:
                results.append(await daemon.run())

            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(go)
                    await anyio.sleep(args.days * 86400)
                    daemon.stop("soak over")
            finally:
                await sb.stop()
            return results[0], Counter(sb.stats.requests)

        t0 = time.perf_counter()
        loop = lambda: WarpLoop(autojump=True, autojump_threshold=args.jump_after)
        with asyncio.Runner(loop_factory=loop) as runner:
            result, served = runner.run(soak())
        real = time.perf_counter() - t0
        rss1 = proc.memory_info().rss
        if args.trace:
            # Where the live memory is at the end, by package: the harvester's own against the
            # in-process sandbox's (whose post cache is meant to fill up to its bound).
            by_area: Counter[str] = Counter()
            for stat in tracemalloc.take_snapshot().statistics("filename"):
                name = stat.traceback[0].filename
                area = ("harvester.sandbox" if "/harvester/sandbox/" in name else
                        "harvester (not sandbox)" if "/harvester/" in name else "other (stdlib, libs)")
                by_area[area] += stat.size
            for area, size in by_area.most_common():
                print(f"traced at end: {area:24} {size / 2**20:7.1f} MiB")

    s = result.stats
    statuses: Counter[int] = Counter()
    for (_, status), n in s.by_status.items():
        statuses[status] += n
    failed = sum(j.failed for j in result.jobs)
    errors = {k: n for k, n in EVENTS.items() if k[0] in ("error", "critical")}
    other_4xx = sum(n for st, n in statuses.items() if 400 <= st < 500 and st != 429)
    print(f"simulated: {args.days:g} days ({args.days * 96:.0f} 15-minute windows), faults {args.faults:g}")
    print(f"real time: {real:.1f} s   -> {args.days / real:.2f} simulated days per real second")
    print(f"RSS: start {rss0 / 2**20:.1f} MiB, end {rss1 / 2**20:.1f} MiB")
    print(f"runs scheduled: {result.runs}   requests: {s.requests} (sandbox served {sum(served.values())})   "
          f"pages: {s.pages}   items: {s.items}   retries: {s.retries}")
    print(f"429s: {s.too_many}   5xx (injected): {sum(n for st, n in statuses.items() if st >= 500)}")
    print(f"errors not injected: failed tasks {failed}, other 4xx {other_4xx}, error events {errors or 0}")
    print(f"warnings by event: {dict(sorted((e, n) for (lvl, e), n in EVENTS.items() if lvl == 'warning'))}")
    print(f"stop: {result.stop.message if result.stop else None}   forced: {result.forced}")


if __name__ == "__main__":
    main()
