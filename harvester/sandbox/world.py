"""The simulated world: users, a follower graph, and posts generated lazily per hour.

Posts are a pure function of ``(seed, hour)``: the whole hour is drawn at once from an RNG
seeded by the hour, so the world is identical whatever order it is queried in, and a post
becomes visible when the simulated clock passes its ``created_at``. Post ids are snowflakes,
``(ms - TWEPOCH) << 22 | user_index``, so ordering by id is ordering by time, and a post id
alone says which hour bucket (and author) to regenerate to find it.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from harvester.sandbox.config import SandboxConfig

TWEPOCH_MS = 1_288_834_974_657
HOUR_MS = 3_600_000
USER_BITS = 22
LANGS = ("en",) * 17 + ("es", "pt", "ja")
_SYLLABLES = ("ka", "lo", "mi", "ne", "so", "ta", "ri", "bu", "ve", "zo", "pa", "du", "qi", "ha", "fe", "gy")


@dataclass(frozen=True)
class User:
    """One account. ``rate`` is its mean posts per day; ``popularity`` drives follows and mentions."""

    idx: int
    id: str
    username: str
    name: str
    created_at: float
    rate: float
    popularity: float
    description: str
    location: str
    verified: bool


@dataclass(frozen=True)
class Tweet:
    """One post. ``mentions`` are user indexes, in text order."""

    id: int
    author: int
    created_ms: int
    text: str
    words: frozenset[str]
    mentions: tuple[int, ...]
    lang: str


@dataclass(frozen=True)
class HourBucket:
    """All posts of one hour, newest first, indexed by author and by mentioned user."""

    tweets: tuple[Tweet, ...]
    by_author: dict[int, tuple[Tweet, ...]]
    by_mention: dict[int, tuple[Tweet, ...]]


def tweet_ms(tweet_id: int) -> int:
    """Creation time (epoch ms) encoded in a snowflake id."""
    return (tweet_id >> USER_BITS) + TWEPOCH_MS


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class World:
    """Deterministic users, follows and posts for one :class:`SandboxConfig`."""

    def __init__(self, cfg: SandboxConfig, cache_hours: int = 4096) -> None:
        if not 1 <= cfg.users < 1 << USER_BITS:
            raise ValueError("users must be in [1, 2**22)")
        self.cfg = cfg
        self.start_ms = int((cfg.epoch - cfg.history_days * 86400) // 3600 * 3600 * 1000)
        self.vocab = self._make_vocab()
        zipf = [1.0 / (r + 1) ** 1.07 for r in range(len(self.vocab))]
        self.word_prob = [w / sum(zipf) for w in zipf]
        self._word_cum = _cumulative(zipf)
        self.users: list[User] = self._make_users()
        self.by_id = {u.id: u for u in self.users}
        self.by_username = {u.username.lower(): u for u in self.users}
        self._pop_cum = _cumulative([u.popularity for u in self.users])
        self.following: list[tuple[int, ...]] = self._make_follows()
        followers: list[list[int]] = [[] for _ in self.users]
        for v, targets in enumerate(self.following):
            for t in targets:
                followers[t].append(v)
        # Newest follower first: later "follow events" (higher follower index) come first.
        self.followers: list[tuple[int, ...]] = [tuple(sorted(f, reverse=True)) for f in followers]
        self._cache: OrderedDict[int, HourBucket] = OrderedDict()
        self._cache_hours = cache_hours

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.cfg.seed, *parts)))

    def _make_vocab(self) -> list[str]:
        rng = self._rng("vocab")
        words: list[str] = []
        seen: set[str] = set()
        while len(words) < 3000:
            w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
            if w not in seen and w not in ("or", "and"):
                seen.add(w)
                words.append(w)
        return words

    def _make_users(self) -> list[User]:
        rng, cfg = self._rng("users"), self.cfg
        sigma = 2.0
        mu = math.log(cfg.mean_posts_per_day) - sigma * sigma / 2
        users, ids, names = [], set(), set()
        for i in range(cfg.users):
            uid = ""
            while not uid or uid in ids:
                digits = rng.choice((6, 7, 8, 9, 10, 10, 18, 19))
                uid = str(rng.randrange(10 ** (digits - 1), 10**digits))
            ids.add(uid)
            base = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
            uname = base.capitalize() + ("_" if rng.random() < 0.3 else "") + str(rng.randrange(1000))
            while uname.lower() in names:
                uname = uname[:12] + str(rng.randrange(100))
            names.add(uname.lower())
            rate = min(cfg.max_posts_per_day, math.exp(rng.gauss(mu, sigma)))
            if i == 0 or rng.random() < cfg.firehose_fraction:
                # A few "firehose" accounts give timelines deep enough to page for a while.
                rate = rng.uniform(0.2, 0.8) * cfg.max_posts_per_day
            users.append(
                User(
                    idx=i, id=uid, username=uname[:15], name=f"{base.capitalize()} {rng.choice(_SYLLABLES)}",
                    created_at=self.start_ms / 1000 - rng.uniform(30, 4000) * 86400, rate=rate,
                    popularity=rng.paretovariate(1.1), description=f"{base} posts about {base[:4]}",
                    location=rng.choice(("", "Lisbon", "Osaka", "Lagos", "Lima", "Oslo")),
                    verified=rng.random() < 0.05,
                )
            )  # fmt: skip
        return users

    def _make_follows(self) -> list[tuple[int, ...]]:
        n, out = len(self.users), []
        for v in range(n):
            rng = self._rng("follows", v)
            want = min(n - 1, int(math.exp(rng.gauss(math.log(40), 1.0))))
            picked: set[int] = set()
            for _ in range(want * 2):
                if len(picked) >= want:
                    break
                t = self.pick_user(rng.random())
                if t != v:
                    picked.add(t)
            out.append(tuple(sorted(picked)))
        return out

    def pick_user(self, u: float) -> int:
        """A user index drawn by popularity, from a uniform ``u`` in [0, 1)."""
        return min(bisect.bisect_right(self._pop_cum, u * self._pop_cum[-1]), len(self.users) - 1)

    # -- posts ---------------------------------------------------------------------------

    def hour(self, h: int) -> HourBucket:
        """All posts created in hour ``h`` (epoch ms // HOUR_MS), cached LRU."""
        bucket = self._cache.get(h)
        if bucket is not None:
            self._cache.move_to_end(h)
            return bucket
        bucket = self._generate_hour(h)
        self._cache[h] = bucket
        if len(self._cache) > self._cache_hours:
            self._cache.popitem(last=False)
        return bucket

    def _generate_hour(self, h: int) -> HourBucket:
        if h * HOUR_MS < self.start_ms:
            return HourBucket((), {}, {})
        rng, cfg, tweets = self._rng("hour", h), self.cfg, []
        for user in self.users:
            n = _poisson(rng, user.rate / 24)
            if not n:
                continue
            for off in rng.sample(range(HOUR_MS), min(n, 3000)):
                ms = h * HOUR_MS + off
                words = rng.choices(self.vocab, cum_weights=self._word_cum, k=rng.randint(4, 14))
                mentions: list[int] = []
                if rng.random() < cfg.mention_probability:
                    for _ in range(rng.choice((1, 1, 2))):
                        m = self.pick_user(rng.random())
                        if m != user.idx and m not in mentions:
                            mentions.append(m)
                            words.insert(rng.randrange(len(words) + 1), "@" + self.users[m].username)
                text = " ".join(words)
                tweets.append(
                    Tweet(
                        id=((ms - TWEPOCH_MS) << USER_BITS) | user.idx, author=user.idx, created_ms=ms,
                        text=text, words=frozenset(w.lower() for w in words), mentions=tuple(mentions),
                        lang=rng.choice(LANGS),
                    )
                )  # fmt: skip
        tweets.sort(key=lambda t: t.id, reverse=True)
        by_author: dict[int, list[Tweet]] = {}
        by_mention: dict[int, list[Tweet]] = {}
        for t in tweets:
            by_author.setdefault(t.author, []).append(t)
            for m in t.mentions:
                by_mention.setdefault(m, []).append(t)
        return HourBucket(
            tuple(tweets),
            {k: tuple(v) for k, v in by_author.items()},
            {k: tuple(v) for k, v in by_mention.items()},
        )

    def get_tweet(self, tweet_id: int) -> Tweet | None:
        """The post with this id, whether or not it is visible yet."""
        if tweet_id <= 0 or tweet_id.bit_length() > 63:
            return None
        ms, author = tweet_ms(tweet_id), tweet_id & ((1 << USER_BITS) - 1)
        for t in self.hour(ms // HOUR_MS).by_author.get(author, ()):
            if t.id == tweet_id:
                return t
        return None

    def scan(
        self, lo_ms: int, hi_ms: int, author: int | None = None, mention: int | None = None
    ) -> Iterator[Tweet]:
        """Posts with ``lo_ms <= created_ms < hi_ms``, newest first, optionally one author's or
        mentioning one user."""
        lo_ms = max(lo_ms, self.start_ms)
        if hi_ms <= lo_ms:
            return
        for h in range((hi_ms - 1) // HOUR_MS, lo_ms // HOUR_MS - 1, -1):
            bucket = self.hour(h)
            if author is not None:
                items = bucket.by_author.get(author, ())
            elif mention is not None:
                items = bucket.by_mention.get(mention, ())
            else:
                items = bucket.tweets
            for t in items:
                if lo_ms <= t.created_ms < hi_ms:
                    yield t


def _cumulative(weights: list[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out
