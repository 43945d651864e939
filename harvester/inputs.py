"""Id and username lists from files: ``user_ids_file``, ``tweet_ids_file``, ``usernames_file``.

Theory of operation
-------------------
A job may name a file instead of (or besides) writing its ids inline. The file is either a plain
list, one value a line, or a CSV file (``*.csv``) with a header row, one column of which holds
the values (``ids_column``, else the first header among the usual names: ``id``, ``user_id``,
``tweet_id``, ``author_id``, ``username``..., else the first column). Blank lines and lines
starting with ``#`` are skipped; a username may carry its ``@``. A relative path is relative to
the job file, so a folder of jobs and their inputs can move together.

Why streamed: a hydration of millions of ids must queue in constant memory. :func:`read_values`
is a generator over the open file, one line at a time; nothing here holds the list. The job
loader checks a file once end to end (:func:`check_file`, also streamed) so that a bad line is
one error naming the file and the line before anything is queued, and the harvest reads it again
as it enqueues.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from harvester.core.endpoints import ID_PATTERN, USERNAME_PATTERN
from harvester.core.model import JobSpec

FILE_KEYS: dict[str, str] = {
    "user_ids_file": "user_ids",
    "tweet_ids_file": "tweet_ids",
    "usernames_file": "usernames",
}
_PATTERNS = {"user_ids": re.compile(ID_PATTERN), "tweet_ids": re.compile(ID_PATTERN),
             "usernames": re.compile(USERNAME_PATTERN)}  # fmt: skip
_COLUMNS = {
    "user_ids": ("user_id", "id", "author_id", "user"),
    "tweet_ids": ("tweet_id", "post_id", "id", "tweet", "post"),
    "usernames": ("username", "screen_name", "user", "handle"),
}


class InputFileError(ValueError):
    """A file input that cannot be read as a list: ``line`` is 1-based (0: the file itself)."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")
        self.path, self.line, self.problem = path, line, problem


def resolve(path: str, job_file: str) -> Path:
    """``path`` relative to the job file's folder (unless absolute)."""
    p = Path(path).expanduser()
    if p.is_absolute() or job_file.startswith("<"):
        return p
    return Path(job_file).resolve().parent / p


def _clean(raw: str, what: str) -> str:
    value = raw.strip()
    if what == "usernames":
        value = value.removeprefix("@")
    return value


def _rows(path: Path, what: str, column: str | None) -> Iterator[tuple[int, str]]:
    """``(line number, raw value)`` of each value line, streamed."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        if path.suffix.lower() != ".csv":
            for n, line in enumerate(f, 1):
                text = line.strip()
                if text and not text.startswith("#"):
                    yield n, text
            return
        lines = (line for line in f if line.strip() and not line.lstrip().startswith("#"))
        reader = csv.reader(lines)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip().lower() for h in header]
        if column is not None:
            if column.lower() not in names:
                raise InputFileError(str(path), 1, f"no column {column!r} (columns: {', '.join(names)})")
            index = names.index(column.lower())
        else:
            index = next((names.index(c) for c in _COLUMNS[what] if c in names), 0)
        for row in reader:
            if index < len(row) and row[index].strip():
                yield reader.line_num, row[index]


def read_values(path: Path, what: str, column: str | None = None) -> Iterator[str]:
    """The values of an input file, one at a time (checked by :func:`check_file` beforehand)."""
    for _, raw in _rows(path, what, column):
        yield _clean(raw, what)


def check_file(path: Path, what: str, column: str | None = None) -> int:
    """Read the file through once: the number of values, or :class:`InputFileError` naming the
    first bad line. Constant memory, whatever the file's size."""
    pattern = _PATTERNS[what]
    count = 0
    try:
        for n, raw in _rows(path, what, column):
            value = _clean(raw, what)
            if not pattern.match(value):
                kind = "username" if what == "usernames" else "numeric id of 1-19 digits"
                raise InputFileError(str(path), n, f"expected a {kind}, got {value[:40]!r}")
            count += 1
    except FileNotFoundError:
        raise InputFileError(str(path), 0, "no such file") from None
    except IsADirectoryError:
        raise InputFileError(str(path), 0, "is a directory, not a file") from None
    except PermissionError:
        raise InputFileError(str(path), 0, "permission denied") from None
    except UnicodeDecodeError:
        raise InputFileError(str(path), 0, "is not UTF-8 text") from None
    except csv.Error as e:
        raise InputFileError(str(path), 0, f"is not valid CSV: {e}") from None
    return count


def job_inputs(spec: JobSpec) -> dict[str, Iterator[str]]:
    """The values of ``spec``'s files, by the list each extends (``user_ids``, ...), streamed:
    what :func:`harvester.core.plan.iter_plan` takes as ``inputs``."""
    out: dict[str, Iterator[str]] = {}
    for key, what in FILE_KEYS.items():
        path = getattr(spec, key)
        if path is not None:
            out[what] = read_values(Path(path), what, spec.ids_column)
    return out


__all__ = ["FILE_KEYS", "InputFileError", "check_file", "job_inputs", "read_values", "resolve"]
