"""The X API v2 endpoints harvester reads: bounds, pagination, default limits, billing class.

Tables are data (h11's rule): every fact about an endpoint lives in one row here, and config
overrides merge into these rows rather than branching around them. Each figure cites
``shared/reference/x-api-spec.md`` (§1 endpoint table, §6.1 pricing, §6.2 current rate table).
The rate limits are *priors only*: the ``x-rate-limit-*`` headers are authoritative and replace
them at the first response (§3.1: "The header is authoritative; tables are only priors").

Parameter names, field and expansion names come from X's OpenAPI document instead
(:mod:`harvester.core.api_tables`, generated), with the older names X renamed
(:mod:`harvester.core.renames`); ``tests/core/test_api_tables.py`` checks each row's
``max_results`` bounds and id-list sizes against the document.

The sandbox keeps its own, separately written table (``harvester/sandbox/``), and
``tests/test_reference_tables.py`` checks both against the reference, so a typo cannot hide in
both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harvester.core import api_tables, renames

WINDOW_SECONDS = 900.0  # §3.1: windows are mostly 15 minutes


class Resource(StrEnum):
    """What a returned ``data`` item is billed as (§6.1)."""

    POST = "post"
    USER = "user"
    FOLLOW = "follow"  # Following/Followers: Read, $0.010 per resource
    LIST = "list"  # List: Read, $0.005 per resource


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


# ``max_results`` bounds and ``max_ids`` agree with X's document (a test checks). Where the
# document states no ``max_results`` default (user tweets, mentions, followers, following),
# ``default_results`` does not come from it: §1 quotes 10 for user tweets from X's docs [D-TL],
# the others are unsourced. Nothing relies on them: harvester always sends ``max_results``.
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
        # Likes, reposts, quotes (§1, §6.2: 75 / 75). Liking users and liked posts are user-context
        # only (§7 "App-only cannot use").
        _e(route="/2/tweets/:id/liking_users", min_results=1, max_results=100, default_results=100,
           token_param="pagination_token", app_limit=None, user_limit=75, resource=Resource.USER,
           capped=False),
        _e(route="/2/users/:id/liked_tweets", min_results=5, max_results=100, default_results=None,
           token_param="pagination_token", app_limit=None, user_limit=75, resource=Resource.POST,
           owned_eligible=True, capped=True),
        _e(route="/2/tweets/:id/retweeted_by", min_results=1, max_results=100, default_results=100,
           token_param="pagination_token", app_limit=75, user_limit=75, resource=Resource.USER,
           capped=False),
        _e(route="/2/tweets/:id/quote_tweets", min_results=10, max_results=100, default_results=10,
           token_param="pagination_token", app_limit=75, user_limit=75, resource=Resource.POST,
           capped=True),
        # Lists (§1, §6.2: members and posts 900 / 900). The limits of the rows below them are not
        # in the reference: they are X's older per-endpoint pages' figures, as priors only (the
        # headers replace them at the first answer), picked low where unsure.
        _e(route="/2/lists/:id/tweets", min_results=1, max_results=100, default_results=100,
           token_param="pagination_token", app_limit=900, user_limit=900, resource=Resource.POST,
           capped=True, depth=800),
        _e(route="/2/lists/:id/members", min_results=1, max_results=100, default_results=100,
           token_param="pagination_token", app_limit=900, user_limit=900, resource=Resource.USER,
           capped=False),
        _e(route="/2/lists/:id/followers", min_results=1, max_results=100, default_results=100,
           token_param="pagination_token", app_limit=180, user_limit=180, resource=Resource.USER,
           capped=False),
        _e(route="/2/users/:id/owned_lists", min_results=1, max_results=100, default_results=100,
           token_param="pagination_token", app_limit=15, user_limit=15, resource=Resource.LIST,
           owned_eligible=True, capped=False),
        _e(route="/2/users/:id/followed_lists", min_results=1, max_results=100, default_results=100,
           token_param="pagination_token", app_limit=15, user_limit=15, resource=Resource.LIST,
           owned_eligible=True, capped=False),
        _e(route="/2/users/:id/list_memberships", min_results=1, max_results=100, default_results=100,
           token_param="pagination_token", app_limit=75, user_limit=75, resource=Resource.LIST,
           owned_eligible=True, capped=False),
        _e(route="/2/users/:id/pinned_lists", min_results=None, max_results=None, default_results=None,
           token_param=None, app_limit=None, user_limit=15, resource=Resource.LIST,
           owned_eligible=True, capped=False),
        # The authenticated user's own bookmarks, blocks and mutes: user context only (§7), and
        # ``:id`` must be that user. Blocks and mutes are priced as User reads ($0.010) unless
        # owned: §6.1 lists "Mute, Block $0.001" among reads without saying which; the higher
        # price is the safe side.
        _e(route="/2/users/:id/bookmarks", min_results=1, max_results=100, default_results=None,
           token_param="pagination_token", app_limit=None, user_limit=180, resource=Resource.POST,
           owned_eligible=True, capped=True),
        _e(route="/2/users/:id/blocking", min_results=1, max_results=1000, default_results=None,
           token_param="pagination_token", app_limit=None, user_limit=15, resource=Resource.USER,
           owned_eligible=True, capped=False),
        _e(route="/2/users/:id/muting", min_results=1, max_results=1000, default_results=100,
           token_param="pagination_token", app_limit=None, user_limit=15, resource=Resource.USER,
           owned_eligible=True, capped=False),
        # Counts (§1, §6.2: 300 per app, app-only): billed per request (``core.pricing.PER_REQUEST``),
        # each ``data`` item a time bucket, not a resource.
        _e(route="/2/tweets/counts/recent", min_results=None, max_results=None, default_results=None,
           token_param="next_token", app_limit=300, user_limit=None, resource=Resource.POST, capped=False,
           max_query_len=512),
        _e(route="/2/tweets/counts/all", min_results=None, max_results=None, default_results=None,
           token_param="next_token", app_limit=300, user_limit=None, resource=Resource.POST, capped=False,
           max_query_len=1024),
        # Filtered stream: 50 connects per 15 minutes (§5); each Post delivered is billed like a
        # Post read and counts toward the cap (§5 "Monthly cap and billing on streams").
        _e(route="/2/tweets/search/stream", min_results=None, max_results=None, default_results=None,
           token_param=None, app_limit=50, user_limit=None, resource=Resource.POST, capped=True,
           legacy_capped=True),
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
    # issue 16: every read researchers reach for
    "liking_users": "/2/tweets/:id/liking_users",
    "liked_tweets": "/2/users/:id/liked_tweets",
    "retweeted_by": "/2/tweets/:id/retweeted_by",
    "quote_tweets": "/2/tweets/:id/quote_tweets",
    "conversation": "/2/tweets/search/recent",
    "list_tweets": "/2/lists/:id/tweets",
    "list_members": "/2/lists/:id/members",
    "list_followers": "/2/lists/:id/followers",
    "owned_lists": "/2/users/:id/owned_lists",
    "followed_lists": "/2/users/:id/followed_lists",
    "list_memberships": "/2/users/:id/list_memberships",
    "pinned_lists": "/2/users/:id/pinned_lists",
    "bookmarks": "/2/users/:id/bookmarks",
    "blocking": "/2/users/:id/blocking",
    "muting": "/2/users/:id/muting",
    "counts": "/2/tweets/counts/recent",
    "stream": "/2/tweets/search/stream",
}
ARCHIVE_SEARCH = "/2/tweets/search/all"
RESOLVE_USERNAMES = "/2/users/by"
COUNTS_ALL = "/2/tweets/counts/all"

# ``archive = true`` reads the full-archive twin of a kind's route.
ARCHIVE_ROUTES: dict[str, str] = {
    "search": ARCHIVE_SEARCH,
    "conversation": ARCHIVE_SEARCH,
    "counts": COUNTS_ALL,
}

# What a kind's tasks are per (its input): one per user (``user_ids``/``usernames``), per post
# (``tweet_ids``), per list (``list_ids``), one query (``query``), or id lookups of 100 a request.
KIND_INPUT: dict[str, str] = {
    "search": "query",
    "counts": "query",
    "timeline": "users",
    "mentions": "users",
    "followers": "users",
    "following": "users",
    "liked_tweets": "users",
    "owned_lists": "users",
    "followed_lists": "users",
    "list_memberships": "users",
    "pinned_lists": "users",
    "bookmarks": "users",
    "blocking": "users",
    "muting": "users",
    "liking_users": "tweets",
    "retweeted_by": "tweets",
    "quote_tweets": "tweets",
    "conversation": "tweets",
    "list_tweets": "lists",
    "list_members": "lists",
    "list_followers": "lists",
    "lookup_tweets": "lookup",
    "lookup_users": "lookup",
    "stream": "rules",  # its rules; the stream runner collects it, no task is planned (core/stream)
}

# Job keys that become a fields or expansions parameter, and the parameter each is sent as
# ("send what the job says": ``tweet_fields`` goes as ``tweet.fields``, ``post_fields`` as
# ``post.fields``, its 2.167 name).
FIELD_KEYS: dict[str, str] = {
    "tweet_fields": "tweet.fields",
    "post_fields": "post.fields",
    "user_fields": "user.fields",
    "media_fields": "media.fields",
    "place_fields": "place.fields",
    "poll_fields": "poll.fields",
    "list_fields": "list.fields",
    "expansions": "expansions",
}


def kind_routes(kind: str) -> tuple[str, ...]:
    """Every route a job of ``kind`` sends its fields to (a search may be recent or archive; a
    user lookup reads ``/2/users`` for ids and ``/2/users/by`` for usernames)."""
    if kind in ARCHIVE_ROUTES:
        return (KIND_ENDPOINT[kind], ARCHIVE_ROUTES[kind])
    if kind == "lookup_users":
        return (KIND_ENDPOINT[kind], RESOLVE_USERNAMES)
    if kind == "stream":  # gaps are filled by recent search: the fields must suit both
        return (KIND_ENDPOINT[kind], KIND_ENDPOINT["search"])
    return (KIND_ENDPOINT[kind],)


def accepted_values(route: str, param: str) -> frozenset[str]:
    """The names ``param`` takes on ``route``: X's document's enum (OpenAPI 2.167, generated in
    :mod:`~harvester.core.api_tables`) plus the other version's names of the same family
    (:mod:`~harvester.core.renames`), since a job may use either. Empty: the route takes no such
    parameter (under either name of a renamed one)."""
    table = api_tables.ROUTES.get(route)
    if table is None:
        return frozenset()
    other = renames.param_counterpart(param)
    found = table.param(param) or (table.param(other) if other else None)
    if found is None:
        return frozenset()
    enum = frozenset(found.enum)
    return enum | renames.aliases(param, enum)


def _kind_fields(kind: str) -> dict[str, frozenset[str]]:
    fields: dict[str, frozenset[str]] = {}
    for key, param in FIELD_KEYS.items():
        per_route = [accepted_values(route, param) for route in kind_routes(kind)]
        if all(per_route):
            fields[key] = frozenset.intersection(*per_route)
    return fields


# Per kind: the fields/expansions job keys it takes, each with the names it accepts.
KIND_FIELDS: dict[str, dict[str, frozenset[str]]] = {kind: _kind_fields(kind) for kind in KIND_ENDPOINT}

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
