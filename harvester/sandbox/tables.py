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
COUNTS_ALL = "/2/tweets/counts/all"
LIKING_USERS = "/2/tweets/:id/liking_users"
LIKED_TWEETS = "/2/users/:id/liked_tweets"
RETWEETED_BY = "/2/tweets/:id/retweeted_by"
QUOTE_TWEETS = "/2/tweets/:id/quote_tweets"
LIST_TWEETS = "/2/lists/:id/tweets"
LIST_MEMBERS = "/2/lists/:id/members"
LIST_FOLLOWERS = "/2/lists/:id/followers"
OWNED_LISTS = "/2/users/:id/owned_lists"
FOLLOWED_LISTS = "/2/users/:id/followed_lists"
LIST_MEMBERSHIPS = "/2/users/:id/list_memberships"
PINNED_LISTS = "/2/users/:id/pinned_lists"
BOOKMARKS = "/2/users/:id/bookmarks"
BLOCKING = "/2/users/:id/blocking"
MUTING = "/2/users/:id/muting"

# Reads of likes, reposts, quotes, lists, bookmarks, blocks and mutes (issue 16).
READS: tuple[str, ...] = (
    LIKING_USERS, LIKED_TWEETS, RETWEETED_BY, QUOTE_TWEETS, LIST_TWEETS, LIST_MEMBERS, LIST_FOLLOWERS,
    OWNED_LISTS, FOLLOWED_LISTS, LIST_MEMBERSHIPS, PINNED_LISTS, BOOKMARKS, BLOCKING, MUTING,
)  # fmt: skip

ROUTES: tuple[str, ...] = (
    SEARCH_RECENT, SEARCH_ALL, TWEETS, TWEET, USERS, USERS_BY, USER_BY_USERNAME, USER,
    USER_TWEETS, USER_MENTIONS, FOLLOWERS, FOLLOWING, USAGE, COUNTS_RECENT, COUNTS_ALL, *READS,
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
    COUNTS_ALL: (300, None),
    LIKING_USERS: (None, 75),  # §6.2 gives 75 / 75; app auth cannot call it (§7)
    LIKED_TWEETS: (None, 75),
    RETWEETED_BY: (75, 75),
    QUOTE_TWEETS: (75, 75),
    LIST_TWEETS: (900, 900),
    LIST_MEMBERS: (900, 900),
    # Not in the reference (UNSOURCED_LIMITS): X's older per-endpoint documentation pages.
    LIST_FOLLOWERS: (180, 180),
    OWNED_LISTS: (15, 15),
    FOLLOWED_LISTS: (15, 15),
    LIST_MEMBERSHIPS: (75, 75),
    PINNED_LISTS: (None, 15),
    BOOKMARKS: (None, 180),
    BLOCKING: (None, 15),
    MUTING: (None, 15),
}
UNSOURCED_LIMITS: frozenset[str] = frozenset(
    {LIST_FOLLOWERS, OWNED_LISTS, FOLLOWED_LISTS, LIST_MEMBERSHIPS, PINNED_LISTS, BOOKMARKS, BLOCKING, MUTING}
)

# Routes that refuse user context (403 unsupported-authentication).
APP_ONLY: frozenset[str] = frozenset({SEARCH_ALL, USAGE, COUNTS_RECENT, COUNTS_ALL})
# Routes that refuse the app's bearer token (x-api-spec.md §7 "App-only cannot use": likes,
# bookmarks; blocks, mutes and pinned lists are a user's own too).
USER_ONLY: frozenset[str] = frozenset({LIKING_USERS, LIKED_TWEETS, BOOKMARKS, BLOCKING, MUTING, PINNED_LISTS})
# Routes whose ``:id`` must be the authenticated user: nobody reads another's bookmarks, blocks
# or mutes (403 otherwise).
SELF_ONLY: frozenset[str] = frozenset({BOOKMARKS, BLOCKING, MUTING})

# Prices in micro-USD per resource returned (§6.1).
PRICE_POST = 5_000
PRICE_USER = 10_000
PRICE_FOLLOW = 10_000
PRICE_OWNED = 1_000
PRICE_LIST = 5_000  # List: Read
PRICE_COUNTS_RECENT = 5_000  # per request ("Counts: Recent"), not per resource
PRICE_COUNTS_ALL = 10_000  # per request ("Counts: All")
OWNED_READ_ROUTES: frozenset[str] = frozenset({
    USER_TWEETS, USER_MENTIONS, FOLLOWERS, FOLLOWING, LIKED_TWEETS, BOOKMARKS, BLOCKING, MUTING,
    OWNED_LISTS, FOLLOWED_LISTS, LIST_MEMBERSHIPS, PINNED_LISTS,
})  # fmt: skip

# The document allows 1-4096 characters; pay-per-use allows 512 on recent search and counts and
# 1024 on full archive (x-api-spec.md §1 [D-SEARCH]). Not a disagreement: a product limit on
# top of the schema, checked after it.
QUERY_MAX_LEN = {SEARCH_RECENT: 512, SEARCH_ALL: 1024, COUNTS_RECENT: 512, COUNTS_ALL: 1024}
GRANULARITY_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
RECENT_DAYS = 7
ARCHIVE_DEFAULT_DAYS = 30
TIMELINE_CAP = 3200
TIMELINE_CAP_NO_REPLIES = 800
MENTIONS_CAP = 800
LIST_TWEETS_CAP = 800  # a list's posts: its members' 800 most recent (X's list timeline docs)


# `max_results` when the request has none and X's document gives no default (it gives 10 for
# search; none for timelines and follows). Timelines: 10 [x-api-spec.md §1, D-TL]; follows: 100,
# as on X's API reference pages.
DEFAULT_MAX_RESULTS: dict[str, int] = {USER_TWEETS: 10, USER_MENTIONS: 10, FOLLOWERS: 100, FOLLOWING: 100,
                                       LIKED_TWEETS: 100, BOOKMARKS: 100, BLOCKING: 100}  # fmt: skip
