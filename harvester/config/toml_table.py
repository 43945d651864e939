"""Strict reading of one TOML table: typed, range-checked keys, one-line errors with hints."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, cast

from harvester.config.model import (
    _BARE_KEY,
    _ENV_NAME,
)
from harvester.errors import ConfigError


def quote_key(part: str) -> str:
    """A TOML key part as written in a dotted key: bare if it can be, else quoted and escaped."""
    if _BARE_KEY.match(part):
        return part
    return '"' + part.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _fmt_key(parts: tuple[str, ...]) -> str:
    return ".".join(quote_key(p) for p in parts)


def _show(value: object, limit: int = 60) -> str:
    """A value for a one-line message: repr'd (escapes newlines) and shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _num(bound: float) -> str:
    """A bound for a message: ``256``, ``0.1``, ``65535`` (never ``6.5535e+04``)."""
    if float(bound).is_integer() and abs(bound) < 1e15:
        return str(int(bound))
    return f"{bound:g}"


_TYPE_NAMES: tuple[tuple[type, str], ...] = (  # bool before int: True is an int too
    (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"), (list, "a list"),
    (dict, "a table"),
)


def _type_name(value: object) -> str:
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), f"a {type(value).__name__}")


def hint(name: str, known: Iterable[object]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known``, or ``""``."""
    candidates = [str(k) for k in known]
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


class _Table:
    """One TOML table being read: typed getters that remember which keys they consumed."""

    def __init__(self, file: str, path: tuple[str, ...], data: Mapping[str, Any]) -> None:
        self.file = file
        self.path = path
        self.data = data
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return _fmt_key((*self.path, name))

    def fail(self, name: str | None, problem: str) -> NoReturn:
        key = self.key(name) if name is not None else _fmt_key(self.path)
        raise ConfigError(self.file, key or None, problem)

    def _get(self, name: str) -> Any:
        self.used.add(name)
        return self.data.get(name)

    def _expect(self, name: str, value: object, what: str) -> NoReturn:
        self.fail(name, f"must be {what}, got {_type_name(value)} {_show(value)}")

    def integer(self, name: str, default: int, *, lo: int | None = None, hi: int | None = None) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self._expect(name, value, "an integer")
        self._range(name, value, lo, hi)
        return value

    def number(
        self,
        name: str,
        default: float,
        *,
        lo: float | None = None,
        hi: float | None = None,
        above: float | None = None,
    ) -> float:
        result = self.opt_number(name, lo=lo, hi=hi, above=above)
        return default if result is None else result

    def opt_number(
        self, name: str, *, lo: float | None = None, hi: float | None = None, above: float | None = None
    ) -> float | None:
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._expect(name, value, "a number")
        number = float(value)
        if not math.isfinite(number):
            self.fail(name, f"must be a finite number, got {_show(value)}")
        if above is not None and number <= above:
            self.fail(name, f"must be greater than {_num(above)}, got {_show(value)}")
        self._range(name, number, lo, hi)
        return number

    def _range(self, name: str, value: float, lo: float | None, hi: float | None) -> None:
        if lo is not None and hi is not None and not lo <= value <= hi:
            self.fail(name, f"must be between {_num(lo)} and {_num(hi)}, got {_show(value)}")
        if lo is not None and value < lo:
            self.fail(name, f"must be at least {_num(lo)}, got {_show(value)}")
        if hi is not None and value > hi:
            self.fail(name, f"must be at most {_num(hi)}, got {_show(value)}")

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._expect(name, value, "true or false")
        return value

    def string(self, name: str, default: str) -> str:
        result = self.opt_string(name)
        return default if result is None else result

    def opt_string(self, name: str) -> str | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self._expect(name, value, "a string")
        if not value.strip():
            self.fail(name, "must not be empty")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            self.fail(name, "must not contain control characters")
        return value

    def env_name(self, name: str, default: str | None = None) -> str:
        value = self._get(name)
        if value is None:
            if default is None:
                self.fail(name, "is required (the NAME of an environment variable)")
            return default
        if not isinstance(value, str):
            self._expect(name, value, "a string")
        if not _ENV_NAME.match(value):
            # Do not echo the value: it may be a pasted secret.
            self.fail(
                name,
                "must be the NAME of an environment variable (letters, digits and _), "
                "not a token; put the token itself in that variable",
            )
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(name, default)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            self.fail(name, f"must be one of {options}, got {_show(value)}{hint(value, choices)}")
        return value

    def str_list(self, name: str) -> list[str] | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, list):
            self._expect(name, value, "a list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(name, f"item {i} must be a string, got {_type_name(item)} {_show(item)}")
        return cast("list[str]", value)

    def table(self, name: str) -> _Table:
        value = self._get(name)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self._expect(name, value, "a table")
        return _Table(self.file, (*self.path, name), cast("dict[str, Any]", value))

    def finish(self) -> None:
        """Refuse keys nobody read."""
        for name in self.data:
            if name not in self.used:
                known = sorted(self.used)
                what = "section" if isinstance(self.data[name], dict) else "key"
                self.fail(name, f"unknown {what}{hint(name, known)}")
