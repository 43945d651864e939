"""``harvester plan``: what the jobs will cost and take, before anything is spent.

The plan is :meth:`harvester.Harvester.plan` (with ``--probe``, :meth:`~harvester.Harvester.probe`:
see ``harvester.embed.planning`` for what a probe buys); this module prints it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from harvester.clock import run as run_loop
from harvester.config import Config
from harvester.core import pricing
from harvester.core.estimate import BucketEstimate, JobEstimate
from harvester.core.model import JobSpec
from harvester.embed import Harvester
from harvester.embed.planning import plan, probe

__all__ = ["plan", "plan_command", "probe", "render"]  # plan, probe: benchmarks/plan_vs_run.py


def _n(v: int | None) -> str:
    return "?" if v is None else f"{v:,}"


def _usd(v: int | None) -> str:
    return "?" if v is None else pricing.format_usd(v)


def _total(costs: Sequence[int | None]) -> str:
    """The known part of a sum, and "+ ?" when some part is unknown."""
    known = sum(c for c in costs if c is not None)
    unknown = any(c is None for c in costs)
    return "?" if unknown and not known else _usd(known) + (" + ?" if unknown else "")


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:,.0f} min"


def render(jobs: Sequence[JobEstimate], buckets: Sequence[BucketEstimate], probe_cost: int | None) -> str:
    con = Console(file=sys.stdout, width=140, highlight=False, record=True)
    t = Table(title="plan, one run of each job (expected / worst case; ? = unknown without --probe)")
    for col in ("job", "endpoint", "requests", "resources", "cost", "capped posts", "runs in 30 days"):
        t.add_column(col)
    for j in jobs:
        runs = (j.schedule or "once") if j.runs_30d is None else f"{j.runs_30d:,} ({j.schedule})"
        t.add_row(j.job, j.route, f"{_n(j.requests_expected)} / {_n(j.requests_worst)}",
                  f"{_n(j.resources_expected)} / {_n(j.resources_worst)}",
                  f"{_usd(j.cost_expected)} / {_usd(j.cost_worst)}", _n(j.capped_posts), runs)
    t.add_section()
    t.add_row("total", "", "", "", f"{_total([j.cost_expected for j in jobs])} / "
              f"{_total([j.cost_worst for j in jobs])}", "", "")
    con.print(t)
    if any(j.runs_30d is not None for j in jobs):
        con.print(f"worst case over 30 days, every scheduled run included: {_total([j.cost_worst_30d for j in jobs])}")
    b = Table(title="rate-limit buckets, one run of each job (expected / worst case)")
    for col in ("endpoint", "auth", "requests", "limit/window", "time at the limit"):
        b.add_column(col)
    for x in buckets:
        plus = "" if x.expected_known else (" + ?" if x.requests else "?")
        shown = f"{x.requests:,}{plus}" if x.requests or x.expected_known else "?"
        b.add_row(x.route, x.auth, f"{shown} / {_n(x.requests_worst)}", str(x.limit),
                  f"{_minutes(x.seconds)}{' + ?' if plus else ''} / {_minutes(x.seconds_worst)}")
    con.print(b)
    finish = max((x.seconds for x in buckets), default=0.0)
    worsts = [x.seconds_worst for x in buckets]
    worst = "?" if any(w is None for w in worsts) else _minutes(max((w or 0.0 for w in worsts), default=0.0))
    con.print(f"time to finish at the rate limits: {_minutes(finish)} expected, {worst} worst case "
              "(plus request latency)")
    if probe_cost is not None:
        con.print(f"the probe itself cost {pricing.format_usd(probe_cost)} (booked in the ledger: see harvester report)")
    return con.export_text()


def plan_command(config: Config, specs: Sequence[JobSpec], *, as_json: bool, probe: bool = False) -> int:
    """Print the plan; with ``probe``, buy the volumes first (within the config's budgets: the
    ``--max-usd`` flag is the run budget, already folded into ``config``)."""
    h = Harvester(config, specs)
    result = run_loop(h.probe) if probe else h.plan()
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render(result.jobs, result.buckets, result.probe_cost)
    return 0
