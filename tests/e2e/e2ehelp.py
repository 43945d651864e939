"""Shared helpers of the end-to-end tests (real ``harvester`` processes)."""

from __future__ import annotations

import os
import socket
import sys

TOKEN = "e2e-sandbox-app-token"
EPOCH = 1_795_132_800.0


class FixedClock:
    """A clock for reading the sandbox's ground truth outside any event loop."""

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - never awaited here
        raise NotImplementedError

    async def sleep_until(self, deadline: float) -> None:  # pragma: no cover
        raise NotImplementedError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def harvester_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "harvester", *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["X_BEARER_TOKEN"] = TOKEN
    e.pop("HARVESTER_CONFIG", None)
    e.pop("HARVESTER_JOBS", None)
    return e
