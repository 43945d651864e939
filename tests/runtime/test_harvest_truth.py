"""Every example job harvested from the sandbox equals the sandbox's ground truth, once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harvester.core.model import JobSpec
from harvester.jobspec import load_jobs
from harvester.runtime.harvest import RunResult
from harvester.sandbox import Sandbox
from harvester.testing import data_ids, harvest_sandbox, make_config, read_pages, run_virtual

ROOT = Path(__file__).resolve().parents[2]


def expected_ids(sb: Sandbox, spec: JobSpec, at: float | None = None) -> set[str]:
    t = sb.truth
    if spec.kind == "search":
        assert spec.query
        return set(t.search(spec.query, spec.start_time, spec.end_time, archive=spec.archive, at=at))
    if spec.kind == "timeline":
        return {i for u in spec.user_ids for i in t.timeline(u, spec.start_time, spec.end_time, at=at)}
    if spec.kind == "mentions":
        return {i for u in spec.user_ids for i in t.mentions(u, spec.start_time, spec.end_time, at=at)}
    if spec.kind == "followers":
        return {i for u in spec.user_ids for i in t.followers(u)}
    if spec.kind == "following":
        return {i for u in spec.user_ids for i in t.following(u)}
    if spec.kind == "lookup_tweets":
        return set(t.tweets(spec.tweet_ids, at=at))
    if spec.kind == "lookup_users":
        by_name = [t.user_by_username(n) for n in spec.usernames]
        return set(t.users([*spec.user_ids, *(i for i in by_name if i)]))
    raise AssertionError(spec.kind)


def test_example_jobs_equal_ground_truth(tmp_path: Path) -> None:
    specs = load_jobs([ROOT / "jobs"])
    config = make_config(tmp_path, workers=4)

    async def main() -> tuple[RunResult, dict[str, set[str]]]:
        result, sb = await harvest_sandbox(config, specs)
        # Ask the truth in the same loop, at the clock's time when the harvest ended.
        return result, {s.name: expected_ids(sb, s) for s in specs}

    result, expected = run_virtual(main)
    assert result.stop is None
    assert not result.failed, [j for j in result.jobs if j.failed]
    assert {j.job for j in result.jobs} == {s.name for s in specs}
    for spec in specs:
        pages = read_pages(tmp_path / "out" / f"{spec.name}.jsonl")
        ids = data_ids(pages)
        dups = [i for i, n in Counter(ids).items() if n > 1]
        assert not dups, f"{spec.name}: duplicated ids {dups[:5]}"
        assert set(ids) == expected[spec.name], spec.name
        assert ids, f"{spec.name}: the example job should return data"
        # each (task, page) once, numbered 1..n per task
        seen = Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages)
        assert max(seen.values()) == 1
    assert result.stats.too_many == 0
