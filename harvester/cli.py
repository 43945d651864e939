"""Command line: ``harvester run | demo | sandbox | status | plan | report``.

The CLI is the only place that turns errors into exit codes (procrastinate's rule):

- 0: success, or an expected early end (budget reached, credits depleted, cap reached);
- 1: a runtime failure (a job failed, the store is unreadable, the network gave up);
- 2: a usage or input error (bad config, bad job file, bad option), one line naming the
  file, job or key, and nothing queued.

Tracebacks appear only with ``-v``. Every option that names a file has an environment mirror
(``HARVESTER_CONFIG``, ``HARVESTER_JOBS``); tokens are read from the environment only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from harvester import __version__
from harvester.errors import HarvesterError, UserError


class _DefaultsShown(argparse.HelpFormatter):
    """Help lines end with the option's default, unless they already say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text.lower() or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="harvester",
        description="Rate-limit- and budget-aware bulk harvesting from the X API v2.",
        allow_abbrev=False,
    )
    p.add_argument("-V", "--version", action="version", version=f"harvester {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, jobs: bool = True) -> None:
        sp.add_argument(
            "--config",
            default=os.environ.get("HARVESTER_CONFIG"),
            help="config file (env HARVESTER_CONFIG; default ./config.toml if present)",
        )
        if jobs:
            sp.add_argument(
                "--jobs",
                action="append",
                default=None,
                help="job file or folder, repeatable (env HARVESTER_JOBS; default ./jobs)",
            )
        sp.add_argument("-v", "--verbose", action="count", default=0, help="more logs; tracebacks")
        sp.add_argument("--json-logs", action="store_true", help="JSON log lines even on a TTY")

    run = sub.add_parser("run", help="harvest the jobs until done (resumes an interrupted run)")
    common(run)
    run.add_argument("--max-usd", type=float, default=None, help="budget for this run, USD")
    run.add_argument("--workers", type=int, default=None, help="override [harvest] workers")

    demo = sub.add_parser("demo", help="harvest the example jobs from the built-in sandbox")
    common(demo)
    demo.add_argument("--out", default="demo-out", help="folder for the demo's state and output")
    demo.add_argument("--seed", type=int, default=7, help="sandbox world seed")
    demo.add_argument("--max-usd", type=float, default=None, help="budget for this run, USD")

    sb = sub.add_parser("sandbox", help="serve the fake X API v2 on 127.0.0.1", formatter_class=_DefaultsShown)
    common(sb, jobs=False)
    from harvester.runtime.sandbox_cmd import add_sandbox_arguments

    add_sandbox_arguments(sb)

    st = sub.add_parser("status", help="jobs, buckets, spend and cap from the state store")
    common(st)
    st.add_argument("--json", action="store_true", help="machine-readable output")

    rp = sub.add_parser("report", help="spend and resources by UTC day, endpoint and job")
    common(rp, jobs=False)
    rp.add_argument("--format", choices=["table", "csv", "json"], default="table")

    dm = sub.add_parser(
        "daemon", help="run the jobs on their schedules until SIGTERM/SIGINT; SIGHUP reloads the job files"
    )
    common(dm)
    dm.add_argument("--metrics-port", type=int, default=None,
                    help="port of /metrics and /status, overrides [daemon] metrics_port (0: any free port)")
    dm.set_defaults(json_logs=True)  # a daemon logs JSON lines, TTY or not

    ex = sub.add_parser("export", help="jobs' output as one flat table: a row per post or user (CSV, Parquet, JSONL)")
    common(ex)
    ex.add_argument("job", nargs="+", metavar="JOB", help="job name(s), as in the job files")
    ex.add_argument("--format", choices=["csv", "parquet", "jsonl"], default=None,
                    help="default: the suffix of --out, else csv (parquet needs: pip install 'harvester[export]')")
    ex.add_argument("--out", default=None, metavar="PATH",
                    help="a file (several jobs: one combined file) or a directory (one file per job); "
                         "default <output_dir>/export/<job>.<format>")
    ex.add_argument("--since", default=None, metavar="T",
                    help="posts created (users retrieved) at or after T: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
    ex.add_argument("--until", default=None, metavar="T", help="... and before T (exclusive)")
    ex.add_argument("--fields", default=None, metavar="a,b,c", help="these columns, in this order")

    pl = sub.add_parser("plan", help="estimate requests, cost, time and cap use before spending")
    common(pl)
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.add_argument("--probe", action="store_true",
                    help="buy the volumes first (counts per search, a user lookup per 100 users)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harvester`` console script."""
    args = _parser().parse_args(argv)
    from harvester import log as logsetup

    logsetup.configure(
        json=True if args.json_logs else None,
        level=logging.DEBUG if args.verbose > 1 else logging.INFO,
    )
    try:
        return _dispatch(args)
    except UserError as exc:
        _fail(exc, args, 2)
        return 2
    except HarvesterError as exc:
        _fail(exc, args, 1)
        return 1
    except KeyboardInterrupt:
        print("harvester: interrupted; state is saved, run again to resume", file=sys.stderr)
        return 130


def _fail(exc: BaseException, args: argparse.Namespace, code: int) -> None:
    if args.verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    print(f"harvester: error: {' '.join(str(exc).split())}", file=sys.stderr)


def config_path(args: argparse.Namespace) -> Path | None:
    """``--config``, else ./config.toml if present, else None (all defaults)."""
    if args.config:
        return Path(args.config)
    default = Path("config.toml")
    return default if default.exists() else None


def job_paths(args: argparse.Namespace) -> list[Path]:
    """``--jobs`` (repeatable), else ``HARVESTER_JOBS`` (os.pathsep-separated), else ./jobs."""
    if args.jobs:
        return [Path(j) for j in args.jobs]
    env = os.environ.get("HARVESTER_JOBS")
    if env:
        return [Path(j) for j in env.split(os.pathsep) if j]
    return [Path("jobs")]


def _dispatch(args: argparse.Namespace) -> int:
    from harvester.config import load_config
    from harvester.jobspec import load_jobs

    if args.command == "daemon":
        from harvester.runtime.daemon_cmd import daemon_command

        return int(daemon_command(args))
    if args.command == "sandbox":
        from harvester.runtime.sandbox_cmd import serve_sandbox

        return serve_sandbox(args)
    config = load_config(config_path(args))
    if args.command == "status":
        from harvester.runtime.status import print_status

        return print_status(config, as_json=args.json)
    if args.command == "report":
        from harvester.runtime.usage import report_command

        return report_command(config, args.format)
    if args.command == "export":
        from harvester.commands.export_cmd import export_command

        return export_command(config, args, job_paths(args))
    specs = load_jobs(job_paths(args), config=config)
    if args.command == "plan":
        from harvester.runtime.plan_cmd import plan_command

        return int(plan_command(config, specs, as_json=args.json, probe=args.probe))
    if args.command == "run":
        from harvester.runtime.run_cmd import run_command

        return run_command(config, specs, max_usd=args.max_usd, workers=args.workers)
    if args.command == "demo":
        from harvester.runtime.demo import run_demo

        return run_demo(config, specs, out=Path(args.out), seed=args.seed, max_usd=args.max_usd)
    raise UserError(f"unknown command {args.command!r}")
