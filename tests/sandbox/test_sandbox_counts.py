"""``GET /2/tweets/counts/recent``: bounds, totals equal to the truth, per-request billing."""

from __future__ import annotations

from itertools import pairwise

from sbhelp import Client, drive

from harvester.sandbox import Sandbox, SandboxConfig

COUNTS = "/2/tweets/counts/recent"
EPOCH = 1_795_132_800.0  # 2026-11-20T00:00:00Z


def test_bounds_and_auth() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        word = sb.truth.sample_queries().common
        assert (await c.get(COUNTS, {})).status == 400
        assert (await c.get(COUNTS, {"query": "a" * 513})).status == 400
        assert (await c.get(COUNTS, {"query": "a" * 512})).status == 200
        r = await c.get(COUNTS, {"query": word, "granularity": "week"})
        assert r.status == 400 and "granularity" in r.body["errors"][0]["parameters"]
        r = await c.get(COUNTS, {"query": word, "max_results": "10"})
        assert r.status == 400
        r = await c.get(COUNTS, {"query": word, "start_time": "2026-11-01T00:00:00Z"})
        assert r.status == 400 and "must be on or after" in r.body["errors"][0]["message"]
        r = await c.get(COUNTS, {"query": word, "next_token": "x", "pagination_token": "x"})
        assert r.status == 400 and "At most one" in r.body["errors"][0]["message"]
        assert (await c.get(COUNTS, {"query": word, "next_token": "bogus"})).status == 400
        r = await c.get(COUNTS, {"query": word}, token="user")
        assert r.status == 403 and r.body["type"].endswith("/2/problems/unsupported-authentication")
        r = await c.get(COUNTS, {"query": word})
        assert r.status == 200 and r.headers["x-rate-limit-limit"] == "300"
        assert "next_token" not in r.body["meta"]

    drive(SandboxConfig(epoch=EPOCH), body,
          setup=lambda sb: sb.add_oauth2_user_token("user", sb.truth.users_list()[0].id))  # fmt: skip


def test_totals_equal_truth_at_every_granularity() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        qs = sb.truth.sample_queries()
        windows: list[dict[str, str]] = [
            {},
            {"start_time": "2026-11-15T06:30:00Z", "end_time": "2026-11-18T12:00:00Z"},
            {"start_time": "2026-11-19T22:17:00Z", "end_time": "2026-11-19T23:45:10Z"},
        ]
        for query in (qs.common, qs.rare, qs.from_active, qs.mention_popular, f"{qs.common} OR {qs.rare}"):
            for w in windows:
                truth = sb.truth.search(query, w.get("start_time"), w.get("end_time"))
                for gran in ("day", "hour", "minute"):
                    r = await c.get(COUNTS, {"query": query, "granularity": gran, **w})
                    assert r.status == 200, r.body
                    data = r.body["data"]
                    assert r.body["meta"]["total_tweet_count"] == len(truth), (query, w, gran)
                    assert sum(b["tweet_count"] for b in data) == len(truth)
                    for a, b in pairwise(data):
                        assert a["end"] == b["start"]
                    if "start_time" in w:
                        assert data[0]["start"] == w["start_time"].replace("Z", ".000Z")
                        assert data[-1]["end"] == w["end_time"].replace("Z", ".000Z")
                    if gran == "hour" and "start_time" not in w:
                        assert all(b["start"].endswith(":00:00.000Z") for b in data[1:])
                        assert len(data) in (168, 169)

    drive(SandboxConfig(epoch=EPOCH), body)


def test_bucket_counts_match_truth_per_bucket() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        word = sb.truth.sample_queries().common
        r = await c.get(COUNTS, {"query": word, "granularity": "day"})
        for b in r.body["data"]:
            assert b["tweet_count"] == len(sb.truth.search(word, b["start"], b["end"]))

    drive(SandboxConfig(epoch=EPOCH), body)


def test_billed_per_request() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        word = sb.truth.sample_queries().common
        for i in range(3):
            r = await c.get(COUNTS, {"query": word, "granularity": "day"})
            assert r.status == 200
            assert abs(sb.ledger.total_usd - 0.005 * (i + 1)) < 1e-12
        assert sb.ledger.count("counts_request") == 3 and sb.ledger.count("post") == 0
        assert sb.ledger.by_route() == {COUNTS: 0.015}
        await c.get(COUNTS, {"query": word, "granularity": "fortnight"})  # 400: not billed
        assert sb.ledger.count("counts_request") == 3
        usage = await c.get("/2/usage/tweets", {"usage.fields": "project_usage"})
        assert usage.body["data"]["project_usage"] == "0"  # counts return no posts

    drive(SandboxConfig(epoch=EPOCH), body)
