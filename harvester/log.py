"""structlog setup: key-value lines on a TTY, JSON lines otherwise; secrets scrubbed.

Events are stable snake_case names with key-value fields (``page_committed``, ``budget_stop``).
A last processor (:func:`_scrub`) runs :func:`harvester.redact.redact` over every field: any
registered secret value (tokens) and any password in a URL, whatever its scheme, becomes ``***``,
so a secret that slips into an exception text or a driver message never reaches the log. Fields
that are neither plain scalars nor containers (an exception, a path) are logged as their text,
so that text is scrubbed too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from harvester.redact import MIN_SECRET_LENGTH, redact, redact_tree, register_secret

__all__ = ["MIN_SECRET_LENGTH", "configure", "register_secret"]

_PLAIN = (int, float, bool, type(None))


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
        elif isinstance(value, dict | list | tuple):
            event[key] = redact_tree(value)
        elif not isinstance(value, _PLAIN):
            event[key] = redact(str(value))
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
