"""status, report and plan read back what a harvest did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvester.cli import main
from harvester.core.estimate import Volume, estimate_job
from harvester.core.model import JobSpec
from harvester.testing import EPOCH, harvest_sandbox, make_config, run_virtual

JOBS = [
    JobSpec(name="search", kind="search", query="bumife", start_time="2026-11-15T00:00:00Z",
            end_time="2026-11-18T00:00:00Z", max_results=100),
    JobSpec(name="lookup", kind="lookup_tweets", tweet_ids=("2123186401997488354", "1")),
]


def test_status_and_report_after_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path)

    async def go() -> tuple[list[str], list[str]]:
        _, sb = await harvest_sandbox(config, JOBS)
        return sb.truth.search("bumife", JOBS[0].start_time, JOBS[0].end_time), sb.truth.tweets(JOBS[1].tweet_ids)

    found, looked_up = run_virtual(go)
    # status and report read the wall clock; read them back in the harvest's billing cycle, not today's
    monkeypatch.setattr("harvester.commands.status.wall_time", lambda: EPOCH + 3600.0)
    monkeypatch.setattr("harvester.commands.report.wall_time", lambda: EPOCH + 3600.0)
    billed = len(set(found) | set(looked_up))  # each post once per UTC day
    (tmp_path / "config.toml").write_text(
        f'[harvest]\nstate = "{tmp_path / "state.db"}"\noutput_dir = "{tmp_path / "out"}"\n')
    capsys.readouterr()
    assert main(["status", "--json", "--config", str(tmp_path / "config.toml")]) == 0
    status = json.loads(capsys.readouterr().out)
    jobs = {j["job"]: j for j in status["jobs"]}
    assert jobs["search"]["items"] == len(found) > 600 and jobs["search"]["state"] == "done"
    assert jobs["lookup"]["items"] == len(looked_up) == 1
    search_bucket = [b for b in status["buckets"] if b["route"] == "/2/tweets/search/recent"]
    assert search_bucket and search_bucket[0]["sent"] == jobs["search"]["pages"]
    assert status["budget"]["spent_cycle_usd"] == pytest.approx(billed * 0.005)

    assert main(["report", "--format", "json", "--config", str(tmp_path / "config.toml")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total_usd"] == pytest.approx(billed * 0.005)
    assert {r["job"] for r in report["rows"]} == {"search", "lookup"}
    assert report["top_endpoints"][0]["endpoint"] == "/2/tweets/search/recent"

    assert main(["report", "--format", "csv", "--config", str(tmp_path / "config.toml")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "day,endpoint,job,requests,resources,usd"


def test_status_without_state_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.toml").write_text(f'[harvest]\nstate = "{tmp_path / "none.db"}"\n')
    assert main(["status", "--config", str(tmp_path / "config.toml")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.db" in err[0]


def test_estimates() -> None:
    lookup = estimate_job(JobSpec(name="l", kind="lookup_tweets", tweet_ids=tuple(str(i) for i in range(1, 251))),
                          None)
    assert lookup.requests_expected == 3 and lookup.resources_expected == 250
    assert lookup.cost_expected == 250 * 5_000
    tl = estimate_job(JobSpec(name="t", kind="timeline", user_ids=("1", "2"), max_results=100), None)
    assert tl.requests_worst == 64 and tl.resources_worst == 6400 and tl.resources_expected is None
    s = estimate_job(JobSpec(name="s", kind="search", query="x", max_results=100), Volume(items=636))
    assert s.requests_expected == 7 and s.cost_expected == 636 * 5_000 and s.capped_posts == 636
