"""Reading one TOML file (a config or a job file) into a dict, or one line saying why not.

Both loaders read through :func:`read_toml`, so every way a file can be unreadable gets the
same words whichever kind of file it is:

- the path itself: missing, a directory, a broken symlink, a symlink loop, not readable;
- the bytes: a byte-order mark (UTF-8 with BOM, or UTF-16/32, as Windows editors save) is named
  as such, because tomllib's own answer ("Invalid statement (line 1, column 1)") points at an
  invisible character; other undecodable bytes are named with their line and column;
- the TOML: tomllib's message (one line, with its position); an integer too long for Python to
  convert (``ValueError`` from ``int()``, not a ``TOMLDecodeError``) says so;
- nesting: arrays and tables nested deeper than :data:`MAX_DEPTH` are refused. tomllib parses
  recursively, so a value nested a few thousand levels deep ends in a ``RecursionError`` (3,000
  lines of traceback); a few hundred levels parse but then overflow later readers. No real
  config or job file nests more than four levels.

Each problem raises :class:`TomlFileError` with the problem alone; the caller adds the file,
job or key (``ConfigError``, ``JobSpecError``).
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

MAX_DEPTH = 64

_BOMS: tuple[tuple[bytes, str], ...] = (  # UTF-32 before UTF-16: FF FE 00 00 starts with FF FE
    (b"\xef\xbb\xbf", "a UTF-8 byte-order mark (BOM)"),
    (b"\xff\xfe\x00\x00", "a UTF-32 byte-order mark (the file is UTF-32, not UTF-8)"),
    (b"\x00\x00\xfe\xff", "a UTF-32 byte-order mark (the file is UTF-32, not UTF-8)"),
    (b"\xff\xfe", "a UTF-16 byte-order mark (the file is UTF-16, not UTF-8)"),
    (b"\xfe\xff", "a UTF-16 byte-order mark (the file is UTF-16, not UTF-8)"),
)


class TomlFileError(ValueError):
    """A TOML file that cannot be read, decoded or parsed; the message is the problem alone."""


def path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a file, or None: missing, loop, broken link, directory."""
    try:
        st = path.stat()
    except OSError as exc:
        return os_problem(path, exc)
    if not stat.S_ISREG(st.st_mode):
        return "is a directory, not a file" if path.is_dir() else "is not a regular file"
    return None


def os_problem(path: Path, exc: OSError) -> str:
    """An ``OSError`` met on ``path`` in words: a symlink loop and a broken link say so."""
    if exc.errno == errno.ELOOP:
        return "is a symlink loop"
    if exc.errno == errno.ENOENT and path.is_symlink():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"is a broken symlink (it points to {target!r}, which does not exist)"
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read: permission denied"
    if exc.errno == errno.EISDIR:
        return "is a directory, not a file"
    return f"cannot be read: {exc.strerror or exc}"


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed document at ``path``.

    Raises:
        TomlFileError: the path, the bytes, the TOML or its nesting is not acceptable.
    """
    problem = path_problem(path)
    if problem is not None:
        raise TomlFileError(problem)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TomlFileError(os_problem(path, exc)) from None
    return parse_toml(raw)


def parse_toml(raw: bytes) -> dict[str, Any]:
    """Bytes -> document, with the checks of :func:`read_toml` past the path."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            raise TomlFileError(f"starts with {name}; save it as UTF-8 without a BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(raw, exc.start)
        raise TomlFileError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, column {column} (byte {exc.start})"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlFileError(f"invalid TOML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise TomlFileError(f"invalid TOML: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # int() refusing a 4,301-digit number, and anything like it
        what = "a number too long to read" if "digits" in str(exc) else _one_line(str(exc))
        raise TomlFileError(f"invalid TOML: {what}") from None
    if depth(data) > MAX_DEPTH:
        raise TomlFileError(f"invalid TOML: nested deeper than {MAX_DEPTH} levels")
    return data


def depth(value: object) -> int:
    """How deeply tables and arrays nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: list[Any] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest  # enough to refuse; no need to walk the rest
        stack.extend((child, level) for child in children)
    return deepest


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _one_line(text: str) -> str:
    return " ".join(text.split())
