"""Plan vs run: what ``harvester plan --probe`` predicts for the example jobs, and what a harvest does.

Everything runs in ONE in-process event loop on virtual time (idle waits are jumped over):

1. a sandbox is started at ``EPOCH``; ``probe`` buys the volumes (one
   ``/2/tweets/counts/recent`` per search, ``/2/users`` or ``/2/users/by`` metrics for user-scoped
   jobs, through the run's admission, booked in a state of its own) and ``plan``
   turns them into expected/worst requests, resources, cost and time at the rate limits;
2. a FRESH sandbox at the same ``EPOCH`` (so the probe's charges and rate-limit use do not
   leak into the run) is harvested with the same jobs and config;
3. per job: planned requests/resources/cost vs actual pages/items/spend (spend from the
   store's ledger, grouped by job), planned time (the job alone at the rate limits) vs when
   the job's last charge settled in simulated time; overall planned time vs makespan.

Run from the repo root: ``python -m benchmarks.plan_vs_run`` (not as a script: ``benchmarks/queue.py``
would shadow the stdlib ``queue``).
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# benchmarks/queue.py would shadow the standard library's ``queue`` for scripts run from here.
sys.path[:] = [p for p in sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import asyncio
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

from harvester.commands.plan import plan, probe, render
from harvester.config import Config, load_config
from harvester.core import pricing
from harvester.core.estimate import Volume
from harvester.core.model import JobSpec
from harvester.jobspec import load_jobs
from harvester.log import configure
from harvester.runtime.harvest import RunResult
from harvester.store import open_store
from harvester.testing import APP_TOKEN, EPOCH, harvest_sandbox, make_config, run_virtual, sandbox_server

ROOT = Path(__file__).resolve().parents[1]


def _n(v: int | None) -> str:
    return "?" if v is None else f"{v:,}"


def _usd(v: int | None) -> str:
    return "?" if v is None else pricing.format_usd(v)


async def _probe(config: Config, specs: list[JobSpec]) -> tuple[dict[str, Volume], int, float]:
    """The probe against a sandbox of its own, booked in a state of its own (so neither its
    charges nor its rate-limit use leak into the run's)."""
    async with sandbox_server(epoch=EPOCH) as (sb, url, clock):
        cfg = replace(config, api=replace(config.api, base_url=url))
        result = await probe(cfg, specs, clock=clock, bearer=APP_TOKEN)
    return result.volumes, result.cost, sb.ledger.total_usd


async def main() -> None:
    base = load_config(ROOT / "config.toml")
    specs = load_jobs([ROOT / "jobs"])
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), base)
        volumes, probe_cost, probe_sandbox_usd = await _probe(make_config(Path(tmp) / "probe", base), specs)
        jobs, buckets = plan(config, specs, volumes)
        render(jobs, buckets, probe_cost)
        alone = {s.name: max((b.seconds for b in plan(config, [s], volumes)[1]), default=0.0) for s in specs}

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        result, sb = await harvest_sandbox(config, specs, epoch=EPOCH)
        makespan = loop.time() - t0

        store = open_store(config.harvest.state)
        await store.open()
        try:
            entries = await store.ledger_entries(0.0)
        finally:
            await store.close()
    _report(jobs, alone, buckets_finish=max((b.seconds for b in buckets), default=0.0), result=result,
            entries=entries, makespan=makespan, sandbox_usd=sb.ledger.total_usd, probe_cost=probe_cost,
            probe_sandbox_usd=probe_sandbox_usd, volumes=volumes)  # fmt: skip


def _report(jobs: list, alone: dict[str, float], *, buckets_finish: float, result: RunResult,  # type: ignore[type-arg]
            entries: list[dict[str, object]], makespan: float, sandbox_usd: float, probe_cost: int,
            probe_sandbox_usd: float, volumes: dict[str, Volume]) -> None:  # fmt: skip
    spend: Counter[str] = Counter()
    last: dict[str, float] = {}
    for e in entries:
        job = str(e["job"])
        spend[job] += int(str(e["micros"]))
        last[job] = max(last.get(job, 0.0), float(str(e["at"])))
    actual = {j.job: j for j in result.jobs}
    start = EPOCH
    head = (f"{'job':<14} {'probe vol':>9} | {'plan req (exp/worst)':>20} {'plan res (exp/worst)':>20} "
            f"{'plan cost (exp/worst)':>22} {'plan time':>9} | {'pages':>6} {'items':>6} {'spend':>9} "
            f"{'done at':>8}")  # fmt: skip
    print()
    print("plan vs run (one virtual-time loop; run on a fresh sandbox at the same epoch)")
    print(head)
    print("-" * len(head))
    for j in jobs:
        a = actual.get(j.job)
        vol = volumes.get(j.job)
        done = f"{last[j.job] - start:,.1f} s" if j.job in last else "-"
        print(f"{j.job:<14} {_n(vol.items if vol else None):>9} | "
              f"{_n(j.requests_expected) + ' / ' + _n(j.requests_worst):>20} "
              f"{_n(j.resources_expected) + ' / ' + _n(j.resources_worst):>20} "
              f"{_usd(j.cost_expected) + ' / ' + _usd(j.cost_worst):>22} {alone[j.job]:>7,.1f} s | "
              f"{_n(a.pages if a else None):>6} {_n(a.items if a else None):>6} {_usd(spend[j.job]):>9} "
              f"{done:>8}")  # fmt: skip
    exp = [j.cost_expected for j in jobs]
    print("-" * len(head))
    print(f"planned total cost (expected): {_usd(sum(c for c in exp if c is not None))}"
          + (" + ?" if any(c is None for c in exp) else ""))  # fmt: skip
    print(f"actual spend: store ledger {_usd(sum(spend.values()))}, sandbox ledger ${sandbox_usd:.3f}")
    print(f"run: {result.stats.requests:,} requests, {result.stats.pages:,} pages, {result.stats.items:,} items, "
          f"{result.stats.retries} retries, {result.stats.too_many} x 429, stop={result.stop}")  # fmt: skip
    print(f"planned time to finish at the rate limits: {buckets_finish / 60:,.1f} min "
          f"({buckets_finish:,.1f} s); actual simulated makespan: {makespan:,.1f} s")
    print("(spend: the store ledger is the harvester's own account, which bills expanded includes;")
    print(" the sandbox dedups each resource per UTC day across jobs and bills includes only if configured)")
    print(f"probe cost: planner says {_usd(probe_cost)}, probe sandbox billed ${probe_sandbox_usd:.3f}")


if __name__ == "__main__":
    configure(json=True, level=40, stream=sys.stderr)
    run_virtual(main)
