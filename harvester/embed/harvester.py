"""``Harvester``: harvester as a library, for programs that embed it.

Theory of operation
-------------------
One object holds a checked config and checked jobs; its methods are the CLI's commands, and
the CLI is built on them (``harvester run`` is :meth:`Harvester.run` plus a progress display and
a summary table, ``status`` is :meth:`Harvester.status` printed, ``plan`` is :meth:`Harvester.plan`
printed). Every method returns a frozen value (:mod:`harvester.embed.values`).

Inputs are checked as the CLI checks them: a config from a file or from the tables a file would
hold, jobs from files, folders, tables or :class:`~harvester.core.model.JobSpec` objects; a bad
one raises :class:`~harvester.errors.UserError` (its message one line naming the file, job and
key) before anything is queued. Tokens come from the environment variables the config names,
never from arguments, as for the CLI. Logs go to stderr as the CLI writes them (key-value lines
on a TTY, JSON lines otherwise) unless the program has configured structlog itself.

Everything that does I/O is a coroutine on the caller's event loop (asyncio, or anyio on
asyncio). The state store is opened for each call and closed after it: ``status()`` and
``pages()`` work beside a running ``run()`` or daemon, in this process or another.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.lowlevel
import structlog

from harvester import log as logsetup
from harvester import preflight
from harvester.clock import Clock, wall_time
from harvester.config import Config, config_from_mapping, load_config
from harvester.core.model import JobSpec
from harvester.embed.pages import committed_pages
from harvester.embed.planning import make_plan, probe_plan
from harvester.embed.status import read_status
from harvester.embed.values import Outcome, Page, Plan, RunReport, Status
from harvester.errors import JobSpecError, StoreError, UserError
from harvester.jobspec import _JobReader, load_jobs
from harvester.runtime.harvest import RunResult, harvest
from harvester.runtime.runtime import Runtime
from harvester.store import open_store
from harvester.store.base import Store

ConfigSource = Config | Mapping[str, Any] | str | os.PathLike[str] | None
"""A :class:`Config`, the tables of a config file as a dict, a config file's path, or None
(every default, paths relative to the working directory)."""

JobSource = JobSpec | Mapping[str, Any] | str | os.PathLike[str]
"""A :class:`JobSpec`, one ``[[job]]`` table as a dict, or a job file or folder."""


class Harvester:
    """Harvest jobs, read their pages, and report on state, from Python.

    Args:
        config: see :data:`ConfigSource`.
        jobs: one :data:`JobSource` or several (default: none, for :meth:`status` and
            :meth:`pages` of jobs a run made earlier).

    Raises:
        UserError: a bad config or job (``ConfigError``/``JobSpecError``), one line naming it.
    """

    def __init__(self, config: ConfigSource = None, jobs: JobSource | Iterable[JobSource] | None = None) -> None:
        if not structlog.is_configured():  # structlog's own default prints to stdout: the caller's output
            logsetup.configure()
        self.config: Config = _config(config)
        self.jobs: tuple[JobSpec, ...] = _jobs(jobs, self.config)

    def job(self, name: str) -> JobSpec:
        """The job called ``name``.

        Raises:
            UserError: there is none (the message lists the names there are).
        """
        for spec in self.jobs:
            if spec.name == name:
                return spec
        raise UserError(f"no job named {name!r} (jobs: {', '.join(s.name for s in self.jobs) or 'none'})")

    async def run(
        self,
        *,
        max_usd: float | None = None,
        clock: Clock | None = None,
        handle_signals: bool = False,
        watch: Callable[[Runtime], Coroutine[Any, Any, None]] | None = None,
    ) -> RunReport:
        """Harvest every job until done, or until something stops the run; resumes a stopped one.

        Args:
            max_usd: this run's budget in USD (default: ``[budget] max_usd_per_run``).
            clock: the clock to read (default: the event loop's, on the wall clock).
            handle_signals: stop cleanly on SIGINT/SIGTERM (main thread only).
            watch: a coroutine run beside the workers until the run ends (a progress display).

        Raises:
            UserError: the output folder or state path cannot be used (nothing is queued).
            HarvesterError: the store cannot be opened, or the token is missing.
        """
        preflight.check(self.config, self.jobs)
        result = await harvest(self.config, self.jobs, clock=clock, max_usd=max_usd, handle_signals=handle_signals,
                               watch=watch)  # fmt: skip
        return report_of(result)

    async def pages(self, job: str | JobSpec) -> AsyncIterator[Page]:
        """The job's committed pages, oldest first (``async for page in h.pages("name")``).

        What a run has committed so far, also while it is still running (pages being written
        right now are not read: see :mod:`harvester.embed.pages`).

        Raises:
            StoreError: nothing has been run with this config's state yet.
            UserError: neither the jobs given nor the store know ``job``.
        """
        name = job.name if isinstance(job, JobSpec) else job
        async with self._store() as store:
            offsets = await store.output_offsets()
            known = {j.job for j in await store.job_stats()} | {s.name for s in self.jobs}
        if name not in known:
            raise UserError(f"no job named {name!r} here (jobs: {', '.join(sorted(known)) or 'none'})")
        for n, page in enumerate(committed_pages(Path(self.config.harvest.output_dir), name, offsets), 1):
            yield page
            if n % 64 == 0:
                await anyio.lowlevel.checkpoint()  # a long file does not hold up the caller's other tasks

    async def status(self, *, now: float | None = None, every: bool = False) -> Status:
        """Jobs, rate-limit buckets, money, cap, cache and processes, from the state store.

        ``now`` (default: the wall clock) is when bucket resets, spend today and the cycle are
        judged; ``every`` adds each job's generations (superseded ones included).

        Raises:
            StoreError: nothing has been run with this config's state yet, or it is unreadable.
        """
        self._require_state()
        return await read_status(self.config, wall_time() if now is None else now, every=every)

    def plan(self) -> Plan:
        """What the jobs will cost and take, sending nothing (unknown volumes stay None)."""
        return make_plan(self.config, self.jobs)

    async def probe(self, *, max_usd: float | None = None, clock: Clock | None = None) -> Plan:
        """:meth:`plan` after buying the volumes it needs (``Plan.probe_cost`` says for how much).

        The probe's requests go as a run's do: through the rate limits and the budgets (``max_usd``
        overrides ``[budget] max_usd_per_run`` for the probe), and their cost is booked in the
        state's ledger under each job and route (``harvester report`` and later runs see it).

        Raises:
            StopHarvest: a budget, the credits, the cap or a long rate-limit wait stopped the probe.
            ApiError: a probe request was refused.
        """
        preflight.check(self.config, self.jobs)
        return await probe_plan(self.config, self.jobs, clock=clock, max_usd=max_usd)

    def _require_state(self) -> None:
        state = self.config.harvest.state
        if "://" not in state and not Path(state).exists():
            raise StoreError(f"{state}: no state store here yet (nothing has been run with this config)")

    def _store(self) -> _Opened:
        self._require_state()
        return _Opened(self.config.harvest.state)

    def __repr__(self) -> str:
        return f"<Harvester jobs={[s.name for s in self.jobs]} state={self.config.harvest.state!r}>"


class _Opened:
    """``async with``: a store opened for one call, closed after it."""

    def __init__(self, state: str) -> None:
        self.store = open_store(state)

    async def __aenter__(self) -> Store:
        await self.store.open()
        return self.store

    async def __aexit__(self, *exc: object) -> None:
        await self.store.close()


def report_of(result: RunResult) -> RunReport:
    """The frozen report of a finished run."""
    stats = result.stats
    return RunReport(
        outcome=cast(Outcome, result.outcome), jobs=tuple(result.jobs), requests=stats.requests, pages=stats.pages,
        items=stats.items, retries=stats.retries, too_many=stats.too_many, spent=result.machine.run_spent,
        stop=result.stop, recovered=result.recovered, truncated=dict(result.truncated),
        stream=None if result.stream is None else result.stream.to_json(result.stream.stopped_at or 0.0),
    )  # fmt: skip


def _config(source: ConfigSource) -> Config:
    if source is None or isinstance(source, str | os.PathLike):
        return load_config(None if source is None else Path(source))
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return config_from_mapping(source)
    raise UserError(f"config must be a Config, a dict of sections or a file path, got {type(source).__name__}")


def _jobs(source: JobSource | Iterable[JobSource] | None, config: Config) -> tuple[JobSpec, ...]:
    if source is None:
        return ()
    items: Iterable[JobSource] = [source] if isinstance(source, JobSpec | Mapping | str | os.PathLike) else source
    specs: list[JobSpec] = []
    for i, item in enumerate(items):
        if isinstance(item, JobSpec):
            specs.append(item)
        elif isinstance(item, Mapping):
            specs.append(_JobReader("<jobs>", i, item, config.auth_names()).spec())
        elif isinstance(item, str | os.PathLike):
            specs.extend(load_jobs([Path(item)], config=config))
        else:
            raise UserError(f"job #{i + 1} must be a JobSpec, a dict or a job file path, got {type(item).__name__}")
    seen: dict[str, JobSpec] = {}
    for spec in specs:
        first = seen.get(spec.name.casefold())
        if first is not None:
            raise JobSpecError(spec.source, spec.name, "name",
                               f"duplicate job name (or one differing only in case); first defined in {first.source}")
        seen[spec.name.casefold()] = spec
    return tuple(specs)
