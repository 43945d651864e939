"""The rules of the config keys a command-line flag can override, shared by both readers.

``load_config`` reads ``[harvest] workers`` with :func:`workers`, and ``harvester run --workers``
is read with the same function (:mod:`harvester.config.overrides`), so a flag can never accept a
value its key refuses, nor the other way round: ``--workers 0`` used to queue the jobs and run
nothing, and ``--max-usd nan`` ended in a traceback, while the config refused both.
"""

from __future__ import annotations

from harvester.config.model import DaemonConfig, HarvestConfig
from harvester.config.toml_table import _Table
from harvester.core.duration import DurationError, parse_duration

MAX_WORKERS = 256


def workers(t: _Table) -> int:
    """``[harvest] workers`` / ``--workers``: 1 to 256 concurrent workers."""
    return t.integer("workers", HarvestConfig().workers, lo=1, hi=MAX_WORKERS)


def max_usd_per_run(t: _Table) -> float | None:
    """``[budget] max_usd_per_run`` / ``--max-usd``: a finite amount above 0 (None: no run budget)."""
    return t.opt_number("max_usd_per_run", above=0)


def metrics_port(t: _Table) -> int:
    """``[daemon] metrics_port`` / ``--metrics-port``: a TCP port (0: any free port)."""
    return t.integer("metrics_port", DaemonConfig().metrics_port, lo=0, hi=65535)


def run_for(t: _Table) -> float | None:
    """``[harvest] run_for`` / ``run --for``: a positive duration (``"2h"``, ``90``: seconds)."""
    value = t._get("run_for")
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        t.fail("run_for", str(exc))
    if seconds <= 0:
        t.fail("run_for", f"must be a positive duration such as '2h', got {value!r}")
    return seconds


def prune_rules(t: _Table) -> bool:
    """``[stream] prune_rules`` / ``--prune-rules``."""
    return t.boolean("prune_rules", False)
