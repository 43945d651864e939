"""``harvester run``: harvest the jobs against the configured API, resuming where it stopped.

Exit codes (the README lists them): 0 every job asked for is complete; 3 stopped on purpose
with work left (a budget, the spending limit, credits, the monthly cap, a long rate-limit wait);
1 a job failed or the credentials were refused; 130 interrupted. The last line of a stop names
the cause, the counts that decided it and when the work can continue.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from harvester.clock import run as run_loop
from harvester.commands.present import print_summary, summary_rows
from harvester.commands.progress import show_progress
from harvester.config import Config
from harvester.core.model import JobSpec
from harvester.core.request import StopCause
from harvester.embed import EXIT_CODES, Harvester, RunReport

EXIT = EXIT_CODES


def run_command(config: Config, specs: Sequence[JobSpec]) -> int:
    """Run to completion (or until stopped); the exit code says how it ended."""
    h = Harvester(config, specs)
    result = run_loop(lambda: h.run(handle_signals=True, watch=show_progress))
    report(result, specs, title="harvester run", spend_label="spend")
    return result.exit_code


def stop_line(cause: StopCause) -> str:
    """One line: the cause and its figures, and when the work can continue."""
    when = ""
    if cause.resumes_at is not None:
        at = datetime.fromtimestamp(cause.resumes_at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        when = f"; the work can continue after {at}"
    elif not cause.failure:
        when = "; run again once the limit is raised to continue"
    return f"stopped ({cause.cause.value}): {cause.message}{when}"


def report(result: RunReport, specs: Sequence[JobSpec], *, title: str, spend_label: str) -> None:
    """Print the summary table and, if the run stopped early, why (as the last line)."""
    rows = summary_rows(result.jobs, {s.name: s for s in specs})
    print_summary(rows, requests=result.requests, spend_usd=result.spent_usd, too_many=result.too_many,
                  title=title, spend_label=spend_label)
    if result.stream is not None:
        from harvester.commands.status import stream_lines

        for line in stream_lines(result.stream, float(result.stream.get("at") or 0.0)):
            print(line)
    if result.stop is not None and result.outcome != "complete":  # a --for that ran its time is no stop
        print(stop_line(result.stop), file=sys.stderr)
    elif result.outcome == "failed":
        print(failed_line(result), file=sys.stderr)


def failed_line(result: RunReport) -> str:
    """One line for a run that ended with failed tasks: which jobs, and what puts them back."""
    failed = [j for j in result.jobs if j.failed]
    names = ", ".join(f"{j.job} ({j.failed})" for j in failed)
    return (f"failed: tasks of {len(failed)} job{'s' if len(failed) != 1 else ''} failed: {names}; the table "
            "above has each job's last error. A rerun retries those that network, server or credential "
            "trouble failed; `harvester retry JOB` puts back the rest, and a changed job starts afresh")
