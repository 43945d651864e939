"""Schedules: parsing, slots, missed runs collapsing to one; the daemon's scheduler in-process."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from harvester.clock import LoopClock
from harvester.core.model import JobSpec
from harvester.core.schedule import (
    JobState,
    Schedule,
    ScheduleError,
    definition_digest,
    due_runs,
    job_schedule,
    key_suffix,
    reconcile,
    run_key,
    run_tasks,
    split_key,
)
from harvester.runtime.daemon import Daemon, DaemonResult
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import APP_TOKEN, EPOCH, data_ids, make_config, read_pages, run_virtual

DAY = 86400.0
T0 = 1_795_132_800.0  # 2026-11-20T00:00:00Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("every 30s", 30), ("every 15m", 900), ("every 2h", 7200), ("every 1d", 86400), ("Every 1h30m", 5400)],
)
def test_every_parses_to_seconds(text: str, seconds: int) -> None:
    s = Schedule.parse(text)
    assert s.every == seconds
    assert s.cron is None
    assert str(s) == text


def test_cron_parses_and_runs_in_utc() -> None:
    s = Schedule.parse("0 3 * * *")
    assert s.cron == "0 3 * * *"
    assert s.next_after(T0) == T0 + 3 * 3600
    assert s.next_after(T0 + 3 * 3600) == T0 + DAY + 3 * 3600  # strictly after
    assert s.latest_at_or_before(T0 + 3 * 3600) == T0 + 3 * 3600  # at, inclusive
    assert s.latest_at_or_before(T0 + 3 * 3600 - 1) == T0 - DAY + 3 * 3600


def test_cron_with_seconds_field() -> None:
    s = Schedule.parse("* * * * * */3")
    assert s.next_after(T0 + 0.5) == T0 + 3
    assert s.latest_at_or_before(T0 + 4) == T0 + 3


def test_every_is_aligned_to_the_epoch() -> None:
    s = Schedule.parse("every 15m")
    assert s.next_after(T0 + 1) == T0 + 900
    assert s.next_after(T0) == T0 + 900
    assert s.latest_at_or_before(T0 + 899.9) == T0
    assert s.latest_at_or_before(T0 + 900) == T0 + 900


@pytest.mark.parametrize("text", ["every", "every 0m", "every 5 minutes", "every -1h", "15 minutes", "", "* * *",
                                  "61 * * * *"])
def test_bad_schedule_is_an_error(text: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(text)


def test_missed_runs_collapse_to_one() -> None:
    s = Schedule.parse("every 15m")
    # Down for a day: 96 slots passed, one run is due, at the latest slot.
    assert due_runs(s, T0, T0 + DAY + 60) == [T0 + DAY]
    assert due_runs(s, T0 + DAY, T0 + DAY + 60) == []  # and once it ran, nothing more
    assert due_runs(s, None, T0 + 61) == [T0]  # never ran: due at once
    assert due_runs(s, T0, T0 + 899) == []


def test_job_schedule_from_spec() -> None:
    assert job_schedule(JobSpec(name="a", kind="search", query="x")) is None
    every = job_schedule(JobSpec(name="a", kind="search", query="x", extra={"schedule": "every 15m"}))
    assert every is not None and every.every == 900
    # A poll job runs once from the scheduler; its sources then schedule themselves
    # (harvester.runtime.polling), so it has no job-level schedule.
    assert job_schedule(JobSpec(name="a", kind="search", query="x", extra={"mode": "poll", "min_interval": 120})) is None
    with pytest.raises(ScheduleError):
        job_schedule(JobSpec(name="a", kind="search", query="x", extra={"schedule": "every now and then"}))


def test_run_keys_are_unique_per_slot_and_generation() -> None:
    assert run_key("search", slot=None, generation=0) == "search"
    assert run_key("user:12", slot=T0, generation=0) == f"user:12@{int(T0)}"
    assert run_key("user:12", slot=T0, generation=2) == f"user:12@{int(T0)}~g2"
    assert split_key(f"user:12@{int(T0)}~g2") == ("user:12", int(T0), 2)
    assert split_key("resolve:0000~g1") == ("resolve:0000", None, 1)
    assert split_key("search") == ("search", None, 0)
    assert key_suffix(f"resolve:0000@{int(T0)}~g1") == f"@{int(T0)}~g1"
    spec = JobSpec(name="tl", kind="timeline", user_ids=("1", "2"), usernames=("bob",))
    keys = [t.key for t in run_tasks(spec, JobState(digest="d"), T0)]
    assert keys == [f"user:1@{int(T0)}", f"user:2@{int(T0)}", f"resolve:0000@{int(T0)}"]


def test_a_changed_definition_gets_a_new_generation_but_a_new_schedule_does_not() -> None:
    spec = JobSpec(name="s", kind="search", query="x", extra={"schedule": "every 15m"})
    first, changed = reconcile(spec, None)
    assert (first.generation, changed) == (0, False)
    ran = replace(first, last_slot=T0)
    same, changed = reconcile(replace(spec, source="moved.toml", extra={"schedule": "every 1h"}), ran)
    assert (same, changed) == (ran, False)
    new, changed = reconcile(replace(spec, query="y"), ran)
    assert changed and new.generation == 1 and new.last_slot is None
    assert new.digest == definition_digest(replace(spec, query="y"))
    assert JobState.from_json(new.to_json()) == new
    assert JobState.from_json({"nonsense": 1}) is None


# --------------------------------------------------------------------------- the daemon's scheduler

SEARCH = """
[[job]]
name = "s"
kind = "search"
query = "{query}"
start_time = "2026-11-15T00:00:00Z"
end_time = "2026-11-18T00:00:00Z"
max_results = 10
schedule = "*/15 * * * *"
"""

ONCE = """
[[job]]
name = "once"
kind = "lookup_users"
usernames = ["Tapami820", "Vepa_924"]
"""


def _daemon_run(tmp: Path, steps: list[tuple[float, str | None]]) -> tuple[DaemonResult, dict[str, set[str]]]:
    """Run a daemon in-process for the given (simulated seconds, new job text or None) steps."""
    jobs = tmp / "jobs"
    jobs.mkdir(exist_ok=True)
    config = make_config(tmp, workers=3)
    config = replace(config, daemon=replace(config.daemon, metrics_port=0))

    async def main() -> tuple[DaemonResult, dict[str, set[str]]]:
        clock = LoopClock(epoch=EPOCH)
        sb = Sandbox(SandboxConfig(epoch=EPOCH), clock)
        sb.add_app_token(APP_TOKEN)
        url = await sb.start()
        cfg = replace(config, api=replace(config.api, base_url=url))
        ready = anyio.Event()
        daemon = Daemon(cfg, [jobs], clock=clock, bearer=APP_TOKEN, handle_signals=False,
                        on_ready=lambda _: ready.set())
        results: list[DaemonResult] = []

        async def run() -> None:
            results.append(await daemon.run())

        truth = {q: set(sb.truth.search(q, "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"))
                 for q in ("qiqipa", "bumife")}
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await ready.wait()
                for n, (seconds, text) in enumerate(steps):
                    if n and text is not None:
                        (jobs / "jobs.toml").write_text(text)
                        assert await daemon.reload() or text == "broken"
                    await anyio.sleep(seconds)
                daemon.stop("test over")
        finally:
            await sb.stop()
        return results[0], truth

    (jobs / "jobs.toml").write_text(steps[0][1] or "")
    return run_virtual(main)


def test_daemon_runs_a_scheduled_job_once_per_slot_and_a_changed_job_afresh(tmp_path: Path) -> None:
    both = SEARCH.format(query="qiqipa") + ONCE
    steps: list[tuple[float, str | None]] = [
        (3600.0 + 60, both),  # slots at :00 :15 :30 :45 :00 -> 5 runs
        (1800.0, SEARCH.format(query="bumife") + ONCE),  # redefined: generation 1, runs at once
        (60.0, "broken"),  # a bad file keeps the jobs
        (60.0, ONCE),  # search removed: no more runs
    ]
    result, truth = _daemon_run(tmp_path, steps)
    assert result.stop is not None and result.stop.clean
    pages = read_pages(tmp_path / "out" / "s.jsonl")
    per_page = Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages)
    assert max(per_page.values()) == 1
    runs: dict[str, list[dict[str, Any]]] = {}
    for p in pages:
        runs.setdefault(p["__harvester"]["task"], []).append(p)
    gen0 = sorted(k for k in runs if "~g" not in k)
    gen1 = sorted(k for k in runs if k.endswith("~g1"))
    assert [split_key(k)[1] for k in gen0] == [int(EPOCH) + i * 900 for i in range(5)]
    assert 2 <= len(gen1) <= 3  # at the redefinition, then every 15 min until removed
    # The first run harvests the window; later runs ask only for posts newer than the newest
    # seen (since_id), and a bounded window has none: nothing is fetched twice.
    assert sorted(data_ids(runs[gen0[0]])) == sorted(truth["qiqipa"])
    for key in gen0[1:]:
        assert data_ids(runs[key]) == [], key
    complete = [k for k in gen1 if "next_token" not in runs[k][-1].get("meta", {})]
    assert gen1[0] in complete
    first = data_ids(runs[gen1[0]])  # redefined: starts afresh, whole window once
    assert sorted(first) == sorted(truth["bumife"])
    for key in gen1[1:]:
        assert data_ids(runs[key]) == [], key
    once = read_pages(tmp_path / "out" / "once.jsonl")
    assert {p["__harvester"]["task"] for p in once} == {"usernames:00000"}  # ran once, plain keys
    assert len(once) == 1
