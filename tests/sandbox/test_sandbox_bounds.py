"""Parameter bounds and whole-request error bodies (§1, §2.3)."""

from __future__ import annotations

from sbhelp import Client, drive

from harvester.sandbox import Sandbox, SandboxConfig

INVALID = "https://api.twitter.com/2/problems/invalid-request"


def _check_400(r: object, param: str) -> None:
    assert r.status == 400, r.body  # type: ignore[attr-defined]
    body = r.body  # type: ignore[attr-defined]
    assert body["title"] == "Invalid Request"
    assert body["type"] == INVALID
    assert body["detail"] == "One or more parameters to your request was invalid."
    assert any(param in e["parameters"] for e in body["errors"])
    assert all(set(e) == {"parameters", "message"} for e in body["errors"])


def test_bounds_give_400_bodies() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        uid = sb.truth.most_active(1)[0].id
        r = await c.get(f"/2/users/{uid}/tweets", {"max_results": "0"})
        _check_400(r, "max_results")
        assert r.body["errors"][0] == {
            "parameters": {"max_results": ["0"]},
            "message": "The `max_results` query parameter value [0] is not between 5 and 100",
        }
        _check_400(await c.get(f"/2/users/{uid}/tweets", {"max_results": "101"}), "max_results")
        assert (await c.get(f"/2/users/{uid}/tweets", {"max_results": "5"})).status == 200
        _check_400(await c.get("/2/tweets/search/recent", {"query": "a", "max_results": "9"}), "max_results")
        assert (await c.get("/2/tweets/search/all", {"query": "a", "max_results": "500"})).status == 200
        _check_400(await c.get(f"/2/users/{uid}/followers", {"max_results": "1001"}), "max_results")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "a", "bogus": "1"}), "bogus")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "a", "tweet.fields": "nope"}), "tweet.fields")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "a", "expansions": "nope"}), "expansions")
        r = await c.get("/2/tweets/search/recent", {"query": "a", "post.fields": "created_at"})
        assert r.status == 200
        _check_400(await c.get("/2/tweets/search/recent", {"query": "x" * 513}), "query")
        await c.clock.sleep(1)
        assert (await c.get("/2/tweets/search/all", {"query": "x" * 513})).status == 200
        await c.clock.sleep(1)
        _check_400(await c.get("/2/tweets/search/all", {"query": "x" * 1025}), "query")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "a", "next_token": "x", "pagination_token": "y"}),
                   "next_token")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "a", "start_time": "2026-09-21T10:00:00+00:00"}),
                   "start_time")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "a", "start_time": "2020-01-01T00:00:00Z"}),
                   "start_time")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "a", "next_token": "garbage"}), "next_token")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "(a"}), "query")
        _check_400(await c.get("/2/tweets/search/recent", {"query": "-a"}), "query")
        _check_400(await c.get("/2/tweets/search/recent"), "query")
        _check_400(await c.get("/2/tweets", {"ids": ",".join(str(i) for i in range(1, 102))}), "ids")
        _check_400(await c.get("/2/tweets", {"ids": "abc"}), "ids")
        _check_400(await c.get("/2/users/by", {"usernames": "bad-name!"}), "usernames")
        _check_400(await c.get("/2/users/abc"), "id")
        _check_400(await c.get("/2/usage/tweets", {"days": "91"}), "days")
        r = await c.get("/2/nope")
        assert r.status == 404 and r.headers["Date"].endswith("GMT")

    drive(SandboxConfig(), body)


def test_auth_errors() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        r = await c.get("/2/tweets/search/recent", {"query": "a"}, token=None)
        assert r.status == 401
        assert r.body == {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
        assert (await c.get("/2/tweets/search/recent", {"query": "a"}, token="wrong")).status == 401
        r = await c.get("/2/tweets/search/all", {"query": "a"}, token="user2")
        assert r.status == 403
        assert r.body["type"].endswith("/2/problems/unsupported-authentication")
        assert (await c.get("/2/tweets/search/recent", {"query": "a"}, token="user2")).status == 200

    drive(SandboxConfig(), body, setup=lambda sb: sb.add_oauth2_user_token("user2", sb.truth.users_list()[0].id))


def test_empty_result_body_is_exact() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        r = await c.get("/2/tweets/search/recent", {"query": "zzzznotaword"})
        assert r.status == 200 and r.body == {"meta": {"result_count": 0}}

    drive(SandboxConfig(), body)
