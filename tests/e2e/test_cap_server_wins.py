"""The monthly cap as the server counts it, through the CLI: a server that counts only search.

harvester's default ``[cap] capped_endpoints`` counts every Post read (timelines too); this
server counts only recent search toward a cap of 300. The local estimate reaches the cap on
timeline Posts long before the server's count does: harvester asks the server
(``/2/usage/tweets``), follows it, finishes the timelines, and stops search at the server's cap
with at most one cap 429 — exit 3, the last line naming the cause, both counts and when the
work can continue.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import sandbox_process
from e2ehelp import EPOCH, FixedClock, env, harvester_cmd

from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import data_ids, read_pages

SEARCH = "/2/tweets/search/recent"
USERS = ("774592", "8288491", "94399023", "76923978")
JOBS = f"""
[[job]]
name = "search"
kind = "search"
query = "bumife"
start_time = "2026-11-15T00:00:00Z"
end_time = "2026-11-18T00:00:00Z"

[[job]]
name = "timelines"
kind = "timeline"
user_ids = {json.dumps(list(USERS))}
end_time = "2026-11-19T00:00:00Z"
"""


def next_month() -> str:
    """The first day of the next UTC month: the run reads the wall clock, so the cap resets then."""
    today = datetime.now(UTC).date()
    return (today.replace(day=28) + timedelta(days=4)).replace(day=1).isoformat()


def test_the_servers_cap_count_wins_over_the_local_estimate(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    with sandbox_process(tmp_path, "--cap", "300", "--capped-route", SEARCH) as url:
        cfg.write_text(f'[api]\nbase_url = "{url}"\n\n[cap]\nmonthly_posts = 300\n\n[harvest]\nworkers = 3\n'
                       f'output_dir = "{tmp_path / "out"}"\nstate = "{tmp_path / "state.db"}"\n')
        (tmp_path / "jobs.toml").write_text(JOBS)
        proc = subprocess.run(harvester_cmd("run", "--config", str(cfg), "--jobs", str(tmp_path / "jobs.toml")),
                              check=False, env=env(), capture_output=True, text=True, timeout=120)  # fmt: skip
        with urllib.request.urlopen(f"{url}/_sandbox/report", timeout=10) as resp:
            report = json.load(resp)
    assert proc.returncode == 3, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("stopped (cap): monthly Post cap reached"), last
    assert "server: 300" in last and "local count:" in last and f"continue after {next_month()} 00:00 UTC" in last, last
    capped_429s = sum(n for key, n in report["requests"].items() if key.endswith(" 429"))
    assert capped_429s <= 1, report["requests"]

    t = Sandbox(SandboxConfig(seed=7, epoch=EPOCH), FixedClock(EPOCH + 3600)).truth
    timelines = data_ids(read_pages(tmp_path / "out" / "timelines.jsonl"))
    assert set(timelines) == {i for u in USERS for i in t.timeline(u, None, "2026-11-19T00:00:00Z")}
    searched = data_ids(read_pages(tmp_path / "out" / "search.jsonl"))
    assert len(searched) == len(set(searched)) <= 300 < len(t.search("bumife", "2026-11-15T00:00:00Z",
                                                                     "2026-11-18T00:00:00Z"))

    status = subprocess.run(harvester_cmd("status", "--json", "--config", str(cfg)), check=False, env=env(),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    data = json.loads(status.stdout)
    assert data["last_stop"]["cause"] == "cap" and data["last_stop"]["figures"]["server_used"] == 300
    assert data["cap"]["disagrees"] is True  # the local count has the timelines' Posts too
