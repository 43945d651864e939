"""Durations (issue 19): one parser for min_interval, max_interval and ``every`` schedules."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harvester.core.duration import MAX_SECONDS, MIN_SECONDS, DurationError, format_duration, parse_duration
from harvester.core.model import JobSpec
from harvester.core.schedule import JobState, Schedule, ScheduleError, run_key, run_tasks, split_key
from harvester.errors import JobSpecError
from harvester.jobspec import load_jobs
from harvester.runtime.polling import policy_for

T0 = 1_795_132_800.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0), (0.25, 0.25), ("90s", 90.0), ("1.5m", 90.0), ("2h", 7200.0), ("1d", 86400.0),
        ("1h30m", 5400.0), ("1h 30m", 5400.0), (" 2H ", 7200.0), ("250ms", 0.25), ("1m30s", 90.0),
        ("0.5s", 0.5), (".5s", 0.5), ("1w", 604800.0), ("10ms", 0.01), ("1.25h", 4500.0),
    ],
)
def test_durations_parse_to_float_seconds(value: object, seconds: float) -> None:
    result = parse_duration(value)
    assert isinstance(result, float) and result == seconds


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "must be seconds > 0"), (-1, "must be seconds > 0"), ("0s", "must be seconds > 0"),
        (0.001, "at least 0.01s"), ("5ms", "at least 0.01s"), ("9999w", "at most 10 years"),
        (math.inf, "must be seconds > 0"), (math.nan, "must be seconds > 0"), (True, "got True"),
        ("15", "add a unit"), ("1.5", "add a unit"), ("m", "got 'm'"), ("1x", "got '1x'"), ("", "got ''"),
        ("1.5.2m", "got"), ([1], "got [1]"), ("1h-30m", "got"),
    ],
)
def test_bad_durations_say_why_in_one_line(value: object, words: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(value)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_bounds_and_formatting() -> None:
    assert parse_duration(MIN_SECONDS) == MIN_SECONDS and parse_duration(MAX_SECONDS) == MAX_SECONDS
    assert format_duration(5400.0) == "5400s" and format_duration(0.25) == "0.25s"


@pytest.mark.parametrize(("text", "seconds"), [("every 1.5m", 90.0), ("every 0.25", None), ("every 250ms", 0.25),
                                               ("every 1h 30m", 5400.0), ("EVERY 2H", 7200.0)])
def test_every_shares_the_parser(text: str, seconds: float | None) -> None:
    if seconds is None:
        with pytest.raises(ScheduleError, match="add a unit"):
            Schedule.parse(text)
        return
    assert Schedule.parse(text).every == seconds


def test_every_refuses_what_the_jobs_refuse() -> None:
    with pytest.raises(ScheduleError, match=r"at least 0\.01s"):
        Schedule.parse("every 5ms")
    with pytest.raises(ScheduleError, match="at most 10 years"):
        Schedule.parse("every 9999w")


def test_fractional_slots_get_their_own_keys() -> None:
    """Two runs (or polls) due within one second must not share task keys (the store keeps the first)."""
    s = Schedule.parse("every 0.25s")
    slots = [s.next_after(T0 + i * 0.25) for i in range(4)]
    assert slots == [T0 + 0.25, T0 + 0.5, T0 + 0.75, T0 + 1.0]
    keys = [run_key("search", slot=slot, generation=1) for slot in slots]
    assert keys == [f"search@{int(T0)}.25~g1", f"search@{int(T0)}.5~g1", f"search@{int(T0)}.75~g1",
                    f"search@{int(T0) + 1}~g1"]
    assert [split_key(k) for k in keys] == [("search", slot, 1) for slot in slots]
    spec = JobSpec(name="s", kind="search", query="x")
    first = {t.key for t in run_tasks(spec, JobState(digest="d"), slots[0])}
    second = {t.key for t in run_tasks(spec, JobState(digest="d"), slots[1])}
    assert first.isdisjoint(second)
    assert run_key("k", slot=T0, generation=0) == f"k@{int(T0)}"  # whole seconds: keys as before


def test_job_files_accept_units_and_fractions_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text('[[job]]\nname = "p"\nkind = "timeline"\nuser_ids = ["1"]\nmode = "poll"\n'
                    'min_interval = 0.25\nmax_interval = "1.5m"\n'
                    '[[job]]\nname = "q"\nkind = "search"\nquery = "x"\nmode = "poll"\nschedule = "every 1.5m"\n'
                    'min_interval = "1h30m"\n')
    p, q = load_jobs([path])
    assert p.extra["min_interval"] == 0.25 and p.extra["max_interval"] == 90.0
    assert q.extra["min_interval"] == 5400.0 and Schedule.parse(q.extra["schedule"]).every == 90.0
    policy = policy_for(p)  # the poll policy takes sub-second intervals as they are
    assert (policy.min_interval, policy.max_interval) == (0.25, 90.0)


def test_min_above_max_names_both_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text('[[job]]\nname = "p"\nkind = "timeline"\nuser_ids = ["1"]\nmin_interval = "1.5m"\n'
                    'max_interval = 30\n')
    with pytest.raises(JobSpecError, match=r"\(90s\) must not exceed max_interval \(30s\)"):
        load_jobs([path])
