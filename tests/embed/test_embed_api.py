"""``from harvester import Harvester``: config and jobs in any form, run, pages, status, plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import harvester
from harvester import Harvester, Page, Plan, RunReport, Status
from harvester.core.model import JobSpec
from harvester.embed.values import EXIT_CODES
from harvester.errors import ConfigError, JobSpecError, StoreError, UserError
from harvester.testing import APP_TOKEN, data_ids, read_pages, run_virtual, sandbox_server

SEARCH = {"name": "search", "kind": "search", "query": "bumife", "start_time": "2026-11-15T00:00:00Z",
          "end_time": "2026-11-18T00:00:00Z", "max_results": 100, "tweet_fields": ["created_at", "author_id"],
          "expansions": ["author_id"]}
LOOKUP = JobSpec(name="lookup", kind="lookup_tweets", tweet_ids=("2123186401997488354", "1"))


def settings(tmp: Path, url: str = "https://api.x.com") -> dict[str, Any]:
    return {"api": {"base_url": url}, "harvest": {"output_dir": str(tmp / "out"), "state": str(tmp / "state.db")}}


def test_config_from_a_dict_a_file_or_nothing(tmp_path: Path) -> None:
    h = Harvester({"harvest": {"workers": 7}, "budget": {"max_usd_per_run": 2.5}})
    assert h.config.harvest.workers == 7 and h.config.budget.max_usd_per_run == 2.5 and h.jobs == ()
    (tmp_path / "c.toml").write_text('[harvest]\nworkers = 3\noutput_dir = "o"\n')
    from_file = Harvester(tmp_path / "c.toml")
    assert from_file.config.harvest.workers == 3 and from_file.config.harvest.output_dir == tmp_path / "o"
    assert Harvester(str(tmp_path / "c.toml")).config == from_file.config
    assert Harvester().config.harvest.workers == 4
    assert Harvester(from_file.config).config is from_file.config


@pytest.mark.parametrize(("config", "says"), [
    ({"harvest": {"workers": "8"}}, "harvest.workers"),
    ({"harvets": {}}, "harvets"),
    ({"api": {"base_url": "ftp://x"}}, "api.base_url"),
])
def test_a_bad_config_dict_is_one_line_naming_the_key(config: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as info:
        Harvester(config)
    message = str(info.value)
    assert says in message and "\n" not in message and "<dict>" in message


def test_jobs_from_tables_files_and_specs(tmp_path: Path) -> None:
    (tmp_path / "jobs.toml").write_text('[[job]]\nname = "from-file"\nkind = "lookup_users"\nuser_ids = ["12"]\n')
    h = Harvester(jobs=[SEARCH, LOOKUP, tmp_path / "jobs.toml"])
    assert [s.name for s in h.jobs] == ["search", "lookup", "from-file"]
    assert h.job("search").tweet_fields == ("created_at", "author_id") and h.job("lookup") is LOOKUP
    assert [s.name for s in Harvester(jobs=tmp_path).jobs] == ["from-file"]  # a folder
    assert [s.name for s in Harvester(jobs=SEARCH).jobs] == ["search"]  # one table alone
    with pytest.raises(UserError, match="no job named 'nope'"):
        h.job("nope")


@pytest.mark.parametrize(("jobs", "says"), [
    ([{**SEARCH, "max_results": 500}], "max_results"),
    ([{"name": "x", "kind": "serch"}], "did you mean"),
    ([SEARCH, {**SEARCH, "name": "SEARCH"}], "duplicate job name"),
    ([{**SEARCH, "auth": "nobody"}], "auth"),
])
def test_a_bad_job_table_is_one_line_naming_the_job_and_key(jobs: list[dict[str, Any]], says: str) -> None:
    with pytest.raises(JobSpecError) as info:
        Harvester(jobs=jobs)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_plan_sends_nothing_and_is_typed() -> None:
    plan = Harvester(jobs=[SEARCH, LOOKUP]).plan()
    assert isinstance(plan, Plan) and [j.job for j in plan.jobs] == ["search", "lookup"]
    lookup = plan.job("lookup")
    assert lookup is not None and lookup.requests_expected == 1 and lookup.resources_expected == 2
    assert plan.job("search") is not None and plan.job("search").requests_expected is None  # type: ignore[union-attr]
    assert plan.cost_expected is None and plan.probe_cost is None  # a search's volume is unknown
    assert json.loads(json.dumps(plan.to_json()))["jobs"][1]["job"] == "lookup"


def test_status_and_pages_need_a_state(tmp_path: Path) -> None:
    h = Harvester(settings(tmp_path), [SEARCH])

    async def go() -> None:
        with pytest.raises(StoreError, match="no state store here yet"):
            await h.status()
        with pytest.raises(StoreError, match="no state store here yet"):
            [p async for p in h.pages("search")]

    run_virtual(go)
    assert not (tmp_path / "state.db").exists()


def test_run_pages_and_status_against_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", APP_TOKEN)

    async def go() -> tuple[RunReport, list[Page], Status, list[str], Harvester]:
        async with sandbox_server() as (sb, url, clock):
            h = Harvester(settings(tmp_path, url), [SEARCH, LOOKUP])
            report = await h.run(clock=clock)
            pages = [p async for p in h.pages("search")]
            status = await h.status(now=clock.now())
            truth = sb.truth.search("bumife", SEARCH["start_time"], SEARCH["end_time"])
        return report, pages, status, truth, h

    report, pages, status, truth, h = run_virtual(go)
    assert isinstance(report, RunReport) and report.outcome == "complete" and report.exit_code == 0
    assert report.stop is None and report.too_many == 0 and report.spent > 0
    assert report.pages == sum(j.pages for j in report.jobs) and report.requests >= report.pages
    search = status.job("search")
    assert search is not None and search.state == "done" and search.items == len(truth) > 600

    # pages(): the file's pages, in file order, typed; the ids are the sandbox's truth.
    file = read_pages(tmp_path / "out" / "search.jsonl")
    assert [p.body for p in pages] == file
    assert [i for p in pages for i in p.ids] == data_ids(file)
    assert sorted({i for p in pages for i in p.ids}) == sorted(truth)
    first = pages[0]
    assert first.job == "search" and first.task == "search" and first.number == 1
    assert first.path == "/2/tweets/search/recent" and first.retrieved_at > 0 and not first.from_cache
    assert first.includes["users"] and first.meta["result_count"] == len(first.data)
    assert {j["job"]: j["items"] for j in status.to_json()["jobs"]} == {j.job: j.items for j in status.jobs}
    assert json.loads(json.dumps(status.to_json()))["cap"]["local"] == status.cap.local

    # Only committed bytes are read: a page being written (no commit yet) is not a page yet.
    with (tmp_path / "out" / "search.jsonl").open("a") as f:
        f.write(json.dumps({"data": [{"id": "1", "text": "uncommitted"}]}) + "\n")

    async def again() -> list[Page]:
        return [p async for p in h.pages("search")]

    assert [p.body for p in run_virtual(again)] == file
    with pytest.raises(UserError, match="no job named 'serach'"):
        run_virtual(lambda: again_named(h, "serach"))


async def again_named(h: Harvester, name: str) -> list[Page]:
    return [p async for p in h.pages(name)]


def test_the_package_exports_the_api() -> None:
    assert harvester.Harvester is Harvester and "Harvester" in harvester.__all__
    assert EXIT_CODES == {"complete": 0, "failed": 1, "stopped": 3, "interrupted": 130}
    with pytest.raises(AttributeError):
        harvester.Nope  # noqa: B018
