"""Live progress of ``harvester run``: a rich display on a TTY, a log line now and then otherwise.

:func:`show_progress` runs beside the worker pool (in the run's task group) until cancelled.
Each refresh reads the store's job counters and the engines' figures at the clock's ``now``;
it writes nothing and holds nothing, so cancelling it at any point is safe.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import anyio
import structlog
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harvester.core.budget import BudgetStatus
from harvester.core.model import JobStats
from harvester.core.pricing import format_usd
from harvester.core.ratelimit import BucketFigures
from harvester.runtime.runtime import Runtime

log = structlog.get_logger(__name__)

REFRESH_SECONDS = 0.5
LOG_EVERY_SECONDS = 15.0


async def show_progress(rt: Runtime, *, console: Console | None = None) -> None:
    """Refresh about twice a second until cancelled: a live table on a TTY, else a log line per 15 s."""
    con = console or Console(file=sys.stderr)
    if not con.is_terminal:
        await _log_progress(rt)
        return
    with Live(console=con, refresh_per_second=4, transient=False, redirect_stderr=True) as live:
        while True:
            live.update(await render(rt))
            await anyio.sleep(REFRESH_SECONDS)


async def render(rt: Runtime) -> Group:
    """The display: jobs, buckets, and money, as of now."""
    jobs = await rt.store.job_stats()
    jobs = [j for j in jobs if j.job in rt.jobs.names]
    now = rt.clock.now()
    return Group(
        _jobs_table(jobs),
        _buckets_table(rt.machine.limits.snapshot(now), now),
        _money_line(rt.machine.ledger.status(now), rt),
    )


def _jobs_table(jobs: Sequence[JobStats]) -> Table:
    t = Table(title="jobs", title_justify="left", expand=False)
    for col in ("job", "state", "tasks done", "pages", "items", "last error"):
        t.add_column(col, justify="right" if col in ("pages", "items") else "left")
    for j in jobs:
        t.add_row(j.job, j.state, f"{j.done}/{j.tasks - j.superseded}", str(j.pages), str(j.items),
                  (j.last_error or "")[:50])  # a live line must fit; the summary at the end wraps it whole
    return t


def _buckets_table(buckets: Sequence[BucketFigures], now: float) -> Table:
    t = Table(title="rate-limit buckets", title_justify="left", expand=False)
    for col in ("route", "auth", "remaining", "resets in", "in flight", "429s"):
        t.add_column(col)
    for b in buckets:
        reset = "?" if b.reset is None else f"{max(0.0, b.reset - now):.0f}s"
        t.add_row(b.route, b.auth, f"{b.available}/{b.limit}", reset, str(b.in_flight), str(b.rejected))
    return t


def _money_line(m: BudgetStatus, rt: Runtime) -> Text:
    run = format_usd(m.spent_run) + ("" if m.run_limit is None else f" of {format_usd(m.run_limit.limit)}")
    cycle = format_usd(m.spent_cycle) + ("" if m.cycle_limit is None else f" of {format_usd(m.cycle_limit.limit)}")
    s = rt.stats
    return Text(f"spend: run {run}   today {format_usd(m.spent_today)}   cycle {cycle}   "
                f"requests {s.requests}   pages {s.pages}   items {s.items}   429s {s.too_many}")


async def _log_progress(rt: Runtime) -> None:
    while True:
        await anyio.sleep(LOG_EVERY_SECONDS)
        now = rt.clock.now()
        m = rt.machine.ledger.status(now)
        log.info("progress", requests=rt.stats.requests, pages=rt.stats.pages, items=rt.stats.items,
                 too_many=rt.stats.too_many, queue=await rt.store.pending_count(rt.jobs.names),
                 spent_run=format_usd(m.spent_run))
