"""The run budget and the monthly cap stop the stream cleanly: a disconnect, the run's stop cause
and exit code as for any other stop, and the ledger still equal to what the sandbox billed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harvester.core.model import JobSpec
from harvester.core.request import Cause
from harvester.embed import EXIT_CODES
from harvester.sandbox import SandboxConfig
from harvester.testing import (
    EPOCH,
    data_ids,
    harvest_sandbox,
    ledger_micros,
    make_config,
    read_pages,
    run_virtual,
)

JOB = JobSpec(name="s", kind="stream", extra={"rules": ({"value": "duha", "tag": "s"},)})  # ~19 Posts an hour


def run(tmp: Path, sandbox: SandboxConfig, max_usd: float | None = None) -> tuple[Any, Any, int]:
    """Stream ``JOB`` for up to six hours; the result, the sandbox and the money in the ledger."""
    config = make_config(tmp, run_for=6 * 3600.0)

    async def main() -> Any:
        return await harvest_sandbox(config, [JOB], sandbox=sandbox, max_usd=max_usd)

    result, sb = run_virtual(main)

    return result, sb, ledger_micros(config.harvest.state)


def test_the_run_budget_disconnects_the_stream(tmp_path: Path) -> None:
    result, sb, spent = run(tmp_path, SandboxConfig(epoch=EPOCH), max_usd=0.02)
    assert result.stop is not None and result.stop.cause is Cause.RUN_BUDGET
    assert EXIT_CODES[result.outcome] == 3
    assert spent == sb.ledger.spent_micro == 20_000  # four Posts at $0.005: the budget, not a cent over
    assert len(data_ids(read_pages(tmp_path / "out" / "s.jsonl"))) == 4
    assert sb.stream.attempts[-1].end == "client closed"
    assert sb.stream.attempts[-1].ended is not None and sb.stream.attempts[-1].ended < EPOCH + 6 * 3600


def test_the_monthly_cap_disconnects_the_stream(tmp_path: Path) -> None:
    result, sb, spent = run(tmp_path, SandboxConfig(epoch=EPOCH, monthly_cap=5))
    assert result.stop is not None and result.stop.cause is Cause.CAP
    assert EXIT_CODES[result.outcome] == 3
    assert sb.ledger.cycle_usage(EPOCH) == 5  # the server's count stopped at its cap
    assert spent == sb.ledger.spent_micro == 25_000
    assert sb.stream.attempts[-1].end == "usage capped"
    assert len(data_ids(read_pages(tmp_path / "out" / "s.jsonl"))) == 5
