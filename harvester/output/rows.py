"""One API object and its page turned into one export row (values in ``columns`` order).

Everything here reads with ``.get`` and checks types: pages come from X, from X-like servers
and from older or newer harvester versions, so any key may be missing or of another shape, and
a missing value is ``None`` (an empty cell), never a KeyError. Expansions are joined within the
object's own page, the way X returns them: ``includes`` holds each user or media object once per
page, for that page's objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harvester.output.columns import SEPARATOR, RowKind

Value = str | int | bool | None
Json = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_RELATION_PATH = re.compile(r"^/2/(?:users|tweets|lists|spaces)/([0-9]+)/([a-z_]+)$")
_USER_PATH = re.compile(r"^/2/users(?:/by(?:/username/[^/]+)?|/[0-9]+|/me)?$")
USER_RELATIONS = frozenset({"followers", "following", "liking_users", "retweeted_by", "members",
                            "blocking", "muting"})  # fmt: skip
POST_RELATIONS = frozenset({"tweets", "mentions", "liked_tweets", "bookmarks", "quote_tweets"})
LIST_RELATIONS = frozenset({"owned_lists", "followed_lists", "list_memberships", "pinned_lists"})
_LIST_PATH = re.compile(r"^/2/lists/[0-9]+$")
_COUNTS_PATH = re.compile(r"^/2/tweets/counts/[a-z]+$")
_DEFAULT_GRANULARITY = "hour"
"""X's ``granularity`` when a counts request names none."""
_REFERENCE_COLUMNS = ("replied_to", "quoted", "retweeted")
_POST_METRICS = ("like_count", "retweet_count", "reply_count", "quote_count", "impression_count",
                 "bookmark_count")  # fmt: skip
