"""Opaque, stable page tokens and newest-first paging over post streams.

A token records *where* the previous page ended (an id bound, or an offset for follows) and
the simulated time of the first page (``at``): every later page hides posts created after
``at``, so a harvest of a fixed range returns exactly one consistent snapshot even while new
posts keep arriving. The same token always yields the same page. A short hash of the request's
other parameters is kept too, so a token replayed against a different query is a 400.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from harvester.sandbox.query import Candidates, Matcher
from harvester.sandbox.world import Tweet, World, tweet_ms


@dataclass(frozen=True)
class PageToken:
    """Decoded token: ``direction`` is "n" (older than ``pos``) or "p" (newer than ``pos``)."""

    direction: str
    pos: int
    at_ms: int
    key: str


def request_key(*parts: object) -> str:
    """Fingerprint of the parameters a token is bound to."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:8]


def encode(token: PageToken) -> str:
    raw = f"{token.direction}.{token.pos}.{token.at_ms}.{token.key}".encode()
    return base64.b32encode(raw).decode().rstrip("=").lower()


def decode(text: str) -> PageToken | None:
    """The token, or None when it is not one of ours."""
    try:
        raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8)).decode()
        direction, pos, at_ms, key = raw.split(".")
        if direction not in ("n", "p"):
            return None
        return PageToken(direction, int(pos), int(at_ms), key)
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Page:
    """One page of posts and whether there are more beyond it in each direction."""

    items: list[Tweet]
    more_older: bool
    more_newer: bool


def page_posts(stream: Iterable[Tweet], n: int, token: PageToken | None) -> Page:
    """Slice a newest-first ``stream``, already bounded by the token's position, into a page."""
    if token is None or token.direction == "n":
        chunk = list(islice(stream, n + 1))
        return Page(chunk[:n], len(chunk) > n, token is not None)
    newer = list(stream)
    return Page(newer[-n:], True, len(newer) > n)


@dataclass(frozen=True)
class PostRange:
    """Which posts a paginated request covers: created in ``[lo_ms, hi_ms)``, ids strictly
    between ``min_id`` and ``max_id``, optionally one author's / mentioning one user, matching a
    query, and (timelines) only among the ``cap`` most recent posts visible at ``vis_ms``.
    ``index`` narrows each hour to the query's candidates before ``match`` runs."""

    lo_ms: int
    hi_ms: int
    vis_ms: int
    min_id: int = 0
    max_id: int = 1 << 63
    author: int | None = None
    mention: int | None = None
    match: Matcher | None = None
    cap: int | None = None
    index: Candidates | None = None


def stream(world: World, r: PostRange) -> Iterator[Tweet]:
    """Posts of ``r``, newest first, reading only the hours the bounds allow."""
    min_id, max_id, match = r.min_id, r.max_id, r.match
    if r.cap is not None:
        oldest = world.nth_newest(r.vis_ms, r.cap, r.author, r.mention)
        if oldest is not None:
            min_id = max(min_id, oldest.id - 1)
    lo = max(r.lo_ms, tweet_ms(min_id) if min_id else 0)
    hi = min(r.hi_ms, r.vis_ms + 1, tweet_ms(max_id) + 1)
    for t in world.scan(lo, hi, r.author, r.mention, r.index):
        if min_id < t.id < max_id and (match is None or match(t)):
            yield t
