"""Each quirk alone does what it says; with every quirk on, a careful client still gets the truth.

``alt_400_text`` and ``strict_param_names`` are tested with the API versions (test_openapi.py),
``shrinking_windows`` with the other limit changes (test_sandbox_limit_changes.py).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from sbhelp import Client, Reply, drive

from harvester.sandbox import Sandbox, SandboxConfig
from harvester.sandbox.quirks import QUIRKS

SEARCH = "/2/tweets/search/recent"
BY_NAME = "/2/users/by/username/"


def _on(*names: str, **kw: Any) -> SandboxConfig:
    return SandboxConfig(quirks=frozenset(names), **kw)


def test_every_quirk_is_listed_with_a_one_line_description() -> None:
    assert set(QUIRKS) == {
        "sliding_windows", "hidden_per_second", "no_newest_id", "drop_unknown_ids", "shared_limit",
        "ignore_next_token", "random_order", "empty_newest_id", "alt_400_text", "strict_param_names",
        "shrinking_windows"}  # fmt: skip
    assert all(d and "\n" not in d for d in QUIRKS.values())
    assert SandboxConfig().quirks == frozenset()
    assert SandboxConfig(quirks=frozenset(QUIRKS)).quirks == frozenset(QUIRKS)


def _reset_ok(r: Reply, now: float, window: float) -> bool:
    """``x-rate-limit-reset`` is now + window, rounded up (a request takes a few virtual ms)."""
    return math.ceil(now + window) <= int(r.headers["x-rate-limit-reset"]) <= math.ceil(now + window) + 1


@pytest.mark.parametrize("sliding", [False, True])
def test_sliding_windows(sliding: bool) -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        t0 = c.clock.now()
        for i in range(3):
            now = c.clock.now()
            r = await c.get(BY_NAME + name)
            assert r.status == 200 and r.headers["x-rate-limit-remaining"] == str(2 - i)
            assert _reset_ok(r, now if sliding else t0, 10)
            await c.clock.sleep(2)
        now = c.clock.now()
        r = await c.get(BY_NAME + name)  # t0 + 6: three in the last 10 s either way
        assert r.status == 429 and r.headers["x-rate-limit-remaining"] == "0"
        assert _reset_ok(r, now if sliding else t0, 10)
        await c.clock.sleep_until(t0 + 10.5)  # a fixed window has reset; two of three still trail
        r = await c.get(BY_NAME + name)
        assert r.status == 200
        assert r.headers["x-rate-limit-remaining"] == ("0" if sliding else "2")
        r = await c.get(BY_NAME + name)
        assert r.status == (429 if sliding else 200)
        await c.clock.sleep_until(t0 + 12.5)  # the request at t0 + 2 has left the trailing window
        assert (await c.get(BY_NAME + name)).status == 200
        assert sb.stats.max_allowed(f"{BY_NAME}:username app") <= 3

    drive(_on(*(["sliding_windows"] if sliding else []), window_seconds=10,
              limit_overrides={BY_NAME + ":username": (3, 3)}), body)  # fmt: skip


def test_hidden_per_second_on_every_route() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        q = {"query": sb.truth.sample_queries().rare}
        sb.truth.search(q["query"])  # the world's last 7 days generated now, not inside the timed requests
        for path, params in ((BY_NAME + name, None), (SEARCH, q), ("/2/usage/tweets", None)):
            assert (await c.get(path, params)).status == 200
            r = await c.get(path, params)
            assert r.status == 429 and int(r.headers["x-rate-limit-remaining"]) > 0
            assert r.body == {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                              "status": 429}  # fmt: skip
            await c.clock.sleep(0.5)
            assert (await c.get(path, params)).status == 429
            await c.clock.sleep(0.6)
            assert (await c.get(path, params)).status == 200

    drive(_on("hidden_per_second"), body)
    # Off: back-to-back requests are fine on every route but full-archive search.
    drive(SandboxConfig(), _back_to_back_ok)


async def _back_to_back_ok(sb: Sandbox, c: Client) -> None:
    name = sb.truth.users_list()[0].username
    assert [(await c.get(BY_NAME + name)).status for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("route", ["tweets", "mentions"])
def test_no_newest_id_on_timelines(route: str) -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        user = (sb.truth.most_active if route == "tweets" else sb.truth.most_followed)(1)[0]
        ids, bodies = await c.pages(f"/2/users/{user.id}/{route}", {"max_results": "100"})
        assert len(bodies) > 1 and all("newest_id" not in b["meta"] and "oldest_id" not in b["meta"] for b in bodies)
        truth = sb.truth.timeline(user.id) if route == "tweets" else sb.truth.mentions(user.id)
        assert ids == truth
        r = await c.get(SEARCH, {"query": sb.truth.sample_queries().common})
        assert "newest_id" in r.body["meta"]  # search keeps them

    drive(_on("no_newest_id"), body)


@pytest.mark.parametrize("quirk", [False, True])
def test_drop_unknown_ids(quirk: bool) -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        real = sb.truth.search(sb.truth.sample_queries().common)[:2]
        r = await c.get("/2/tweets", {"ids": ",".join([real[0], "20", real[1]])})
        assert [d["id"] for d in r.body["data"]] == real
        assert ("errors" in r.body) is not quirk
        r = await c.get("/2/tweets", {"ids": "20,21"})
        assert r.body == ({"data": []} if quirk else {"errors": r.body["errors"]}) and r.status == 200
        user = sb.truth.users_list()[0]
        r = await c.get("/2/users", {"ids": f"1,{user.id}"})
        assert [d["id"] for d in r.body["data"]] == [user.id] and ("errors" in r.body) is not quirk
        r = await c.get("/2/users/by", {"usernames": f"nobody_here,{user.username}"})
        assert [d["id"] for d in r.body["data"]] == [user.id] and ("errors" in r.body) is not quirk
        r = await c.get("/2/users/by/username/nobody_here")  # a single lookup has nothing else to say
        assert set(r.body) == {"errors"}
        assert sb.truth.tweets([real[0], "20", real[1]]) == real

    drive(_on(*(["drop_unknown_ids"] if quirk else [])), body)


def test_shared_limit() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        user = sb.truth.most_followed(1)[0]
        paths = [f"/2/users/{user.id}", BY_NAME + user.username, f"/2/users/{user.id}/followers",
                 "/2/users/by?usernames=" + user.username]  # fmt: skip
        for i, path in enumerate(paths):
            r = await c.get(path)
            assert r.status == 200 and r.headers["x-rate-limit-limit"] == "4"
            assert r.headers["x-rate-limit-remaining"] == str(3 - i)
        r = await c.get(f"/2/users/{user.id}/following")
        assert r.status == 429 and r.headers["x-rate-limit-remaining"] == "0"
        assert sb.stats.max_allowed("/2/users/* app") == 4 and sb.stats.too_many["/2/users/* app"] == 1
        r = await c.get(SEARCH, {"query": sb.truth.sample_queries().rare})  # other routes keep their own
        assert r.status == 200 and r.headers["x-rate-limit-limit"] == "450"

    # The shared bucket allows the smallest limit of its routes.
    drive(_on("shared_limit", limit_overrides={"/2/users/:id/following": (4, 4)}), body)


def test_ignore_next_token() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = {"query": sb.truth.sample_queries().common, "max_results": "10"}
        truth = sb.truth.search(q["query"])
        first = (await c.get(SEARCH, q)).body
        ids = [d["id"] for d in first["data"]]
        assert ids == truth[:10]
        tokens = {first["meta"]["next_token"]}
        for name in ("next_token", "pagination_token", "next_token"):
            again = (await c.get(SEARCH, {**q, name: first["meta"]["next_token"]})).body
            assert [d["id"] for d in again["data"]] == ids
            assert again["meta"]["next_token"] not in tokens
            tokens.add(again["meta"]["next_token"])
        # until_id (and since_id) are honoured: paging by until_id reaches every post once.
        got, until = list(ids), first["meta"]["oldest_id"]
        while True:
            page = (await c.get(SEARCH, {**q, "max_results": "100", "until_id": until})).body
            if not page.get("data"):
                break
            got += [d["id"] for d in page["data"]]
            until = page["meta"]["oldest_id"]
        assert got == truth
        since = (await c.get(SEARCH, {**q, "since_id": truth[5]})).body
        assert [d["id"] for d in since["data"]] == truth[:5] and "next_token" not in since["meta"]

    drive(_on("ignore_next_token"), body)


def test_random_order() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = {"query": sb.truth.sample_queries().common, "max_results": "100"}
        ids, bodies = await c.pages(SEARCH, q, "next_token")
        truth = sb.truth.search(q["query"])
        assert len(ids) == len(set(ids)) and set(ids) == set(truth)
        unsorted = 0
        for b in bodies:
            page = [int(d["id"]) for d in b["data"]]
            unsorted += page != sorted(page, reverse=True)
            assert b["meta"]["newest_id"] == str(max(page)) and b["meta"]["oldest_id"] == str(min(page))
        assert unsorted == len(bodies)
        # Pages partition the results exactly as they do in order: the same ids on the same page.
        chunks = [truth[i : i + 100] for i in range(0, len(truth), 100)]
        assert [sorted(d["id"] for d in b["data"]) for b in bodies] == [sorted(ch) for ch in chunks]
        again = (await c.get(SEARCH, q)).body
        assert again["data"] == bodies[0]["data"]  # seeded: the same page, the same order
        top = sb.truth.most_followed(1)[0]
        fids, _ = await c.pages(f"/2/users/{top.id}/followers", {"max_results": "100"})
        assert sorted(fids) == sorted(sb.truth.followers(top.id)) and fids != sb.truth.followers(top.id)

    drive(_on("random_order"), body)


def test_empty_newest_id() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        r = await c.get(SEARCH, {"query": "zzznotaword"})
        assert r.status == 200 and r.body == {"meta": {"result_count": 0, "newest_id": ""}}
        user = sb.truth.most_active(1)[0]
        newest = sb.truth.timeline(user.id)[0]
        r = await c.get(f"/2/users/{user.id}/tweets", {"since_id": newest})
        assert r.body == {"meta": {"result_count": 0, "newest_id": ""}}

    drive(_on("empty_newest_id"), body)


async def _patient(c: Client, path: str, params: dict[str, str] | None = None) -> Reply:
    """A careful client: waits out every rate-limit 429 (its reset, or a second when remaining > 0)."""
    while True:
        r = await c.get(path, params)
        if r.status != 429:
            return r
        if int(r.headers.get("x-rate-limit-remaining", "0")) > 0:
            await c.clock.sleep(1.0)
        else:
            await c.clock.sleep_until(int(r.headers["x-rate-limit-reset"]))


def test_all_quirks_on_a_careful_client_gets_the_truth() -> None:
    """until_id paging, sets not orders, ids from the data: what every quirk allows."""

    async def body(sb: Sandbox, c: Client) -> None:
        sq = sb.truth.sample_queries()
        at = c.clock.now()
        for query in (sq.common, sq.rare, f"{sq.rare} -is:retweet", sq.mention_popular):
            start, end = float(int(at - 6 * 86400)), float(int(at - 30))
            truth = sb.truth.search(query, start, end, at=at)
            got: list[str] = []
            params = {"query": query, "max_results": "100", "start_time": _iso(start), "end_time": _iso(end)}
            while True:
                r = await _patient(c, SEARCH, params)
                assert r.status == 200, r.body
                page = [d["id"] for d in r.body.get("data", [])]
                if not page:
                    break
                got += page
                params.pop("end_time", None)  # "at most one of end_time, until_id"
                params["until_id"] = min(page, key=int)
            assert sorted(got, key=int, reverse=True) == truth and len(got) == len(set(got))
        user = sb.truth.most_active(1)[0]
        truth = sb.truth.timeline(user.id, None, float(int(at)), at=at)
        got, token = [], None
        while True:
            p = {"max_results": "100", "end_time": _iso(at)}
            if token:
                p["pagination_token"] = token
            r = await _patient(c, f"/2/users/{user.id}/tweets", p)
            got += [d["id"] for d in r.body.get("data", [])]
            token = r.body["meta"].get("next_token")
            if not token:
                break
        assert sorted(got, key=int, reverse=True) == truth
        r = await _patient(c, "/2/tweets", {"ids": ",".join([*truth[:3], "20"])})
        assert sorted(d["id"] for d in r.body["data"]) == sorted(sb.truth.tweets([*truth[:3], "20"]))

    drive(SandboxConfig(quirks=frozenset(QUIRKS), window_seconds=30,
                        limit_overrides={SEARCH: (5, 5), "/2/users/:id/tweets": (5, 5)}), body)  # fmt: skip


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(t), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
