"""Command-line flags checked like config keys, merged into the Config at the edge.

A flag that overrides a config key (``--workers``, ``--max-usd``, ``--metrics-port``) is read by
:func:`with_overrides` with that key's own rule (:mod:`harvester.config.rules`) and merged into a
new, frozen :class:`Config` once, in the CLI, before anything is queued. The runtime then sees one
validated configuration and never a second source of the same figure. A bad value raises
:class:`~harvester.errors.FlagError`, whose one line names the flag and the key it overrides:
``--workers: must be between 1 and 256, got 0 (it overrides [harvest] workers)``.

Numeric flags with no config key (the sandbox's ``--port``, ``--speed``, ...) are checked by
:func:`check_numeric_flags` with the same reader, so they get the same words and the same
refusal of ``nan`` and ``inf``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from harvester.config import rules
from harvester.config.model import Config
from harvester.config.toml_table import _Table
from harvester.errors import FlagError


@dataclass(frozen=True, slots=True)
class Override:
    """A flag that sets a config key, read with the key's rule."""

    flag: str
    section: str
    key: str
    read: Callable[[_Table], Any]


OVERRIDES: Mapping[str, Override] = {
    o.flag: o
    for o in (
        Override("--workers", "harvest", "workers", rules.workers),
        Override("--max-usd", "budget", "max_usd_per_run", rules.max_usd_per_run),
        Override("--metrics-port", "daemon", "metrics_port", rules.metrics_port),
        Override("--for", "harvest", "run_for", rules.run_for),
        Override("--prune-rules", "stream", "prune_rules", rules.prune_rules),
    )
}


class _FlagTable(_Table):
    """One flag's value, read as a one-key table: its failures name the flag, not a file."""

    def __init__(self, flag: str, key: str, value: object, note: str = "") -> None:
        super().__init__("<command line>", (), {key: value})
        self.flag = flag
        self.note = note

    def fail(self, name: str | None, problem: str) -> NoReturn:
        raise FlagError(self.flag, problem + self.note)


def with_overrides(
    config: Config,
    *,
    workers: int | None = None,
    max_usd: float | None = None,
    metrics_port: int | None = None,
    run_for: str | None = None,
    prune_rules: bool | None = None,
) -> Config:
    """``config`` with the given flags' values, each checked by its config key's rule.

    ``None`` means the flag was not given (the config's value stands).

    Raises:
        FlagError: a value the config key would refuse; the message names the flag.
    """
    flags = (("--workers", workers), ("--max-usd", max_usd), ("--metrics-port", metrics_port),
             ("--for", run_for), ("--prune-rules", prune_rules))  # fmt: skip
    for flag, value in flags:
        if value is None:
            continue
        o = OVERRIDES[flag]
        result = o.read(_FlagTable(flag, o.key, value, f" (it overrides [{o.section}] {o.key})"))
        section = getattr(config, o.section)
        config = replace(config, **{o.section: replace(section, **{o.key: result})})
    return config


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberRule:
    """Bounds of a numeric flag that has no config key."""

    integer: bool = False
    lo: float | None = None
    hi: float | None = None
    above: float | None = None


# Flags of the sandbox and the demo; argparse's ``dest`` -> (flag, rule).
NUMERIC_FLAGS: Mapping[str, tuple[str, NumberRule]] = {
    "port": ("--port", NumberRule(integer=True, lo=0, hi=65535)),
    "speed": ("--speed", NumberRule(above=0, hi=1e6)),
    "epoch": ("--epoch", NumberRule(lo=0, hi=253_402_300_799)),  # up to 9999-12-31T23:59:59Z
    "latency": ("--latency", NumberRule(lo=0, hi=600)),
    "window": ("--window", NumberRule(above=0, hi=31 * 86400)),
    "seed": ("--seed", NumberRule(integer=True, lo=0, hi=2**32 - 1)),
}


def check_numeric_flags(args: argparse.Namespace) -> None:
    """Check every numeric flag without a config key that ``args`` holds (``None``: not given).

    Raises:
        FlagError: naming the flag.
    """
    for dest, (flag, rule) in NUMERIC_FLAGS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        t = _FlagTable(flag, dest, value)
        if rule.integer:
            t.integer(dest, 0, lo=None if rule.lo is None else int(rule.lo), hi=None if rule.hi is None else int(rule.hi))
        else:
            t.number(dest, 0.0, lo=rule.lo, hi=rule.hi, above=rule.above)
