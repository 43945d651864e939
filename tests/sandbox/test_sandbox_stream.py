"""The sandbox's filtered stream on its own: rules routes, one connection per app, 409 without
rules, keep-alives, Posts with their matching rules, backfill, billing, and the record kept."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anyio

from harvester.sandbox import SandboxConfig
from harvester.testing import APP_TOKEN, EPOCH, run_virtual, sandbox_server

AUTH = {"Authorization": f"Bearer {APP_TOKEN}"}


async def line(resp: aiohttp.ClientResponse) -> bytes:
    with anyio.fail_after(60):
        return await resp.content.readline()


def test_stream_and_rules() -> None:
    out: dict[str, Any] = {}

    async def main() -> None:
        async with sandbox_server(SandboxConfig(epoch=EPOCH)) as (sb, url, clock), aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as s:
            rules, stream = url + "/2/tweets/search/stream/rules", url + "/2/tweets/search/stream"
            async with s.get(rules, headers=AUTH) as r:
                out["empty"] = await r.json()
            async with s.get(stream, headers=AUTH) as r:
                out["no_rules"] = r.status
            add = {"add": [{"value": "duha", "tag": "d"}, {"value": "gyha", "tag": "g"}]}
            async with s.post(rules, params={"dry_run": "true"}, json=add, headers=AUTH) as r:
                out["dry"] = (r.status, await r.json(), len(sb.stream.rules))
            async with s.post(rules, json={"add": [{"value": "lang:en"}]}, headers=AUTH) as r:
                out["invalid"] = (r.status, await r.json())
            async with s.post(rules, json=add, headers=AUTH) as r:
                out["added"] = await r.json()
            async with s.get(stream, headers=AUTH) as first:
                out["first"] = first.status
                async with s.get(stream, headers=AUTH) as second:
                    out["second"] = (second.status, await second.json())
                lines = [await line(first) for _ in range(40)]
            out["posts"] = [json.loads(x) for x in lines if x.strip()]
            out["keepalives"] = sum(1 for x in lines if x == b"\r\n")
            await anyio.sleep(5)
            async with s.get(stream, params={"backfill_minutes": "6"}, headers=AUTH) as r:
                out["backfill_6"] = r.status
            delivered = {d.id for d in sb.stream.deliveries}
            async with s.get(stream, params={"backfill_minutes": "5"}, headers=AUTH) as r:
                first_line = await line(r)
                while not first_line.strip():
                    first_line = await line(r)
                out["again"] = json.loads(first_line)["data"]["id"] in delivered
            out["bill"] = sb.ledger.spent_micro
            out["deliveries"] = sb.stream.deliveries
            out["attempts"] = [(a.status, a.end) for a in sb.stream.attempts]
            out["truth"] = sb.stream.matched(EPOCH, clock.now())

    run_virtual(main)
    assert out["empty"]["meta"]["result_count"] == 0 and "data" not in out["empty"]
    assert out["no_rules"] == 409
    status, body, kept = out["dry"]
    assert status == 200 and body["meta"]["summary"]["valid"] == 2 and body["meta"]["summary"]["created"] == 0
    assert kept == 0  # a dry run creates nothing
    assert out["invalid"][0] == 400 and out["invalid"][1]["errors"][0]["value"] == "lang:en"
    assert [r["tag"] for r in out["added"]["data"]] == ["d", "g"]
    assert out["first"] == 200
    assert out["second"][0] == 429 and out["second"][1]["connection_issue"] == "TooManyConnections"
    posts = out["posts"]
    assert posts and out["keepalives"] > 0
    for p in posts:
        tags = {m["tag"] for m in p["matching_rules"]}
        assert tags and tags == set(out["truth"][p["data"]["id"]])
    assert out["backfill_6"] == 400
    assert out["again"]  # backfill re-sends Posts already delivered
    unique = {d.id for d in out["deliveries"]}
    assert out["bill"] == 5_000 * len(unique)  # per Post, once per UTC day, however often delivered
    assert out["attempts"][:3] == [(409, "answered"), (200, "client closed"), (429, "answered")]
