"""Durations as job files write them: ``90s``, ``1.5m``, ``2h``, ``1d``, ``1h30m``, or a number.

One parser for every duration a job file holds (``min_interval``, ``max_interval`` and the
``every <duration>`` schedules), so a unit or a fraction accepted in one place is accepted in all
of them. Pure: no I/O, no clock.

Rules, and why:

- A TOML number is seconds, fractions included (``0.25``): fast-forwarded tests and benchmarks
  need windows shorter than a second, and a float is what the runtime works in anyway.
- A string needs a unit on every number (``"15"`` is refused: it could as well mean minutes,
  and a guess here silently multiplies a poll rate by 60). Units: ``ms``, ``s``, ``m``, ``h``,
  ``d``, ``w``; parts may be compound (``"1h30m"``, ``"1h 30m"``) and fractional (``"1.5m"``).
- The result must lie within [:data:`MIN_SECONDS`, :data:`MAX_SECONDS`]. Below 10 ms nothing
  could honour it (one request's round trip takes longer), so such a value is a slip (``0`` or a
  missing unit), and refusing it costs nothing. Above ten years it is a slip too, and a bound
  keeps slot arithmetic and datetimes far from overflow.

The normalised value is a float of seconds.
"""

from __future__ import annotations

import math
import re

MIN_SECONDS = 0.01
MAX_SECONDS = 10 * 365 * 86400.0

UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
EXAMPLES = "'90s', '1.5m', '2h', '1d', '1h30m' or a number of seconds"

# One part: a number (digits, optional fraction) and a unit; "ms" before "m" so it wins.
_PART = r"(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d|w)"
_WHOLE = re.compile(rf"^\s*(?:{_PART}\s*)+$")
_PARTS = re.compile(_PART)


class DurationError(ValueError):
    """A value that is not a duration, or one outside the sensible bounds. One line.

    Attributes:
        detail: what a caller with its own wording (a schedule) should add: the bound that was
            crossed, or the missing unit; empty for plain garbage.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def parse_duration(value: object) -> float:
    """Seconds from a TOML number or a duration string; :class:`DurationError` otherwise.

    Examples: ``30`` -> 30.0, ``0.25`` -> 0.25, ``"90s"`` -> 90.0, ``"1.5m"`` -> 90.0,
    ``"1h30m"`` -> 5400.0, ``"250ms"`` -> 0.25.
    """
    if isinstance(value, bool):  # bool is an int in Python; true is not "1 second"
        raise DurationError(f"must be seconds > 0 or a duration like {EXAMPLES}, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if not _WHOLE.match(text):
            tip = "add a unit, e.g. '15s' or '15m'" if _is_number(text) else ""
            raise DurationError(
                f"must be seconds > 0 or a duration like {EXAMPLES}, got {_show(value)}"
                + (f" ({tip})" if tip else ""),
                tip,
            )
        seconds = sum(float(n) * UNITS[u] for n, u in _PARTS.findall(text))
    else:
        raise DurationError(f"must be seconds > 0 or a duration like {EXAMPLES}, got {_show(value)}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise DurationError(f"must be seconds > 0 or a duration like {EXAMPLES}, got {_show(value)}")
    if seconds < MIN_SECONDS:
        bound = f"must be at least {format_duration(MIN_SECONDS)}"
        raise DurationError(f"{bound}, got {_show(value)}", bound)
    if seconds > MAX_SECONDS:
        bound = f"must be at most 10 years ({format_duration(MAX_SECONDS)})"
        raise DurationError(f"{bound}, got {_show(value)}", bound)
    return seconds


def format_duration(seconds: float) -> str:
    """``5400.0`` -> ``"5400s"``, ``0.25`` -> ``"0.25s"``: seconds, for messages."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.3f}".rstrip("0") + "s"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
