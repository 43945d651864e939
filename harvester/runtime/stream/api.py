"""HTTP calls of the stream: the rules routes and the connection.

The stream gets an aiohttp session of its own, with aiohttp's silent retry of a dropped request
on a reused connection turned off: that retry would send a second connect at once after a drop,
before the back-off X's rules ask for (``core/stream/reconnect``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self

import aiohttp

from harvester.api.auth import AuthContext
from harvester.core.stream.rules import ServerRule
from harvester.errors import HarvesterError

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"


class StreamApiError(HarvesterError):
    """A rules call that got no usable answer (one line)."""


class StreamApi:
    """The rules routes and the stream connection, over one session of their own."""

    def __init__(self, base_url: str, auth: AuthContext, *, user_agent: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.user_agent = user_agent
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession()
        # No silent second connect after a drop (see the module docstring).
        self._session._retry_connection = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("StreamApi used outside its context")
        return self._session

    def _headers(self, url: str, params: Mapping[str, str]) -> dict[str, str]:
        return {"Authorization": self.auth.authorization(url, params), "User-Agent": self.user_agent}

    async def _call(self, method: str, params: Mapping[str, str], body: Any = None) -> tuple[int, dict[str, Any]]:
        url = self.base_url + RULES_PATH
        headers = self._headers(url, params)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self.session.request(method, url, params=dict(params), json=body, headers=headers,
                                            timeout=timeout) as resp:  # fmt: skip
                text = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise StreamApiError(f"{method} {RULES_PATH}: {type(exc).__name__}: {exc}") from None
        try:
            parsed = json.loads(text or b"{}")
        except ValueError:
            parsed = {}
        return status, parsed if isinstance(parsed, dict) else {}

    async def rules(self) -> list[ServerRule]:
        """Every rule on the server (all pages)."""
        out: list[ServerRule] = []
        params: dict[str, str] = {"max_results": "1000"}
        for _ in range(100):
            status, body = await self._call("GET", params)
            if status != 200:
                raise StreamApiError(f"GET {RULES_PATH}: HTTP {status} {body.get('title', '')}".rstrip())
            for r in body.get("data", []) or []:
                out.append(ServerRule(id=str(r["id"]), value=str(r["value"]), tag=r.get("tag")))
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                break
            params["pagination_token"] = str(token)
        return out

    async def change(self, body: Mapping[str, Any], *, dry_run: bool) -> tuple[int, dict[str, Any]]:
        """POST an ``add`` or ``delete`` (``dry_run``: validate only)."""
        return await self._call("POST", {"dry_run": "true"} if dry_run else {}, dict(body))

    @asynccontextmanager
    async def connect(self, params: Mapping[str, str], connect_timeout: float) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open the stream; the caller reads lines with its own stall timeout."""
        url = self.base_url + STREAM_PATH
        timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=connect_timeout)
        async with self.session.get(url, params=dict(params), headers=self._headers(url, params),
                                    timeout=timeout) as resp:  # fmt: skip
            yield resp
