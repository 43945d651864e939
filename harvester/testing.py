"""Helpers for tests and benchmarks: an in-process sandbox harvest on a fast-forwarding clock.

Shipped in the package (as structlog.testing and procrastinate.testing are) so tests and
benchmarks build the same setups the same way. Nothing here is used by the harvester itself.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import anyio

from harvester.clock import LoopClock
from harvester.clock import run as run_loop
from harvester.config import Config
from harvester.core.model import JobSpec
from harvester.runtime.daemon import Daemon, DaemonResult
from harvester.runtime.harvest import RunResult, harvest
from harvester.runtime.runtime import Runtime
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.store import open_store

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
    bearer: str = APP_TOKEN,
) -> tuple[RunResult, Sandbox]:
    """Start a sandbox in this loop, harvest ``specs`` from it with ``config``, stop it.

    ``bearer`` is the token the harvester sends (the sandbox knows only :data:`APP_TOKEN`).
    """
    async with _sandbox(config, sandbox, epoch, setup) as (sb, cfg, clock):
        result = await harvest(cfg, specs, clock=clock, max_usd=max_usd, bearer=bearer, on_runtime=on_runtime)
    return result, sb


@asynccontextmanager
async def sandbox_daemon(
    config: Config,
    job_paths: Sequence[Path],
    *,
    epoch: float = EPOCH,
    sandbox: SandboxConfig | None = None,
    setup: Callable[[Sandbox], None] | None = None,
    handle_signals: bool = False,
) -> AsyncIterator[tuple[Daemon, Sandbox, list[DaemonResult]]]:
    """A sandbox in this loop and an in-process daemon harvesting from it, started and ready.

    The body drives it (sleeps, reloads, scrapes) and must end with ``daemon.stop(...)``; the
    daemon's result is in the yielded list once the block has exited. ``handle_signals``: the
    daemon installs its SIGTERM/SIGINT/SIGHUP handlers (the test sends real signals to itself).
    """
    config = replace(config, daemon=replace(config.daemon, metrics_port=0))
    async with _sandbox(config, sandbox, epoch, setup) as (sb, cfg, clock):
        ready = anyio.Event()
        daemon = Daemon(cfg, job_paths, clock=clock, bearer=APP_TOKEN, handle_signals=handle_signals,
                        on_ready=lambda _: ready.set())  # fmt: skip
        results: list[DaemonResult] = []

        async def run() -> None:
            results.append(await daemon.run())

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await ready.wait()
            yield daemon, sb, results


@asynccontextmanager
async def _sandbox(
    config: Config, sandbox: SandboxConfig | None, epoch: float, setup: Callable[[Sandbox], None] | None
) -> AsyncIterator[tuple[Sandbox, Config, LoopClock]]:
    """A sandbox served in this loop, and ``config`` pointed at it; stopped on exit."""
    async with sandbox_server(sandbox, epoch=epoch, setup=setup) as (sb, url, clock):
        yield sb, replace(config, api=replace(config.api, base_url=url)), clock


@asynccontextmanager
async def sandbox_server(
    sandbox: SandboxConfig | None = None, *, epoch: float = EPOCH, setup: Callable[[Sandbox], None] | None = None
) -> AsyncIterator[tuple[Sandbox, str, LoopClock]]:
    """A sandbox served in this loop (app token :data:`APP_TOKEN`): yields it, its base URL and
    the clock it runs on (pass that clock to the harvester in the same loop). Stopped on exit."""
    clock = LoopClock(epoch=epoch)
    sb = Sandbox(sandbox or SandboxConfig(epoch=epoch), clock)
    sb.add_app_token(APP_TOKEN)
    if setup is not None:
        setup(sb)
    url = await sb.start(host="127.0.0.1", port=0)
    try:
        yield sb, url, clock
    finally:
        await sb.stop()


@contextmanager
def sandbox_thread(config: SandboxConfig | None = None, *, token: str = APP_TOKEN) -> Iterator[str]:
    """A sandbox served from a thread of its own, in real time; yields its base URL.

    For code that runs its own event loop (``asyncio.run`` in an example, a subprocess): it
    reaches the sandbox over loopback with the app token ``token``. Stopped on exit.
    """
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        cfg = config or SandboxConfig(epoch=EPOCH)
        sb = Sandbox(cfg, LoopClock(epoch=cfg.epoch))
        sb.add_app_token(token)
        stop = asyncio.Event()
        box["url"] = await sb.start(host="127.0.0.1", port=0)
        box["stop"], box["loop"] = stop, asyncio.get_running_loop()
        ready.set()
        try:
            await stop.wait()
        finally:
            await sb.stop()

    def main() -> None:
        try:
            asyncio.run(serve())
        finally:
            ready.set()  # a sandbox that failed to start sets no URL: the caller raises

    thread = threading.Thread(target=main, name="sandbox", daemon=True)
    thread.start()
    ready.wait(30)
    if "url" not in box:
        raise RuntimeError("the sandbox did not start (its thread's traceback is on stderr)")
    try:
        yield str(box["url"])
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)


def ledger_micros(state: str | Path) -> int:
    """What the ledger of the state store at ``state`` holds, in micro-dollars (every entry)."""

    async def read() -> int:
        store = open_store(str(state))
        await store.open()
        try:
            return sum(int(e["micros"]) for e in await store.ledger_entries(0.0))
        finally:
            await store.close()

    return run_loop(read)


def read_pages(path: Path) -> list[dict[str, Any]]:
    """Every line of a job's JSONL output (a missing file is no pages)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def data_ids(pages: Iterable[dict[str, Any]]) -> list[str]:
    """The ``data`` ids of ``pages`` in file order (duplicates kept, so tests can find them)."""
    return [str(item["id"]) for page in pages for item in page.get("data", [])]
