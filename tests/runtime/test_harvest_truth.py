"""Every example job harvested from the sandbox equals the sandbox's ground truth, once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harvester.core.endpoints import KIND_FIELDS, kind_routes
from harvester.core.model import JobSpec
from harvester.jobspec import load_jobs
from harvester.runtime.harvest import RunResult
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.sandbox.quirks import QUIRKS
from harvester.sandbox.truth import Truth
from harvester.testing import EPOCH, data_ids, harvest_sandbox, make_config, read_pages, run_virtual

ROOT = Path(__file__).resolve().parents[2]


def first_page_at(tmp: Path, spec: JobSpec) -> float | None:
    """When the job's first page was fetched: reads that page by offset answer as of then."""
    pages = read_pages(tmp / "out" / f"{spec.name}.jsonl")
    return min((float(p["__harvester"]["retrieved_at"]) for p in pages), default=None)


def expected_ids(sb: Sandbox, spec: JobSpec, at: float | None = None, tmp: Path | None = None) -> set[str]:
    t = sb.truth
    if spec.kind in NEW_KINDS:
        first = first_page_at(tmp, spec) if tmp is not None else None
        return NEW_KINDS[spec.kind](t, spec, first if first is not None else at)
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


# The issue-16 kinds the example jobs use; counts "ids" are bucket start times (and their sum is
# checked against the search's truth).
NEW_KINDS: dict[str, Callable[[Truth, JobSpec, float | None], set[str]]] = {
    "retweeted_by": lambda t, s, at: {i for p in s.tweet_ids for i in t.retweeted_by(p, at=at)},
    "quote_tweets": lambda t, s, at: {i for p in s.tweet_ids for i in t.quote_tweets(p, at=at)},
    "conversation": lambda t, s, at: {i for p in s.tweet_ids
                                      for i in t.conversation(p, s.start_time, s.end_time, s.archive, at=at)},
    "list_tweets": lambda t, s, at: {i for x in s.list_ids for i in t.list_tweets(x, at=at)},
    "list_members": lambda t, s, at: {i for x in s.list_ids for i in t.list_members(x)},
    "list_followers": lambda t, s, at: {i for x in s.list_ids for i in t.list_followers(x)},
    "owned_lists": lambda t, s, at: {i for u in s.user_ids for i in t.owned_lists(u)},
    "followed_lists": lambda t, s, at: {i for u in s.user_ids for i in t.followed_lists(u)},
    "list_memberships": lambda t, s, at: {i for u in s.user_ids for i in t.list_memberships(u)},
    "counts": lambda t, s, at: {str(t.counts(s.query or "", s.start_time, s.end_time, s.archive, at=at))},
}  # fmt: skip


def page_ids(spec: JobSpec, pages: list[dict[str, Any]]) -> list[str]:
    """A job's collected ids; for counts, the total of its buckets (as the one "id")."""
    if spec.kind == "counts":
        return [str(sum(b["tweet_count"] for p in pages for b in p.get("data", [])))]
    return data_ids(pages)


def harvest_examples(tmp: Path, specs: list[JobSpec], sandbox: SandboxConfig) -> tuple[RunResult, dict[str, set[str]], int]:
    config = make_config(tmp, workers=4)

    async def main() -> tuple[RunResult, dict[str, set[str]], int]:
        result, sb = await harvest_sandbox(config, specs, sandbox=sandbox)
        # Ask the truth in the same loop, at the clock's time when the harvest ended.
        return result, {s.name: expected_ids(sb, s, tmp=tmp) for s in specs}, sum(sb.stats.too_many.values())

    return run_virtual(main)


def assert_equal_to_truth(tmp: Path, specs: list[JobSpec], result: RunResult, expected: dict[str, set[str]]) -> None:
    assert result.outcome == "complete", (result.stop, [(j.job, j.last_error) for j in result.jobs if j.failed])
    assert {j.job for j in result.jobs} == {s.name for s in specs}
    for spec in specs:
        pages = read_pages(tmp / "out" / f"{spec.name}.jsonl")
        ids = page_ids(spec, pages)
        dups = [i for i, n in Counter(ids).items() if n > 1]
        assert not dups, f"{spec.name}: duplicated ids {dups[:5]}"
        assert set(ids) == expected[spec.name], spec.name
        assert ids, f"{spec.name}: the example job should return data"
        # each (task, page) once
        seen = Counter((p["__harvester"]["task"], p["__harvester"]["page"], bool(p["__harvester"].get("from_cache")))
                       for p in pages)  # fmt: skip
        assert max(seen.values()) == 1


