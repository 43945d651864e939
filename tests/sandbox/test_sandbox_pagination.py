"""Paging is complete, duplicate-free and stable while new posts keep arriving."""

from __future__ import annotations

from sbhelp import Client, drive

from harvester.sandbox import Sandbox, SandboxConfig


def test_search_harvest_equals_truth_while_time_passes() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = sb.truth.sample_queries().common
        at = c.clock.now()
        truth = sb.truth.search(q, at=at)
        assert len(truth) > 300
        # 90 s between pages: new posts arrive meanwhile, yet the harvest is the snapshot at `at`.
        ids, bodies = await c.pages("/2/tweets/search/recent", {"query": q, "max_results": "100"},
                                    "next_token", between=90)
        assert ids == truth and len(set(ids)) == len(ids)
        assert "next_token" not in bodies[-1]["meta"]
        assert all("previous_token" not in b["meta"] for b in bodies)
        assert sb.truth.search(q) != truth  # the world did move on
        m = bodies[0]["meta"]
        assert m["newest_id"] == ids[0] and m["result_count"] == 100

    drive(SandboxConfig(), body)


def test_search_time_range_and_operators_on_archive() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        sq = sb.truth.sample_queries()
        start, end = "2026-09-15T00:00:00Z", "2026-09-20T12:00:00Z"
        for q in (sq.rare, sq.from_active, sq.mention_popular, f"({sq.rare} OR {sq.common}) -{sq.from_active}"):
            await c.clock.sleep(1)
            truth = sb.truth.search(q, start, end, archive=True)
            ids, _ = await c.pages("/2/tweets/search/all",
                                   {"query": q, "max_results": "500", "start_time": start, "end_time": end},
                                   "pagination_token", between=1)
            assert ids == truth, q
            assert ids

    drive(SandboxConfig(), body)


def test_same_token_same_page_and_includes() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = sb.truth.sample_queries().common
        p = {"query": q, "expansions": "author_id", "tweet.fields": "author_id,created_at"}
        first = (await c.get("/2/tweets/search/recent", p)).body
        tok = first["meta"]["next_token"]
        await c.clock.sleep(600)
        a = (await c.get("/2/tweets/search/recent", {**p, "next_token": tok})).body
        b = (await c.get("/2/tweets/search/recent", {**p, "pagination_token": tok})).body
        assert a == b
        users = [u["id"] for u in a["includes"]["users"]]
        assert len(users) == len(set(users))
        assert {d["author_id"] for d in a["data"]} == set(users)

    drive(SandboxConfig(), body)


def test_timeline_and_mentions_equal_truth() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        active = sb.truth.most_active(1)[0]
        ids, bodies = await c.pages(f"/2/users/{active.id}/tweets", {"max_results": "100"}, between=30)
        assert ids == sb.truth.timeline(active.id, at=c.clock.now() - 30 * (len(bodies) - 1))
        assert len(ids) > 300
        assert "previous_token" in bodies[1]["meta"] and "previous_token" not in bodies[0]["meta"]
        # previous_token from page 2 gives page 1 back.
        prev = bodies[1]["meta"]["previous_token"]
        back = (await c.get(f"/2/users/{active.id}/tweets", {"max_results": "100", "pagination_token": prev})).body
        assert [d["id"] for d in back["data"]] == ids[:100]
        popular = sb.truth.most_followed(1)[0]
        mids, _ = await c.pages(f"/2/users/{popular.id}/mentions", {"max_results": "100"})
        assert mids == sb.truth.mentions(popular.id) and mids

    drive(SandboxConfig(), body)


def test_timeline_depth_cap() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        active = sb.truth.most_active(1)[0]
        ids, _ = await c.pages(f"/2/users/{active.id}/tweets", {"max_results": "100"})
        assert len(ids) == 3200 and ids == sb.truth.timeline(active.id)
        # exclude=replies: "only the most recent 800 Posts are available" (X's timelines guide),
        # of which the replies are left out; the cap counts every post, the exclusion applies within.
        ids, _ = await c.pages(f"/2/users/{active.id}/tweets", {"max_results": "100", "exclude": "replies"})
        newest_800 = sb.truth.timeline(active.id)[:800]
        kinds = {t: sb.world.get_tweet(int(t)).kind for t in newest_800}  # type: ignore[union-attr]
        assert ids == [t for t in newest_800 if kinds[t] != "replied_to"]
        assert 600 < len(ids) < 800 and ids == sb.truth.timeline(active.id, exclude_replies=True)
        ids, _ = await c.pages(f"/2/users/{active.id}/tweets",
                               {"max_results": "100", "exclude": "retweets,replies"})  # fmt: skip
        assert ids == [t for t in newest_800 if kinds[t] not in ("replied_to", "retweeted")]
        assert ids == sb.truth.timeline(active.id, exclude_replies=True, exclude_retweets=True)

    drive(SandboxConfig(users=50, history_days=20, limit_overrides={}), body)


def test_followers_pages_equal_truth() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        top = sb.truth.most_followed(1)[0]
        assert top.followers > 2000
        ids, bodies = await c.pages(f"/2/users/{top.id}/followers", {"max_results": "1000"})
        assert ids == sb.truth.followers(top.id) and len(bodies) >= 3
        assert set(bodies[1]["meta"]) == {"result_count", "next_token", "previous_token"}
        fids, _ = await c.pages(f"/2/users/{top.id}/following", {"max_results": "7"})
        assert fids == sb.truth.following(top.id)

    drive(SandboxConfig(users=3000, history_days=1), body)


def test_lookups_with_partial_errors() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = sb.truth.sample_queries().common
        real = sb.truth.search(q)[:3]
        r = await c.get("/2/tweets", {"ids": ",".join([*real, "20"]), "expansions": "author_id"})
        assert r.status == 200
        assert [d["id"] for d in r.body["data"]] == real
        assert r.body["errors"] == [{
            "value": "20", "detail": "Could not find tweet with ids: [20].", "title": "Not Found Error",
            "resource_type": "tweet", "parameter": "ids", "resource_id": "20",
            "type": "https://api.twitter.com/2/problems/resource-not-found"}]
        assert "meta" not in r.body and "users" in r.body["includes"]
        r = await c.get("/2/tweets", {"ids": "20,21"})
        assert r.status == 200 and set(r.body) == {"errors"}
        r = await c.get(f"/2/tweets/{real[0]}", {"tweet.fields": "created_at"})
        assert r.body["data"]["id"] == real[0] and "created_at" in r.body["data"]
        users = sb.truth.users_list()[:2]
        r = await c.get("/2/users", {"ids": f"{users[0].id},1", "user.fields": "public_metrics"})
        assert [d["id"] for d in r.body["data"]] == [users[0].id]
        assert r.body["data"][0]["public_metrics"]["followers_count"] == users[0].followers
        assert r.body["errors"][0]["detail"] == "Could not find user with ids: [1]."
        r = await c.get("/2/users/by", {"usernames": f"{users[1].username},nobody_here"})
        assert r.body["data"][0]["id"] == users[1].id
        assert r.body["errors"][0]["detail"] == "Could not find user with usernames: [nobody_here]."
        r = await c.get(f"/2/users/by/username/{users[1].username.upper()}")
        assert r.body["data"]["username"] == users[1].username
        r = await c.get("/2/users/by/username/nobody_here")
        assert r.body["errors"][0]["detail"] == "Could not find user with username: [nobody_here]."
        assert sb.truth.tweets([*real, "20"]) == real
        assert sb.truth.users([users[0].id, "1"]) == [users[0].id]

    drive(SandboxConfig(), body)
