"""Live progress of ``harvester run``: a rich display on a TTY, a log line now and then otherwise.

:func:`show_progress` runs beside the worker pool (in the run's task group) until cancelled.
Each refresh reads the store's job counters and the engines' figures at the clock's ``now``;
it writes nothing and holds nothing, so cancelling it at any point is safe.

What a person reads: per job, pages against the pages the planner expects (``?`` when a
search's volume is unknown, ``≤ n`` when only a worst case is known), items, and spend against
the run budget; an ETA (``core.eta``: each bucket's work left against what its window has left
and its reset; "at least" while a volume is unknown); and, when the run waits, for which bucket
or limit and until when. Off a TTY, a progress log line every 15 seconds, and the workers log
each wait as it starts (``run_waiting``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import anyio
import structlog
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harvester.core.budget import BudgetStatus
from harvester.core.estimate import estimate_job, route_of
from harvester.core.eta import Eta, run_eta
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
    """The display: ETA and waits, jobs, buckets, and money, as of now."""
    jobs = [j for j in await rt.store.job_stats() if j.job in rt.jobs.names]
    now = rt.clock.now()
    expected = _expected(rt)
    return Group(
        Text(f"ETA {eta(rt, jobs, expected, now).describe()}   " + wait_line(rt, now)),
        _jobs_table(jobs, expected),
        _buckets_table(rt.machine.limits.snapshot(now), now),
        _money_line(rt.machine.ledger.status(now), rt),
    )


def _expected(rt: Runtime) -> dict[str, tuple[int | None, int | None]]:
    """Per job: the pages the planner expects, and its worst case (None: unknown)."""
    out: dict[str, tuple[int | None, int | None]] = {}
    for name, spec in rt.jobs.specs.items():
        e = estimate_job(spec, None, rt.machine.prices)
        out[name] = (e.requests_expected, e.requests_worst)
    return out


def eta(rt: Runtime, jobs: Sequence[JobStats], expected: dict[str, tuple[int | None, int | None]], now: float) -> Eta:
    """The run's ETA from the planner's pages left per bucket and each bucket's state."""
    left: dict[tuple[str, str], int] = {}
    unknown = False
    for j in jobs:
        spec = rt.jobs.specs.get(j.job)
        if spec is None or j.state == "done":
            continue
        want = expected.get(j.job, (None, None))[0]
        if want is None:
            unknown = True
            want = j.pages + j.pending + j.claimed  # at least one more page per unfinished task
        key = (route_of(spec), spec.auth)
        left[key] = left.get(key, 0) + max(0, want - j.pages)
    buckets = []
    for (route, auth), n in left.items():
        try:
            b = rt.machine.limits.bucket(route, rt.machine.members(auth)[0], rt.machine.kind(auth))
        except (KeyError, ValueError):
            continue
        f = b.figures(now)
        buckets.append((n, f.available, f.limit, f.window, None if f.reset is None else f.reset - now))
    return run_eta(buckets, unknown)


def wait_line(rt: Runtime, now: float) -> str:
    """``waiting for <bucket> (<why>) until <time>``, or ``sending``."""
    waits = rt.machine.waits(now)
    if not waits:
        return "sending"
    route, auth, until, why = waits[0]
    more = f" (+{len(waits) - 1} more)" if len(waits) > 1 else ""
    return f"waiting for {route} ({auth}): {why}; until {_clock(until)} (in {until - now:,.0f}s){more}"


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%H:%M:%S UTC")


def _jobs_table(jobs: Sequence[JobStats], expected: dict[str, tuple[int | None, int | None]]) -> Table:
    t = Table(title="jobs", title_justify="left", expand=False)
    for col in ("job", "state", "tasks done", "pages", "items", "last error"):
        t.add_column(col, justify="right" if col in ("pages", "items") else "left")
    for j in jobs:
        want, worst = expected.get(j.job, (None, None))
        of = f"{want:,}" if want is not None else (f"≤{worst:,}" if worst is not None else "?")
        t.add_row(j.job, j.state, f"{j.done}/{j.tasks - j.superseded}", f"{j.pages:,}/{of}", f"{j.items:,}",
                  (j.last_error or "")[:50])  # a live line must fit; the summary at the end wraps it whole
    return t


def _buckets_table(buckets: Sequence[BucketFigures], now: float) -> Table:
    t = Table(title="rate-limit buckets", title_justify="left", expand=False)
    for col in ("route", "auth", "remaining", "resets in", "window", "pace", "in flight", "429s"):
        t.add_column(col)
    for b in buckets:
        reset = "?" if b.reset is None else f"{max(0.0, b.reset - now):.0f}s"
        window = f"{b.window:,.0f}s" + ("" if b.window_learned else "?")
        pace = f"{b.pace:.1f}s" if b.pace else "-"
        t.add_row(b.route, b.auth, f"{b.available}/{b.limit}", reset, window, pace, str(b.in_flight), str(b.rejected))
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
        jobs = [j for j in await rt.store.job_stats() if j.job in rt.jobs.names]
        log.info("progress", requests=rt.stats.requests, pages=rt.stats.pages, items=rt.stats.items,
                 too_many=rt.stats.too_many, queue=await rt.store.pending_count(rt.jobs.names),
                 spent_run=format_usd(m.spent_run), eta=eta(rt, jobs, _expected(rt), now).describe(),
                 state=wait_line(rt, now))
