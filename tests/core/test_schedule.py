"""Schedules: parsing, slots, missed runs collapsing to one; the daemon's scheduler in-process."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harvester.core.model import JobSpec
from harvester.core.schedule import (
    JobState,
    Schedule,
    ScheduleError,
    collapsed_slots,
    definition_digest,
    due_runs,
    job_schedule,
    key_suffix,
    reconcile,
    run_key,
    run_tasks,
    split_key,
)

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


@pytest.mark.parametrize("text", ["every 15m", "*/15 * * * *"])
def test_collapsed_slots_are_those_between_the_last_run_and_the_one_starting(text: str) -> None:
    sched = Schedule.parse(text)
    assert collapsed_slots(sched, None, T0 + 3600) == (0, [])  # never ran: nothing collapsed
    assert collapsed_slots(sched, T0, T0 + 900) == (0, [])  # the very next slot: nothing skipped
    assert collapsed_slots(sched, T0, T0 + 3600) == (3, [T0 + 900, T0 + 1800, T0 + 2700])
    count, first = collapsed_slots(sched, T0, T0 + DAY, limit=2)
    assert (count, first) == (95, [T0 + 900, T0 + 1800])  # a day down: 95 slots, one run
    assert collapsed_slots(sched, T0 + 900, T0) == (0, [])


def test_collapsed_slots_of_a_fractional_interval() -> None:
    sched = Schedule.parse("every 1.5s")
    assert collapsed_slots(sched, T0, T0 + 6.0) == (3, [T0 + 1.5, T0 + 3.0, T0 + 4.5])
