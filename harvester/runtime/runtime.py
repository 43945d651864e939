"""What the workers of one run (or the daemon) share: settings, I/O handles, the machine.

Settings are frozen (:class:`RunSettings`): a run's rules do not change under its workers. The
live parts are few and named: the job set (the daemon swaps it on reload), the stop flag and
wake-ups (:class:`~harvester.runtime.signals.RunSignals`), counters, and why work waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from harvester.api.auth import AuthContext
from harvester.api.client import ApiClient
from harvester.clock import Clock
from harvester.core.model import JobSpec
from harvester.core.request import RequestMachine, StopCause
from harvester.core.stream.status import StreamStatus
from harvester.output import OutputFiles
from harvester.runtime.pacer import Pacer
from harvester.runtime.polling import PollRates
from harvester.runtime.recent_errors import RecentErrors
from harvester.runtime.signals import RunSignals
from harvester.runtime.stats import RunStats
from harvester.store.base import Store
from harvester.store.coordination import Coordinator


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSettings:
    """How the workers behave.

    Attributes:
        lease: seconds a claim lasts before another worker may take the task over.
        exit_when_drained: a run ends when the queue is empty; a daemon waits for more.
        park_horizon: a run ends when nothing can proceed sooner than this (seconds).
        idle_poll: the longest an idle worker sleeps before looking at the queue again.
        worker_prefix: names workers ``<prefix>w<n>`` (several pools in one process).
        usage_poll: read ``/2/usage/tweets`` every ``[cap] usage_poll_seconds``.
        sqlite_cache_kib: a SQLite state's page cache (None: the store's default).
    """

    lease: float = 300.0
    exit_when_drained: bool = True
    park_horizon: float = 3600.0
    idle_poll: float = 5.0
    worker_prefix: str = ""
    usage_poll: bool = True
    sqlite_cache_kib: int | None = None


@dataclass
class JobSet:
    """The jobs a run (or the daemon, until its next reload) harvests."""

    specs: dict[str, JobSpec] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.specs)


@dataclass
class Runtime:
    """Everything the workers of one run share."""

    clock: Clock
    store: Store
    outputs: OutputFiles
    client: ApiClient
    machine: RequestMachine
    credentials: Mapping[str, AuthContext]
    coordinator: Coordinator
    settings: RunSettings = field(default_factory=RunSettings)
    jobs: JobSet = field(default_factory=JobSet)
    signals: RunSignals = field(default_factory=RunSignals)
    stats: RunStats = field(default_factory=RunStats)
    recovered: int = 0
    truncated: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0  # tasks some worker of this process holds right now
    waiting: dict[tuple[str, str], StopCause] = field(default_factory=dict)  # why a bucket's work waits long
    errors: RecentErrors = field(default_factory=RecentErrors)  # the last errors, for /status and the page
    pacer: Pacer = field(default_factory=Pacer)  # the core's pacing, carried out by aiolimiter
    usage_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one /2/usage/tweets read at a time
    usage_reads: int = 0
    waits_logged: set[tuple[str, str, int]] = field(default_factory=set)  # each wait said once
    stream: StreamStatus | None = None  # the stream runner's figures, when one runs
    poll_rates: PollRates = field(default_factory=PollRates)  # budgeted poll jobs' source rates

    def repace(self, route: str, auth: str, now: float) -> None:
        """Retune (route, auth)'s pacer to the machine's pace now: after an answer's headers, a
        finished task or a new count of the backlog moved it."""
        self.pacer.tune((route, auth), self.machine.pace_interval(route, auth, now))