def test_example_jobs_equal_ground_truth(tmp_path: Path) -> None:
    specs = load_jobs([ROOT / "jobs"])
    result, expected, too_many = harvest_examples(tmp_path, specs, SandboxConfig(epoch=EPOCH))
    assert_equal_to_truth(tmp_path, specs, result, expected)
    assert too_many == 0


@pytest.mark.parametrize("quirks", [*([q] for q in QUIRKS), list(QUIRKS)], ids=[*QUIRKS, "all"])
def test_example_jobs_equal_ground_truth_on_a_server_with_quirks(tmp_path: Path, quirks: list[str]) -> None:
    """Each behaviour of another X-like server alone, and all of them together."""
    specs = load_jobs([ROOT / "jobs"])
    result, expected, _ = harvest_examples(tmp_path, specs, SandboxConfig(epoch=EPOCH, quirks=frozenset(quirks)))
    assert_equal_to_truth(tmp_path, specs, result, expected)


# The same jobs under OpenAPI 2.167's names (x-api-spec.md §0): post.fields, referenced_posts, ...
NEW_NAMES = {"tweet_fields": "post_fields"}
NEW_VALUES = {"referenced_tweets.id": "referenced_posts", "edit_history_tweet_ids": "edit_history_post_ids",
              "note_tweet": "note_post"}  # fmt: skip


def with_2167_names(spec: JobSpec) -> JobSpec:
    if "post_fields" not in KIND_FIELDS[spec.kind]:  # lists and counts take no Post fields
        return spec
    fields = tuple(dict.fromkeys(NEW_VALUES.get(f, f) for f in spec.tweet_fields if f != "author_id"))
    expansions = tuple(NEW_VALUES.get(e, e) for e in spec.expansions)
    if spec.kind in ("search", "timeline", "lookup_tweets"):
        expansions = (*expansions, "referenced_posts") if "referenced_posts" not in expansions else expansions
    return replace(spec, tweet_fields=(), post_fields=fields or ("created_at",), expansions=expansions)


def with_2166_names(spec: JobSpec) -> JobSpec:
    if spec.kind in ("search", "timeline", "lookup_tweets"):
        return replace(spec, expansions=tuple(dict.fromkeys((*spec.expansions, "referenced_tweets.id"))))
    return spec


@pytest.mark.parametrize("server", ["2.166", "2.167"])
@pytest.mark.parametrize("names", ["2.166", "2.167"])
def test_jobs_with_either_versions_names_work_against_a_server_of_either_version(
    tmp_path: Path, server: str, names: str
) -> None:
    rename = with_2167_names if names == "2.167" else with_2166_names
    specs = [rename(s) for s in load_jobs([ROOT / "jobs"])]
    config = make_config(tmp_path, workers=4)

    async def main() -> tuple[RunResult, dict[str, set[str]], dict[tuple[str, int], int]]:
        result, sb = await harvest_sandbox(config, specs, sandbox=SandboxConfig(epoch=EPOCH, api_version=server))
        return result, {s.name: expected_ids(sb, s, tmp=tmp_path) for s in specs}, dict(sb.stats.requests)

    result, expected, served = run_virtual(main)
    assert_equal_to_truth(tmp_path, specs, result, expected)
    for route in {t for s in specs for t in kind_routes(s.kind)}:
        renames = result.machine.renamed(route)
        assert len(renames) == len(set(renames)), route  # each name rewritten at most once per route
    if names == server:
        assert not any(status == 400 for (_, status) in served), served  # nothing to rename
    else:
        assert any(result.machine.renamed(r) for r in ("/2/tweets/search/recent", "/2/users/:id/tweets"))


def test_a_jobs_pages_and_items_are_its_written_lines_not_its_username_lookups(tmp_path: Path) -> None:
    spec = JobSpec(name="tl", kind="timeline", usernames=("Tapami820", "Vepa_924"), end_time="2026-11-19T00:00:00Z")

    async def main() -> RunResult:
        result, _ = await harvest_sandbox(make_config(tmp_path), [spec])
        return result

    result = run_virtual(main)
    pages = read_pages(tmp_path / "out" / "tl.jsonl")
    [stats] = result.jobs
    assert (stats.pages, stats.items) == (len(pages), len(data_ids(pages))) == (result.stats.pages, result.stats.items)
