"""What the Python API returns: frozen values, each with ``to_json()`` for scripts.

They are made of the engines' own frozen figures (:class:`~harvester.core.model.JobStats`,
:class:`~harvester.core.ratelimit.BucketFigures`, :class:`~harvester.core.budget.BudgetStatus`,
:class:`~harvester.core.cap.CapStatus`, :class:`~harvester.core.estimate.JobEstimate`), so the
API, the CLI's tables and ``--json``, and the daemon's ``/status`` all show one set of numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harvester.core import pricing
from harvester.core.budget import BudgetStatus
from harvester.core.cap import CapStatus
from harvester.core.estimate import BucketEstimate, JobEstimate
from harvester.core.model import JobStats
from harvester.core.ratelimit import BucketFigures
from harvester.core.request import StopCause
from harvester.store.coordination import HostActivity

Outcome = Literal["complete", "stopped", "failed", "interrupted"]

EXIT_CODES: Mapping[Outcome, int] = {"complete": 0, "failed": 1, "stopped": 3, "interrupted": 130}
"""The CLI's exit code for each outcome (the README lists them)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """How a run ended and what it did (:meth:`Harvester.run`).

    Attributes:
        outcome: ``complete`` (every job asked for is done), ``stopped`` (on purpose, with work
            left: a budget, the spending limit, credits, the cap, a long rate-limit wait; run
            again later to continue), ``failed`` (a job failed, or the credentials were refused),
            ``interrupted`` (a signal).
        jobs: each job's totals across every run so far (the store's counters).
        requests, pages, items, retries, too_many: what this run sent, committed and met
            (``too_many``: HTTP 429 answers).
        spent: micro-dollars this run spent (settled charges).
        stop: why the run stopped early, None if it did not.
        recovered: claims a dead process had left, put back at start.
        truncated: bytes cut off output files at start (pages whose commit never happened).
    """

    outcome: Outcome
    jobs: tuple[JobStats, ...]
    requests: int
    pages: int
    items: int
    retries: int
    too_many: int
    spent: int
    stop: StopCause | None
    recovered: int = 0
    truncated: Mapping[str, int] = field(default_factory=dict)
    stream: Mapping[str, Any] | None = None  # the stream runner's figures, if stream jobs ran

    @property
    def spent_usd(self) -> float:
        return pricing.micros_to_usd(self.spent)

    @property
    def exit_code(self) -> int:
        """What ``harvester run`` exits with for this outcome."""
        return EXIT_CODES[self.outcome]

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome, "jobs": [_job_json(j) for j in self.jobs], "requests": self.requests,
            "pages": self.pages, "items": self.items, "retries": self.retries, "429s": self.too_many,
            "spent_usd": self.spent_usd, "stop": None if self.stop is None else self.stop.to_json(),
            "recovered": self.recovered, "truncated": dict(self.truncated),
            "stream": None if self.stream is None else dict(self.stream),
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """Everything the state store says, read at ``now`` (:meth:`Harvester.status`).

    Attributes:
        state: the store's location (a URL's password hidden).
        now: when it was read (epoch seconds).
        queue_depth: tasks pending or claimed.
        jobs: per-job counters (every job the store knows, not only the configured ones).
        buckets: each rate-limit bucket's figures at ``now``.
        budget: spend against each limit, the balance and its recharges.
        cap: the monthly Post cap: the server's count and the local one.
        cache_hits, requests_saved: what harvester's same-day cache answered.
        last_run: the run id of the newest charge (``none`` before any).
        last_stop: why the last run stopped early (its saved document), None if it did not.
        hosts: processes sharing a PostgreSQL store, and what they hold.
        current: each job's current generation (a changed definition starts the next one).
        generations: per job and generation figures (only when asked for: ``status --all``),
            superseded generations (an older definition's unfinished work) included.
    """

    state: str
    now: float
    queue_depth: int
    jobs: tuple[JobStats, ...]
    buckets: tuple[BucketFigures, ...]
    budget: BudgetStatus
    cap: CapStatus
    cache_hits: int
    requests_saved: int
    last_run: str
    last_stop: Mapping[str, Any] | None
    hosts: tuple[HostActivity, ...]
    current: Mapping[str, int] = field(default_factory=dict)
    generations: tuple[JobStats, ...] = ()
    stream: Mapping[str, Any] | None = None

    def _generation(self, g: JobStats) -> dict[str, Any]:
        return _generation_json(g, self.current.get(g.job, 0))

    def job(self, name: str) -> JobStats | None:
        """One job's counters, None if the store has never seen it."""
        return next((j for j in self.jobs if j.job == name), None)

    def to_json(self) -> dict[str, Any]:
        """The ``harvester status --json`` document."""
        return {
            "state": self.state,
            "queue_depth": self.queue_depth,
            "jobs": [
                {"job": j.job, "state": j.state, "generation": self.current.get(j.job, 0),
                 "tasks": j.tasks - j.superseded, "done": j.done, "failed": j.failed, "pending": j.pending,
                 "pages": j.pages, "items": j.items, "last_error": j.last_error,
                 **({"generations": [self._generation(g) for g in self.generations if g.job == j.job]}
                    if self.generations else {})}
                for j in self.jobs
            ],
            "buckets": [
                {"route": f.route, "auth": f.auth, "limit": f.limit, "remaining": f.remaining,
                 "reset": f.reset, "sent": f.sent, "429s": f.rejected, "stopped_until": f.stopped_until,
                 "window": f.window, "window_learned": f.window_learned, "min_gap": f.min_gap,
                 "pace": f.pace, "demand": f.demand}
                for f in self.buckets
            ],
            "budget": {**self.budget.to_json(), "last_run": self.last_run},
            "cap": self.cap.to_json(),
            "cache": {"hits": self.cache_hits, "requests_saved": self.requests_saved},
            "last_stop": None if self.last_stop is None else dict(self.last_stop),
            "hosts": [{"owner": h.owner, "claims": h.claims, "expired_claims": h.expired, "holds": h.holds,
                       "held_usd": pricing.micros_to_usd(h.held_micros)} for h in self.hosts],
            "stream": None if self.stream is None else dict(self.stream),
        }  # fmt: skip


def _generation_json(g: JobStats, current: int) -> dict[str, Any]:
    superseded = g.generation != current
    return {"generation": g.generation, "state": "superseded" if superseded else g.state, "tasks": g.tasks,
            "done": g.done, "failed": g.failed, "pending": g.pending, "superseded": g.superseded,
            "pages": g.pages, "items": g.items}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What the jobs will cost and take, before anything is spent (:meth:`Harvester.plan`).

    Attributes:
        jobs: per job, expected and worst-case requests, resources, cost (micro-dollars) and
            capped Posts; None where unknown (a search's volume without a probe).
        buckets: per rate-limit bucket, the expected requests and the time they take.
        probe_cost: what the probe itself cost (micro-dollars), None without a probe.
    """

    jobs: tuple[JobEstimate, ...]
    buckets: tuple[BucketEstimate, ...]
    probe_cost: int | None = None

    @property
    def cost_expected(self) -> int | None:
        """Total expected cost, None if any job's is unknown."""
        costs = [j.cost_expected for j in self.jobs]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    @property
    def cost_worst(self) -> int | None:
        """Total worst-case cost of one run of each job, None if any job has no worst case."""
        costs = [j.cost_worst for j in self.jobs]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    @property
    def seconds(self) -> float:
        """Time to finish at the rate limits (the slowest bucket), request latency aside."""
        return max((b.seconds for b in self.buckets), default=0.0)

    def job(self, name: str) -> JobEstimate | None:
        return next((j for j in self.jobs if j.job == name), None)

    def to_json(self) -> dict[str, Any]:
        """The ``harvester plan --json`` document."""
        return {"jobs": [{**dataclasses.asdict(j), "cost_worst_30d": j.cost_worst_30d} for j in self.jobs],
                "buckets": [dataclasses.asdict(b) for b in self.buckets],
                "probe_cost_usd": None if self.probe_cost is None else pricing.micros_to_usd(self.probe_cost)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One committed page of a job's output: the API's response as received, and where from.

    Attributes:
        job: the job it belongs to.
        data: the response's objects (posts or users); a single-object response is a page of one.
        includes: the expansions (``users``, ``tweets``, ``media``, ...), as the API sent them.
        meta: ``result_count``, ``next_token``, ``newest_id``, ... ({} for a cache line).
        errors: partial errors (an id that no longer exists, ...).
        task: the task that fetched it (``search``, ``user:12``, ``search@<slot>`` in a daemon).
        number: the page's number within its task (1 first), None if unknown.
        path: the request path (``/2/tweets/search/recent``).
        retrieved_at: when harvester received it (epoch seconds; 0.0 if unknown).
        from_cache: harvester's same-day cache answered it (no request was sent).
        body: the line exactly as written (with ``__harvester`` and ``__twarc``).
    """

    job: str
    data: tuple[Mapping[str, Any], ...]
    includes: Mapping[str, Any]
    meta: Mapping[str, Any]
    errors: tuple[Mapping[str, Any], ...]
    task: str | None
    number: int | None
    path: str | None
    retrieved_at: float
    from_cache: bool
    body: Mapping[str, Any]

    @property
    def ids(self) -> tuple[str, ...]:
        """The ``data`` objects' ids, in page order."""
        return tuple(str(o["id"]) for o in self.data if "id" in o)


def _job_json(j: JobStats) -> dict[str, Any]:
    return {**dataclasses.asdict(j), "state": j.state}
