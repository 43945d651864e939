"""The X API over aiohttp: one shared session, library errors translated at the edge.

The client does one thing: send a GET and hand back status, lower-cased headers and the parsed
body (or why it could not be parsed). It does not retry, sleep or decide anything: what a
response *means* (rate limited, capped, retry, fatal) is ``harvester.core.classify``'s call, and
what to do about it is the worker's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from harvester.api.auth import AuthContext, OAuth1UserAuth
from harvester.errors import TransportError


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """One HTTP response.

    Attributes:
        status: HTTP status.
        headers: header names lower-cased (last value wins).
        body: the parsed JSON, or None when it was not JSON (see ``parse_error``).
        parse_error: why the body could not be parsed, if it could not.
        size: body bytes received.
    """

    status: int
    headers: Mapping[str, str]
    body: Any
    parse_error: str | None
    size: int


@contextmanager
def map_exceptions() -> Iterator[None]:
    """aiohttp and socket errors become :class:`TransportError` (retryable), with a short reason."""
    try:
        yield
    except TimeoutError as exc:
        raise TransportError("timeout") from exc
    except aiohttp.ClientPayloadError as exc:
        raise TransportError("connection dropped mid-body") from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise TransportError("server disconnected") from exc
    except aiohttp.ClientConnectionError as exc:
        raise TransportError(f"connection failed: {type(exc).__name__}") from exc
    except aiohttp.ClientError as exc:
        raise TransportError(f"http error: {type(exc).__name__}") from exc


class ApiClient:
    """Sends authorized GETs to ``base_url`` through one aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: float = 30.0,
        user_agent: str = "harvester/0.1",
    ) -> None:
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._user_agent = user_agent

    async def get(
        self,
        path: str,
        params: Mapping[str, str],
        auth: AuthContext,
        *,
        now: float | None = None,
    ) -> Response:
        """GET ``base_url + path``; raises :class:`TransportError` if no complete response came."""
        url = self.base_url + path
        if isinstance(auth, OAuth1UserAuth):
            authorization = auth.authorization(url, params, None if now is None else int(now))
        else:
            authorization = auth.authorization(url, params)
        headers = {"Authorization": authorization, "User-Agent": self._user_agent}
        with map_exceptions():
            async with self._session.get(
                url, params=dict(params), headers=headers, timeout=self._timeout
            ) as resp:
                raw = await resp.read()
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                status = resp.status
        body: Any = None
        error: str | None = None
        if raw:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                error = f"malformed JSON ({type(exc).__name__} at byte {getattr(exc, 'pos', '?')})"
        else:
            error = "empty body"
        return Response(status=status, headers=hdrs, body=body, parse_error=error, size=len(raw))
