"""The sandbox's own tables: routes, parameter bounds, rate limits and prices.

Written from the reference docs (x-api-spec.md §1, §6.1, §6.2) independently of the
harvester's tables, so a mistake on one side shows up as a disagreement rather than hiding in
both. ``tests/sandbox/test_reference_limits.py`` re-reads the spec to check these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

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

QUERY_MAX_LEN = {SEARCH_RECENT: 512, SEARCH_ALL: 1024, COUNTS_RECENT: 512}
GRANULARITY_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
RECENT_DAYS = 7
ARCHIVE_DEFAULT_DAYS = 30
TIMELINE_CAP = 3200
TIMELINE_CAP_NO_REPLIES = 800
MENTIONS_CAP = 800


@dataclass(frozen=True)
class Bounds:
    """``max_results`` range and default for a paginated route."""

    low: int
    high: int
    default: int


MAX_RESULTS: dict[str, Bounds] = {
    SEARCH_RECENT: Bounds(10, 100, 10),
    SEARCH_ALL: Bounds(10, 500, 10),
    USER_TWEETS: Bounds(5, 100, 10),
    USER_MENTIONS: Bounds(5, 100, 10),
    FOLLOWERS: Bounds(1, 1000, 100),
    FOLLOWING: Bounds(1, 1000, 100),
}
IDS_MAX = 100

TWEET_FIELDS = frozenset(
    ["article", "attachments", "author_id", "card_uri", "community_id", "context_annotations", "conversation_id", "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang", "matched_media_notes", "media_metadata", "non_public_metrics", "note_request_suggestions", "note_tweet", "organic_metrics", "paid_partnership", "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes", "source", "suggested_source_links", "suggested_source_links_with_counts", "text", "withheld"]
)
USER_FIELDS = frozenset(
    ["affiliation", "confirmed_email", "connection_status", "created_at", "description", "entities", "id", "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody", "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected", "public_metrics", "receives_your_dm", "subscription", "subscription_type", "url", "username", "verified", "verified_followers_count", "verified_type", "withheld"]
)
TWEET_EXPANSIONS = frozenset(
    ["article.cover_media", "article.media_entities", "attachments.media_keys", "attachments.media_source_tweet", "attachments.poll_ids", "author_id", "edit_history_tweet_ids", "entities.mentions.username", "geo.place_id", "in_reply_to_user_id", "entities.note.mentions.username", "referenced_tweets.id", "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id", "referenced_posts"]
)
USER_EXPANSIONS = frozenset({"affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"})
MEDIA_FIELDS = frozenset(
    ["alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics", "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width"]
)
POLL_FIELDS = frozenset({"duration_minutes", "end_datetime", "id", "options", "voting_status"})
PLACE_FIELDS = frozenset(
    {"contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type"}
)
USAGE_FIELDS = frozenset(
    {"cap_reset_day", "daily_client_app_usage", "daily_project_usage", "project_cap", "project_id",
     "project_usage"}
)  # fmt: skip
