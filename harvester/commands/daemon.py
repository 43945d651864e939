"""``harvester daemon``: what ``cli.py`` runs for the command (its options are parsed there).

Importing this module stays light: the daemon loads when it runs.
"""

from __future__ import annotations

import argparse
import logging


def daemon_command(args: argparse.Namespace) -> int:
    """Run the daemon; 0 after a stop by signal, 3 after a stop on purpose (a budget, the cap),
    1 after a failure (the credentials refused). Errors raise."""
    from harvester import log as logsetup
    from harvester.cli import config_path, job_paths
    from harvester.clock import LoopClock, simulated_now
    from harvester.clock import run as run_loop
    from harvester.config import load_config, with_overrides
    from harvester.core.request import Cause
    from harvester.errors import UserError
    from harvester.jobspec import load_jobs
    from harvester.log import register_secret
    from harvester.preflight import check
    from harvester.runtime.daemon import Daemon, DaemonResult

    logsetup.configure(json=True, level=logging.DEBUG if args.verbose > 1 else logging.INFO)
    config = with_overrides(load_config(config_path(args)), metrics_port=args.metrics_port,
                            prune_rules=args.prune_rules)
    check(config, load_jobs(job_paths(args), config=config))  # nothing is opened before this passes
    register_secret(config.bearer_token())  # fail fast (exit 2) if the token is missing
    daemon = Daemon(config, job_paths(args), metrics_port=config.daemon.metrics_port)
    speed = float(getattr(args, "speed", 1.0) or 1.0)
    if speed <= 0:
        raise UserError("--speed: must be > 0")
    epoch, anchor = getattr(args, "epoch", None), getattr(args, "anchor", None)

    async def main() -> DaemonResult:
        if speed != 1.0 or epoch is not None:
            daemon.clock = LoopClock(epoch=simulated_now(epoch, anchor, speed))
        return await daemon.run()

    result = run_loop(main, speed=speed)
    stop = result.stop
    if stop is None or stop.cause is Cause.SIGNAL:
        return 0
    return 1 if stop.failure else 3
