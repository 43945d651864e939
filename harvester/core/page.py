"""One response body, read once: the :class:`Page` every later decision reads.

Classification, pricing, the cap, the cache, pagination and polling all need facts from the same
200 body: its ``data`` items and their ids, ``includes``, ``meta`` (``next_token``,
``newest_id``, ``result_count``), partial ``errors``. :func:`parse_page` checks the body's shape
once (x-api-spec.md §2.1-§2.2) and returns them as one frozen value, so no two readers can
disagree about what a page said, and a malformed body is refused in one place
(:class:`~harvester.errors.BadResponse`).

What the server says wins, but servers leave things out: an X-like server may send no
``meta.newest_id`` (or ``""`` on an empty page). The newest id is then derived from the page's
own ids, compared as integers (``"99" < "100"``), never as strings; :attr:`Page.newest_from_meta`
says which it was.

``raw`` keeps the body exactly as decoded: a page is written to the output unaltered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harvester.errors import BadResponse

_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """A 2xx body's facts.

    Attributes:
        raw: the decoded body, unaltered (what is written).
        data: the ``data`` items (a single-object ``data`` is one item).
        ids: each item's ``id`` as a string, in order (items without one are skipped).
        includes, meta: as sent (empty mappings when absent).
        errors: partial per-item errors (HTTP 200 with ``errors[]``).
        next_token: ``meta.next_token``, None when absent.
        newest_id: ``meta.newest_id`` if it is a non-empty id, else the largest id on the page
            (as an integer), else None.
        newest_from_meta: whether ``newest_id`` came from ``meta``.
    """

    raw: Mapping[str, Any]
    data: tuple[Mapping[str, Any], ...]
    ids: tuple[str, ...]
    includes: Mapping[str, Any]
    meta: Mapping[str, Any]
    errors: tuple[Mapping[str, Any], ...]
    next_token: str | None
    newest_id: str | None
    newest_from_meta: bool

    @property
    def items(self) -> int:
        """``data`` entries on the page."""
        return len(self.data)

    @property
    def oldest_id(self) -> str | None:
        """``meta.oldest_id`` if given, else the smallest id on the page."""
        given = self.meta.get("oldest_id")
        if isinstance(given, str) and given.isdigit():
            return given
        return min(self.ids, key=int, default=None) if all(i.isdigit() for i in self.ids) else None


def _id_of(item: Mapping[str, Any]) -> str | None:
    value = item.get("id")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def parse_page(body: object, where: str) -> Page:
    """Read a decoded 2xx body; ``where`` names the request in errors.

    Raises:
        BadResponse: the body is not a v2 page (not an object, no ``data``/``meta``/``errors``,
            or one of them of the wrong type).
    """
    if not isinstance(body, Mapping):
        raise BadResponse(f"{where}: body is {type(body).__name__}, not a JSON object")
    if not any(k in body for k in ("data", "meta", "errors")):
        keys = ", ".join(sorted(map(str, body))[:5]) or "none"
        raise BadResponse(f"{where}: body has no data, meta or errors (keys: {keys})")
    data = body.get("data")
    if data is None:
        items: list[Any] = []
    elif isinstance(data, Mapping):  # single-object lookups (/2/users/:id) send one object
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise BadResponse(f"{where}: data is {type(data).__name__}, not a list")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise BadResponse(f"{where}: data[{i}] is {type(item).__name__}, not an object")
    errors = body.get("errors", [])
    if errors is None:
        errors = []
    if not isinstance(errors, list):
        raise BadResponse(f"{where}: errors is {type(errors).__name__}, not a list")
    meta = body.get("meta", _EMPTY)
    if meta is None:
        meta = _EMPTY
    if not isinstance(meta, Mapping):
        raise BadResponse(f"{where}: meta is {type(meta).__name__}, not an object")
    includes = body.get("includes", _EMPTY)
    if not isinstance(includes, Mapping):
        includes = _EMPTY
    next_token = meta.get("next_token")
    if next_token is not None and (not isinstance(next_token, str) or not next_token):
        raise BadResponse(f"{where}: meta.next_token is {type(next_token).__name__} {next_token!r:.40}")
    ids = tuple(i for i in map(_id_of, items) if i is not None)
    given = meta.get("newest_id")
    if given is not None and not isinstance(given, str):
        raise BadResponse(f"{where}: meta.newest_id is {type(given).__name__}, not a string")
    newest: str | None = given or None
    from_meta = newest is not None and newest.isdigit()
    if not from_meta:
        numeric = [i for i in ids if i.isdigit()]
        newest = max(numeric, key=int) if numeric else None
    return Page(
        raw=body,
        data=tuple(items),
        ids=ids,
        includes=includes,
        meta=meta,
        errors=tuple(e for e in errors if isinstance(e, Mapping)),
        next_token=next_token,
        newest_id=newest,
        newest_from_meta=from_meta,
    )


__all__ = ["Page", "parse_page"]
