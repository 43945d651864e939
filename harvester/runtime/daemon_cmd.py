"""``harvester daemon``: what ``cli.py`` runs for the command (its options are parsed there).

Importing this module stays light: the daemon loads when it runs.
"""

from __future__ import annotations

import argparse
import logging


def daemon_command(args: argparse.Namespace) -> int:
    """Run the daemon; 0 after a clean stop (signal, budget), 1 otherwise. Errors raise."""
    from harvester import log as logsetup
    from harvester.cli import config_path, job_paths
    from harvester.clock import run as run_loop
    from harvester.config import load_config
    from harvester.errors import UserError
    from harvester.log import register_secret
    from harvester.runtime.daemon import Daemon, DaemonResult

    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        raise UserError("--metrics-port: must be within 0..65535")
    logsetup.configure(json=True, level=logging.DEBUG if args.verbose > 1 else logging.INFO)
    config = load_config(config_path(args))
    register_secret(config.bearer_token())  # fail fast (exit 2) if the token is missing
    daemon = Daemon(config, job_paths(args), metrics_port=args.metrics_port)

    async def main() -> DaemonResult:
        return await daemon.run()

    result = run_loop(main)
    return 0 if result.stop is None or result.stop.clean else 1
