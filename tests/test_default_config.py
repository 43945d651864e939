"""The shipped config.toml and jobs/ stay valid: the config equals the defaults, the jobs load."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from harvester.config import load_config
from harvester.core.plan import plan_job
from harvester.jobspec import load_jobs

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"
JOBS = ROOT / "jobs"


def test_config_toml_equals_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # defaults resolve relative paths against the cwd, the file against its dir
    loaded = load_config(CONFIG)
    assert loaded.source == CONFIG
    assert replace(loaded, source=None) == load_config(None)
    assert loaded.api.base_url == "https://api.x.com"


def test_config_toml_commented_examples_are_valid(tmp_path: Path) -> None:
    """Uncommenting every example line gives a config that still loads."""
    example = re.compile(r"^# ?((?:\[[^\]]+\])|(?:[A-Za-z0-9_\"]+ = .*))$")
    lines = [example.sub(r"\1", line) for line in CONFIG.read_text(encoding="utf-8").splitlines()]
    uncommented = sum(
        1 for old, new in zip(CONFIG.read_text().splitlines(), lines, strict=True) if old != new
    )
    assert uncommented >= 15
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(path)
    assert config.auth_names() == {"app", "alice", "readers"}
    assert config.auth.users["alice"].user_id == "2244994945"
    assert config.limits.endpoints["/2/users/:id/tweets"].app == 10000
    assert config.budget.max_usd_per_run == 5.0
    assert config.budget.auto_recharge is not None
    assert config.api.user_agent.startswith("harvester/")


def test_example_jobs_load_and_plan() -> None:
    jobs = load_jobs([JOBS], config=load_config(CONFIG))
    kinds = {j.kind for j in jobs}
    assert {"search", "timeline", "followers", "lookup_tweets", "lookup_users"} <= kinds
    searches = [j for j in jobs if j.kind == "search"]
    assert len(searches) >= 2
    for job in searches:
        assert job.start_time is not None and job.end_time is not None
    for job in jobs:
        tasks = plan_job(job)
        assert tasks, job.name
        assert len({t.key for t in tasks}) == len(tasks)


def test_example_stream_job_loads_and_plans_no_task() -> None:
    [job] = load_jobs([JOBS / "stream"], config=load_config(CONFIG))
    assert job.kind == "stream" and len(job.extra["rules"]) == 2
    assert plan_job(job) == []  # the stream runner collects it; only gap fills become tasks
