"""Command line: ``harvester run | demo | sandbox | status | retry | forget | plan | report | export | daemon``.

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
from typing import NoReturn

from harvester import __version__
from harvester.errors import HarvesterError, StopHarvest, UserError


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors (``harvester: error: ...``, exit 2).

    argparse's own answer to a bad option is the usage block and then the error; the rule here
    is one line naming the flag, as for any other bad input.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"harvester: error: {message} (see '{self.prog} --help')\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help line ends with its default: the text's own when it says one, else
    ``(default: X)``; a switch shows ``(default: off)``."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or "default" in text.lower() or action.default is argparse.SUPPRESS:
            return text  # a command (or a positional) has no default to show
        if action.nargs == 0 and isinstance(action.default, bool):
            return f"{text} (default: {'on' if action.default else 'off'})"
        return f"{text} (default: %(default)s)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="harvester",
        description="Rate-limit- and budget-aware bulk harvesting from the X API v2. "
        "Each command's --help lists its options with their defaults.",
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("-V", "--version", action="version", version=f"harvester {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_HelpFormatter,
                              allow_abbrev=False)

    def common(sp: argparse.ArgumentParser, jobs: bool = True, demo: bool = False, daemon: bool = False) -> None:
        fallback = "the packaged example config" if demo else "built-in defaults"
        sp.add_argument(
            "--config",
            default=os.environ.get("HARVESTER_CONFIG"),
            help=f"config file (default: $HARVESTER_CONFIG, else ./config.toml if present, else {fallback})",
        )
        if jobs:
            fallback = ", else the packaged example jobs" if demo else ""
            sp.add_argument(
                "--jobs",
                action="append",
                default=None,
                help=f"job file or folder, repeatable (default: $HARVESTER_JOBS, else ./jobs{fallback})",
            )
        sp.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logs (-vv: debug) and tracebacks on errors (default: 0: neither)")
        if daemon:  # a daemon logs JSON lines, TTY or not
            sp.add_argument("--json-logs", action="store_true", default=True,
                            help="JSON log lines (default: on, always, for the daemon)")
        else:
            sp.add_argument("--json-logs", action="store_true",
                            help="JSON log lines even on a TTY (default: off: JSON only when stderr is not a TTY)")

    run = command("run", "harvest the jobs until done (resumes an interrupted run)")
    common(run)
    run.add_argument("--max-usd", type=float, default=None,
                     help="budget for this run in USD, overrides [budget] max_usd_per_run "
                          "(default: the config's; none there: no run budget)")
    run.add_argument("--workers", type=int, default=None,
                     help="concurrent workers, 1-256, overrides [harvest] workers (default: the config's, 4)")
    run.add_argument("--for", dest="run_for", default=None, metavar="DURATION",
                     help="end the run after DURATION (e.g. 2h): what a stream job needs, since a stream "
                          "never ends; overrides [harvest] run_for (default: the config's; none there: no end)")
    run.add_argument("--prune-rules", action="store_true", default=None,
                     help="delete every stream rule on the server no job has, not only those harvester added "
                          "(default: the config's [stream] prune_rules, false)")

    hy = command("hydrate", "write a job that looks up every id of FILE, and run it (twarc2's hydrate)")
    common(hy, jobs=False)
    hy.add_argument("file", metavar="FILE", help="ids (or, for users, usernames): one a line, or a CSV column")
    hy.add_argument("--kind", choices=["tweets", "users"], required=True, help="what the ids are (required: no default)")
    hy.add_argument("--jobs-dir", default="jobs", help="where the job file is written (default: ./jobs)")
    hy.add_argument("--name", default=None, help="the job's name (default: hydrate-<file stem>)")

    demo = command("demo", "harvest the example jobs from the built-in sandbox")
    common(demo, demo=True)
    demo.add_argument("--out", default="demo-out",
                      help="folder for the demo's state and output, emptied first")
    demo.add_argument("--seed", type=int, default=7, help="sandbox world seed")
    demo.add_argument("--max-usd", type=float, default=None,
                      help="budget for this run in USD, overrides [budget] max_usd_per_run "
                           "(default: the config's; none there: no run budget)")

    sb = command("sandbox", "serve the fake X API v2 on 127.0.0.1")
    common(sb, jobs=False)
    from harvester.commands.sandbox import add_sandbox_arguments

    add_sandbox_arguments(sb)

    st = command("status", "jobs, buckets, spend and cap from the state store")
    common(st)
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.add_argument("--all", action="store_true",
                    help="also the generations a changed job definition superseded")

    rt = command("retry", "put failed tasks back in the queue (attempts reset, each continues after its "
                          "last committed page)")
    common(rt, jobs=False)
    rt.add_argument("job", nargs="*", metavar="JOB", help="job name(s), as in the state (default: none; see --all)")
    rt.add_argument("--all", action="store_true", dest="every", help="every job in the state")
    rt.add_argument("--failed-only", action="store_true",
                    help="only failed tasks; leave tasks waiting out a retry back-off as they are")

    fg = command("forget", "drop the queue of jobs removed from the job files (their output stays)")
    common(fg)
    fg.add_argument("job", nargs="+", metavar="JOB", help="job name(s) no longer in the job files")

    rp = command("report", "spend and resources by UTC day, endpoint and job")
    common(rp, jobs=False)
    rp.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")

    dm = command("daemon", "run the jobs on their schedules until SIGTERM/SIGINT; SIGHUP reloads the job files")
    common(dm, daemon=True)
    dm.add_argument("--metrics-port", type=int, default=None,
                    help="port of /metrics and /status, 0-65535 (0: any free port), overrides [daemon] "
                         "metrics_port (default: the config's, 9464)")
    dm.add_argument("--prune-rules", action="store_true", default=None,
                    help="delete every stream rule on the server no job has, not only those harvester added "
                         "(default: the config's [stream] prune_rules, false)")
    dm.add_argument("--speed", type=float, default=1.0,
                    help="simulated seconds per real second, against a sandbox run at the same speed "
                         "(benchmarks; default: 1, real time)")
    dm.add_argument("--epoch", type=float, default=None,
                    help="simulated time at --anchor, epoch seconds (with --speed; default: now)")
    dm.add_argument("--anchor", type=float, default=None,
                    help="the real wall-clock time at which simulated time is --epoch (default: now); "
                         "a sandbox given the same three runs on the same timeline")

    ex = command("export", "jobs' output as one flat table: a row per post, user, list or count bucket (CSV, Parquet, JSONL)")
    common(ex)
    ex.add_argument("job", nargs="+", metavar="JOB", help="job name(s), as in the job files")
    ex.add_argument("--format", choices=["csv", "parquet", "jsonl"], default=None,
                    help="output format (default: the suffix of --out, else csv; parquet needs: "
                         "pip install 'harvester[export]')")
    ex.add_argument("--out", default=None, metavar="PATH",
                    help="a file (several jobs: one combined file) or a directory (one file per job) "
                         "(default: <output_dir>/export/<job>.<format>)")
    ex.add_argument("--since", default=None, metavar="T",
                    help="posts created (users retrieved) at or after T: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ "
                         "(default: no lower bound)")
    ex.add_argument("--until", default=None, metavar="T",
                    help="... and before T, exclusive (default: no upper bound)")
    ex.add_argument("--fields", default=None, metavar="a,b,c",
                    help="these columns, in this order (default: every column, documented order)")

    pl = command("plan", "estimate requests, cost, time and cap use before spending")
    common(pl)
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.add_argument("--probe", action="store_true",
                    help="buy the volumes first (counts per search, a user lookup per 100 users), "
                         "through the rate limits and budgets, booked in the ledger")
    pl.add_argument("--max-usd", type=float, default=None,
                    help="budget for the probe in USD, overrides [budget] max_usd_per_run "
                         "(default: the config's; none there: no run budget)")
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
    except StopHarvest as exc:  # stopped on purpose (a budget, the cap): exit 3, as a run's stop
        _fail(exc, args, 3)
        return 3
    except HarvesterError as exc:
        _fail(exc, args, 1)
        return 1
    except KeyboardInterrupt:
        print("harvester: interrupted; state is saved, run again to resume", file=sys.stderr)
        return 130


def _fail(exc: BaseException, args: argparse.Namespace, code: int) -> None:
    # Every line that leaves here is redacted: an exception's text may quote a URL with its
    # password or, from a driver, a token (harvester.redact).
    from harvester.redact import redact

    if args.verbose:
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    print(f"harvester: error: {redact(' '.join(str(exc).split()))}", file=sys.stderr)


def config_path(args: argparse.Namespace) -> Path | None:
    """``--config``, else ./config.toml if present, else None (all defaults).

    The demo, given none of these, takes the example config shipped in the package.
    """
    if args.config:
        return Path(args.config)
    default = Path("config.toml")
    if default.exists():
        return default
    if getattr(args, "command", None) == "demo":
        from harvester import examples

        return examples.config_file()
    return None


def job_paths(args: argparse.Namespace) -> list[Path]:
    """``--jobs`` (repeatable), else ``HARVESTER_JOBS`` (os.pathsep-separated), else ./jobs.

    The demo, given none of these and with no ./jobs here, takes the packaged example jobs.
    """
    if args.jobs:
        return [Path(j) for j in args.jobs]
    env = os.environ.get("HARVESTER_JOBS")
    if env:
        return [Path(j) for j in env.split(os.pathsep) if j]
    default = Path("jobs")
    if getattr(args, "command", None) == "demo" and not default.exists() and not default.is_symlink():
        from harvester import examples

        return [examples.jobs_dir()]
    return [default]


def _dispatch(args: argparse.Namespace) -> int:
    from harvester import preflight
    from harvester.config import load_config, with_overrides
    from harvester.config.overrides import check_numeric_flags
    from harvester.jobspec import load_jobs

    check_numeric_flags(args)
    if args.command == "daemon":
        from harvester.commands.daemon import daemon_command

        return int(daemon_command(args))
    if args.command == "sandbox":
        from harvester.commands.sandbox import serve_sandbox

        return serve_sandbox(args)
    config = load_config(config_path(args))
    # Flags that override config keys are merged here, once, with the keys' own rules.
    config = with_overrides(config, workers=getattr(args, "workers", None), max_usd=getattr(args, "max_usd", None),
                            run_for=getattr(args, "run_for", None), prune_rules=getattr(args, "prune_rules", None))
    if args.command == "status":
        from harvester.commands.status import print_status

        return print_status(config, as_json=args.json, every=args.all)
    if args.command == "retry":
        from harvester.commands.retry import retry_command

        preflight.require_state(config)
        return retry_command(config, args.job, every=args.every, failed_only=args.failed_only)
    if args.command == "forget":
        from harvester.commands.retry import forget_command

        preflight.require_state(config)
        return forget_command(config, args.job, load_jobs(job_paths(args), config=config))
    if args.command == "report":
        from harvester.commands.report import report_command

        preflight.require_state(config)
        return report_command(config, args.format)
    if args.command == "export":
        from harvester.commands.export import export_command

        return export_command(config, args, job_paths(args))
    if args.command == "hydrate":
        from harvester.commands.hydrate import hydrate_command

        return hydrate_command(config, Path(args.file), args.kind, Path(args.jobs_dir), args.name)
    specs = load_jobs(job_paths(args), config=config)
    if args.command == "plan":
        from harvester.commands.plan import plan_command

        return int(plan_command(config, specs, as_json=args.json, probe=args.probe))
    if args.command == "run":
        from harvester.commands.run import run_command

        return run_command(config, specs)  # --max-usd and --workers are in config now; Harvester.run runs preflight
    if args.command == "demo":
        from harvester.commands.demo import run_demo, user_context_jobs, with_demo_user

        preflight.check_demo_out(Path(args.out))
        config = with_demo_user(config)
        specs = [*specs, *user_context_jobs(job_paths(args), config)]
        return run_demo(config, specs, out=Path(args.out), seed=args.seed)
    raise UserError(f"unknown command {args.command!r}")
