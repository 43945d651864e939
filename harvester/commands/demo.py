"""``harvester demo``: the example jobs harvested from the built-in sandbox, in one process.

The sandbox and the harvester share one fast-forwarding clock (``WarpLoop`` with autojump),
fixed at :data:`DEMO_NOW`, so the demo is deterministic: the same jobs give the same pages on
every machine, and rate-limit waits pass in no real time. The demo writes only under ``--out``
(state and output), and the bearer token it uses is a sandbox token, not a secret.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from harvester.clock import LoopClock
from harvester.clock import run as run_loop
from harvester.commands.run import report
from harvester.config import Config, UserAuthConfig
from harvester.core.model import JobSpec
from harvester.embed.harvester import report_of
from harvester.runtime.harvest import RunResult, harvest
from harvester.sandbox import Sandbox, SandboxConfig

DEMO_NOW = 1_795_132_800.0  # 2026-11-20T00:00:00Z: the example jobs' time ranges end before it
DEMO_TOKEN = "sandbox-demo-app-token"
# The user-context examples (``jobs/user-context/``) run as this user of the sandbox's world, who is
# also the sandbox app's owner (so its own reads are owned reads). Its credentials are sandbox
# values, set in this process's environment only: tokens are always read from the environment.
DEMO_USER = "980201543"
DEMO_USER_AUTH = "me"
DEMO_USER_ENV = {"HARVESTER_DEMO_CK": "demo-ck", "HARVESTER_DEMO_CS": "demo-cs", "HARVESTER_DEMO_AT": "demo-at",
                 "HARVESTER_DEMO_AS": "demo-as"}  # fmt: skip
USER_CONTEXT_DIR = "user-context"


def with_demo_user(config: Config) -> Config:
    """``config`` with the sandbox user ``me`` (unless the config names its own ``me``)."""
    if DEMO_USER_AUTH in config.auth.users:
        return config
    os.environ.update(DEMO_USER_ENV)
    me = UserAuthConfig(name=DEMO_USER_AUTH, consumer_key_env="HARVESTER_DEMO_CK",
                        consumer_secret_env="HARVESTER_DEMO_CS", token_env="HARVESTER_DEMO_AT",
                        token_secret_env="HARVESTER_DEMO_AS", user_id=DEMO_USER)  # fmt: skip
    return replace(config, auth=replace(config.auth, users={**config.auth.users, DEMO_USER_AUTH: me}))


def user_context_jobs(paths: Sequence[Path], config: Config) -> list[JobSpec]:
    """The ``user-context/`` job files beside the given job folders, loaded for the demo user."""
    from harvester.jobspec import load_jobs

    folders = [p / USER_CONTEXT_DIR for p in paths if (p / USER_CONTEXT_DIR).is_dir()]
    return load_jobs(folders, config=config) if folders else []


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
    sandbox = Sandbox(SandboxConfig(seed=seed, epoch=DEMO_NOW, app_owner_user_id=DEMO_USER), clock)
    sandbox.add_app_token(DEMO_TOKEN)
    if DEMO_USER_AUTH in config.auth.users and config.auth.users[DEMO_USER_AUTH].user_id == DEMO_USER:
        ck, cs, at, as_ = DEMO_USER_ENV.values()
        sandbox.add_user_token(ck, cs, at, as_, DEMO_USER)
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
