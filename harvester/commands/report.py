"""``harvester report``: spend and resources by UTC day, endpoint and job, from the local ledger,
and the free xAI credits the billing cycle's credit purchases reach.

The console's usage view, offline: every settled charge is a ledger row in the store (written
with its page), so the report needs no API call and agrees with what the budget enforced.

Rewards (``core.rewards``): the cycle's purchases are the configured ``[budget] balance_usd``,
counted in the cycle harvester first spent from it (that of the oldest ledger row; this cycle
when there is none), and the auto-recharges the ledger models (``[budget.auto_recharge]``),
rebuilt exactly as ``harvester status`` rebuilds them. X's own purchase records are not
readable through the API, so a top-up made by hand is not seen until ``balance_usd`` says so.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from harvester.clock import run as run_loop
from harvester.clock import wall_time
from harvester.config import Config
from harvester.core import pricing
from harvester.core.budget import cycle_bounds
from harvester.core.rewards import TIERS, CycleRewards, Purchase, cycle_rewards
from harvester.runtime.wiring import build_machine
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


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleCredits:
    """The billing cycle ``[start, end)`` and what its credit purchases earn."""

    start: float
    end: float
    rewards: CycleRewards


def render(rows: Sequence[UsageRow], fmt: str, credits: CycleCredits | None = None) -> str:
    """The report as ``table``, ``csv`` or ``json`` text (CSV: the usage rows only)."""
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
            **({"rewards": rewards_json(credits)} if credits is not None else {}),
        }, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["day", "endpoint", "job", "requests", "resources", "usd"])
        for r in rows:
            w.writerow([r.day, r.endpoint, r.job, r.requests, r.resources, f"{pricing.micros_to_usd(r.micros):.6f}"])
        return out.getvalue()
    return render_table(rows, credits)


def rewards_json(credits: CycleCredits) -> dict[str, Any]:
    """The rewards as JSON (USD floats)."""
    r, usd = credits.rewards, pricing.micros_to_usd
    nxt = r.next_tier
    return {
        "cycle_start": credits.start, "cycle_end": credits.end,
        "purchases": [{"at": p.purchase.at, "source": p.purchase.source, "usd": usd(p.purchase.micros),
                       "cumulative_usd": usd(p.total), "percent": p.percent, "owed_usd": usd(p.owed),
                       "credited_before_usd": usd(p.credited_before), "received_usd": usd(p.received)}
                      for p in r.purchases],
        "total_usd": usd(r.total), "percent": r.percent, "credited_usd": usd(r.credited),
        "next_tier": None if nxt is None else {"from_usd": usd(nxt.at), "percent": nxt.percent,
                                               "to_go_usd": usd(nxt.to_go), "earns_usd": usd(nxt.earns)},
    }  # fmt: skip


def _day(t: float) -> str:
    return pricing.utc_day(t)


def render_table(rows: Sequence[UsageRow], credits: CycleCredits | None = None) -> str:
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
    reward_amounts: list[int] = []
    if credits is not None:
        rw = credits.rewards
        reward_amounts = [rw.total, rw.credited, *(a for p in rw.purchases for a in (p.purchase.micros, p.total,
                                                                                     p.owed, p.received))]
        reward_amounts += [TIERS[1][0]] if rw.next_tier is None else [rw.next_tier.to_go, rw.next_tier.earns,
                                                                     rw.next_tier.at]
    digits = pricing.usd_digits([total, *by_endpoint.values(), *(r.micros for r in rows), *reward_amounts])

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
    if credits is not None:
        _print_rewards(con, credits, usd)
    return buf.getvalue()


def _print_rewards(con: Console, credits: CycleCredits, usd: Callable[[int], str]) -> None:
    """The cycle's purchases, the tier they reach, and what the next tier would earn."""
    r = credits.rewards
    cycle = f"billing cycle {_day(credits.start)} to {_day(credits.end)}"
    if not r.purchases:
        con.print(f"free xAI credits ({cycle}): no credit purchases known (set [budget] balance_usd and "
                  f"[budget.auto_recharge] to count them); the first tier, {TIERS[1][1]} %, starts at "
                  f"{usd(TIERS[1][0])} bought in one cycle")
        return
    table = Table(title=f"credit purchases and free xAI credits ({cycle})")
    for col in ("date", "purchase", "amount", "cycle total", "rate", "owed", "credited before", "received"):
        table.add_column(col, justify="left" if col in ("date", "purchase") else "right")
    for p in r.purchases:
        table.add_row(_day(p.purchase.at), p.purchase.source, usd(p.purchase.micros), usd(p.total),
                      f"{p.percent} %", usd(p.owed), usd(p.credited_before), usd(p.received))
    con.print(table)
    con.print(f"bought this cycle: {usd(r.total)}, tier {r.percent} %: {usd(r.credited)} of free xAI credits")
    nxt = r.next_tier
    if nxt is None:
        con.print("the top tier: every further purchase this cycle earns 20 % of itself")
    else:
        con.print(f"next tier: {nxt.percent} % from {usd(nxt.at)} bought; buying {usd(nxt.to_go)} more "
                  f"would earn {usd(nxt.earns)} more")


def cycle_purchases(config: Config, entries: Sequence[dict[str, Any]], recharges: Sequence[tuple[float, int]],
                    now: float) -> list[Purchase]:
    """The credit purchases of ``now``'s billing cycle: the configured balance (in the cycle of the
    oldest ledger row, the first spent from it) and the modelled auto-recharges."""
    start, _ = cycle_bounds(now, config.budget.cycle_start_day)
    found = [Purchase(at=at, micros=micros, source="auto-recharge") for at, micros in recharges]
    balance = config.budget.balance_usd
    if balance is not None and balance > 0:
        first = min((float(e["at"]) for e in entries), default=now)
        if cycle_bounds(first, config.budget.cycle_start_day)[0] == start:
            found.append(Purchase(at=max(start, min(first, now)), micros=pricing.usd_to_micros(balance),
                                  source="balance_usd (config)"))  # fmt: skip
    return sorted(found, key=lambda p: p.at)


def report_command(config: Config, fmt: str, now: float | None = None) -> int:
    """Print the usage report (and, but for CSV, the cycle's credit purchases and rewards) as of
    ``now`` (default: the wall clock)."""
    now = wall_time() if now is None else now

    async def read() -> tuple[list[dict[str, Any]], tuple[tuple[float, int], ...]]:
        store = open_store(config.harvest.state)
        await store.open()
        try:
            entries = await store.ledger_entries(0.0)
            machine = await build_machine(config, store, now, {})  # the ledger as status rebuilds it
            return entries, machine.ledger.recharges(now)
        finally:
            await store.close()

    entries, recharges = run_loop(read)
    start, end = cycle_bounds(now, config.budget.cycle_start_day)
    credits = CycleCredits(start=start, end=end,
                           rewards=cycle_rewards(cycle_purchases(config, entries, recharges, now)))
    sys.stdout.write(render(aggregate(entries), fmt, credits))
    return 0
