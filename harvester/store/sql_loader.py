"""SQL lives in ``.sql`` files next to this module, found by name (as in procrastinate).

Each backend has ``sql/<backend>/queries.sql``, a series of blocks each opened by a
``-- name --`` line, and ``sql/<backend>/migrations/NNNN_what.sql``, applied in number order.
Keeping SQL out of Python lets both backends share query names, keeps it readable and lets a
reviewer diff the two dialects side by side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType

_QUERY_NAME = re.compile(r"^--\s*([a-z_][a-z0-9_]*)\s*--\s*$", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One schema step.

    Attributes:
        version: the schema version after this step (the file's number).
        name: the rest of the file name, for messages.
        sql: the script.
    """

    version: int
    name: str
    sql: str


def _backend_dir(backend: str) -> Traversable:
    return resources.files("harvester.store") / "sql" / backend


@cache
def load_queries(backend: str) -> Mapping[str, str]:
    """The named queries of ``backend``; a name defined twice is a bug, so it raises."""
    text = (_backend_dir(backend) / "queries.sql").read_text(encoding="utf-8")
    parts = _QUERY_NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"sql/{backend}/queries.sql: query {name!r} defined twice")
        queries[name] = body.strip()
    return MappingProxyType(queries)


@cache
def load_migrations(backend: str) -> tuple[Migration, ...]:
    """The migrations of ``backend`` in version order; versions must run 1, 2, 3, ..."""
    found: list[Migration] = []
    for entry in (_backend_dir(backend) / "migrations").iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(
                Migration(version=int(match[1]), name=match[2], sql=entry.read_text(encoding="utf-8"))
            )
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise ValueError(f"sql/{backend}/migrations: versions must be 1..n without gaps")
    return tuple(found)
