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
from harvester.embed.planning import plan, probe_volumes

__all__ = ["plan", "plan_command", "probe_volumes", "render"]  # plan, probe_volumes: benchmarks/plan_vs_run.py


def _n(v: int | None) -> str:
    return "?" if v is None else f"{v:,}"


def _usd(v: int | None) -> str:
    return "?" if v is None else pricing.format_usd(v)


def render(jobs: Sequence[JobEstimate], buckets: Sequence[BucketEstimate], probe_cost: int | None) -> str:
    con = Console(file=sys.stdout, width=130, highlight=False, record=True)
    t = Table(title="plan (expected / worst case; ? = unknown without --probe)")
    for col in ("job", "endpoint", "requests", "resources", "cost", "capped posts"):
        t.add_column(col)
    for j in jobs:
        t.add_row(j.job, j.route, f"{_n(j.requests_expected)} / {_n(j.requests_worst)}",
                  f"{_n(j.resources_expected)} / {_n(j.resources_worst)}",
                  f"{_usd(j.cost_expected)} / {_usd(j.cost_worst)}", _n(j.capped_posts))
    exp = [j.cost_expected for j in jobs]
    t.add_section()
    t.add_row("total", "", "", "", f"{_usd(sum(c for c in exp if c is not None))}"
              + (" + ?" if any(c is None for c in exp) else ""), "")
    con.print(t)
    b = Table(title="rate-limit buckets (expected requests)")
    for col in ("endpoint", "auth", "requests", "limit/window", "time"):
        b.add_column(col)
    for x in buckets:
        b.add_row(x.route, x.auth, f"{x.requests:,}", str(x.limit), f"{x.seconds / 60:,.0f} min")
    con.print(b)
    finish = max((x.seconds for x in buckets), default=0.0)
    con.print(f"time to finish at the rate limits: {finish / 60:,.0f} min (plus request latency)")
    if probe_cost is not None:
        con.print(f"the probe itself cost {pricing.format_usd(probe_cost)}")
    return con.export_text()


def plan_command(config: Config, specs: Sequence[JobSpec], *, as_json: bool, probe: bool = False) -> int:
    """Print the plan; with ``probe``, buy the volumes first."""
    h = Harvester(config, specs)
    result = run_loop(h.probe) if probe else h.plan()
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render(result.jobs, result.buckets, result.probe_cost)
    return 0
