"""Request validation: allowed parameters and bounds per route, and the exact 400 body.

Every check mirrors §1 of the reference spec; the error text follows the observed X
messages so a harvester that logs them sees what it would see in production.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from typing import Any

from harvester.sandbox import tables as T

PROBLEM = "https://api.twitter.com/2/problems/"
_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,3})?Z$")
ID_RE = re.compile(r"^[0-9]{1,19}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")

_TWEET_OPTS = {"tweet.fields", "post.fields", "expansions", "media.fields", "poll.fields", "place.fields",
               "user.fields"}  # fmt: skip
_USER_OPTS = {"user.fields", "expansions", "tweet.fields", "post.fields"}
_SEARCH = {"query", "start_time", "end_time", "since_id", "until_id", "max_results", "next_token",
           "pagination_token", "sort_order"}  # fmt: skip
_COUNTS = {"query", "start_time", "end_time", "since_id", "until_id", "granularity", "next_token",
           "pagination_token"}  # fmt: skip
_TIMELINE = {"max_results", "pagination_token", "since_id", "until_id", "start_time", "end_time"}

ALLOWED: dict[str, frozenset[str]] = {
    T.SEARCH_RECENT: frozenset(_SEARCH | _TWEET_OPTS),
    T.SEARCH_ALL: frozenset(_SEARCH | _TWEET_OPTS),
    T.TWEETS: frozenset({"ids"} | _TWEET_OPTS),
    T.TWEET: frozenset(_TWEET_OPTS),
    T.USERS: frozenset({"ids"} | _USER_OPTS),
    T.USERS_BY: frozenset({"usernames"} | _USER_OPTS),
    T.USER: frozenset(_USER_OPTS),
    T.USER_BY_USERNAME: frozenset(_USER_OPTS),
    T.USER_TWEETS: frozenset(_TIMELINE | {"exclude"} | _TWEET_OPTS),
    T.USER_MENTIONS: frozenset(_TIMELINE | _TWEET_OPTS),
    T.FOLLOWERS: frozenset({"max_results", "pagination_token"} | _USER_OPTS),
    T.FOLLOWING: frozenset({"max_results", "pagination_token"} | _USER_OPTS),
    T.USAGE: frozenset({"days", "usage.fields"}),
    T.COUNTS_RECENT: frozenset(_COUNTS),
}
TWEET_ROUTES = frozenset({T.SEARCH_RECENT, T.SEARCH_ALL, T.TWEETS, T.TWEET, T.USER_TWEETS, T.USER_MENTIONS})


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


def invalid(params: Mapping[str, str | list[str]], message: str) -> InvalidRequest:
    """One-error 400; ``params`` maps each offending parameter to its value(s)."""
    shaped = {k: (v if isinstance(v, list) else [v]) for k, v in params.items()}
    return InvalidRequest([{"parameters": shaped, "message": message}])


def check_names(route: str, query: Mapping[str, list[str]]) -> None:
    """Unknown or repeated parameters are a 400, as on X."""
    allowed = ALLOWED[route]
    errors = []
    for name, values in query.items():
        if name not in allowed:
            errors.append({"parameters": {name: values},
                           "message": f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]"})  # fmt: skip
        elif len(values) > 1:
            errors.append({"parameters": {name: values}, "message": f"Duplicate parameter [{name}]"})
    if errors:
        raise InvalidRequest(errors)


def csv(name: str, value: str | None, enum: frozenset[str]) -> frozenset[str]:
    """A comma-joined list whose every item must be in ``enum``."""
    if value is None:
        return frozenset()
    items = value.split(",")
    for item in items:
        if item not in enum:
            raise invalid({name: value},
                          f"The `{name}` query parameter value [{item}] is not one of [{','.join(sorted(enum))}]")  # fmt: skip
    return frozenset(items)


def int_in(name: str, value: str | None, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        raise invalid({name: value}, f"The `{name}` query parameter value [{value}] is not a number") from None
    if not low <= n <= high:
        raise invalid({name: value},
                      f"The `{name}` query parameter value [{value}] is not between {low} and {high}")  # fmt: skip
    return n


def time_param(name: str, value: str | None) -> float | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` (optionally with milliseconds) to epoch seconds."""
    if value is None:
        return None
    m = _TIME.match(value)
    try:
        if not m:
            raise ValueError(value)
        y, mo, d, h, mi, s = (int(g) for g in m.groups())
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 60):
            raise ValueError(value)
        return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))
    except ValueError:
        raise invalid({name: value},
                      f"The `{name}` query parameter value [{value}] is not a valid RFC3339 date-time") from None  # fmt: skip


def id_param(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not ID_RE.match(value):
        raise invalid({name: value}, f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$")
    return int(value)


def id_list(name: str, value: str | None, pattern: re.Pattern[str], shape: str) -> list[str]:
    """``ids``/``usernames``: 1–100 items, each matching ``pattern``; repeats collapse."""
    if value is None or value == "":
        raise invalid({name: []}, f"The `{name}` query parameter can not be empty")
    items = value.split(",")
    if not 1 <= len(items) <= T.IDS_MAX:
        raise invalid({name: value},
                      f"The number of values in the `{name}` query parameter list [{len(items)}] "
                      f"is not between 1 and {T.IDS_MAX}")  # fmt: skip
    for item in items:
        if not pattern.match(item):
            raise invalid({name: value}, f"The `{name}` query parameter value [{item}] does not match {shape}")
    return list(dict.fromkeys(items))


def fields(route: str, q: Mapping[str, str]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(tweet fields, user fields, expansions); ``post.fields`` is an alias of ``tweet.fields``."""
    if "tweet.fields" in q and "post.fields" in q:
        raise invalid({"tweet.fields": q["tweet.fields"], "post.fields": q["post.fields"]},
                      "At most one of `tweet.fields`, `post.fields` may be provided")  # fmt: skip
    tname = "post.fields" if "post.fields" in q else "tweet.fields"
    tf = csv(tname, q.get(tname), T.TWEET_FIELDS)
    uf = csv("user.fields", q.get("user.fields"), T.USER_FIELDS)
    csv("media.fields", q.get("media.fields"), T.MEDIA_FIELDS)
    csv("poll.fields", q.get("poll.fields"), T.POLL_FIELDS)
    csv("place.fields", q.get("place.fields"), T.PLACE_FIELDS)
    enum = T.TWEET_EXPANSIONS if route in TWEET_ROUTES else T.USER_EXPANSIONS
    ex = csv("expansions", q.get("expansions"), enum)
    return tf, uf, ex
