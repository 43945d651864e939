"""The sandbox's own tables: routes, rate limits, prices and pay-per-use product limits.

Written from the reference docs (x-api-spec.md §1, §6.1, §6.2) independently of the
harvester's tables, so a mistake on one side shows up as a disagreement rather than hiding in
both. ``tests/sandbox/test_reference_limits.py`` re-reads the spec to check these numbers.
Parameter names, bounds and enums are not here: :mod:`.openapi` reads them from X's document.
"""

from __future__ import annotations

SEARCH_RECENT = "/2/tweets/search/recent"
SEARCH_ALL = "/2/tweets/search/all"
TWEETS = "/2/tweets"
TWEET = "/2/tweets/:id"
USERS = "/2/users"
USERS_BY = "/2/users/by"
USER = "/2/users/:id"
USER_BY_USERNAME = "/2/users/by/username/:username"
USER_TWEETS = "/2/users/:id/tweets"
USER_MENTIONS = "/2/users/:id/mentions"
FOLLOWERS = "/2/users/:id/followers"
FOLLOWING = "/2/users/:id/following"
USAGE = "/2/usage/tweets"
COUNTS_RECENT = "/2/tweets/counts/recent"

ROUTES: tuple[str, ...] = (
    SEARCH_RECENT, SEARCH_ALL, TWEETS, TWEET, USERS, USERS_BY, USER_BY_USERNAME, USER,
    USER_TWEETS, USER_MENTIONS, FOLLOWERS, FOLLOWING, USAGE, COUNTS_RECENT,
)  # fmt: skip

# Per 15-minute window: (per app, per user). None = that kind of auth has no bucket here.
RATE_LIMITS: dict[str, tuple[int | None, int | None]] = {
    TWEETS: (3500, 5000),
    TWEET: (450, 900),
    SEARCH_RECENT: (450, 300),
    SEARCH_ALL: (300, None),
    USER_TWEETS: (10000, 900),
    USER_MENTIONS: (450, 300),
    USERS: (300, 900),
    USER: (300, 900),
    USERS_BY: (300, 900),
    USER_BY_USERNAME: (300, 900),
    FOLLOWERS: (300, 300),
    FOLLOWING: (300, 300),
    USAGE: (50, None),
    COUNTS_RECENT: (300, None),
}

# Routes that refuse user context (403 unsupported-authentication).
APP_ONLY: frozenset[str] = frozenset({SEARCH_ALL, USAGE, COUNTS_RECENT})

# Prices in micro-USD per resource returned (§6.1).
PRICE_POST = 5_000
PRICE_USER = 10_000
PRICE_FOLLOW = 10_000
PRICE_OWNED = 1_000
PRICE_COUNTS_RECENT = 5_000  # per request ("Counts: Recent"), not per resource
OWNED_READ_ROUTES: frozenset[str] = frozenset({USER_TWEETS, USER_MENTIONS, FOLLOWERS, FOLLOWING})

# The document allows 1-4096 characters; pay-per-use allows 512 on recent search and counts and
# 1024 on full archive (x-api-spec.md §1 [D-SEARCH]). Not a disagreement: a product limit on
# top of the schema, checked after it.
QUERY_MAX_LEN = {SEARCH_RECENT: 512, SEARCH_ALL: 1024, COUNTS_RECENT: 512}
GRANULARITY_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
RECENT_DAYS = 7
ARCHIVE_DEFAULT_DAYS = 30
TIMELINE_CAP = 3200
TIMELINE_CAP_NO_REPLIES = 800
MENTIONS_CAP = 800


# `max_results` when the request has none and X's document gives no default (it gives 10 for
# search; none for timelines and follows). Timelines: 10 [x-api-spec.md §1, D-TL]; follows: 100,
# as on X's API reference pages.
DEFAULT_MAX_RESULTS: dict[str, int] = {USER_TWEETS: 10, USER_MENTIONS: 10, FOLLOWERS: 100, FOLLOWING: 100}
