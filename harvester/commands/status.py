"""``harvester status``: jobs, rate-limit buckets, money and cap, read from the state store.

Everything comes from the store, so status works from another process while a run or the
daemon is going (SQLite in WAL mode lets readers in beside the writer). The engines are rebuilt
from what the store keeps (bucket state, the ledger's charges, the cap counts) and asked for a
snapshot at the wall clock's ``now``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from harvester.clock import run as run_loop
from harvester.clock import wall_time
from harvester.config import Config
from harvester.core import pricing
from harvester.core.model import JobStats
from harvester.core.schedule import JobState
from harvester.errors import StoreError
from harvester.redact import redact_tree
from harvester.runtime.definitions import STATE_PREFIX
from harvester.runtime.wiring import STATE_CACHE, STATE_STOP, build_machine
from harvester.store import open_store, redact_url
from harvester.store.coordination import coordinator_for


async def collect_status(config: Config, now: float, *, every: bool = False) -> dict[str, Any]:
    """Every figure ``harvester status --json`` prints (``every``: with superseded generations).

    A job's figures leave out its superseded tasks (an older definition's unfinished work: no
    failure). With ``every``, each job also lists its generations, the current one and those
    its changed definitions superseded, with their own figures.
    """
    state = config.harvest.state
    store = open_store(state)
    await store.open()
    try:
        jobs = await store.job_stats()
        current = {j.job: _generation(await store.get_state(STATE_PREFIX + j.job)) for j in jobs}
        generations = await store.generation_stats() if every else []
        entries = await store.ledger_entries(0.0)
        last_run = str(entries[-1]["run"]) if entries else "none"
        machine = await build_machine(config, store, now, {}, run=last_run)
        queue = await store.pending_count()
        cache_stats = await store.get_state(STATE_CACHE) or {"hits": 0, "requests_saved": 0}
        last_stop = await store.get_state(STATE_STOP)
        hosts = await coordinator_for(store).activity(now)
    finally:
        await store.close()
    return cast(dict[str, Any], redact_tree({
        "state": redact_url(state),
        "queue_depth": queue,
        "jobs": [
            {"job": j.job, "state": j.state, "generation": current[j.job], "tasks": j.tasks - j.superseded,
             "done": j.done, "failed": j.failed, "pending": j.pending, "pages": j.pages, "items": j.items,
             "last_error": j.last_error,
             **({"generations": [_generation_json(g, current[j.job]) for g in generations if g.job == j.job]}
                if every else {})}
            for j in jobs
        ],
        "buckets": [
            {"route": f.route, "auth": f.auth, "limit": f.limit, "remaining": f.remaining,
             "reset": f.reset, "sent": f.sent, "429s": f.rejected, "stopped_until": f.stopped_until,
             "window": f.window, "window_learned": f.window_learned, "min_gap": f.min_gap}
            for f in machine.limits.snapshot(now)
        ],
        "budget": {**machine.ledger.status(now).to_json(), "last_run": last_run},
        "cap": machine.cap.status(now).to_json(),
        "cache": cache_stats,
        "last_stop": last_stop,
        "hosts": [{"owner": h.owner, "claims": h.claims, "expired_claims": h.expired, "holds": h.holds,
                   "held_usd": pricing.micros_to_usd(h.held_micros)} for h in hosts],
    }))  # fmt: skip


def _generation(doc: object) -> int:
    saved = JobState.from_json(doc)
    return saved.generation if saved is not None else 0


def _generation_json(g: JobStats, current: int) -> dict[str, Any]:
    superseded = g.generation != current
    return {"generation": g.generation, "state": "superseded" if superseded else g.state, "tasks": g.tasks,
            "done": g.done, "failed": g.failed, "pending": g.pending, "superseded": g.superseded,
            "pages": g.pages, "items": g.items}


def _ts(t: float | None, now: float) -> str:
    if t is None:
        return "-"
    delta = t - now
    return f"in {delta:,.0f}s" if delta > 0 else "passed"


def print_status(config: Config, *, as_json: bool, every: bool = False) -> int:
    """Print the status as tables, or as JSON for scripts (``every``: superseded generations too)."""
    now = wall_time()
    state = config.harvest.state
    if "://" not in state and not Path(state).exists():
        raise StoreError(f"{state}: no state store here yet (nothing has been run with this config)")
    data = cast("dict[str, Any]", redact_tree(run_loop(lambda: collect_status(config, now, every=every))))  # URLs
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
    stop = data.get("last_stop")
    if stop:
        con.print(f"last run stopped ({stop['cause']}): {stop['message']}")
    c = data["cache"]
    con.print(f"cache: {c['hits']:,} objects answered from the cache, {c['requests_saved']:,} requests saved")
    return 0


def usd(micros: int) -> str:
    """Dollars for tables."""
    return f"${pricing.micros_to_usd(micros):,.3f}"
