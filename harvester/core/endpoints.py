"""The X API v2 endpoints harvester reads: bounds, pagination, default limits, billing class.

Tables are data (h11's rule): every fact about an endpoint lives in one row here, and config
overrides merge into these rows rather than branching around them. Each figure cites
``shared/reference/x-api-spec.md`` (§1 endpoint table, §6.1 pricing, §6.2 current rate table).
The rate limits are *priors only*: the ``x-rate-limit-*`` headers are authoritative and replace
them at the first response (§3.1: "The header is authoritative; tables are only priors").

The sandbox keeps its own, separately written table (``harvester/sandbox/``), and
``tests/test_reference_tables.py`` checks both against the reference, so a typo cannot hide in
both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

WINDOW_SECONDS = 900.0  # §3.1: windows are mostly 15 minutes


class Resource(StrEnum):
    """What a returned ``data`` item is billed as (§6.1)."""

    POST = "post"
    USER = "user"
    FOLLOW = "follow"  # Following/Followers: Read, $0.010 per resource


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One GET endpoint.

    Attributes:
        route: method-less route template; also the rate-limit bucket's name.
        min_results, max_results, default_results: ``max_results`` bounds (None: no such param).
        token_param: the request parameter carrying ``meta.next_token`` (None: not paginated).
            Search accepts ``next_token`` or ``pagination_token``; we send ``next_token`` as tweepy
            and twarc do (§1 "Search pagination").
        ids_param, max_ids: the comma-separated id list of a lookup (``ids`` / ``usernames``).
        app_limit, user_limit: requests per 15-minute window per app / per user token (§6.2);
            None where the auth kind cannot call the endpoint.
        per_second: a hidden 1 request/second limiter the headers never show (full-archive search).
        resource: how each ``data`` item is billed.
        owned_eligible: the owned-read price applies when ``:id`` is the authenticated app owner.
        capped: counts toward the monthly Post cap on pay-per-use (every Post read, §6.1).
        legacy_capped: counted toward the cap on the older tiers (recent search and filtered
            stream only, x-api-rate-limits.txt).
        max_query_len: query length bound on pay-per-use (§1: 512 recent, 1024 full archive).
        depth: timeline depth cap (§1 "Timeline depth caps"), informational.
    """

    route: str
    min_results: int | None
    max_results: int | None
    default_results: int | None
    token_param: str | None
    ids_param: str | None = None
    max_ids: int | None = None
    app_limit: int | None
    user_limit: int | None
    per_second: float | None = None
    resource: Resource
    owned_eligible: bool = False
    capped: bool
    legacy_capped: bool = False
    max_query_len: int | None = None
    depth: int | None = None

    @property
    def paginated(self) -> bool:
        return self.token_param is not None


def _e(**kw: object) -> Endpoint:
    return Endpoint(**kw)  # type: ignore[arg-type]  # rows below are checked by tests


ENDPOINTS: dict[str, Endpoint] = {
    e.route: e
    for e in (
        _e(route="/2/tweets/search/recent", min_results=10, max_results=100, default_results=10,
           token_param="next_token", app_limit=450, user_limit=300, resource=Resource.POST,
           capped=True, legacy_capped=True, max_query_len=512),
        _e(route="/2/tweets/search/all", min_results=10, max_results=500, default_results=10,
           token_param="next_token", app_limit=300, user_limit=None, per_second=1.0,
           resource=Resource.POST, capped=True, max_query_len=1024),
        _e(route="/2/tweets", min_results=None, max_results=None, default_results=None,
           token_param=None, ids_param="ids", max_ids=100, app_limit=3500, user_limit=5000,
           resource=Resource.POST, capped=True),
        _e(route="/2/users", min_results=None, max_results=None, default_results=None,
           token_param=None, ids_param="ids", max_ids=100, app_limit=300, user_limit=900,
           resource=Resource.USER, capped=False),
        _e(route="/2/users/by", min_results=None, max_results=None, default_results=None,
           token_param=None, ids_param="usernames", max_ids=100, app_limit=300, user_limit=900,
           resource=Resource.USER, capped=False),
        _e(route="/2/users/:id/tweets", min_results=5, max_results=100, default_results=10,
           token_param="pagination_token", app_limit=10000, user_limit=900, resource=Resource.POST,
           owned_eligible=True, capped=True, depth=3200),
        _e(route="/2/users/:id/mentions", min_results=5, max_results=100, default_results=10,
           token_param="pagination_token", app_limit=450, user_limit=300, resource=Resource.POST,
           owned_eligible=True, capped=True, depth=800),
        _e(route="/2/users/:id/followers", min_results=1, max_results=1000, default_results=100,
           token_param="pagination_token", app_limit=300, user_limit=300, resource=Resource.FOLLOW,
           owned_eligible=True, capped=False),
        _e(route="/2/users/:id/following", min_results=1, max_results=1000, default_results=100,
           token_param="pagination_token", app_limit=300, user_limit=300, resource=Resource.FOLLOW,
           owned_eligible=True, capped=False),
        _e(route="/2/usage/tweets", min_results=None, max_results=None, default_results=None,
           token_param=None, app_limit=50, user_limit=None, resource=Resource.POST, capped=False),
    )
}

# Which endpoint each job kind reads (``search`` with ``archive = true`` reads search/all).
KIND_ENDPOINT: dict[str, str] = {
    "search": "/2/tweets/search/recent",
    "timeline": "/2/users/:id/tweets",
    "mentions": "/2/users/:id/mentions",
    "followers": "/2/users/:id/followers",
    "following": "/2/users/:id/following",
    "lookup_tweets": "/2/tweets",
    "lookup_users": "/2/users",
}
ARCHIVE_SEARCH = "/2/tweets/search/all"
RESOLVE_USERNAMES = "/2/users/by"

# §1 "Fields and expansions" (OpenAPI v2.166 enums).
TWEET_FIELDS = frozenset(
    ["article", "attachments", "author_id", "card_uri", "community_id", "context_annotations", "conversation_id", "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang", "matched_media_notes", "media_metadata", "non_public_metrics", "note_request_suggestions", "note_tweet", "organic_metrics", "paid_partnership", "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes", "source", "suggested_source_links", "suggested_source_links_with_counts", "text", "withheld"]
)
USER_FIELDS = frozenset(
    ["affiliation", "confirmed_email", "connection_status", "created_at", "description", "entities", "id", "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody", "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected", "public_metrics", "receives_your_dm", "subscription", "subscription_type", "url", "username", "verified", "verified_followers_count", "verified_type", "withheld"]
)
TWEET_EXPANSIONS = frozenset(
    ["article.cover_media", "article.media_entities", "attachments.media_keys", "attachments.media_source_tweet", "attachments.poll_ids", "author_id", "edit_history_tweet_ids", "entities.mentions.username", "geo.place_id", "in_reply_to_user_id", "entities.note.mentions.username", "referenced_tweets.id", "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id"]
)
USER_EXPANSIONS = frozenset(["affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"])

ID_PATTERN = r"^[0-9]{1,19}$"
USERNAME_PATTERN = r"^[A-Za-z0-9_]{1,15}$"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def endpoint(route: str) -> Endpoint:
    """The row for ``route``; KeyError names the route if it is unknown."""
    return ENDPOINTS[route]


def fill_route(route: str, path_params: dict[str, str] | None = None) -> str:
    """Substitute ``:name`` parts of a route template: ``/2/users/:id/tweets`` -> ``/2/users/12/tweets``."""
    if not path_params:
        return route
    parts = [path_params[p[1:]] if p.startswith(":") else p for p in route.split("/")]
    return "/".join(parts)
