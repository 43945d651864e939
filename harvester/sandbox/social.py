"""Likes, bookmarks, blocks, mutes and lists of the simulated world: pure functions of the seed.

Why predicates and not stored edges: a post's likers and a user's liked posts must be the same
relation seen from both ends, for any post the world generates lazily. A like is decided by a
hash of ``(seed, user, post)``: user ``u`` likes post ``t`` when ``u`` follows ``t``'s author and
the hash falls under :data:`P_LIKE`. So the likers of a post are a filter of its author's
followers, and a user's likes a filter of the posts of the accounts they follow; neither needs the
other stored. Bookmarks, blocks and mutes are hashes of their own. Reposts and quotes are the
world's own posts (``retweeted``/``quoted`` kinds), which live in their original's hour.

Lists are drawn once from an RNG of the seed: an owner, members and followers, each list with
a 19-digit id; a user's pinned lists are the first two lists they follow.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from harvester.sandbox.world import HOUR_MS, QUOTED, RETWEETED, Tweet, World, tweet_ms

P_LIKE = 30  # in 100: of the posts of the accounts a user follows
P_BOOKMARK = 8
P_BLOCK = 2  # in 100: of all other users
P_MUTE = 4
PINNED_MAX = 2


def _hit(seed: int, tag: str, a: int, b: int, share: int) -> bool:
    return zlib.crc32(f"{seed}:{tag}:{a}:{b}".encode()) % 100 < share


@dataclass(frozen=True, slots=True)
class XList:
    """One list: ``members`` and ``followers`` are user indexes, in the order X returns them."""

    idx: int
    id: str
    owner: int
    name: str
    description: str
    private: bool
    created_ms: int
    members: tuple[int, ...]
    followers: tuple[int, ...]


class Social:
    """The relations of one :class:`World` (build once; the world's users never change)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seed = world.cfg.seed
        self._follows = [frozenset(f) for f in world.following]
        self.lists = self._make_lists()
        self.by_list_id = {lst.id: lst for lst in self.lists}
        n = len(world.users)
        self.owned: list[list[XList]] = [[] for _ in range(n)]
        self.followed: list[list[XList]] = [[] for _ in range(n)]
        self.memberships: list[list[XList]] = [[] for _ in range(n)]
        for lst in self.lists:
            self.owned[lst.owner].append(lst)
            for u in lst.followers:
                self.followed[u].append(lst)
            for u in lst.members:
                self.memberships[u].append(lst)

    def _make_lists(self) -> list[XList]:
        w = self.world
        rng = w._rng("lists")
        n = len(w.users)
        out: list[XList] = []
        ids: set[str] = set()
        for i in range(max(2, n // 5)):
            lid = ""
            while not lid or lid in ids:
                lid = str(rng.randrange(10**18, 10**19))
            ids.add(lid)
            owner = w.pick_user(rng.random())
            members = tuple(dict.fromkeys(w.pick_user(rng.random()) for _ in range(rng.randint(3, min(n, 150)))))
            followers = tuple(dict.fromkeys(rng.randrange(n) for _ in range(rng.randint(0, min(n, 60)))))
            word = rng.choice(w.vocab[:200])
            out.append(XList(idx=i, id=lid, owner=owner, name=f"{word} list {i}", description=f"accounts about {word}",
                             private=rng.random() < 0.1, created_ms=w.start_ms - rng.randrange(1, 400) * 86_400_000,
                             members=members, followers=followers))  # fmt: skip
        return out

    # -- predicates ------------------------------------------------------------------------

    def likes(self, u: int, t: Tweet) -> bool:
        return t.author != u and t.author in self._follows[u] and _hit(self.seed, "like", u, t.id, P_LIKE)

    def bookmarks(self, u: int, t: Tweet) -> bool:
        return t.author in self._follows[u] and _hit(self.seed, "bookmark", u, t.id, P_BOOKMARK)

    def blocks(self, u: int, v: int) -> bool:
        return u != v and _hit(self.seed, "block", u, v, P_BLOCK)

    def mutes(self, u: int, v: int) -> bool:
        return u != v and _hit(self.seed, "mute", u, v, P_MUTE)

    # -- the server's views (newest first) --------------------------------------------------

    def posts(self, at_ms: int) -> Iterator[Tweet]:
        """Every post visible at ``at_ms``, newest first."""
        w = self.world
        for h in range(at_ms // HOUR_MS, w.start_ms // HOUR_MS - 1, -1):
            for t in w.hour(h).tweets:
                if t.created_ms <= at_ms:
                    yield t

    def liking_users(self, t: Tweet) -> list[int]:
        return [u for u in self.world.followers[t.author] if self.likes(u, t)]

    def liked_tweets(self, u: int, at_ms: int) -> list[Tweet]:
        return [t for t in self.posts(at_ms) if self.likes(u, t)]

    def bookmarked(self, u: int, at_ms: int) -> list[Tweet]:
        return [t for t in self.posts(at_ms) if self.bookmarks(u, t)]

    def referencing(self, t: Tweet, kind: str, at_ms: int) -> list[Tweet]:
        """The posts of ``kind`` (``retweeted``/``quoted``) referencing ``t``, newest first: they
        live in ``t``'s hour (the world relates posts within an hour)."""
        bucket = self.world.hour(tweet_ms(t.id) // HOUR_MS)
        return [r for r in bucket.tweets if r.kind == kind and r.ref == t.id and r.created_ms <= at_ms]

    def retweeters(self, t: Tweet, at_ms: int) -> list[int]:
        return list(dict.fromkeys(r.author for r in self.referencing(t, RETWEETED, at_ms)))

    def quotes(self, t: Tweet, at_ms: int) -> list[Tweet]:
        return self.referencing(t, QUOTED, at_ms)

    def list_posts(self, lst: XList, at_ms: int, cap: int) -> list[Tweet]:
        members = frozenset(lst.members)
        out: list[Tweet] = []
        for t in self.posts(at_ms):
            if t.author in members:
                out.append(t)
                if len(out) >= cap:
                    break
        return out

    def blocking(self, u: int) -> list[int]:
        return [v for v in range(len(self.world.users)) if self.blocks(u, v)]

    def muting(self, u: int) -> list[int]:
        return [v for v in range(len(self.world.users)) if self.mutes(u, v)]

    def pinned(self, u: int) -> list[XList]:
        return self.followed[u][:PINNED_MAX]


__all__ = ["Social", "XList"]
