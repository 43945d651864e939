"""Ground truth, answered straight from the world (no HTTP, no paging, no limits).

Written as plain filters over every post, deliberately *not* reusing the server's cursor and
range code, so a paging bug shows up as a difference between a harvest and the truth. Quirks
change how the server answers, never what a correct client ends up with, so the truth ignores
them: e.g. under ``ignore_next_token`` a client that pages by ``until_id`` still reaches
exactly :meth:`Truth.search`. Search queries are matched with the server's parser (the same
query language by definition); tests/sandbox/test_sandbox_operators.py checks each operator's
meaning independently, on the objects the server renders.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harvester.clock import Clock
from harvester.sandbox import tables as T
from harvester.sandbox.query import parse
from harvester.sandbox.social import Social
from harvester.sandbox.world import HOUR_MS, QUOTED, REPLIED_TO, RETWEETED, Tweet, World

TimeArg = float | str | datetime | None


@dataclass(frozen=True)
class UserInfo:
    """A world user, for picking test subjects."""

    id: str
    username: str
    posts_per_day: float
    followers: int
    following: int


@dataclass(frozen=True)
class SampleQueries:
    """Queries with known selectivity: ``common`` matches many posts, ``rare`` a few a week."""

    common: str
    rare: str
    from_active: str
    mention_popular: str


def _sec(t: TimeArg) -> float | None:
    if t is None or isinstance(t, float | int):
        return t
    if isinstance(t, datetime):
        return t.timestamp()
    return datetime.fromisoformat(t).timestamp()


class Truth:
    """What a complete, correct harvest would return."""

    def __init__(self, world: World, clock: Clock) -> None:
        self.world = world
        self.clock = clock
        self.social = Social(world)

    def _at_ms(self, at: TimeArg) -> int:
        s = _sec(at)
        return int((self.clock.now() if s is None else s) * 1000)

    def _all(self, at_ms: int) -> Iterable[Tweet]:
        """Every visible post, newest first."""
        for h in range(at_ms // HOUR_MS, self.world.start_ms // HOUR_MS - 1, -1):
            for t in self.world.hour(h).tweets:
                if t.created_ms <= at_ms:
                    yield t

    def search(self, query: str, start_time: TimeArg = None, end_time: TimeArg = None,
               archive: bool = False, at: TimeArg = None) -> list[str]:  # fmt: skip
        """Ids (newest first) a full harvest of this search, started at ``at``, returns."""
        at_ms = self._at_ms(at)
        days = T.ARCHIVE_DEFAULT_DAYS if archive else T.RECENT_DAYS
        floor = at_ms - days * 86_400_000
        s, e = _sec(start_time), _sec(end_time)
        lo = floor if s is None else int(s * 1000)
        if not archive:
            lo = max(lo, floor)
        hi = at_ms - 30_000 if e is None else int(e * 1000)
        match = parse(query, self.world).match
        return [str(t.id) for t in self._all(at_ms) if lo <= t.created_ms < hi and match(t)]

    def _capped(self, ts: Iterable[Tweet], cap: int, start_time: TimeArg, end_time: TimeArg,
                skip: frozenset[str] = frozenset()) -> list[str]:  # fmt: skip
        """The first ``cap`` of ``ts`` (newest first), then those in the time range and not of a
        kind in ``skip``: X's depth caps count every post, the exclusions apply within them."""
        s, e = _sec(start_time), _sec(end_time)
        out = []
        for i, t in enumerate(ts):
            if i >= cap:
                break
            if t.kind in skip:
                continue
            if (s is None or t.created_ms >= s * 1000) and (e is None or t.created_ms < e * 1000):
                out.append(str(t.id))
        return out

    def timeline(self, user_id: str, start_time: TimeArg = None, end_time: TimeArg = None,
                 exclude_replies: bool = False, at: TimeArg = None,
                 exclude_retweets: bool = False) -> list[str]:  # fmt: skip
        """The user's posts (newest first) within the 3,200 (800 without replies) depth cap,
        without replies / retweets when asked."""
        idx = self.world.by_id[user_id].idx
        cap = T.TIMELINE_CAP_NO_REPLIES if exclude_replies else T.TIMELINE_CAP
        skip = frozenset(k for k, on in ((REPLIED_TO, exclude_replies), (RETWEETED, exclude_retweets)) if on)
        ts = (t for t in self._all(self._at_ms(at)) if t.author == idx)
        return self._capped(ts, cap, start_time, end_time, skip)

    def mentions(self, user_id: str, start_time: TimeArg = None, end_time: TimeArg = None,
                 at: TimeArg = None) -> list[str]:  # fmt: skip
        """Posts mentioning the user (newest first) within the 800 depth cap."""
        idx = self.world.by_id[user_id].idx
        ts = (t for t in self._all(self._at_ms(at)) if idx in t.mentions)
        return self._capped(ts, T.MENTIONS_CAP, start_time, end_time)

    def followers(self, user_id: str) -> list[str]:
        return [self.world.users[i].id for i in self.world.followers[self.world.by_id[user_id].idx]]

    def following(self, user_id: str) -> list[str]:
        return [self.world.users[i].id for i in self.world.following[self.world.by_id[user_id].idx]]

    # -- likes, reposts, quotes, conversations, lists, bookmarks, blocks, mutes, counts ----------
    # Plain filters over every post and user with the world's relation predicates (``Social``),
    # not the server's per-route shortcuts (followers of the author, the original's hour).

    def _uid(self, user_id: str) -> int:
        return self.world.by_id[user_id].idx

    def liking_users(self, tweet_id: str) -> list[str]:
        t = self.world.get_tweet(int(tweet_id))
        if t is None:
            return []
        return [u.id for u in self.world.users if self.social.likes(u.idx, t)]

    def liked_tweets(self, user_id: str, at: TimeArg = None) -> list[str]:
        u = self._uid(user_id)
        return [str(t.id) for t in self._all(self._at_ms(at)) if self.social.likes(u, t)]

    def bookmarks(self, user_id: str, at: TimeArg = None) -> list[str]:
        u = self._uid(user_id)
        return [str(t.id) for t in self._all(self._at_ms(at)) if self.social.bookmarks(u, t)]

    def retweeted_by(self, tweet_id: str, at: TimeArg = None) -> list[str]:
        tid = int(tweet_id)
        authors = (t.author for t in self._all(self._at_ms(at)) if t.kind == RETWEETED and t.ref == tid)
        return [self.world.users[a].id for a in dict.fromkeys(authors)]

    def quote_tweets(self, tweet_id: str, at: TimeArg = None) -> list[str]:
        tid = int(tweet_id)
        return [str(t.id) for t in self._all(self._at_ms(at)) if t.kind == QUOTED and t.ref == tid]

    def conversation(self, tweet_id: str, start_time: TimeArg = None, end_time: TimeArg = None,
                     archive: bool = False, at: TimeArg = None) -> list[str]:  # fmt: skip
        """A search for ``conversation_id:<id>``: the root and every reply in the window."""
        return self.search(f"conversation_id:{tweet_id}", start_time, end_time, archive=archive, at=at)

    def counts(self, query: str, start_time: TimeArg = None, end_time: TimeArg = None,
               archive: bool = False, at: TimeArg = None) -> int:  # fmt: skip
        """The total a counts job adds up: the posts the same search returns."""
        return len(self.search(query, start_time, end_time, archive=archive, at=at))

    def _list(self, list_id: str) -> Any:
        return next(lst for lst in self.social.lists if lst.id == list_id)

    def list_tweets(self, list_id: str, at: TimeArg = None) -> list[str]:
        members = set(self._list(list_id).members)
        return [str(t.id) for t in self._all(self._at_ms(at)) if t.author in members][: T.LIST_TWEETS_CAP]

    def list_members(self, list_id: str) -> list[str]:
        return [self.world.users[i].id for i in self._list(list_id).members]

    def list_followers(self, list_id: str) -> list[str]:
        return [self.world.users[i].id for i in self._list(list_id).followers]

    def owned_lists(self, user_id: str) -> list[str]:
        u = self._uid(user_id)
        return [lst.id for lst in self.social.lists if lst.owner == u]

    def followed_lists(self, user_id: str) -> list[str]:
        u = self._uid(user_id)
        return [lst.id for lst in self.social.lists if u in lst.followers]

    def list_memberships(self, user_id: str) -> list[str]:
        u = self._uid(user_id)
        return [lst.id for lst in self.social.lists if u in lst.members]

    def pinned_lists(self, user_id: str) -> list[str]:
        return self.followed_lists(user_id)[:2]

    def blocking(self, user_id: str) -> list[str]:
        u = self._uid(user_id)
        return [v.id for v in self.world.users if self.social.blocks(u, v.idx)]

    def muting(self, user_id: str) -> list[str]:
        u = self._uid(user_id)
        return [v.id for v in self.world.users if self.social.mutes(u, v.idx)]

    def lists_of(self, user_id: str) -> list[str]:
        """Lists worth testing with: those the user owns, follows or belongs to."""
        return list(dict.fromkeys([*self.owned_lists(user_id), *self.followed_lists(user_id),
                                   *self.list_memberships(user_id)]))  # fmt: skip

    def tweets(self, ids: Iterable[str], at: TimeArg = None) -> list[str]:
        """Those of ``ids`` that exist and are visible at ``at``."""
        at_ms = self._at_ms(at)
        out = []
        for sid in ids:
            t = self.world.get_tweet(int(sid)) if sid.isdigit() else None
            if t is not None and t.created_ms <= at_ms:
                out.append(sid)
        return out

    def users(self, ids: Iterable[str]) -> list[str]:
        return [i for i in ids if i in self.world.by_id]

    def user_by_username(self, username: str) -> str | None:
        u = self.world.by_username.get(username.lower())
        return None if u is None else u.id

    def posting_rate(self, user_id: str) -> float:
        """Mean posts per day of this user."""
        return self.world.by_id[user_id].rate

    def users_list(self) -> list[UserInfo]:
        """Every user, most active first."""
        w = self.world
        infos = [UserInfo(u.id, u.username, u.rate, len(w.followers[u.idx]), len(w.following[u.idx]))
                 for u in w.users]  # fmt: skip
        return sorted(infos, key=lambda i: -i.posts_per_day)

    def most_active(self, n: int = 10) -> list[UserInfo]:
        return self.users_list()[:n]

    def most_followed(self, n: int = 10) -> list[UserInfo]:
        return sorted(self.users_list(), key=lambda i: -i.followers)[:n]

    def sample_queries(self) -> SampleQueries:
        """A common word, a rare word (≈ 5–50 posts a week), a ``from:`` and a mention query."""
        w = self.world
        per_week = sum(u.rate for u in w.users) * 7 * 9  # posts/week x mean words per post
        target = 20.0
        rank = min(len(w.vocab) - 1, max(1, next((r for r, p in enumerate(w.word_prob) if p * per_week < target),
                                                   len(w.vocab) - 1)))  # fmt: skip
        active = self.most_active(1)[0]
        popular = max(w.users, key=lambda u: u.popularity)
        return SampleQueries(w.vocab[0], w.vocab[rank], f"from:{active.username}", f"@{popular.username}")

    def summary(self) -> dict[str, Any]:
        w = self.world
        total = sum(u.rate for u in w.users)
        return {
            "users": len(w.users),
            "posts_per_day": round(total, 1),
            "median_posts_per_day": round(sorted(u.rate for u in w.users)[len(w.users) // 2], 3),
            "max_posts_per_day": round(max(u.rate for u in w.users), 1),
            "max_followers": max(len(f) for f in w.followers),
            "follow_edges": sum(len(f) for f in w.following),
            "world_start": w.start_ms / 1000,
            "history_days": math.ceil((self.clock.now() * 1000 - w.start_ms) / 86_400_000),
        }
