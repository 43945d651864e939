"""Four real ``harvester daemon`` processes on one PostgreSQL state, one sandbox, one quota.

The sandbox allows 5 requests per 4-second window on each route; the daemons together run 12
workers. Every request of every process passes the shared admission (``store/pg_shared.py``),
so the sandbox must never answer 429, must never count more than 5 requests in any window, and
must never bill more than the shared spending limit. Each (task, page) must be written exactly
once across all the processes' output slots; after one daemon is SIGKILLed mid-run, the others
must take over its claims (short leases) and finish the jobs.

Runs when ``HARVESTER_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from conftest import sandbox_process
from e2ehelp import EPOCH, FixedClock, env, harvester_cmd, wait_for

from harvester.sandbox import Sandbox, SandboxConfig

PG_URL = os.environ.get("HARVESTER_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PG_URL is None, reason="HARVESTER_TEST_POSTGRES_URL is not set"),
]

DAEMONS = 4
WINDOW = 4
LIMIT = 5
SEARCH = "/2/tweets/search/recent"
TIMELINE = "/2/users/:id/tweets"
USERS = ("4828803", "577084", "7936717075", "64629039", "988083", "4465035")
RANGE = ("2026-11-15T00:00:00Z", "2026-11-17T00:00:00Z")

JOBS = f"""
[[job]]
name = "search"
kind = "search"
query = "bumife"
start_time = "{RANGE[0]}"
end_time = "{RANGE[1]}"
max_results = 20

[[job]]
name = "timeline"
kind = "timeline"
user_ids = {json.dumps(list(USERS))}
end_time = "2026-11-19T00:00:00Z"
max_results = 20
"""


def truth() -> dict[str, set[str]]:
    t = Sandbox(SandboxConfig(seed=7, epoch=EPOCH), FixedClock(EPOCH + 3600)).truth
    timelines = {i for u in USERS for i in t.timeline(u, None, "2026-11-19T00:00:00Z")}
    return {"search": set(t.search("bumife", *RANGE)), "timeline": timelines}


@contextmanager
def pg_schema() -> Iterator[str]:
    assert PG_URL is not None
    schema = f"mh_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        asyncio.run(run(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def query(schema: str, sql: str) -> list[asyncpg.Record]:
    assert PG_URL is not None

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(PG_URL, server_settings={"search_path": schema})
        try:
            rows: list[asyncpg.Record] = await conn.fetch(sql)
            return rows
        finally:
            await conn.close()

    return asyncio.run(run())


def write_config(tmp: Path, base_url: str, schema: str, spending_limit: float) -> Path:
    path = tmp / "config.toml"
    path.write_text(f"""
[api]
base_url = "{base_url}"

[harvest]
workers = 3
output_dir = "{tmp / 'out'}"
state = "{PG_URL}?search_path={schema}"
pacing = "burst"
fsync = false
lease_seconds = 4

[limits]
window_seconds = {WINDOW}
max_latency_seconds = 1

[limits.endpoints."{SEARCH}"]
app = {LIMIT}

[limits.endpoints."{TIMELINE}"]
app = {LIMIT}

[budget]
spending_limit_usd = {spending_limit}

[daemon]
grace_seconds = 5
metrics_port = 0
""")
    (tmp / "jobs.toml").write_text(JOBS)
    return path


@contextmanager
def harness(tmp: Path, spending_limit: float) -> Iterator[tuple[Path, str, str]]:
    """A sandbox with small windows, a fresh schema and a config: (config, base URL, schema)."""
    limits = ("--window", str(WINDOW), "--limit", f"{SEARCH}={LIMIT}", "--limit", f"{TIMELINE}={LIMIT}")
    with pg_schema() as schema, sandbox_process(tmp, *limits) as url:
        yield write_config(tmp, url, schema, spending_limit), url, schema


def start_daemons(stack: ExitStack, tmp: Path, config: Path, n: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        log = stack.enter_context((tmp / f"daemon-{i}.log").open("ab"))
        proc = subprocess.Popen(
            harvester_cmd("daemon", "--config", str(config), "--jobs", str(tmp / "jobs.toml")),
            env=env(), stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        stack.callback(lambda p=proc: p.kill() if p.poll() is None else None)
        procs.append(proc)
    return procs


def sandbox_report(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_sandbox/report", timeout=10) as resp:
        report: dict[str, Any] = json.load(resp)
    return report


def pages(out: Path) -> list[dict[str, Any]]:
    """Every line of every output slot's files."""
    lines = []
    for path in sorted(out.glob("*/*.jsonl")):
        for line in path.read_bytes().splitlines():
            lines.append(json.loads(line))
    return lines


def assert_quota_kept(report: dict[str, Any]) -> None:
    assert report["too_many"] == 0, report
    for bucket, figures in report["buckets"].items():
        assert figures["max_allowed"] <= LIMIT, (bucket, figures)
        assert figures["rejected"] == 0, (bucket, figures)


def assert_each_page_once(lines: list[dict[str, Any]]) -> Counter[tuple[str, str, int]]:
    seen = Counter((p["__harvester"]["job"], p["__harvester"]["task"], p["__harvester"]["page"]) for p in lines)
    twice = [k for k, n in seen.items() if n > 1]
    assert not twice, f"written more than once: {twice[:5]}"
    per_task: dict[tuple[str, str], list[int]] = {}
    for job, task, page in seen:
        per_task.setdefault((job, task), []).append(page)
    for key, nums in per_task.items():
        assert sorted(nums) == list(range(1, len(nums) + 1)), (key, sorted(nums))
    return seen


