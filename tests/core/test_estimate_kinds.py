"""The planner knows every kind: requests, resources, cost (expected and worst) and time at the
rate limits; full-archive reads are planned at 500 a page and one request a second."""

from __future__ import annotations

import pytest

from harvester.core import pricing
from harvester.core.endpoints import ENDPOINTS, KIND_INPUT
from harvester.core.estimate import Volume, bucket_time, estimate_job
from harvester.core.model import KINDS, JobSpec


def _spec(kind: str, **kw: object) -> JobSpec:
    inputs: dict[str, object] = {
        "query": {"query": "q"}, "users": {"user_ids": ("1", "2")}, "tweets": {"tweet_ids": ("5", "6", "7")},
        "lists": {"list_ids": ("9",)},
    }.get(KIND_INPUT[kind], {"tweet_ids": tuple(str(i) for i in range(250))} if kind == "lookup_tweets"
          else {"user_ids": tuple(str(i) for i in range(150))})  # fmt: skip
    auth = "me" if ENDPOINTS[_route(kind)].app_limit is None else "app"
    return JobSpec(name=kind, kind=kind, auth=auth, **{**inputs, **kw})  # type: ignore[arg-type]


def _route(kind: str) -> str:
    from harvester.core.endpoints import KIND_ENDPOINT

    return KIND_ENDPOINT[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_plan_with_a_volume(kind: str) -> None:
    spec = _spec(kind)
    e = estimate_job(spec, Volume(items=1_000))
    assert e.route == _route(kind)
    assert e.requests_expected is not None and e.requests_expected >= 1
    assert e.cost_expected is not None and e.cost_expected > 0
    ep = ENDPOINTS[e.route]
    assert e.capped_posts == (e.resources_expected if ep.capped else 0)
    [bucket] = [b for b in bucket_time([e], {kind: spec}) if b.route == e.route]
    assert bucket.requests == e.requests_expected and bucket.seconds >= 0


def test_bounded_kinds_have_a_worst_case_without_a_volume() -> None:
    lists = estimate_job(_spec("list_tweets"), None)
    assert (lists.resources_worst, lists.requests_worst) == (800, 8)  # a list's 800 newest posts
    assert lists.cost_worst == 8 * 100 * pricing.DEFAULT_PRICES.post
    pinned = estimate_job(_spec("pinned_lists"), None)
    assert pinned.resources_worst == 10 and pinned.requests_worst == 2
    lookups = estimate_job(_spec("lookup_tweets"), None)
    assert (lookups.resources_worst, lookups.requests_worst) == (250, 3)
    assert estimate_job(_spec("liked_tweets"), None).resources_worst is None  # unbounded: unknown
    limited = estimate_job(_spec("liked_tweets", limit=420, max_results=100), None)
    assert limited.resources_worst == 420 and limited.requests_worst == 5


def test_counts_cost_per_request_and_archive_counts_page_by_31_days() -> None:
    recent = estimate_job(_spec("counts", granularity="day"), None)
    assert (recent.requests_expected, recent.cost_expected, recent.resources_expected) == (1, 5_000, 7)
    archive = estimate_job(_spec("counts", archive=True, start_time="2026-01-01T00:00:00Z",
                                 end_time="2026-04-01T00:00:00Z"), None)
    assert archive.route == "/2/tweets/counts/all"
    assert (archive.requests_expected, archive.cost_expected) == (3, 30_000)  # 90 days: 3 pages of 31


def test_owned_reads_are_planned_at_the_owned_price() -> None:
    spec = _spec("bookmarks", user_ids=("42",))
    owned = estimate_job(spec, Volume(items=100), owner_id="42")
    other = estimate_job(spec, Volume(items=100), owner_id="7")
    assert owned.cost_expected == 100 * pricing.DEFAULT_PRICES.owned_read
    assert other.cost_expected == 100 * pricing.DEFAULT_PRICES.post


@pytest.mark.parametrize("kind", ["search", "conversation"])
def test_archive_is_planned_at_500_a_page_and_one_request_a_second(kind: str) -> None:
    spec = _spec(kind, archive=True)
    e = estimate_job(spec, Volume(items=600_000 if kind == "search" else 5_000))
    assert e.route == "/2/tweets/search/all"
    sources = 1 if kind == "search" else 3
    assert e.requests_expected == max(sources, -(-e.resources_expected // 500))  # type: ignore[operator]
    [b] = bucket_time([e], {kind: spec})
    assert b.seconds >= b.requests / 1.0  # the hidden 1 request/s limiter
    if kind == "search":
        assert b.requests == 1_200 and b.seconds == 3 * 900  # 300 a window binds: 4 windows
