"""Persistent state behind one :class:`~harvester.store.base.Store` interface.

:func:`open_store` picks the backend from the configured location, so the rest of the program
never names a backend class. :class:`ClaimLost` lives here, not in a backend, because every
backend raises it for the same reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from harvester.errors import StoreError

if TYPE_CHECKING:
    from harvester.store.base import Store

__all__ = ["ClaimLost", "is_shared_state", "open_store", "redact_url", "url_passwords", "url_scheme"]

_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class ClaimLost(StoreError):
    """The task is not claimed any more (committed twice, released, failed or recovered)."""

    def __init__(self, task_id: int) -> None:
        super().__init__(f"task {task_id} is not claimed (already committed, released, failed or recovered)")
        self.task_id = task_id


SHARED_SCHEMES = ("postgresql", "postgres")


def url_scheme(location: str) -> str | None:
    """The scheme of ``location`` in lower case (schemes are case-insensitive), or None."""
    match = _URL_SCHEME.match(location)
    return match[1].lower() if match else None


def is_shared_state(location: str) -> bool:
    """Whether a ``[harvest] state`` location is a PostgreSQL URL, which several processes share.

    The scheme is matched in any case (``POSTGRESQL://`` is the same URL, RFC 3986 §3.1).
    """
    return url_scheme(location) in SHARED_SCHEMES


def open_store(location: str | Path, *, sqlite_cache_kib: int | None = None) -> Store:
    """The store at ``location``: a file path or ``sqlite:///path`` (SQLite), ``postgresql://``.

    ``sqlite_cache_kib``: SQLite's page cache (default ``sqlite.CACHE_KIB``); the daemon keeps
    it small, as its queue is its jobs' sources and a cache sized for a million tasks would grow
    its memory with the file for months.

    The store is not opened yet; call ``await store.open()``. As in SQLAlchemy,
    ``sqlite:///state.db`` is relative and ``sqlite:////var/lib/state.db`` absolute.
    """
    if isinstance(location, str):
        match = _URL_SCHEME.match(location)
        if match:
            scheme = match[1].lower()
            if scheme == "sqlite":
                path = location[len("sqlite:///") :] if location.lower().startswith("sqlite:///") else ""
                if not path:
                    raise StoreError(f"{redact_url(location)}: expected sqlite:///path/to/state.db")
                location = path
            elif scheme in SHARED_SCHEMES:
                from harvester.store.postgres import PostgresStore  # asyncpg loads only when used

                return PostgresStore(location)
            else:
                raise StoreError(
                    f"{redact_url(location)}: unknown store scheme {scheme!r} (use a path or sqlite:///)"
                )
    from harvester.store.sqlite import SqliteStore  # here, so importing the package stays light

    return SqliteStore(location) if sqlite_cache_kib is None else SqliteStore(location, cache_kib=sqlite_cache_kib)


def redact_url(url: str) -> str:
    """``url`` without its password (in the authority or as a ``password=`` parameter).

    Whatever the parse leaves, :func:`harvester.redact.redact` goes over once more, so a URL
    that ``urlsplit`` reads oddly still never shows a password.
    """
    from harvester.redact import redact

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            netloc = f"{userinfo.partition(':')[0]}@{host}"
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(parts.query)])
        return redact(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))
    except ValueError:
        return "<unparsable URL>"


def url_passwords(url: str) -> list[str]:
    """The secrets in ``url``, to scrub from driver messages."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""] + [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
    except ValueError:
        return []
    return [s for s in found if s]
