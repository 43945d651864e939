"""Fixtures of the end-to-end tests: a real ``harvester sandbox`` process."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2ehelp import EPOCH, env, free_port, harvester_cmd


@contextlib.contextmanager
def sandbox_process(tmp_path: Path, *extra: str) -> Iterator[str]:
    """A real ``harvester sandbox`` process (``extra``: more CLI options); yields its base URL."""
    port = free_port()
    log = (tmp_path / "sandbox.log").open("wb")
    proc = subprocess.Popen(
        harvester_cmd("sandbox", "--port", str(port), "--epoch", str(EPOCH), "--seed", "7",
                      "--latency", "0.04", *extra),
        env=env(), stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((tmp_path / "sandbox.log").read_text()) from None
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def sandbox_server(tmp_path: Path) -> Iterator[str]:
    """A real ``harvester sandbox`` process with the default limits; yields its base URL."""
    with sandbox_process(tmp_path) as url:
        yield url
