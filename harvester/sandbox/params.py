"""Request validation from X's OpenAPI document, and the exact 400 bodies.

:func:`validate` checks a request against the tables :mod:`.openapi` read from the document for
the sandbox's API version: unknown parameter names, required parameters, integer bounds, string
patterns and lengths, date-times, and the enum of every fields/expansions parameter. Everything
wrong is reported in one 400 (one ``errors[]`` item per parameter), in X's invalid-request shape
(x-api-spec.md §2.3), so a harvester that logs them sees what it would see in production.

The ``alt_400_text`` quirk words an invalid enum value the way another X-like server does
(``invalid value 'x' at index 0: value must be one of: [a, b]``); the body's shape stays X's.
Checks the document cannot express (time order, page tokens, query syntax, pay-per-use product
limits) are the handlers'.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harvester.sandbox import quirks as Q
from harvester.sandbox import tables as T
from harvester.sandbox.openapi import ApiTables, ParamSpec

PROBLEM = "https://api.twitter.com/2/problems/"
_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,3})?Z$")
ID_RE = re.compile(r"^[0-9]{1,19}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")

# 2.167 expansion names → the names rendering uses (the objects are the same in both versions).
_CANONICAL_EXPANSIONS = {
    "referenced_posts": "referenced_tweets.id",
    "edit_history_post_ids": "edit_history_tweet_ids",
    "affiliation": "affiliation.user_id",
    "most_recent_post_id": "most_recent_tweet_id",
    "pinned_post_id": "pinned_tweet_id",
}


class InvalidRequest(Exception):
    """A 400: carries the ``errors[]`` items of the problem body."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"] if errors else "invalid request")
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {
            "errors": self.errors,
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEM + "invalid-request",
        }


def _error(params: Mapping[str, str | list[str]], message: str) -> dict[str, Any]:
    shaped = {k: (v if isinstance(v, list) else [v]) for k, v in params.items()}
    return {"parameters": shaped, "message": message}


def invalid(params: Mapping[str, str | list[str]], message: str) -> InvalidRequest:
    """One-error 400; ``params`` maps each offending parameter to its value(s)."""
    return InvalidRequest([_error(params, message)])


def enum_message(name: str, item: str, index: int, enum: tuple[str, ...], alt: bool) -> str:
    """X's message for a value outside ``enum`` (or, with ``alt``, another server's wording)."""
    if alt:
        return f"invalid value '{item}' at index {index}: value must be one of: [{', '.join(enum)}]"
    return f"The `{name}` query parameter value [{item}] is not one of [{','.join(enum)}]"


def check_duplicates(query: Mapping[str, list[str]]) -> None:
    """A parameter given twice is a 400, as on X."""
    errors = [_error({name: values}, f"Duplicate parameter [{name}]") for name, values in query.items()
              if len(values) > 1]  # fmt: skip
    if errors:
        raise InvalidRequest(errors)


def accepted_names(route: str, tables: ApiTables, quirks: frozenset[str]) -> dict[str, str]:
    """Every query parameter name ``route`` accepts → the document's name it stands for."""
    names = {n: n for n in tables.route(route).query_names()}
    if tables.post_fields in names and Q.STRICT_PARAM_NAMES not in quirks:
        names[tables.post_fields_alias] = tables.post_fields
    return names


def validate(route: str, q: Mapping[str, str], path: Mapping[str, str], tables: ApiTables,
             quirks: frozenset[str]) -> None:  # fmt: skip
    """Raise :class:`InvalidRequest` listing every parameter of the request the document refuses."""
    spec = tables.route(route)
    names = accepted_names(route, tables, quirks)
    alt = Q.ALT_400_TEXT in quirks
    errors: list[dict[str, Any]] = []
    for name, value in q.items():
        if name not in names:
            errors.append(_error({name: value}, f"The query parameter [{name}] is not one of [{','.join(names)}]"))
    post = [n for n in (tables.post_fields, tables.post_fields_alias) if n in q and n in names]
    if len(post) > 1:
        errors.append(_error({n: q[n] for n in post}, f"At most one of `{post[0]}`, `{post[1]}` may be provided"))
    for name, p in spec.params.items():
        given = [n for n, target in names.items() if target == name and n in q]
        got: str | None = path.get(name) if p.location == "path" else (q[given[0]] if given else None)
        if got is None:
            if p.required:
                errors.append(_error({name: []}, f"The `{name}` query parameter can not be empty"))
            continue
        message = _check(p, given[0] if given else name, got, alt)
        if message is not None:
            errors.append(_error({given[0] if given else name: got}, message))
    if errors:
        raise InvalidRequest(errors)


