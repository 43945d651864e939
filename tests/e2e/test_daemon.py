"""A real ``harvester daemon`` against a real sandbox: SIGTERM, SIGKILL, SIGHUP, one per state."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from e2ehelp import EPOCH, FixedClock, env, harvester_cmd, log_events, wait_for

from harvester.core.schedule import split_key
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import data_ids, read_pages

pytestmark = pytest.mark.slow

GRACE = 5.0
USERS = ("774592", "8288491", "76923978")


def write_config(tmp: Path, base_url: str) -> Path:
    path = tmp / "config.toml"
    path.write_text(f"""
[api]
base_url = "{base_url}"

[harvest]
workers = 4
output_dir = "{tmp / 'out'}"
state = "{tmp / 'state.db'}"
pacing = "burst"
fsync = false

[daemon]
grace_seconds = {GRACE}
metrics_port = 0
""")
    return path


def jobs_text(schedule: str) -> str:
    return f"""
[[job]]
name = "search"
kind = "search"
query = "bumife"
start_time = "2026-11-15T00:00:00Z"
end_time = "2026-11-18T00:00:00Z"
max_results = 50
schedule = "{schedule}"

[[job]]
name = "timelines"
kind = "timeline"
user_ids = {json.dumps(list(USERS))}
end_time = "2026-11-19T00:00:00Z"
max_results = 100
schedule = "{schedule}"
"""


def truth() -> dict[str, set[str]]:
    """Expected ids per base task key (the same for every run: the time ranges are closed)."""
    t = Sandbox(SandboxConfig(seed=7, epoch=EPOCH), FixedClock(EPOCH + 3600)).truth
    out = {"search": set(t.search("bumife", "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"))}
    out |= {f"user:{u}": set(t.timeline(u, None, "2026-11-19T00:00:00Z")) for u in USERS}
    return out


def task_states(tmp: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(f"file:{tmp / 'state.db'}?mode=ro", uri=True) as conn:
        return {(job, key): state for job, key, state in conn.execute("SELECT job, key, state FROM tasks")}


@contextmanager
def daemon(tmp: Path, config: Path, jobs: Path, log_name: str = "daemon.log") -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp / log_name).open("ab")
    proc = subprocess.Popen(harvester_cmd("daemon", "--config", str(config), "--jobs", str(jobs)), env=env(),
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def started(tmp: Path, log_name: str = "daemon.log", count: int = 1) -> Callable[[], bool]:
    def check() -> bool:
        path = tmp / log_name
        return path.exists() and path.read_text().count('"daemon_started"') >= count
    return check


def check_outputs(tmp: Path) -> int:
    """Every (task, page) once, pages numbered 1..n; per source, no id twice over all its runs.

    Runs after the first ask only for posts newer than the newest seen (``since_id``), so a
    source's runs together, once one has finished, hold exactly its truth.
    """
    expected = truth()
    states = task_states(tmp)
    finished = 0
    for job in ("search", "timelines"):
        pages = read_pages(tmp / "out" / f"{job}.jsonl")
        per_page = Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages)
        assert max(per_page.values()) == 1, f"{job}: a page was written twice"
        by_source: dict[str, list[str]] = {}
        done_sources: set[str] = set()
        for task in {t for t, _ in per_page}:
            numbers = sorted(n for t, n in per_page if t == task)
            assert numbers == list(range(1, len(numbers) + 1)), f"{job}/{task}: a page is missing"
            base, slot, _ = split_key(task)
            assert slot is not None, f"{job}/{task}: a scheduled run's key has its slot"
            by_source.setdefault(base, []).extend(
                data_ids(p for p in pages if p["__harvester"]["task"] == task))
            if states[(job, task)] == "done":
                done_sources.add(base)
                finished += 1
        for base, ids in by_source.items():
            want = expected[base]
            assert len(ids) == len(set(ids)), f"{job}/{base}: an id was fetched twice over its runs"
            if base in done_sources:
                assert set(ids) == want, f"{job}/{base}: missing {len(want - set(ids))}, extra {len(set(ids) - want)}"
            else:
                assert set(ids) <= want, f"{job}/{base}: ids outside the truth"
    return finished


def test_sigterm_exits_cleanly_and_sigkill_loses_and_duplicates_nothing(tmp_path: Path, sandbox_server: str) -> None:
    config = write_config(tmp_path, sandbox_server)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(jobs_text("every 3s"))
    search_out = tmp_path / "out" / "search.jsonl"

    # SIGTERM mid-harvest: exit 0 within the grace period, with `harvester status` working meanwhile.
    with daemon(tmp_path, config, jobs) as proc:
        wait_for(started(tmp_path), 15, "daemon_started", proc)
        wait_for(lambda: search_out.exists() and search_out.stat().st_size > 0, 15, "a first page", proc)
        status = subprocess.run(harvester_cmd("status", "--config", str(config), "--json"), env=env(),
                                capture_output=True, text=True, timeout=30, check=False)
        assert status.returncode == 0, status.stderr
        assert {"search", "timelines"} <= {j["job"] for j in json.loads(status.stdout)["jobs"]}
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(GRACE + 5) == 0
        assert time.monotonic() - t0 < GRACE
    events = [e["event"] for e in log_events(tmp_path / "daemon.log")]
    assert "daemon_stopping" in events and events[-1] == "daemon_stopped"

    # SIGKILL at 10 random moments.
    rng = random.Random(20261124)
    for n in range(10):
        with daemon(tmp_path, config, jobs) as proc:
            wait_for(started(tmp_path, count=n + 2), 15, "daemon_started", proc)
            time.sleep(rng.uniform(0.1, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    # Restart: it resumes, finishes runs, and stops cleanly again.
    with daemon(tmp_path, config, jobs) as proc:
        wait_for(started(tmp_path, count=12), 15, "daemon_started", proc)
        before = {k for k, s in task_states(tmp_path).items() if s == "done"}
        wait_for(lambda: sum(1 for k, s in task_states(tmp_path).items() if s == "done" and k not in before
                             and k[0] == "search") >= 1, 30, "a run finished after the restart", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(GRACE + 5) == 0
    assert check_outputs(tmp_path) >= 2


def test_sighup_adds_and_drops_jobs_and_a_bad_file_keeps_them(tmp_path: Path, sandbox_server: str) -> None:
    config = write_config(tmp_path, sandbox_server)
    folder = tmp_path / "jobs"
    folder.mkdir()
    small = """
