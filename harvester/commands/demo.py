"""``harvester demo``: the example jobs harvested from the built-in sandbox, in one process.

The sandbox and the harvester share one fast-forwarding clock (``WarpLoop`` with autojump),
fixed at :data:`DEMO_NOW`, so the demo is deterministic: the same jobs give the same pages on
every machine, and rate-limit waits pass in no real time. The demo writes only under ``--out``
(state and output), and the bearer token it uses is a sandbox token, not a secret.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from harvester.clock import LoopClock
from harvester.clock import run as run_loop
from harvester.commands.run import report
from harvester.config import Config
from harvester.core.model import JobSpec
from harvester.embed.harvester import report_of
from harvester.runtime.harvest import RunResult, harvest
from harvester.sandbox import Sandbox, SandboxConfig

DEMO_NOW = 1_795_132_800.0  # 2026-11-20T00:00:00Z: the example jobs' time ranges end before it
DEMO_TOKEN = "sandbox-demo-app-token"


def demo_config(config: Config, out: Path, base_url: str) -> Config:
    """The user's config pointed at the sandbox, with state and output under ``out``."""
    return replace(
        config,
        api=replace(config.api, base_url=base_url),
        harvest=replace(config.harvest, output_dir=out / "output", state=str(out / "state.db")),
    )


async def demo_harvest(
    config: Config, specs: Sequence[JobSpec], out: Path, *, seed: int, max_usd: float | None = None
) -> tuple[RunResult, Sandbox]:
    """Start the sandbox in this loop, harvest ``specs`` from it, stop it."""
    clock = LoopClock(epoch=DEMO_NOW)
    sandbox = Sandbox(SandboxConfig(seed=seed, epoch=DEMO_NOW), clock)
    sandbox.add_app_token(DEMO_TOKEN)
    base_url = await sandbox.start(host="127.0.0.1", port=0)
    try:
        cfg = demo_config(config, out, base_url)
        result = await harvest(cfg, specs, clock=clock, max_usd=max_usd, bearer=DEMO_TOKEN)
    finally:
        await sandbox.stop()
    return result, sandbox


def run_demo(config: Config, specs: Sequence[JobSpec], *, out: Path, seed: int) -> int:
    """Harvest the example jobs from a fresh sandbox and print the summary table."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    async def main() -> tuple[RunResult, Sandbox]:
        return await demo_harvest(config, specs, out, seed=seed)

    result, _ = run_loop(main, autojump=True)
    summary = report_of(result)
    report(summary, specs, title=f"harvester demo (sandbox seed {seed}; output in {out / 'output'})",
           spend_label="simulated spend")
    return summary.exit_code