def _check(p: ParamSpec, name: str, value: str, alt: bool) -> str | None:
    """The 400 message for ``value`` of parameter ``p`` (sent as ``name``), or None when valid."""
    if p.kind == "integer":
        try:
            n = int(value)
        except ValueError:
            return f"The `{name}` query parameter value [{value}] is not a number"
        if (p.minimum is not None and n < p.minimum) or (p.maximum is not None and n > p.maximum):
            return f"The `{name}` query parameter value [{value}] is not between {p.minimum} and {p.maximum}"
        return None
    if p.kind == "array":
        if value == "":
            return f"The `{name}` query parameter can not be empty"
        items = value.split(",")
        lo, hi = p.min_items or 1, p.max_items
        if len(items) < lo or (hi is not None and len(items) > hi):
            return (f"The number of values in the `{name}` query parameter list [{len(items)}] "
                    f"is not between {lo} and {hi}")  # fmt: skip
        for i, item in enumerate(items):
            if p.enum is not None and item not in p.enum:
                return enum_message(name, item, i, p.enum, alt)
            if p.pattern is not None and not re.search(p.pattern, item):
                return f"The `{name}` query parameter value [{item}] does not match {p.pattern}"
        return None
    if p.enum is not None and value not in p.enum:
        return enum_message(name, value, 0, p.enum, alt)
    too_short = p.min_length is not None and len(value) < p.min_length
    if too_short or (p.max_length is not None and len(value) > p.max_length):
        if value == "":
            return f"The `{name}` query parameter can not be empty"
        if p.max_length is None:
            return f"The `{name}` query parameter value [{value}] is shorter than {p.min_length} characters"
        return f"The `{name}` query parameter value is not between {p.min_length or 0} and {p.max_length} characters"
    if p.pattern is not None and not re.search(p.pattern, value):
        return f"The `{name}` query parameter value [{value}] does not match {p.pattern}"
    if p.date_time and _epoch(value) is None:
        return f"The `{name}` query parameter value [{value}] is not a valid RFC3339 date-time"
    return None


# -- reading validated values -----------------------------------------------------------------


def int_param(route: str, name: str, q: Mapping[str, str], tables: ApiTables) -> int:
    """An integer parameter, or its default (the document's, else :data:`tables.DEFAULT_MAX_RESULTS`)."""
    if name in q:
        return int(q[name])
    default = tables.route(route).params[name].default
    if isinstance(default, int):
        return default
    return T.DEFAULT_MAX_RESULTS[route]


def _epoch(value: str) -> float | None:
    m = _TIME.match(value)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 60):
        return None
    return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))


def time_param(name: str, value: str | None) -> float | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` (optionally with milliseconds) to epoch seconds."""
    if value is None:
        return None
    t = _epoch(value)
    if t is None:
        raise invalid({name: value}, f"The `{name}` query parameter value [{value}] is not a valid RFC3339 date-time")
    return t


def id_param(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not ID_RE.match(value):
        raise invalid({name: value}, f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$")
    return int(value)


def id_list(value: str | None) -> list[str]:
    """``ids``/``usernames`` (validated already): the items, repeats collapsed, in order."""
    return list(dict.fromkeys((value or "").split(",")))


def csv(value: str | None) -> frozenset[str]:
    """A validated comma-joined list as a set (empty when absent)."""
    return frozenset() if not value else frozenset(value.split(","))


@dataclass(frozen=True)
class Fields:
    """What a request asked to see: Post, User and Media fields, and expansions (by the names
    rendering uses, whichever version's names were sent)."""

    tweet: frozenset[str]
    user: frozenset[str]
    media: frozenset[str]
    expansions: frozenset[str]


def fields(q: Mapping[str, str]) -> Fields:
    """The validated fields parameters of ``q``; ``post.fields`` and ``tweet.fields`` are one."""
    tf = csv(q.get("post.fields") or q.get("tweet.fields"))
    ex = frozenset(_CANONICAL_EXPANSIONS.get(e, e) for e in csv(q.get("expansions")))
    return Fields(tf, csv(q.get("user.fields")), csv(q.get("media.fields")), ex)
