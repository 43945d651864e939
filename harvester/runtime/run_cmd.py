"""``harvester run``: harvest the jobs against the configured API, resuming where it stopped."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace

from harvester.clock import run as run_loop
from harvester.config import Config
from harvester.core.model import JobSpec
from harvester.log import register_secret
from harvester.runtime.harvest import RunResult, harvest
from harvester.runtime.progress import show_progress
from harvester.runtime.report import print_summary, summary_rows


def run_command(
    config: Config, specs: Sequence[JobSpec], *, max_usd: float | None, workers: int | None
) -> int:
    """Run to completion; exit 0 when done or stopped on purpose, 1 if a job failed."""
    if workers is not None:
        config = replace(config, harvest=replace(config.harvest, workers=workers))
    register_secret(config.bearer_token())  # fail fast (exit 2) if the token is missing

    async def main() -> RunResult:
        return await harvest(config, specs, max_usd=max_usd, handle_signals=True, watch=show_progress)

    result = run_loop(main)
    report(result, specs, title="harvester run")
    if result.stop is not None and not result.stop.clean:
        return 130
    return 1 if result.failed else 0


def report(result: RunResult, specs: Sequence[JobSpec], *, title: str) -> None:
    """Print the summary table and, if the run stopped early, why."""
    rows = summary_rows(result.jobs, {s.name: s for s in specs})
    print_summary(rows, requests=result.stats.requests, spend_usd=result.gates.spent_this_run_usd(),
                  too_many=result.stats.too_many, title=title)
    if result.stop is not None:
        print(f"stopped: {result.stop.message}", file=sys.stderr)
