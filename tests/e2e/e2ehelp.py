"""Shared helpers of the end-to-end tests (real ``harvester`` processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def wait_for(check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"daemon exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def log_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            events.append({"event": "<not json>", "line": line})
    return events
