"""``harvester daemon``: the command line of :mod:`harvester.runtime.daemon`.

``cli.py`` registers it with :func:`add_daemon_parser` and dispatches to :func:`daemon_command`.
Until it does, ``python -m harvester.runtime.daemon_cmd [options]`` runs the same command with
the same exit codes. Importing this module stays light: the daemon loads when it runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any


def add_daemon_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``daemon`` to the CLI's subcommands (``subparsers`` is ``add_subparsers()``'s result)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "daemon",
        help="run the jobs on their schedules until SIGTERM/SIGINT; SIGHUP reloads the job files",
    )
    p.add_argument(
        "--config",
        default=os.environ.get("HARVESTER_CONFIG"),
        help="config file (env HARVESTER_CONFIG; default ./config.toml if present)",
    )
    p.add_argument(
        "--jobs",
        action="append",
        default=None,
        help="job file or folder, repeatable; re-read on SIGHUP (env HARVESTER_JOBS; default ./jobs)",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logs; tracebacks")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="port of /metrics and /status, overrides [daemon] metrics_port (0: any free port)",
    )
    p.set_defaults(json_logs=True)  # a daemon logs JSON lines, TTY or not
    return p


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


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry with the CLI's exit codes (2: user error, 1: other harvester error)."""
    from harvester.errors import HarvesterError, UserError

    parser = argparse.ArgumentParser(prog="harvester", allow_abbrev=False)
    add_daemon_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["daemon", *(sys.argv[1:] if argv is None else argv)])
    try:
        return daemon_command(args)
    except HarvesterError as exc:
        if args.verbose:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        print(f"harvester: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2 if isinstance(exc, UserError) else 1


if __name__ == "__main__":
    sys.exit(main())
