"""Shared driver for sandbox tests: run a body against a live in-process sandbox on virtual time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from harvester.clock import LoopClock, run
from harvester.sandbox import Sandbox, SandboxConfig

T = TypeVar("T")


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, clock: LoopClock) -> None:
        self.session = session
        self.base = base
        self.clock = clock

    async def get(self, path: str, params: Mapping[str, str] | None = None, token: str | None = "tok",
                  headers: Mapping[str, str] | None = None) -> Reply:
        h = dict(headers or {})
        if token is not None and "Authorization" not in h:
            h["Authorization"] = f"Bearer {token}"
        async with self.session.get(self.base + path, params=params or {}, headers=h) as r:
            text = await r.text()
            try:
                import json

                body = json.loads(text)
            except ValueError:
                body = text
            return Reply(r.status, r.headers, body)

    async def pages(self, path: str, params: Mapping[str, str], token_param: str = "pagination_token",
                    between: float = 0.0) -> tuple[list[str], list[Any]]:
        ids: list[str] = []
        bodies = []
        tok = None
        while True:
            p = dict(params)
            if tok:
                p[token_param] = tok
            r = await self.get(path, p)
            assert r.status == 200, r.body
            bodies.append(r.body)
            ids += [d["id"] for d in r.body.get("data", [])]
            tok = r.body["meta"].get("next_token")
            if not tok:
                return ids, bodies
            if between:
                await self.clock.sleep(between)


def drive(cfg: SandboxConfig, body: Callable[[Sandbox, Client], Awaitable[T]],
          setup: Callable[[Sandbox], None] | None = None) -> T:
    async def main() -> T:
        clock = LoopClock(epoch=cfg.epoch)
        sb = Sandbox(cfg, clock)
        sb.add_app_token("tok")
        if setup:
            setup(sb)
        base = await sb.start()
        try:
            async with aiohttp.ClientSession() as s:
                return await body(sb, Client(s, base, clock))
        finally:
            await sb.stop()

    return run(main, autojump=True)
