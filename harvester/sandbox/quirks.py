"""Switchable quirks: behaviours seen in real X-like servers, each off by default.

A harvester that only ever meets the sandbox's faithful X would break on the first server that
slides its windows or ignores ``next_token``. Each quirk reproduces one such behaviour, alone
or together (``SandboxConfig(quirks=frozenset(QUIRKS))``), and none of them changes the ground
truth: :mod:`.truth` is what a *correct* client ends up with, quirks or not.

:data:`QUIRKS` is the list the harvester's tests iterate over (name → one-line description).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SLIDING_WINDOWS = "sliding_windows"
HIDDEN_PER_SECOND = "hidden_per_second"
NO_NEWEST_ID = "no_newest_id"
DROP_UNKNOWN_IDS = "drop_unknown_ids"
SHARED_LIMIT = "shared_limit"
IGNORE_NEXT_TOKEN = "ignore_next_token"
RANDOM_ORDER = "random_order"
EMPTY_NEWEST_ID = "empty_newest_id"
ALT_400_TEXT = "alt_400_text"
STRICT_PARAM_NAMES = "strict_param_names"
SHRINKING_WINDOWS = "shrinking_windows"

QUIRKS: Mapping[str, str] = {
    SLIDING_WINDOWS: "rate-limit windows slide: `limit` requests in any trailing window; every answer says "
    "reset = now + window and remaining = limit minus requests in the trailing window",
    HIDDEN_PER_SECOND: "a hidden per-second limiter on every route: a second request to a bucket within "
    "`per_second_interval` gets a 429 (about:blank) with x-rate-limit-remaining > 0",
    NO_NEWEST_ID: "user timelines and mentions omit meta.newest_id and meta.oldest_id",
    DROP_UNKNOWN_IDS: "id/username list lookups drop unknown ids silently instead of listing them in `errors`",
    SHARED_LIMIT: "one rate limit shared by every /2/users lookup and follows route "
    "(bucket `/2/users/*`; its headers describe the shared bucket)",
    IGNORE_NEXT_TOKEN: "search ignores next_token/pagination_token: the first page again with a fresh "
    "next_token (since_id and until_id are honoured)",
    RANDOM_ORDER: "results within each page come in a seeded random order (pages still partition the results)",
    EMPTY_NEWEST_ID: 'an empty post list answers {"meta": {"result_count": 0, "newest_id": ""}}',
    ALT_400_TEXT: "an invalid enum value's 400 message is worded \"invalid value 'x' at index i: value must "
    'be one of: [a, b]"',
    STRICT_PARAM_NAMES: "only this API version's name of the Post fields parameter is accepted "
    "(the other one is an unknown parameter: 400)",
    SHRINKING_WINDOWS: "from 60 simulated seconds after start, every rate-limit window is a third as long",
}


def check(names: Iterable[str]) -> frozenset[str]:
    """``names`` as a frozenset; an unknown name is a ValueError naming it and the known ones."""
    got = frozenset(names)
    unknown = sorted(got - QUIRKS.keys())
    if unknown:
        raise ValueError(f"unknown quirk {', '.join(unknown)} (known: {', '.join(QUIRKS)})")
    return got
