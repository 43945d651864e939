"""structlog setup: key-value lines on a TTY, JSON lines otherwise; secrets scrubbed.

Events are stable snake_case names with key-value fields (``page_committed``, ``budget_stop``).
A last processor replaces any registered secret value (tokens) with ``***`` wherever it appears,
so a token that slips into an exception text still never reaches the log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRETS: list[str] = []


MIN_SECRET_LENGTH = 8  # real tokens are 40-120 characters; scrubbing "t" would garble every line


def register_secret(value: str) -> None:
    """Never log ``value`` (values too short to be a real credential are not scrubbed)."""
    if len(value) >= MIN_SECRET_LENGTH and value not in _SECRETS:
        _SECRETS.append(value)


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if not _SECRETS:
        return event
    for key, value in list(event.items()):
        if isinstance(value, str):
            for s in _SECRETS:
                if s in value:
                    value = value.replace(s, "***")
            event[key] = value
    return event


class _StderrLogger:
    """Writes each line to the *current* ``sys.stderr`` (or a fixed stream), looked up per call.

    structlog's PrintLogger binds its file once; a stream swapped later (pytest's capture, a
    daemon redirect) would then be written after it closed.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def msg(self, message: str) -> None:
        out = self._stream or sys.stderr
        out.write(message + "\n")
        out.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def configure(*, json: bool | None = None, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Configure structlog once per process. ``json=None`` picks JSON unless ``stream`` is a TTY."""
    out = stream or sys.stderr
    use_json = (not out.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_: _StderrLogger(stream),
        cache_logger_on_first_use=False,
    )
