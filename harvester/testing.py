"""Helpers for tests and benchmarks: an in-process sandbox harvest on a fast-forwarding clock.

Shipped in the package (as structlog.testing and procrastinate.testing are) so tests and
benchmarks build the same setups the same way. Nothing here is used by the harvester itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from harvester.clock import LoopClock
from harvester.clock import run as run_loop
from harvester.config import Config
from harvester.core.model import JobSpec
from harvester.runtime.harvest import RunResult, harvest
from harvester.runtime.worker import Runtime
from harvester.sandbox import Sandbox, SandboxConfig

T = TypeVar("T")

EPOCH = 1_795_132_800.0  # 2026-11-20T00:00:00Z, the demo's fixed "now"
APP_TOKEN = "sandbox-test-app-token"


def run_virtual(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on a loop that jumps over idle waits (windows pass in no real time)."""
    return run_loop(main, autojump=True)


def make_config(tmp: Path, base: Config | None = None, **harvest: Any) -> Config:
    """A config writing state and output under ``tmp`` (other [harvest] keys from ``harvest``)."""
    cfg = base or Config()
    h = replace(cfg.harvest, output_dir=tmp / "out", state=str(tmp / "state.db"), **harvest)
    return replace(cfg, harvest=h)


async def harvest_sandbox(
    config: Config,
    specs: Sequence[JobSpec],
    *,
    sandbox: SandboxConfig | None = None,
    epoch: float = EPOCH,
    max_usd: float | None = None,
    setup: Callable[[Sandbox], None] | None = None,
    on_runtime: Callable[[Runtime], None] | None = None,
) -> tuple[RunResult, Sandbox]:
    """Start a sandbox in this loop, harvest ``specs`` from it with ``config``, stop it."""
    clock = LoopClock(epoch=epoch)
    sb = Sandbox(sandbox or SandboxConfig(epoch=epoch), clock)
    sb.add_app_token(APP_TOKEN)
    if setup is not None:
        setup(sb)
    url = await sb.start(host="127.0.0.1", port=0)
    try:
        cfg = replace(config, api=replace(config.api, base_url=url))
        result = await harvest(cfg, specs, clock=clock, max_usd=max_usd, bearer=APP_TOKEN, on_runtime=on_runtime)
    finally:
        await sb.stop()
    return result, sb


def read_pages(path: Path) -> list[dict[str, Any]]:
    """Every line of a job's JSONL output (a missing file is no pages)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def data_ids(pages: Iterable[dict[str, Any]]) -> list[str]:
    """The ``data`` ids of ``pages`` in file order (duplicates kept, so tests can find them)."""
    return [str(item["id"]) for page in pages for item in page.get("data", [])]
