"""Each fault at rate 1.0 does what it says, and leaves ground truth and the ledger untouched."""

from __future__ import annotations

import aiohttp
import pytest
from sbhelp import Client, drive

from harvester.sandbox import Sandbox, SandboxConfig


def _path(sb: Sandbox) -> str:
    return f"/2/users/{sb.truth.most_active(1)[0].id}/tweets"


def test_5xx() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        r = await c.get(_path(sb))
        assert r.status in (500, 503) and r.body["status"] == r.status
        assert sb.ledger.total_usd == 0

    drive(SandboxConfig(fault_5xx_rate=1.0), body)


def test_drop_mid_body() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        with pytest.raises(aiohttp.ClientError):
            await c.get(_path(sb))
        assert sb.ledger.total_usd == 0

    drive(SandboxConfig(fault_drop_rate=1.0), body)


def test_malformed_json() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        r = await c.get(_path(sb))
        assert r.status == 200 and isinstance(r.body, str) and r.body.startswith('{"data"')
        assert sb.ledger.total_usd == 0

    drive(SandboxConfig(fault_malformed_rate=1.0), body)


def test_missing_headers_and_slow() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        t0 = c.clock.now()
        r = await c.get(_path(sb))
        assert r.status == 200 and "x-rate-limit-limit" not in r.headers
        assert c.clock.now() - t0 >= 7.0
        assert sb.ledger.total_usd > 0

    drive(SandboxConfig(fault_no_headers_rate=1.0, fault_slow_rate=1.0, fault_slow_seconds=7.0), body)


def test_faulted_request_returns_same_data_later() -> None:
    async def body(sb: Sandbox, c: Client) -> list[str]:
        r = await c.get(_path(sb), {"max_results": "20"})
        return [d["id"] for d in r.body["data"]] if r.status == 200 else []

    clean = drive(SandboxConfig(), body)
    seen: set[str] = set()
    cfg = SandboxConfig(fault_5xx_rate=0.5)

    async def retry(sb: Sandbox, c: Client) -> list[str]:
        while True:
            r = await c.get(_path(sb), {"max_results": "20"})
            if r.status == 200:
                return [d["id"] for d in r.body["data"]]
            seen.add(str(r.status))

    assert drive(cfg, retry) == clean
