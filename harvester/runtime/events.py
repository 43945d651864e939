"""Logging what the request machine reports: its events are values, the log is the shell's."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from harvester.core.request import Event

log = structlog.get_logger("harvester.runtime")


def emit(events: Sequence[Event]) -> None:
    """Log each event at its level, under its stable name."""
    for e in events:
        getattr(log, e.level)(e.name, **e.fields)