[[job]]
name = "{name}"
kind = "search"
query = "qiqipa"
start_time = "2026-11-15T00:00:00Z"
end_time = "2026-11-18T00:00:00Z"
schedule = "{schedule}"
"""
    schedule = "every 3s"
    (folder / "a.toml").write_text(small.format(name="a", schedule=schedule))
    out = tmp_path / "out"
    with daemon(tmp_path, config, folder) as proc:
        wait_for(started(tmp_path), 15, "daemon_started", proc)
        wait_for(lambda: (out / "a.jsonl").exists() and (out / "a.jsonl").stat().st_size > 0, 15, "job a", proc)
        (folder / "b.toml").write_text(small.format(name="b", schedule=schedule))
        (folder / "a.toml").unlink()
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: (out / "b.jsonl").exists() and (out / "b.jsonl").stat().st_size > 0, 15, "job b", proc)
        a_tasks = {k for k in task_states(tmp_path) if k[0] == "a"}
        b_runs = len({k for k in task_states(tmp_path) if k[0] == "b"})

        (folder / "c.toml").write_text("[[job]]\nname = 'c'\nkind = 'search'\nquery = 'x'\nschedule = 'whenever'\n")
        proc.send_signal(signal.SIGHUP)
        log = tmp_path / "daemon.log"
        wait_for(lambda: '"jobs_reload_failed"' in log.read_text(), 10, "the reload error", proc)
        # b keeps running on its schedule; a never runs again.
        wait_for(lambda: len({k for k in task_states(tmp_path) if k[0] == "b"}) > b_runs, 10, "a later run of b", proc)
        assert {k for k in task_states(tmp_path) if k[0] == "a"} == a_tasks
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(GRACE + 5) == 0
    events = log_events(tmp_path / "daemon.log")
    reloaded = [e for e in events if e["event"] == "jobs_reloaded"]
    assert [(e["added"], e["removed"]) for e in reloaded] == [(["b"], ["a"])]
    failed = [e for e in events if e["event"] == "jobs_reload_failed"]
    assert len(failed) == 1 and "c.toml" in failed[0]["error"] and "schedule" in failed[0]["error"]
    assert (out / "a.jsonl").stat().st_size > 0  # a's data stays


def test_a_second_daemon_on_the_same_state_refuses_to_start(tmp_path: Path, sandbox_server: str) -> None:
    config = write_config(tmp_path, sandbox_server)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(jobs_text("every 3s"))
    with daemon(tmp_path, config, jobs) as first:
        wait_for(started(tmp_path), 15, "daemon_started", first)
        second = subprocess.run(harvester_cmd("daemon", "--config", str(config), "--jobs", str(jobs)), env=env(),
                                capture_output=True, text=True, timeout=30, check=False)
        assert second.returncode in (1, 2)
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert "another harvester process" in lines[0] and "state.db" in lines[0]
        assert first.poll() is None
        first.send_signal(signal.SIGTERM)
        assert first.wait(GRACE + 5) == 0
