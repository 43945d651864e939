"""``harvester report``: spend and resources by UTC day, endpoint and job, from the local ledger.

The console's usage view, offline: every settled charge is a ledger row in the store (written
with its page), so the report needs no API call and agrees with what the budget enforced.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from harvester.clock import run as run_loop
from harvester.config import Config
from harvester.core import pricing
from harvester.store import open_store


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRow:
    """One (day, endpoint, job) cell of the report."""

    day: str
    endpoint: str
    job: str
    requests: int
    resources: int
    micros: int


def aggregate(entries: Sequence[dict[str, Any]]) -> list[UsageRow]:
    """Group ledger rows by (UTC day, endpoint, job)."""
    cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for e in entries:
        cell = cells[(str(e["day"]), str(e["route"]), str(e["job"]))]
        cell[0] += 1
        cell[1] += len(e.get("keys", ()))
        cell[2] += int(e["micros"])
    return [
        UsageRow(day=d, endpoint=r, job=j, requests=n, resources=k, micros=m)
        for (d, r, j), (n, k, m) in sorted(cells.items())
    ]


def render(rows: Sequence[UsageRow], fmt: str) -> str:
    """The report as ``table``, ``csv`` or ``json`` text."""
    if fmt == "json":
        by_endpoint: dict[str, int] = defaultdict(int)
        for r in rows:
            by_endpoint[r.endpoint] += r.micros
        top = sorted(by_endpoint.items(), key=lambda kv: -kv[1])
        return json.dumps({
            "rows": [{"day": r.day, "endpoint": r.endpoint, "job": r.job, "requests": r.requests,
                      "resources": r.resources, "usd": pricing.micros_to_usd(r.micros)} for r in rows],
            "total_usd": pricing.micros_to_usd(sum(r.micros for r in rows)),
            "top_endpoints": [{"endpoint": e, "usd": pricing.micros_to_usd(m)} for e, m in top],
        }, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["day", "endpoint", "job", "requests", "resources", "usd"])
        for r in rows:
            w.writerow([r.day, r.endpoint, r.job, r.requests, r.resources, f"{pricing.micros_to_usd(r.micros):.6f}"])
        return out.getvalue()
    return render_table(rows)


def render_table(rows: Sequence[UsageRow]) -> str:
    """The report for people: one table, then the top endpoints under one heading.

    Every amount is printed with one precision (the finest any amount needs, at least cents),
    so the column lines up and no figure looks rounder than another.
    """
    buf = io.StringIO()
    con = Console(file=buf, width=120, highlight=False)
    by_endpoint: dict[str, int] = defaultdict(int)
    for r in rows:
        by_endpoint[r.endpoint] += r.micros
    total = sum(r.micros for r in rows)
    digits = pricing.usd_digits([total, *by_endpoint.values(), *(r.micros for r in rows)])

    def usd(micros: int) -> str:
        return pricing.format_usd_at(micros, digits)

    table = Table(title="usage by UTC day, endpoint and job (local ledger)")
    for col in ("day", "endpoint", "job", "requests", "resources", "spend"):
        table.add_column(col, justify="right" if col in ("requests", "resources", "spend") else "left")
    for r in rows:
        table.add_row(r.day, r.endpoint, r.job, str(r.requests), str(r.resources), usd(r.micros))
    table.add_section()
    table.add_row("total", "", "", str(sum(r.requests for r in rows)), str(sum(r.resources for r in rows)),
                  usd(total))
    con.print(table)
    top = sorted(by_endpoint.items(), key=lambda kv: -kv[1])[:3]
    if top:
        con.print("top endpoints by spend:")
        width = max(len(e) for e, _ in top)
        for endpoint, micros in top:
            con.print(f"  {endpoint:<{width}}  {usd(micros):>{len(usd(top[0][1]))}}")
    return buf.getvalue()


def report_command(config: Config, fmt: str) -> int:
    """Print the usage report."""

    async def read() -> list[dict[str, Any]]:
        store = open_store(config.harvest.state)
        await store.open()
        try:
            return await store.ledger_entries(0.0)
        finally:
            await store.close()

    sys.stdout.write(render(aggregate(run_loop(read)), fmt))
    return 0
