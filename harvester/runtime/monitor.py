"""``/metrics`` (Prometheus text), ``/status`` (JSON) and ``/`` (an HTML page) of a running harvester.

All are read at request time, never cached: a scrape first takes one :class:`Snapshot` (the
store's job counters and queue depth, the engines' buckets, money and cap at the clock's
``now``, this process's counters, and the schedules if a daemon runs them), then renders it.
``/status`` and ``/`` add why each job waits, 30 days of spend and cap use by day, and this
process's recent errors, and render one document (:meth:`Monitor.document`): the page is that
JSON as HTML (``harvester.runtime.statuspage``), so its numbers are ``/status``'s.
The Prometheus side is a private ``CollectorRegistry`` with one custom collector that turns the
snapshot into metric families, so nothing is counted twice and there is no global state: two
monitors in one process (tests) do not see each other.

It listens on ``[daemon] metrics_host`` (127.0.0.1 by default: the figures are not secret, but
they are nobody else's business either); port 0 picks a free port, which :meth:`Monitor.start`
returns and the daemon logs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from harvester.core.budget import BudgetStatus
from harvester.core.cap import CapStatus
from harvester.core.endpoints import KIND_ENDPOINT
from harvester.core.history import Day
from harvester.core.model import JobStats
from harvester.core.plan import plan_job
from harvester.core.pricing import micros_to_usd
from harvester.core.ratelimit import BucketFigures
from harvester.core.request import StopCause
from harvester.core.waits import JobWait, job_wait
from harvester.redact import redact_tree
from harvester.runtime.history import DailyHistory
from harvester.runtime.recent_errors import ErrorRecord, RecentErrors
from harvester.runtime.runtime import Runtime

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobView:
    """One job as the scheduler sees it.

    Attributes:
        job: the job's name.
        schedule: the schedule as written; None for a job that runs once.
        generation: the definition's generation (bumped when the job file changes it).
        last_slot: the slot of the last run started (epoch seconds), if any.
        next_slot: the first slot after now: never in the past (a slot that is due but not
            started is ``due_slot``).
        running: whether the job has unfinished tasks.
        lag: seconds the job is behind: since its last committed page while it runs, since its
            next run was due while that run waits; 0 when it is idle and nothing is due.
        due_slot: a slot whose run is due but not started (the previous run is still going, or
            the scheduler has not got to it yet): the job is late by ``now - due_slot``.
        collapsed: slots after ``last_slot`` and before ``due_slot`` that will get no run of
            their own (rule 1 of ``core/schedule.py``: the late run covers them all).
    """

    job: str
    schedule: str | None
    generation: int
    last_slot: float | None
    next_slot: float | None
    running: bool
    lag: float
    due_slot: float | None = None
    collapsed: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ScheduleView(Protocol):
    """What the monitor asks of a scheduler (the daemon's; a plain run has none)."""

    async def jobs_view(self, now: float) -> list[JobView]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Every figure of one scrape, taken at ``now``."""

    now: float
    jobs: Sequence[JobStats]
    queue_depth: int
    buckets: Sequence[BucketFigures]
    budget: BudgetStatus
    cap: CapStatus
    schedules: Sequence[JobView]
    requests: dict[tuple[str, int], int]
    pages: int
    items: int
    retries: int
    stopping: bool
    stop: StopCause | None = None
    waits: Mapping[str, JobWait] = dataclasses.field(default_factory=dict)
    history: tuple[Day, ...] = ()
    errors: tuple[ErrorRecord, ...] = ()
    stream: Mapping[str, Any] | None = None  # the stream runner's figures (StreamStatus.to_json)


async def take_snapshot(
    rt: Runtime,
    view: ScheduleView | None = None,
    *,
    history: DailyHistory | None = None,
    errors: RecentErrors | None = None,
    detail: bool = False,
) -> Snapshot:
    """Read every live figure once (the store's, the engines', this process's).

    ``detail`` adds why each job waits, the daily ``history`` and the recent ``errors`` (the
    page and ``/status``; ``/metrics`` does without).
    """
    jobs = await rt.store.job_stats()
    depth = await rt.store.pending_count()
    now = rt.clock.now()
    schedules = await view.jobs_view(now) if view is not None else []
    buckets = rt.machine.limits.snapshot(now)
    stop = rt.signals.stop
    waits: dict[str, JobWait] = {}
    if detail:
        waits = await _job_waits(rt, jobs, schedules, buckets, now)
    return Snapshot(
        now=now, jobs=jobs, queue_depth=depth, buckets=buckets,
        budget=rt.machine.ledger.status(now), cap=rt.machine.cap.status(now), schedules=schedules,
        requests=dict(rt.stats.by_status), pages=rt.stats.pages, items=rt.stats.items,
        retries=rt.stats.retries, stopping=stop is not None, stop=stop, waits=waits,
        history=await history.read(rt.store, now) if detail and history is not None else (),
        errors=errors.snapshot() if detail and errors is not None else (),
        stream=rt.stream.to_json(now) if rt.stream is not None else None,
    )


async def _job_waits(rt: Runtime, jobs: Sequence[JobStats], schedules: Sequence[JobView],
                     buckets: Sequence[BucketFigures], now: float) -> dict[str, JobWait]:
    """Why each job (known to the store or the scheduler) is not fetching, if it is not."""
    stats = {j.job: j for j in jobs}
    views = {v.job: v for v in schedules}
    out: dict[str, JobWait] = {}
    for name in sorted(stats.keys() | views.keys()):
        spec = rt.jobs.specs.get(name)
        keys: set[tuple[str, str]] = set()
        if spec is not None:
            routes = {t.endpoint for t in plan_job(spec)} | {KIND_ENDPOINT[spec.kind]}
            auths = {spec.auth, *rt.machine.members(spec.auth)}
            keys = {(r, a) for r in routes for a in auths}
        j = stats.get(name)
        due = await rt.store.next_due([name]) if j is not None and j.pending and not j.claimed else None
        v = views.get(name)
        out[name] = job_wait(now=now, stats=j, next_run=v.next_slot if v is not None else None, buckets=buckets,
                             keys=keys, waits=rt.waiting, next_due=due, stop=rt.signals.stop)  # fmt: skip
    return out


def status_json(snap: Snapshot) -> dict[str, Any]:
    """The ``/status`` document."""
    return {
        "now": snap.now,
        "stopping": snap.stopping,
        "queue_depth": snap.queue_depth,
        "jobs": [{**dataclasses.asdict(j), "state": j.state} for j in snap.jobs],
        "schedules": [s.to_json() for s in snap.schedules],
        "buckets": [dataclasses.asdict(b) for b in snap.buckets],
        "budget": snap.budget.to_json(),
        "cap": snap.cap.to_json(),
        "process": {
            "requests": sum(snap.requests.values()),
            "requests_by_status": [
                {"endpoint": route, "status": status, "count": n}
                for (route, status), n in sorted(snap.requests.items())
            ],
            "too_many": sum(n for (_, status), n in snap.requests.items() if status == 429),
            "pages": snap.pages,
            "items": snap.items,
            "retries": snap.retries,
        },
        "stop": None if snap.stop is None else snap.stop.to_json(),
        "waits": {job: w.to_json() for job, w in snap.waits.items()},
        "history": [d.to_json() for d in snap.history],
        "errors": [e.to_json() for e in snap.errors],
        "stream": None if snap.stream is None else dict(snap.stream),
    }


class HarvestCollector(Collector):
    """Metric families from the snapshot of the scrape in progress."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterable[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        requests = CounterMetricFamily(
            "harvester_requests", "Responses received by this process, by endpoint and HTTP status.",
            labels=["endpoint", "status"],
        )
        for (route, status), n in sorted(snap.requests.items()):
            requests.add_metric([route, str(status)], n)
        yield requests
        yield CounterMetricFamily(
            "harvester_rate_limited", "HTTP 429 responses received by this process.",
            value=sum(n for (_, status), n in snap.requests.items() if status == 429),
        )
        yield CounterMetricFamily("harvester_pages", "Pages committed by this process.", value=snap.pages)
        yield CounterMetricFamily("harvester_items", "Items committed by this process.", value=snap.items)
        yield CounterMetricFamily("harvester_retries", "Retries scheduled by this process.", value=snap.retries)
        yield GaugeMetricFamily("harvester_queue_depth", "Tasks pending or claimed.", value=snap.queue_depth)
        yield GaugeMetricFamily("harvester_stopping", "1 while the process is shutting down.",
                                value=int(snap.stopping))
        yield from self._buckets(snap)
        yield from self._money(snap)
        yield from self._jobs(snap)
        yield from self._stream(snap)

    def _stream(self, snap: Snapshot) -> Iterable[Metric]:
        s = snap.stream
        if s is None:
            return
        yield GaugeMetricFamily("harvester_stream_connected", "1 while the filtered stream is connected.",
                                value=int(s["state"] == "connected"))
        posts = CounterMetricFamily("harvester_stream_posts", "Streamed Posts written, per job.", labels=["job"])
        for job, n in sorted(s["posts"].items()):
            posts.add_metric([job], n)
        yield posts
        yield GaugeMetricFamily("harvester_stream_posts_per_minute", "Streamed Posts per minute since the start.",
                                value=s["posts_per_minute"])
        if s["last_keepalive"] is not None:
            yield GaugeMetricFamily("harvester_stream_keepalive_age_seconds", "Seconds since the last keep-alive.",
                                    value=max(0.0, snap.now - s["last_keepalive"]))
        reconnects = CounterMetricFamily("harvester_stream_reconnects",
                                         "Reconnects of the stream by cause (ended, network, http, rate_limit).",
                                         labels=["cause"])
        for cause, n in sorted(s["reconnects"].items()):
            reconnects.add_metric([cause], n)
        yield reconnects
        messages = CounterMetricFamily("harvester_stream_disconnect_messages", "Disconnect messages, by type.",
                                       labels=["type"])
        for kind, n in sorted(s["disconnect_messages"].items()):
            messages.add_metric([kind], n)
        yield messages
        gaps = CounterMetricFamily("harvester_stream_gaps", "Outages recovered, by how (backfill, fill).",
                                   labels=["how"])
        gaps.add_metric(["backfill"], s["gaps_backfilled"])
        gaps.add_metric(["fill"], s["gaps_filled"])
        yield gaps
        yield CounterMetricFamily("harvester_stream_stalls", "Connections ended by silence.", value=s["stalls"])
        yield CounterMetricFamily("harvester_stream_duplicates", "Streamed Posts dropped as already written.",
                                  value=s["duplicates_dropped"])

    def _buckets(self, snap: Snapshot) -> Iterable[Metric]:
        labels = ["route", "auth"]
        remaining = GaugeMetricFamily("harvester_bucket_remaining",
                                      "Requests the rate-limit bucket allows now.", labels=labels)
        limit = GaugeMetricFamily("harvester_bucket_limit", "Requests per window of the bucket.", labels=labels)
        reset = GaugeMetricFamily("harvester_bucket_reset_seconds",
                                  "Seconds until the bucket's window resets (when known).", labels=labels)
        for b in snap.buckets:
            remaining.add_metric([b.route, b.auth], b.available)
            limit.add_metric([b.route, b.auth], b.limit)
            if b.reset is not None:
                reset.add_metric([b.route, b.auth], max(0.0, b.reset - snap.now))
        yield from (remaining, limit, reset)

    def _money(self, snap: Snapshot) -> Iterable[Metric]:
        m = snap.budget
        spend = GaugeMetricFamily("harvester_spend_usd", "Money spent (settled charges), USD.", labels=["period"])
        for period, micros in (("run", m.spent_run), ("today", m.spent_today), ("cycle", m.spent_cycle)):
            spend.add_metric([period], micros_to_usd(micros))
        yield spend
        limits = GaugeMetricFamily("harvester_budget_limit_usd", "Configured money limits, USD.",
                                   labels=["period"])
        for period, lim in (("run", m.run_limit), ("cycle", m.cycle_limit)):
            if lim is not None:
                limits.add_metric([period], micros_to_usd(lim.limit))
        yield limits
        yield GaugeMetricFamily("harvester_spend_in_flight_usd", "Money reserved by requests in flight, USD.",
                                value=micros_to_usd(m.in_flight))
        if m.balance is not None:
            yield GaugeMetricFamily("harvester_balance_usd", "Tracked prepaid balance, USD.",
                                    value=micros_to_usd(m.balance))
        c = snap.cap
        yield GaugeMetricFamily("harvester_cap_used_posts", "Posts read this cap cycle.", value=c.used)
        yield GaugeMetricFamily("harvester_cap_limit_posts", "Monthly Post cap.", value=c.cap)
        yield GaugeMetricFamily("harvester_cap_resets_seconds", "Seconds until the cap resets.",
                                value=max(0.0, c.resets_at - snap.now))

    def _jobs(self, snap: Snapshot) -> Iterable[Metric]:
        pages = GaugeMetricFamily("harvester_job_pages", "Pages committed per job (all runs).", labels=["job"])
        items = GaugeMetricFamily("harvester_job_items", "Items committed per job (all runs).", labels=["job"])
        tasks = GaugeMetricFamily("harvester_job_tasks", "Tasks per job and state.", labels=["job", "state"])
        for j in snap.jobs:
            pages.add_metric([j.job], j.pages)
            items.add_metric([j.job], j.items)
            for state in ("pending", "claimed", "done", "failed", "superseded"):
                tasks.add_metric([j.job, state], getattr(j, state))
        yield from (pages, items, tasks)
        lag = GaugeMetricFamily(
            "harvester_job_lag_seconds",
            "Seconds since the job's last committed page (running) or since its next run was due.",
            labels=["job"],
        )
        for s in snap.schedules:
            lag.add_metric([s.job], s.lag)
        yield lag


class Monitor:
    """The aiohttp server behind ``/metrics``, ``/status`` and the status page ``/``.

    Its recent errors are the ones the workers note in ``rt.errors``.
    """

    def __init__(self, rt: Runtime, view: ScheduleView | None = None) -> None:
        self.rt = rt
        self.view = view
        self.errors = rt.errors
        self.history = DailyHistory(rt.machine.cap.counts, rt.machine.ledger.budget.cycle_start_day)
        self._collector = HarvestCollector()
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self._collector)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.app = web.Application()
        self.app.router.add_get("/metrics", self._metrics)
        self.app.router.add_get("/status", self._status)
        self.app.router.add_get("/", self._page)

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: any free port); returns the bound port."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def render_metrics(self) -> bytes:
        """The Prometheus exposition of the figures right now."""
        self._collector.snapshot = await take_snapshot(self.rt, self.view)
        try:
            return generate_latest(self._registry)
        finally:
            self._collector.snapshot = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await self.render_metrics()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def document(self) -> dict[str, Any]:
        """The ``/status`` document right now; the page ``/`` is this document as HTML."""
        snap = await take_snapshot(self.rt, self.view, history=self.history, errors=self.errors, detail=True)
        return cast("dict[str, Any]", redact_tree(status_json(snap)))  # errors may quote URLs

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(await self.document())

    async def _page(self, request: web.Request) -> web.Response:
        from harvester.runtime.statuspage import render_page

        html = render_page(await self.document())
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    def __repr__(self) -> str:
        return f"<Monitor port={self.port} running={self._runner is not None}>"