_USER_METRICS = ("followers_count", "following_count", "tweet_count", "listed_count", "like_count",
                 "media_count")  # fmt: skip


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a page tells about each of its objects: provenance and its ``includes``."""

    job: str
    retrieved_ms: int | None
    from_cache: bool
    relation: str | None
    relation_of: str | None
    users: Mapping[str, Json]
    media: Mapping[str, Json]


def _dict(v: Any) -> Json:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def text(v: Any) -> str | None:
    """A string value (an int id from a foreign writer as its digits); anything else is missing."""
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63 else None


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _joined(values: list[str | None]) -> str | None:
    found = [v for v in values if v]
    return SEPARATOR.join(found) if found else None


def time_ms(v: Any) -> int | None:
    """ISO-8601 (X's ``2021-01-06T18:40:40.000Z``) as epoch milliseconds; None if unreadable."""
    if not isinstance(v, str):
        return None
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # X always says Z; a bare time from elsewhere is read as UTC
    return (dt - _EPOCH) // _MS


def page_path(body: Json) -> str:
    """The API path a page came from: ``__harvester.path``, else the path of ``__twarc.url``."""
    path = _dict(body.get("__harvester")).get("path")
    if isinstance(path, str):
        return path
    url = _dict(body.get("__twarc")).get("url")
    return urlsplit(url).path if isinstance(url, str) else ""


def relation(path: str) -> tuple[str | None, str | None]:
    """``/2/users/12/followers`` -> ``("followers", "12")``; searches and lookups -> ``(None, None)``."""
    m = _RELATION_PATH.match(path)
    return (m.group(2), m.group(1)) if m else (None, None)


def kind_of_object(obj: Json) -> RowKind | None:
    """X's default fields tell: posts carry ``text``, users ``username``, count buckets ``start`` and
    ``tweet_count``, lists ``name`` (and no ``username``); anything else is none of them."""
    if "text" in obj:
        return "post"
    if "username" in obj:
        return "user"
    if "tweet_count" in obj and "start" in obj:
        return "count"
    if "name" in obj:
        return "list"
    return None


def kind_of_path(path: str) -> RowKind | None:
    """The row kind a route returns, for pages that hold no object to tell it."""
    rel, _ = relation(path)
    if _COUNTS_PATH.match(path):
        return "count"
    if rel in LIST_RELATIONS or _LIST_PATH.match(path):
        return "list"
    if rel in USER_RELATIONS or _USER_PATH.match(path):
        return "user"
    if rel in POST_RELATIONS or path.startswith("/2/tweets"):
        return "post"
    return None


def page_context(body: Json, job: str, retrieved_at: float, *, includes: bool) -> PageContext:
    """The page's provenance, and (``includes``: for post rows) its expanded users and media by key."""
    h = _dict(body.get("__harvester"))
    rel, of = relation(page_path(body))
    users: dict[str, Json] = {}
    media: dict[str, Json] = {}
    if includes:
        inc = _dict(body.get("includes"))
        for u in _list(inc.get("users")):
            if isinstance(u, dict) and (uid := text(u.get("id"))) is not None:
                users.setdefault(uid, u)
        for m in _list(inc.get("media")):
            if isinstance(m, dict) and isinstance(key := m.get("media_key"), str):
                media.setdefault(key, m)
    return PageContext(
        job=text(h.get("job")) or job,
        retrieved_ms=round(retrieved_at * 1000) if retrieved_at else None,
        from_cache=h.get("from_cache") is True,
        relation=rel,
        relation_of=of,
        users=users,
        media=media,
    )


def dedup_key(obj_id: str, relation_of: str | None) -> int | str:
    """One row per object *per relation*: a user following two tracked accounts is two edges.

    Ids as ints (two ids and their relation in one int) keep the seen-set small: about 70 bytes an
    entry, so tens of millions of ids fit in a few GB at worst, and typical exports in far less.
    """
    if _small_id(obj_id) and (relation_of is None or _small_id(relation_of)):
        key = int(obj_id)
        return key if relation_of is None else key | int(relation_of) << 64
    return f"{obj_id}/{relation_of or ''}"


def _small_id(s: str) -> bool:
    return s.isascii() and s.isdigit() and len(s) <= 19  # < 2**64


def post_row(o: Json, ctx: PageContext, created_ms: int | None) -> list[Value]:
    """``o`` as values in ``POST_COLUMNS`` order."""
    author_id = text(o.get("author_id"))
    author = ctx.users.get(author_id, {}) if author_id is not None else {}
    note = _dict(o.get("note_tweet"))
    full_text = text(note.get("text")) or text(o.get("text"))
    refs: dict[str, str | None] = {}
    for r in _list(o.get("referenced_tweets") or o.get("referenced_posts")):
        r = _dict(r)
        if isinstance(kind := r.get("type"), str):
            refs.setdefault(kind, text(r.get("id")))
    metrics = _dict(o.get("public_metrics"))
    entities = _dict(note.get("entities")) or _dict(o.get("entities"))
    tags = mentions = urls = None
    if entities:
        tags = _joined([text(_dict(e).get("tag")) for e in _list(entities.get("hashtags"))])
        mentions = _joined([text(_dict(e).get("username")) for e in _list(entities.get("mentions"))])
        urls = _joined([_url(e) for e in _list(entities.get("urls"))])
    media_urls = None
    if keys := _list(_dict(o.get("attachments")).get("media_keys")):
        media_urls = _joined([_media_url(ctx.media.get(k) if isinstance(k, str) else None) for k in keys])
    return [
        text(o.get("id")),
        created_ms,
        author_id,
        text(author.get("username")),
        text(author.get("name")),
        full_text,
        text(o.get("lang")),
        text(o.get("conversation_id")),
        text(o.get("in_reply_to_user_id")),
        *[refs.get(k) for k in _REFERENCE_COLUMNS],
        *[_int(metrics.get(k)) for k in _POST_METRICS],
        tags,
        mentions,
        urls,
        media_urls,
        *_provenance(ctx),
    ]


def user_row(o: Json, ctx: PageContext) -> list[Value]:
    """``o`` as values in ``USER_COLUMNS`` order."""
    metrics = _dict(o.get("public_metrics"))
    return [
        text(o.get("id")),
        text(o.get("username")),
        text(o.get("name")),
        time_ms(o.get("created_at")),
        text(o.get("description")),
        text(o.get("location")),
        text(o.get("url")),
        text(o.get("profile_image_url")),
        _bool(o.get("verified")),
        text(o.get("verified_type")),
        _bool(o.get("protected")),
        *[_int(metrics.get(k)) for k in _USER_METRICS],
        *_provenance(ctx),
    ]


def list_row(o: Json, ctx: PageContext) -> list[Value]:
    """``o`` as values in ``LIST_COLUMNS`` order."""
    return [
        text(o.get("id")),
        text(o.get("name")),
        text(o.get("description")),
        time_ms(o.get("created_at")),
        _int(o.get("follower_count")),
        _int(o.get("member_count")),
        text(o.get("owner_id")),
        _bool(o.get("private")),
        *_provenance(ctx),
    ]


@dataclass(frozen=True, slots=True)
class CountRequest:
    """What a counts page's request asked: its query and granularity (None when not recorded)."""

    query: str | None
    granularity: str | None


NO_REQUEST = CountRequest(None, None)


def count_request(body: Json) -> CountRequest:
    """The ``query`` and ``granularity`` parameters of the page's ``__twarc.url``.

    harvester records the request's URL with every page; a request without ``granularity`` got
    X's default (``hour``). A page from elsewhere without the URL leaves both unknown.
    """
    url = _dict(body.get("__twarc")).get("url")
    if not isinstance(url, str):
        return NO_REQUEST
    params = parse_qs(urlsplit(url).query)
    query = params.get("query", [None])[0]
    return CountRequest(query, params.get("granularity", [_DEFAULT_GRANULARITY])[0])


def count_row(o: Json, ctx: PageContext, request: CountRequest, start_ms: int | None) -> list[Value]:
    """``o`` (one bucket) as values in ``COUNT_COLUMNS`` order."""
    return [
        ctx.job,
        request.query,
        start_ms,
        time_ms(o.get("end")),
        _int(o.get("tweet_count")),
        request.granularity,
        ctx.retrieved_ms,
    ]


def _url(entity: Any) -> str | None:
    e = _dict(entity)
    return text(e.get("expanded_url")) or text(e.get("url"))


def _media_url(media: Json | None) -> str | None:
    m = _dict(media)
    return text(m.get("url")) or text(m.get("preview_image_url"))


def _provenance(ctx: PageContext) -> tuple[Value, ...]:
    return ctx.relation, ctx.relation_of, ctx.job, ctx.retrieved_ms, ctx.from_cache
