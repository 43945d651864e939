"""``limit = N``: a job stops after N items, its last page shrunk to fit; workers together never
ask for more than is left; a second run of a finished job asks for nothing."""

from __future__ import annotations

from pathlib import Path

from harvester.core.model import JobSpec
from harvester.runtime.harvest import RunResult
from harvester.testing import data_ids, harvest_sandbox, make_config, read_pages, run_virtual

SEARCH = JobSpec(name="search", kind="search", query="ka", max_results=100, limit=250)
TIMELINES = JobSpec(name="timelines", kind="timeline", user_ids=("8288491", "94399023", "980201543"),
                    max_results=100, limit=123, end_time="2026-11-19T00:00:00Z")
LIKERS = JobSpec(name="members", kind="list_members", list_ids=("1474062403140938406",), max_results=10, limit=7)


def _run(tmp: Path, specs: list[JobSpec]) -> tuple[RunResult, dict[str, list[int]], int]:
    async def main() -> tuple[RunResult, int]:
        result, sb = await harvest_sandbox(make_config(tmp, workers=4), specs)
        return result, sum(sb.stats.requests.values())

    result, requests = run_virtual(main)
    sizes = {s.name: [len(p.get("data", [])) for p in read_pages(tmp / "out" / f"{s.name}.jsonl")] for s in specs}
    return result, sizes, requests


def test_a_job_stops_at_its_limit_with_the_last_page_shrunk(tmp_path: Path) -> None:
    result, sizes, _ = _run(tmp_path, [SEARCH, TIMELINES, LIKERS])
    assert result.outcome == "complete", result.stop
    assert sizes["search"] == [100, 100, 50]
    assert sum(sizes["timelines"]) == 123  # three users, four workers: never more than asked for
    assert sizes["members"] == [7]
    stats = {j.job: j for j in result.jobs}
    assert stats["search"].items == 250 and stats["timelines"].items == 123
    assert stats["timelines"].failed == 0 and stats["timelines"].pending == 0
    ids = data_ids(read_pages(tmp_path / "out" / "timelines.jsonl"))
    assert len(ids) == len(set(ids))


def test_a_finished_job_asks_for_nothing_again(tmp_path: Path) -> None:
    _run(tmp_path, [SEARCH])
    result, sizes, requests = _run(tmp_path, [SEARCH])
    assert result.outcome == "complete"
    assert sizes["search"] == [100, 100, 50]
    assert requests <= 1  # at most the usage read
