"""The shapes of :mod:`harvester.core.api_tables`: one GET route and its parameters.

Why a hand-written module: the table module is generated from X's OpenAPI document
(``tools/gen_api_tables.py``) and must stay plain data, so the classes it instantiates live here,
where they can carry docstrings and small helpers. Only what a request can get wrong is kept
(names, requiredness, types, bounds, patterns, enums); descriptions, examples and response
schemas are left in the document.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    """One parameter of a route, with its ``$ref`` chains resolved.

    Attributes:
        name: as sent (``post.fields``, ``max_results``, ``id``).
        type: the schema's ``type`` (``string``, ``integer``, ``boolean``, ``array``); ``""`` when the
            document gives none.
        required: whether the route refuses a request without it (path parameters always are).
        item_type: an array's item type (arrays are sent comma-joined).
        format: a string's format (``date-time``); integer formats (``int32``) say nothing a
            request can get wrong and are not kept.
        minimum, maximum, default: an integer's bounds and default; ``default`` is also kept for
            strings and booleans (``granularity`` defaults to ``"hour"``).
        pattern: a string's pattern; for an array, each item's.
        min_length, max_length: a string's length bounds.
        min_items, max_items: an array's length bounds (a lookup's ``ids`` take at most 100).
        enum: the allowed values; for an array, each item's. Empty: any value.
    """

    name: str
    type: str
    required: bool = False
    item_type: str | None = None
    format: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    default: int | str | bool | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    enum: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One GET route of the document.

    Attributes:
        path: the template in harvester's style, ``/2/users/:id/tweets`` (the document writes
            ``/2/users/{id}/tweets``); it is also the name the rest of harvester uses for the route.
        path_params: the ``:name`` parts, in path order.
        query: the query parameters, sorted by name.
    """

    path: str
    path_params: tuple[Param, ...] = ()
    query: tuple[Param, ...] = ()

    def param(self, name: str) -> Param | None:
        """The query parameter ``name``, or None when the route takes no such parameter."""
        for p in self.query:
            if p.name == name:
                return p
        return None


def index(*routes: Route) -> dict[str, Route]:
    """Routes by path; a path listed twice is a generator bug, so it raises instead of hiding one."""
    table: dict[str, Route] = {}
    for route in routes:
        if route.path in table:
            raise ValueError(f"route {route.path} listed twice")
        table[route.path] = route
    return table
