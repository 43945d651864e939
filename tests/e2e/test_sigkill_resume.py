"""SIGKILL a real ``harvester run`` at random moments: after each restart, every page once."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from e2ehelp import EPOCH, FixedClock, env, harvester_cmd

from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import data_ids, read_pages

JOBS = """
[[job]]
name = "search"
kind = "search"
query = "bumife"
start_time = "2026-11-15T00:00:00Z"
end_time = "2026-11-18T00:00:00Z"
max_results = 10

[[job]]
name = "timelines"
kind = "timeline"
user_ids = ["774592", "8288491", "94399023", "76923978"]
end_time = "2026-11-19T00:00:00Z"
max_results = 25

[[job]]
name = "followers"
kind = "followers"
user_ids = ["980201543", "8936152300"]
max_results = 20
"""


def config(base_url: str, tmp: Path) -> str:
    return f"""
[api]
base_url = "{base_url}"

[harvest]
workers = 4
output_dir = "{tmp / 'out'}"
state = "{tmp / 'state.db'}"
pacing = "burst"
"""


def truth() -> dict[str, dict[str, set[str]]]:
    """Expected ids per job, per task (one task per user; a follower may follow both users)."""
    sb = Sandbox(SandboxConfig(seed=7, epoch=EPOCH), FixedClock(EPOCH + 3600))
    t = sb.truth
    return {
        "search": {"search": set(t.search("bumife", "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"))},
        "timelines": {f"user:{u}": set(t.timeline(u, None, "2026-11-19T00:00:00Z"))
                      for u in ("774592", "8288491", "94399023", "76923978")},
        "followers": {f"user:{u}": set(t.followers(u)) for u in ("980201543", "8936152300")},
    }


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path, sandbox_server: str) -> None:
    (tmp_path / "config.toml").write_text(config(sandbox_server, tmp_path))
    (tmp_path / "jobs.toml").write_text(JOBS)
    cmd = harvester_cmd("run", "--config", str(tmp_path / "config.toml"), "--jobs", str(tmp_path / "jobs.toml"))
    rng = random.Random(20261124)
    kills = 0
    for _ in range(5):
        proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.6, 1.6))
        if proc.poll() is not None:
            break  # finished before the kill: nothing left to interrupt
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    final = subprocess.run(cmd, check=False, env=env(), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 3, "the harvest finished too fast to be interrupted; make the jobs bigger"
    expected = truth()
    for job, tasks in expected.items():
        pages = read_pages(tmp_path / "out" / f"{job}.jsonl")
        per_page = Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages)
        assert max(per_page.values()) == 1, f"{job}: a page was written twice"
        for task, want in tasks.items():
            ids = data_ids(p for p in pages if p["__harvester"]["task"] == task)
            dups = [i for i, n in Counter(ids).items() if n > 1]
            assert not dups, f"{job}/{task}: {len(dups)} ids written twice"
            assert set(ids) == want, f"{job}/{task}: missing {len(want - set(ids))}, extra {len(set(ids) - want)}"
            pages_of_task = sorted(n for t, n in per_page if t == task)
            assert pages_of_task == list(range(1, len(pages_of_task) + 1)), f"{job}/{task}: a page is missing"
