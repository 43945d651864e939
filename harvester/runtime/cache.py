"""The object cache: nothing fetched twice in a UTC day.

Posts and users from every written page are remembered in the store with their fetch time and
the *shape* they were fetched with (fields and expansions). A lookup (``/2/tweets?ids=``,
``/2/users?ids=``) first takes what the cache holds from the same UTC day with the same shape:
refetching them would be free of charge (X dedups per UTC day) but not of quota. If every id is
cached no request is sent; otherwise only the missing ids are asked for. The cached objects are
written on a line of their own, marked ``from_cache`` (a line is always one API response, or
the cache's answer, never a mix), committed with the page. The rows of every written page are
committed with it too (:func:`rows`).

Lookups that ask for expansions bypass the cache: the expanded ``includes`` objects are not
cached, and a page without them would differ from the API's.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from harvester.clock import Clock
from harvester.core.endpoints import ENDPOINTS, Resource
from harvester.core.model import JobSpec
from harvester.core.page import Page
from harvester.core.plan import PageRequest
from harvester.core.pricing import PER_REQUEST, next_utc_midnight
from harvester.errors import StoreError
from harvester.store.base import Store

log = structlog.get_logger(__name__)

LOOKUPS = {"/2/tweets": "post", "/2/users": "user"}
# Every parameter that changes what an object holds. The first three always appear in the
# shape (even empty), so shapes cached before the others existed still match.
_LEGACY_SHAPE = ("tweet.fields", "user.fields", "expansions")
SHAPE_PARAMS = (*_LEGACY_SHAPE, "post.fields", "media.fields", "place.fields", "poll.fields")
_KIND = {Resource.POST: "post", Resource.USER: "user", Resource.FOLLOW: "user"}
_READERS = {"lookup_tweets": "post", "lookup_users": "user"}  # job kinds that read the cache


async def prune(store: Store, clock: Clock) -> None:
    """Forget, at every UTC midnight (and once at start), what only the day that ended could use
    (X dedups charges per UTC day): the cache's objects of earlier days (a lookup uses only the
    current day's) and the charged ids of earlier days' ledger rows (their money and Post counts
    stay). So neither the cache nor the ledger's ids grow with the months a daemon runs. Never
    returns."""
    while True:
        now = clock.now()
        today = next_utc_midnight(now) - 86_400.0
        removed = await store.cache_prune(today)
        try:
            compacted = await store.ledger_compact(today)
        except StoreError as exc:  # the rewrite found the file busy: the ids go, the room waits a day
            log.warning("ledger_compact_failed", error=str(exc))
            compacted = 0
        if removed or compacted:
            log.info("cache_pruned", objects=removed, ledger_rows_compacted=compacted)
        await clock.sleep_until(next_utc_midnight(now) + 1.0)


def shape(params: Mapping[str, str]) -> str:
    """The fields and expansions an object was fetched with."""
    return "|".join(f"{k}={params.get(k, '')}" for k in SHAPE_PARAMS if k in params or k in _LEGACY_SHAPE)


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheAnswer:
    """What the cache holds for a lookup: objects to merge, and the request still to send."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    request: PageRequest | None = None  # None: every id was cached, send nothing


async def lookup(store: Store, route: str, request: PageRequest, now: float) -> CacheAnswer:
    """Split a lookup into cached objects and the ids still to fetch."""
    kind = LOOKUPS.get(route)
    ids_param = ENDPOINTS[route].ids_param if route in ENDPOINTS else None
    if kind is None or ids_param is None or request.params.get("expansions") or ids_param not in request.params:
        return CacheAnswer(request=request)
    ids = request.params[ids_param].split(",")
    cached = await store.cache_get(kind, shape(request.params), ids, next_utc_midnight(now) - 86_400.0)
    if not cached:
        return CacheAnswer(request=request)
    objects = [json.loads(cached[i]) for i in ids if i in cached]
    missing = [i for i in ids if i not in cached]
    if not missing:
        return CacheAnswer(objects=objects, request=None)
    return CacheAnswer(objects=objects, request=PageRequest(
        path=request.path, params={**request.params, ids_param: ",".join(missing)}))


def wanted(specs: Iterable[JobSpec]) -> frozenset[str]:
    """The kinds of object some job can read from the cache: posts if a job looks posts up,
    users if one looks users up. Nothing else reads the cache, so a daemon of poll jobs keeps
    nothing in it."""
    kinds = {spec.kind for spec in specs}
    return frozenset(kind for job_kind, kind in _READERS.items() if job_kind in kinds)


def rows(
    route: str, params: Mapping[str, str], page: Page, now: float, kinds: Collection[str] = ("post", "user")
) -> tuple[tuple[str, str, str, float, str], ...]:
    """The cache rows of a written page's ``data`` objects (committed with the page), of the
    ``kinds`` a job can still read (:func:`wanted`)."""
    ep = ENDPOINTS.get(route)
    if ep is None or ep.resource not in _KIND or route in PER_REQUEST:  # lists and counts: no lookup reads them
        return ()
    kind = _KIND[ep.resource]
    if kind not in kinds:
        return ()
    sh = shape(params)
    return tuple((kind, sh, str(o["id"]), now, json.dumps(o, separators=(",", ":"))) for o in page.data if "id" in o)
