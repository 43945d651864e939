"""``harvester status``: jobs, rate-limit buckets, money and cap, read from the state store.

The figures are :meth:`harvester.Harvester.status` (``harvester.embed.status``); this module
prints them, as tables or as the JSON document :meth:`~harvester.embed.values.Status.to_json`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from harvester.clock import run as run_loop
from harvester.clock import wall_time
from harvester.config import Config
from harvester.core import pricing
from harvester.embed import Harvester
from harvester.redact import redact_tree


def _ts(t: float | None, now: float) -> str:
    if t is None:
        return "-"
    delta = t - now
    return f"in {delta:,.0f}s" if delta > 0 else "passed"


def print_status(config: Config, *, as_json: bool, every: bool = False) -> int:
    """Print the status as tables, or as JSON for scripts (``every``: superseded generations too)."""
    now = wall_time()
    status = run_loop(lambda: Harvester(config).status(now=now, every=every))
    data = cast("dict[str, Any]", redact_tree(status.to_json()))  # errors may quote URLs
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
        return 0
    con = Console(file=sys.stdout, width=130, highlight=False)
    jobs = Table(title=f"jobs ({data['state']}; queue depth {data['queue_depth']})")
    for col in ("job", "state", "tasks", "done", "failed", "pages", "items", "last error"):
        jobs.add_column(col)
    jobs.columns[-1].overflow = "fold"  # the whole error, wrapped: never cut
    for j in data["jobs"]:
        jobs.add_row(j["job"], j["state"], str(j["tasks"]), str(j["done"]), str(j["failed"]),
                     str(j["pages"]), str(j["items"]), j["last_error"] or "")
        for g in j.get("generations", []):
            if g["state"] == "superseded":
                jobs.add_row(f"  {j['job']} generation {g['generation']}", "superseded", str(g["tasks"]),
                             str(g["done"]), str(g["failed"]), str(g["pages"]), str(g["items"]),
                             f"{g['superseded']} unfinished tasks superseded by generation {j['generation']}")
    con.print(jobs)
    if data["buckets"]:
        buckets = Table(title="rate-limit buckets")
        for col in ("route", "auth", "limit", "remaining", "reset", "window", "sent", "429s"):
            buckets.add_column(col)
        for bk in data["buckets"]:
            window = f"{bk['window']:,.0f}s" + ("" if bk["window_learned"] else " (prior)")
            buckets.add_row(bk["route"], bk["auth"], str(bk["limit"]),
                            "-" if bk["remaining"] is None else str(bk["remaining"]),
                            _ts(bk["reset"], now), window, str(bk["sent"]), str(bk["429s"]))
        con.print(buckets)
    if data["hosts"]:
        hosts = Table(title="processes sharing this store (claims, and requests in flight)")
        for col in ("process (host:pid:id)", "claims", "lease expired", "in flight", "held"):
            hosts.add_column(col)
        for h in data["hosts"]:
            hosts.add_row(h["owner"], str(h["claims"]), str(h["expired_claims"]), str(h["holds"]),
                          f"${h['held_usd']:,.3f}")
        con.print(hosts)
    money_ = data["budget"]
    con.print(
        f"spend: today ${money_.get('spent_today_usd', 0):,.3f}  last run ${money_.get('spent_run_usd', 0):,.3f}"
        f"  this cycle ${money_.get('spent_cycle_usd', 0):,.3f}"
    )
    for w in money_.get("warnings", []):
        con.print(f"warning: {w.get('message', w)}")
    cap = data["cap"]
    server = "not read" if cap["server_used"] is None else f"{cap['server_used']:,}"
    con.print(f"post cap: {cap['used']:,} of {cap['cap']:,} used this cycle (server: {server}; "
              f"local count: {cap['local']:,})" + ("  <- the two disagree by more than 5 %" if cap["disagrees"] else ""))
    for line in stream_lines(data.get("stream"), now):
        con.print(line)
    stop = data.get("last_stop")
    if stop:
        con.print(f"last run stopped ({stop['cause']}): {stop['message']}")
    c = data["cache"]
    con.print(f"cache: {c['hits']:,} objects answered from the cache, {c['requests_saved']:,} requests saved")
    return 0


def stream_lines(doc: Mapping[str, Any] | None, now: float) -> list[str]:
    """The filtered stream's figures (``StreamStatus.to_json``), in two lines; none without a stream."""
    if not doc:
        return []
    posts = ", ".join(f"{job} {n:,}" for job, n in sorted(doc.get("posts", {}).items())) or "none"
    reconnects = ", ".join(f"{k} {n}" for k, n in sorted(doc.get("reconnects", {}).items())) or "none"
    keepalive = doc.get("last_keepalive")
    ka = "never" if keepalive is None else f"{max(0.0, float(doc.get('at') or now) - float(keepalive)):,.0f}s before"
    return [
        (f"stream: {doc.get('state')}; {doc.get('posts_total', 0):,} Posts ({posts}); "
        f"{doc.get('posts_per_minute', 0):,.2f}/min; last keep-alive {ka} the figures were saved"),
        (f"stream reconnects: {reconnects}; stalls {doc.get('stalls', 0)}; disconnect messages "
        f"{sum(doc.get('disconnect_messages', {}).values())}; gaps recovered: {doc.get('gaps_backfilled', 0)} by "
        f"backfill, {doc.get('gaps_filled', 0)} by recent search ({doc.get('fill_tasks', 0)} tasks); "
        f"{doc.get('duplicates_dropped', 0)} duplicates dropped"),
    ]


def usd(micros: int) -> str:
    """Dollars for tables."""
    return f"${pricing.micros_to_usd(micros):,.3f}"
