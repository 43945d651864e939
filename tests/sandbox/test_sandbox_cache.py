"""The world's caches stay bounded over a long fast-forwarded run, and eviction changes nothing."""

from __future__ import annotations

from typing import Any

from harvester.sandbox import SandboxConfig
from harvester.sandbox import tables as T
from harvester.sandbox.billing import Ledger
from harvester.sandbox.handlers import Api
from harvester.sandbox.world import HOUR_MS, World, tweet_ms

EPOCH = 1_795_132_800.0
HOUR = 3600


def _api(world: World) -> Api:
    return Api(world, Ledger(world.cfg))


def _first_page(api: Api, route: str, path: dict[str, str], q: dict[str, str], now: float) -> dict[str, Any]:
    return api.dispatch(route, path, q, now).body


def test_month_long_run_is_bounded_and_identical_to_an_unbounded_world() -> None:
    cfg = SandboxConfig(seed=7, epoch=EPOCH, users=120)
    small = World(cfg, cache_posts=8000, count_hours=24 * 40)
    big = World(cfg)
    a, b = _api(small), _api(big)
    quiet = min(small.users, key=lambda u: u.rate).id
    busy = small.users[0].id
    popular = max(small.users, key=lambda u: u.popularity).id
    for step in range(0, 30 * 24, 8):  # a month, every 8 hours
        now = EPOCH + step * HOUR + 11.0
        for route, path, q in (
            (T.USER_TWEETS, {"id": quiet}, {"max_results": "100"}),
            (T.USER_TWEETS, {"id": busy}, {"max_results": "100", "exclude": "replies"}),
            (T.USER_MENTIONS, {"id": popular}, {"max_results": "100"}),
            (T.SEARCH_RECENT, {}, {"query": f"{small.vocab[400]} OR {small.vocab[2]}", "max_results": "10"}),
        ):
            assert _first_page(a, route, path, q, now) == _first_page(b, route, path, q, now)
        assert small._cached_posts <= 8000  # the budget
        assert sum(len(h.tweets) for h in small._cache.values()) == small._cached_posts
        assert len(small._counts) <= 24 * 40
    assert len(small._cache) < len(big._cache) // 2
    assert min(small._cache) > int(EPOCH * 1000) // HOUR_MS + 15 * 24  # old hours are gone
    assert int(now * 1000) // HOUR_MS in small._cache
    # Going back to the first days regenerates evicted hours, to the same posts.
    before = small.generated
    old = _first_page(b, T.USER_TWEETS, {"id": busy}, {"max_results": "100", "end_time": "2026-11-19T00:00:00Z"},
                      EPOCH)  # fmt: skip
    q = {"ids": ",".join(d["id"] for d in old["data"]), "tweet.fields": "created_at,entities"}
    assert _first_page(a, T.TWEETS, {}, q, now) == _first_page(b, T.TWEETS, {}, q, now)
    assert small.generated > before


def test_counts_are_bounded_and_retaken_when_dropped() -> None:
    world = World(SandboxConfig(seed=7, epoch=EPOCH, users=50), cache_posts=500, count_hours=48)
    h0 = world.start_ms // HOUR_MS
    first = world.counts(h0)
    for h in range(h0, h0 + 100):
        world.counts(h)
    assert len(world._counts) == 48 and h0 not in world._counts and len(world._cache) < 100
    assert world.counts(h0) == first


def test_warm_requests_generate_nothing_and_skip_empty_hours() -> None:
    cfg = SandboxConfig(seed=7, epoch=EPOCH)
    world = World(cfg)
    api = _api(world)
    quiet = min(world.users, key=lambda u: u.rate).id
    now = EPOCH + 20 * 86400
    q: dict[str, str] = {"max_results": "100"}
    first = _first_page(api, T.USER_TWEETS, {"id": quiet}, q, now)
    hours = world.generated
    assert hours >= 28 * 24  # the first request had to take every hour's counts once
    # Drop every post but keep the counts: a quiet user's timeline then reads only its own hours.
    world._cache.clear()
    world._cached_posts = 0
    assert _first_page(api, T.USER_TWEETS, {"id": quiet}, q, now) == first
    own = {int(d["id"]) for d in first.get("data", [])}
    read = {tweet_ms(i) // HOUR_MS for i in own} | {int(now * 1000) // HOUR_MS}  # + the current hour
    assert world.generated - hours == len(read)
    hours = world.generated
    search = {"query": "qiqipa", "max_results": "100"}
    page = _first_page(api, T.SEARCH_RECENT, {}, search, now)
    assert world.generated - hours <= 7 * 24 + 1
    hours = world.generated
    assert _first_page(api, T.SEARCH_RECENT, {}, search, now) == page and world.generated == hours
