"""The status page's HTML from a /status document, and the live parts behind it: recent errors
the server's cap readings and the cached daily history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harvester.core.budget import Budget, Ledger, LedgerEntry
from harvester.core.cap import CapTracker
from harvester.core.history import Day
from harvester.core.model import JobStats
from harvester.core.pricing import Charge, quote, utc_day
from harvester.core.request import Cause, StopCause
from harvester.core.waits import JobWait
from harvester.redact import register_secret
from harvester.runtime.history import STATE_READINGS, DailyHistory, record_reading
from harvester.runtime.monitor import JobView, Snapshot, status_json
from harvester.runtime.recent_errors import ErrorRecord, RecentErrors
from harvester.runtime.statuspage import render_page
from harvester.store import open_store
from harvester.testing import EPOCH, run_virtual

SEARCH = "/2/tweets/search/recent"
EVIL = '<script>alert("x")</script>'


def document(*, jobs: int = 2, spending_limit: float | None = 20.0, errors: int = 2) -> dict[str, Any]:
    now = EPOCH + 3600
    ledger = Ledger(Budget(max_usd_per_run=5.0, spending_limit_usd=spending_limit, balance_usd=50.0), run="r")
    q = quote(SEARCH, 100)
    ticket = ledger.reserve(now, "j0", q).ticket  # type: ignore[union-attr]
    ledger.settle(ticket, now, Charge(route=SEARCH, day=utc_day(now), micros=3_250_000, keys=()))
    cap = CapTracker()
    cap.observe_usage(now - 60, "1200", "3000000", 1)
    names = [f"job-{i}" for i in range(jobs - 1)] + [EVIL]
    stats = [JobStats(job=n, tasks=2, pending=1, claimed=0, done=1, failed=0, pages=3, items=250,
                      last_error=EVIL if n == EVIL else None) for n in names]
    snap = Snapshot(
        now=now, jobs=stats, queue_depth=jobs, buckets=(), budget=ledger.status(now), cap=cap.status(now),
        schedules=[JobView(job=n, schedule=None, generation=0, last_slot=None, next_slot=now + 90, running=True,
                           lag=12.5) for n in names],
        requests={(SEARCH, 200): 7, (SEARCH, 429): 1}, pages=3, items=250, retries=1, stopping=True,
        stop=StopCause(cause=Cause.RUN_BUDGET, message="run budget $5.00 reached", resumes_at=None),
        waits={n: JobWait(state="waiting", reason=f"rate limit: {EVIL}", until=now + 60) for n in names},
        history=tuple(Day(day=f"2026-11-{d:02d}", spend=d * 100_000, cycle_spend=d * 1_000_000, posts=d,
                          cycle_posts=d * 10, server_posts=d * 9 if d % 2 else None) for d in range(1, 31)),
        errors=tuple(ErrorRecord(at=now - i, job=EVIL, task="search", error=f"HTTP 503 {EVIL}", final=i == 0)
                     for i in range(errors)),
    )
    return status_json(snap)


def test_the_page_is_the_document_escaped_and_self_contained() -> None:
    doc = document()
    html = render_page(doc)
    assert EVIL not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the countdown script, nothing else
    assert not re.search(r'(src|href)="(?!data:)', html), "the page must load nothing but itself"
    assert '<meta http-equiv="refresh" content="10">' in html
    assert html.count("<tr data-job=") == 2 and html.count("<tr data-error>") == 2
    assert ">failed<" in html and ">retried<" in html
    assert "run stopping (run_budget): run budget $5.00 reached" in html
    # Spend against each limit: $3.250 of the $5 run budget and of the $20 cycle limit, the balance.
    assert '<meter min="0" max="5.0" value="3.25"' in html and '<meter min="0" max="20.0" value="3.25"' in html
    assert 'data-field="balance">$46.750<' in html
    assert 'server <span data-field="server_used">1,200</span>' in html
    assert 'data-field="lag" data-value="12.5">12s<' in html


def test_charts_plot_the_history_and_a_limit_only_on_scale() -> None:
    html = render_page(document())
    spend = re.search(r'data-chart="spend".*?</svg>', html, re.DOTALL)
    cycle = re.search(r'data-chart="cycle-spend".*?</svg>', html, re.DOTALL)
    cap = re.search(r'data-chart="cap".*?</svg>', html, re.DOTALL)
    assert spend and cycle and cap
    assert spend.group().count('class="bar"') == 30 and "<title>2026-11-30: $3.000</title>" in spend.group()
    assert 'class="limit"' in cycle.group()  # $20 limit, $30 peak: on scale
    assert 'class="limit"' not in cap.group()  # 3,000,000 against 300 Posts: named in the caption instead
    assert "against the cap of 3,000,000" in cap.group() and cap.group().count('class="point"') == 15
    far = render_page(document(spending_limit=5_000.0))
    cycle_far = re.search(r'data-chart="cycle-spend".*?</svg>', far, re.DOTALL)
    assert cycle_far and 'class="limit"' not in cycle_far.group() and "(limit $5,000.000)" in far


def test_the_page_stays_small() -> None:
    html = render_page(document(jobs=40, errors=50))
    assert len(html.encode()) < 120_000
    assert "No errors since this process started." in render_page(document(errors=0))


def test_recent_errors_keep_the_latest_newest_first_and_redacted() -> None:
    register_secret("s3cr3t-token-value")
    errors = RecentErrors(keep=3)
    errors.note(1.0, "a", "k0", "HTTP 503 s3cr3t-token-value", final=False)
    for i in range(1, 4):
        errors.note(1.0 + i, "a", f"k{i}", f"HTTP 400 on k{i}", final=True)
    got = errors.snapshot()
    assert [(e.task, e.final) for e in got] == [("k3", True), ("k2", True), ("k1", True)]  # newest first, 3 kept
    again = RecentErrors()
    again.note(1.0, "a", "k0", "HTTP 503 s3cr3t-token-value", final=False)
    assert "s3cr3t" not in again.snapshot()[0].error
    assert again.snapshot()[0].to_json()["task"] == "k0"


def test_daily_history_reads_the_ledger_and_the_servers_readings(tmp_path: Path) -> None:
    day = 86_400.0

    def row(at: float, micros: int, posts: int) -> dict[str, Any]:
        return LedgerEntry(at=at, run="r", job="j", route=SEARCH, day=utc_day(at), micros=micros,
                           posts=posts).to_dict()

    async def go() -> tuple[tuple[Day, ...], tuple[Day, ...], dict[str, int]]:
        store = open_store(str(tmp_path / "state.db"))
        await store.open()
        try:
            await store.add_ledger([row(EPOCH - 2 * day + 10, 1_000_000, 100), row(EPOCH + 10, 500_000, 40)])
            cap = CapTracker()
            cap.observe_usage(EPOCH - 2 * day + 20, "90", "3000000", 1)
            await record_reading(store, cap.status(EPOCH - 2 * day + 20))
            cap.observe_usage(EPOCH + 20, "130", "3000000", 1)
            await record_reading(store, cap.status(EPOCH + 20))
            history = DailyHistory(lambda route: route == SEARCH, cycle_start_day=1)
            first = await history.read(store, EPOCH + 60)
            await store.add_ledger([row(EPOCH + 30, 250_000, 10)])  # today: read at once
            second = await history.read(store, EPOCH + 90)
            return first, second, await store.get_state(STATE_READINGS)
        finally:
            await store.close()

    first, second, readings = run_virtual(go)
    assert len(first) == 30 and first[-1].day == utc_day(EPOCH) and first[-3].day == utc_day(EPOCH - 2 * day)
    assert (first[-3].spend, first[-3].posts, first[-3].server_posts) == (1_000_000, 100, 90)
    assert (first[-1].spend, first[-1].cycle_spend, first[-1].cycle_posts, first[-1].server_posts) == (
        500_000, 1_500_000, 140, 130)
    assert (second[-1].spend, second[-1].cycle_posts) == (750_000, 150)
    assert readings == {utc_day(EPOCH - 2 * day): 90, utc_day(EPOCH): 130}
