"""What one line of the stream, or a refused connect, means."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harvester.core.stream.reconnect import Failure

# Disconnect types after which reconnecting cannot help until something changes.
FATAL_DISCONNECTS = frozenset({"InvalidRules", "ClientApplicationStateDegraded"})


@dataclass(frozen=True, slots=True)
class KeepAlive:
    pass


@dataclass(frozen=True, slots=True)
class PostLine:
    """A Post: its id, the whole message (``data``, ``includes``, ``matching_rules``)."""

    id: str
    message: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Disconnect:
    """A disconnect message: ``kind`` is its ``disconnect_type`` (or title); ``capped``: the
    monthly cap; ``fatal``: reconnecting will not help."""

    kind: str
    detail: str
    capped: bool = False
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class Unknown:
    """A line that is none of these (an error about a single Post, or garbage): skipped."""

    text: str


Line = KeepAlive | PostLine | Disconnect | Unknown


def read_line(raw: bytes) -> Line:
    """Classify one ``\\r\\n``-ended line of the stream."""
    text = raw.strip()
    if not text:
        return KeepAlive()
    try:
        msg = json.loads(text)
    except ValueError:
        return Unknown(text[:120].decode("utf-8", "replace"))
    if not isinstance(msg, dict):
        return Unknown(text[:120].decode("utf-8", "replace"))
    data = msg.get("data")
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return PostLine(data["id"], msg)
    errors = msg.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and "data" not in msg:
        err = errors[0]
        typ = str(err.get("type", ""))
        kind = str(err.get("disconnect_type") or err.get("title") or "disconnect")
        if typ.endswith("/usage-capped"):
            return Disconnect(kind="UsageCapExceeded", detail=str(err.get("detail", "")), capped=True, fatal=True)
        if "disconnect" in typ or "disconnect_type" in err:
            return Disconnect(kind=kind, detail=str(err.get("detail", "")), fatal=kind in FATAL_DISCONNECTS)
    return Unknown(text[:120].decode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class ConnectFailure:
    """A connect not answered 200: the back-off class, or ``stop`` (no retry helps) or
    ``capped`` (the monthly cap: wait for the reset)."""

    failure: Failure | None
    message: str
    stop: bool = False
    capped: bool = False


def connect_failure(status: int, body: Mapping[str, Any] | None) -> ConnectFailure:
    """What a non-200 answer to a connect means."""
    body = body or {}
    title = str(body.get("title") or body.get("detail") or "")
    typ = str(body.get("type", ""))
    what = f"HTTP {status} {title}".strip()
    if status == 429 and typ.endswith("/usage-capped"):
        return ConnectFailure(None, f"{what}: the monthly Post cap is reached", capped=True)
    if status == 429:
        return ConnectFailure(Failure.RATE_LIMIT, what)
    if status in (401, 403):
        return ConnectFailure(None, f"{what}: the credentials cannot open the stream", stop=True)
    if status == 402:
        return ConnectFailure(None, f"{what}: credits depleted", stop=True)
    if status == 409:
        return ConnectFailure(None, f"{what}: the stream has no rules", stop=True)
    if status == 400:
        return ConnectFailure(None, f"{what}: the server refused the connect request", stop=True)
    return ConnectFailure(Failure.HTTP, what)