def test_four_daemons_share_one_window_and_one_budget_and_stop_before_it(tmp_path: Path) -> None:
    """The shared spending limit binds: together they stop at or under it, quota kept."""
    budget = 0.6  # about 120 posts at $0.005: less than the jobs need
    with harness(tmp_path, budget) as (config, url, schema), ExitStack() as stack:
        procs = start_daemons(stack, tmp_path, config, DAEMONS)
        for proc in procs:
            wait_for(lambda p=proc: p.poll() is not None, 90, "daemons to stop at the budget")
        assert [p.returncode for p in procs] == [3] * DAEMONS  # stopped on purpose, work left
        report = sandbox_report(url)
        rows = query(schema, "SELECT id, run, job, micros, reserved, posts, at FROM ledger ORDER BY id")
        spent = sum(int(r["micros"]) for r in rows)
    assert_quota_kept(report)
    assert report["spent_micros"] <= budget * 1e6, (report, [tuple(r) for r in rows])
    assert report["spent_micros"] <= spent  # the shared ledger never counts less than X billed
    assert spent <= budget * 1e6
    assert report["spent_micros"] >= 0.8 * budget * 1e6  # and they did use the budget
    lines = pages(tmp_path / "out")
    assert_each_page_once(lines)
    print(f"\nbudget ${budget:.2f}: sandbox billed ${report['spent_micros'] / 1e6:.3f}, ledger ${spent / 1e6:.3f}, "
          f"{len(lines)} pages, {report['too_many']} x 429, fullest windows "
          f"{ {b: f['max_allowed'] for b, f in report['buckets'].items()} }")  # fmt: skip
    logs = "".join((tmp_path / f"daemon-{i}.log").read_text() for i in range(DAEMONS))
    assert "spending limit" in logs


def test_sigkill_one_daemon_and_the_others_finish_its_work(tmp_path: Path) -> None:
    """Quota and budget kept by four, then three; every page exactly once; ids equal the truth."""
    budget = 10.0  # enough for the jobs, still shared and enforced
    with harness(tmp_path, budget) as (config, url, schema), ExitStack() as stack:
        procs = start_daemons(stack, tmp_path, config, DAEMONS)

        def committed() -> int:
            try:
                return int(query(schema, "SELECT coalesce(sum(pages), 0) FROM tasks")[0][0])
            except asyncpg.UndefinedTableError:  # no daemon has migrated the schema yet
                return 0

        wait_for(lambda: committed() >= 8, 60, "the first pages")
        victim = procs[1]

        def victim_claims() -> list[int]:
            rows = query(schema, f"SELECT id FROM tasks WHERE state = 'claimed' AND owner LIKE '%:{victim.pid}:%'")
            return [r[0] for r in rows]

        # Freeze the victim (SIGSTOP) until it is caught holding a claim, then kill it: the claim
        # can then no longer finish between the look and the kill.
        deadline = time.monotonic() + 60
        while True:
            victim.send_signal(signal.SIGSTOP)
            time.sleep(0.1)  # a statement it already sent finishes on the server
            stranded = victim_claims()
            if stranded or time.monotonic() > deadline:
                break
            victim.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed_at = committed()

        def done() -> bool:
            states = {r[0] for r in query(schema, "SELECT DISTINCT state FROM tasks")}
            return states == {"done"}

        wait_for(done, 120, "the three survivors to finish every task")
        for proc in procs:
            if proc is not victim:
                assert proc.poll() is None, "a survivor died"
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            if proc is not victim:
                proc.wait(30)
                assert proc.returncode == 0
        report = sandbox_report(url)
        spent = sum(int(r[0]) for r in query(schema, "SELECT micros FROM ledger"))
        # A later process on this host finds the dead daemon's slot idle and cuts its output
        # back to what it committed (a page written but not committed before the kill).
        rerun = subprocess.run(
            harvester_cmd("run", "--config", str(config), "--jobs", str(tmp_path / "jobs.toml")),
            check=False, env=env(), capture_output=True, timeout=60,
        )  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    assert killed_at < committed_total(tmp_path), "the kill came too late to leave work behind"
    assert stranded, "the kill landed between claims; nothing was left to take over"
    assert_quota_kept(report)
    assert report["spent_micros"] <= spent <= budget * 1e6
    lines = pages(tmp_path / "out")
    assert_each_page_once(lines)
    ids: dict[str, set[str]] = {"search": set(), "timeline": set()}
    for p in lines:
        ids[p["__harvester"]["job"]].update(d["id"] for d in p.get("data", []))
    assert ids == truth()
    slots = {p.parent.name for p in (tmp_path / "out").glob("*/*.jsonl")}
    assert len(slots) >= 2  # the work really was spread over several processes
    print(f"\nkilled with {len(stranded)} claim(s) held, {killed_at} pages committed; finished with "
          f"{len(lines)} pages over {len(slots)} slots, sandbox billed ${report['spent_micros'] / 1e6:.3f} "
          f"(ledger ${spent / 1e6:.3f}, limit ${budget:.2f}), {report['too_many']} x 429, fullest windows "
          f"{ {b: f['max_allowed'] for b, f in report['buckets'].items()} }")  # fmt: skip


def committed_total(tmp: Path) -> int:
    return len(pages(tmp / "out"))

