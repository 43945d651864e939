"""Ledger: per-resource prices, UTC-day dedup, owned reads, 402, post cap and /2/usage/tweets."""

from __future__ import annotations

from sbhelp import Client, drive

from harvester.sandbox import Sandbox, SandboxConfig

EPOCH = 1_790_035_200.0 - 3600  # 23:00 UTC, an hour before midnight


def test_dedup_within_day_and_again_after_midnight() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        uid = sb.truth.most_active(1)[0].id
        p = {"max_results": "50"}
        await c.get(f"/2/users/{uid}/tweets", p)
        assert sb.ledger.total_usd == 50 * 0.005
        await c.get(f"/2/users/{uid}/tweets", p)
        assert sb.ledger.count("post") == 50
        r = await c.get("/2/users", {"ids": uid})
        assert r.status == 200 and sb.ledger.count("user") == 1
        await c.get(f"/2/users/{uid}/followers", {"max_results": "10"})
        assert sb.ledger.count("follow") == min(10, len(sb.truth.followers(uid)))
        await c.clock.sleep(3600 + 5)
        before = sb.ledger.count("post")
        r = await c.get(f"/2/users/{uid}/tweets", {"max_results": "50", "end_time": "2026-09-21T23:00:00Z"})
        assert sb.ledger.count("post") == before + 50
        assert len(sb.ledger.by_day()) == 2
        assert set(sb.ledger.by_route()) >= {"/2/users/:id/tweets", "/2/users", "/2/users/:id/followers"}
        empty = await c.get("/2/tweets/search/recent", {"query": "zzznothing"})
        assert empty.body == {"meta": {"result_count": 0}} and len(sb.ledger.charges) == before + 50 + 1 + 10

    drive(SandboxConfig(epoch=EPOCH), body)


def test_owned_reads_and_includes() -> None:
    owner_holder: list[str] = []

    async def body(sb: Sandbox, c: Client) -> None:
        owner = owner_holder[0]
        await c.get(f"/2/users/{owner}/tweets", {"max_results": "10"}, token="owner")
        assert sb.ledger.charges and all(ch.micro_usd == 1000 and ch.owned for ch in sb.ledger.charges)
        n = len(sb.ledger.charges)
        other = sb.truth.most_active(2)[1].id
        await c.get(f"/2/users/{other}/tweets", {"max_results": "10", "expansions": "author_id"}, token="owner")
        new = sb.ledger.charges[n:]
        assert all(ch.micro_usd == 5000 for ch in new if ch.resource == "post")
        assert [ch.resource for ch in new].count("user") == 1  # bill_includes

    def setup(sb: Sandbox) -> None:
        owner_holder.append(sb.truth.most_active(1)[0].id)
        sb.add_oauth2_user_token("owner", owner_holder[0])

    async def lazy(sb: Sandbox, c: Client) -> None:
        await body(sb, c)

    cfg_owner = SandboxConfig(bill_includes=True)
    # app_owner_user_id must name the most active user; learn it from a throwaway sandbox first.
    probe: list[str] = []
    drive(cfg_owner, lambda sb, c: _noop(probe, sb.truth.most_active(1)[0].id))
    drive(SandboxConfig(bill_includes=True, app_owner_user_id=probe[0]), lazy, setup)


async def _noop(out: list[str], value: str) -> None:
    out.append(value)


def test_402_once_balance_spent() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        uid = sb.truth.most_active(1)[0].id
        r = await c.get(f"/2/users/{uid}/tweets", {"max_results": "30"})
        assert r.status == 200 and len(r.body["data"]) == 30  # the charge that crosses zero is served
        assert sb.ledger.balance_usd is not None and sb.ledger.balance_usd < 0
        r = await c.get(f"/2/users/{uid}/tweets", {"max_results": "30"})
        assert r.status == 402
        assert r.body["title"] == "CreditsDepleted" and r.body["type"].endswith("/2/problems/credits")
        assert "x-rate-limit-limit" in r.headers

    drive(SandboxConfig(balance_usd=0.1), body)


def test_usage_cap_and_usage_endpoint() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        uid = sb.truth.most_active(1)[0].id
        assert (await c.get(f"/2/users/{uid}/tweets", {"max_results": "100"})).status == 200
        r = await c.get(f"/2/users/{uid}/tweets", {"max_results": "100"})
        assert r.status == 429 and r.body["type"].endswith("/2/problems/usage-capped")
        assert int(r.headers["x-rate-limit-remaining"]) > 0
        assert (await c.get("/2/users", {"ids": uid})).status == 200  # users are not capped
        r = await c.get("/2/usage/tweets")
        assert r.status == 200
        assert r.body == {"data": {"cap_reset_day": 1, "project_cap": "100", "project_id": sb.cfg.project_id,
                                   "project_usage": "100"}}
        r = await c.get("/2/usage/tweets", {"usage.fields": "daily_project_usage,project_usage", "days": "2"})
        assert len(r.body["data"]["daily_project_usage"]["usage"]) == 2

    drive(SandboxConfig(monthly_cap=100), body)


def _spec_cap_body() -> dict[str, object]:
    """The "429 usage cap" body quoted in x-api-spec.md §2.3."""
    import json
    import re
    from pathlib import Path

    spec = (Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "x-api-spec.md").read_text()
    block = spec[spec.index("**429 usage cap**") :]
    m = re.search(r"```json\n(.*?)\n```", block, re.DOTALL)
    assert m
    body: dict[str, object] = json.loads(m.group(1))
    return body


def test_cap_counts_only_the_capped_routes() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        uid = sb.truth.most_active(1)[0].id
        q = {"query": sb.truth.sample_queries().common, "max_results": "100"}
        r = await c.get(f"/2/users/{uid}/tweets", {"max_results": "100"})
        assert r.status == 200 and len(r.body["data"]) == 100
        usage = (await c.get("/2/usage/tweets")).body["data"]
        assert usage["project_usage"] == "0" and usage["project_cap"] == "150"  # strings, as X sends them
        assert (await c.get("/2/tweets/search/recent", q)).status == 200
        assert (await c.get("/2/usage/tweets")).body["data"]["project_usage"] == "100"
        assert (await c.get("/2/tweets/search/recent", q)).status == 200  # 100 < 150: served whole
        assert (await c.get("/2/usage/tweets")).body["data"]["project_usage"] == "200"
        expected = {**_spec_cap_body(), "account_id": sb.cfg.account_id}
        for _ in range(4):  # the window allows 3: a cap 429 does not use it up
            r = await c.get("/2/tweets/search/recent", q)
            assert r.status == 429 and r.body == expected
            assert r.headers["x-rate-limit-limit"] == "3" and r.headers["x-rate-limit-remaining"] == "1"
        assert sb.stats.too_many == {}  # not a rate limit
        r = await c.get(f"/2/users/{uid}/tweets", {"max_results": "100", "end_time": "2026-09-20T00:00:00Z"})
        assert r.status == 200 and r.body["meta"]["result_count"] == 100  # not capped here
        assert (await c.get("/2/usage/tweets")).body["data"]["project_usage"] == "200"

    drive(SandboxConfig(monthly_cap=150, capped_routes=frozenset({"/2/tweets/search/recent"}),
                        limit_overrides={"/2/tweets/search/recent": (3, 3)}), body)  # fmt: skip
