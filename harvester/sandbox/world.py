"""The simulated world: users, a follower graph, and posts generated lazily per hour.

Posts are a pure function of ``(seed, hour)``: the whole hour is drawn at once from an RNG
seeded by the hour, so the world is identical whatever order it is queried in, and a post
becomes visible when the simulated clock passes its ``created_at``. Post ids are snowflakes,
``(ms - TWEPOCH) << 22 | user_index``, so ordering by id is ordering by time, and a post id
alone says which hour bucket (and author) to regenerate to find it.

What search operators need is drawn afterwards, oldest post first, from a second RNG of the
hour (so the first draws, and with them every post's id, author, time and language, are what
they were before these attributes existed): some posts become retweets, replies or quotes of
an earlier post of the same hour, some carry a link or a photo/video/GIF. A retweet's text is
``RT @author: <original text>`` and it mentions the original's author; a reply to someone else
starts with ``@author`` (X puts the replied-to names in ``text``); a reply keeps its parent's
conversation id; links and media add a ``https://t.co/…`` link to the text. Relations stay
within one hour so that a post, its parent and its conversation are regenerated together.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from harvester.sandbox.config import SandboxConfig

TWEPOCH_MS = 1_288_834_974_657
HOUR_MS = 3_600_000
USER_BITS = 22
LANGS = ("en",) * 17 + ("es", "pt", "ja")
# Shares of posts that are retweets, replies and quotes of an earlier post of their hour (when
# there is one), and that carry a link or media.
P_RETWEET, P_REPLY, P_QUOTE = 0.08, 0.12, 0.04
P_LINK, P_MEDIA = 0.12, 0.10
MEDIA_TYPES = ("photo",) * 6 + ("video",) * 3 + ("animated_gif",)
DOMAINS = ("example.com", "news.example.org", "blog.example.net", "github.com", "arxiv.org", "youtube.com",
           "bbc.co.uk", "nature.com")  # fmt: skip
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RETWEETED, REPLIED_TO, QUOTED = "retweeted", "replied_to", "quoted"
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


@dataclass(frozen=True, slots=True)
class Link:
    """A link in a post's text: the ``t.co`` form in the text, and where it leads."""

    tco: str
    expanded: str


@dataclass(frozen=True, slots=True)
class Tweet:
    """One post. ``words`` are its distinct lower-cased words (``@name`` for mentions, no ``RT``
    and no links), in text order; ``mentions`` are user indexes, in text order.

    ``kind`` is how it references ``ref`` (X's ``referenced_tweets`` types: ``retweeted``,
    ``replied_to``, ``quoted``; empty for an original post). ``reply_to`` is the user index a reply
    answers (-1 otherwise), ``conversation`` the id of its conversation's first post. ``media`` is
    the attached media's type (empty: none); ``links`` are the links in the text, the media's last.
    """

    id: int
    author: int
    created_ms: int
    text: str
    words: tuple[str, ...]
    mentions: tuple[int, ...]
    lang: str
    kind: str = ""
    ref: int = 0
    reply_to: int = -1
    conversation: int = 0
    media: str = ""
    links: tuple[Link, ...] = ()

    @property
    def media_key(self) -> str:
        """The attached media's key (``3_<id>`` for a photo, ``7_``/``16_`` for video/GIF, as on X)."""
        prefix = {"photo": "3", "video": "7", "animated_gif": "16"}.get(self.media, "")
        return f"{prefix}_{self.id}" if prefix else ""


class HourBucket:
    """All posts of one hour, newest first, indexed by author and by mentioned user, and by word
    for the words that searches have asked about (each filled on first use: one pass over the
    hour, then a dict lookup for every later page or poll)."""

    __slots__ = ("_by_word", "by_author", "by_mention", "tweets")

    def __init__(self, tweets: tuple[Tweet, ...], by_author: dict[int, tuple[Tweet, ...]],
                 by_mention: dict[int, tuple[Tweet, ...]]) -> None:  # fmt: skip
        self.tweets = tweets
        self.by_author = by_author
        self.by_mention = by_mention
        self._by_word: dict[str, tuple[Tweet, ...]] = {}

    def word(self, word: str) -> tuple[Tweet, ...]:
        """Posts containing the lower-cased ``word``, newest first."""
        found = self._by_word.get(word)
        if found is None:
            found = self._by_word[word] = tuple(t for t in self.tweets if word in t.words)
        return found


@dataclass(frozen=True, slots=True)
class HourCounts:
    """How many posts of an hour each author wrote and each user was mentioned in: kept far longer
    than the posts themselves, so a timeline can skip (or count through) hours without
    regenerating them."""

    by_author: dict[int, int]
    by_mention: dict[int, int]


_EMPTY_BUCKET = HourBucket((), {}, {})
_EMPTY_COUNTS = HourCounts({}, {})


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

    def __init__(self, cfg: SandboxConfig, cache_hours: int = 4096, cache_posts: int = 120_000,
                 count_hours: int = 24 * 400) -> None:  # fmt: skip
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
        self._at = ["@" + u.username for u in self.users]
        # Posts of recent hours, LRU, bounded both in hours and in posts held (a post with its
        # share of the indexes is ~1 kB); per-hour counts, LRU too but ~100x smaller per hour.
        self._cache: OrderedDict[int, HourBucket] = OrderedDict()
        self._cache_hours = max(1, cache_hours)
        self._cache_posts = cache_posts
        self._cached_posts = 0
        self._counts: OrderedDict[int, HourCounts] = OrderedDict()
        self._count_hours = max(1, count_hours)
        self.generated = 0  # hours generated so far (a regenerated hour counts again)

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
        cache = self._cache
        bucket = cache.get(h)
        if bucket is not None:
            cache.move_to_end(h)
            return bucket
        bucket = self._generate_hour(h)
        cache[h] = bucket
        self._cached_posts += len(bucket.tweets)
        while len(cache) > 1 and (len(cache) > self._cache_hours or self._cached_posts > self._cache_posts):
            _, old = cache.popitem(last=False)
            self._cached_posts -= len(old.tweets)
        return bucket

    def counts(self, h: int) -> HourCounts:
        """Posts per author and mentions per user in hour ``h`` (generating the hour if its
        counts were never taken or have been dropped). Counts are dropped oldest-taken first,
        and reading them does not refresh them: they are small and kept for many months."""
        c = self._counts.get(h)
        if c is None:
            bucket = self.hour(h)
            c = self._counts.get(h) or _counts_of(bucket)
            self._remember_counts(h, c)
        return c

    def _count_for(self, h: int, author: int | None, mention: int | None) -> int | None:
        """Known count of ``author``'s posts / posts mentioning ``mention`` in hour ``h``, or None
        when the hour's counts are not at hand (or no author/mention filter applies)."""
        c = self._counts.get(h)
        if c is None:
            return None
        if author is not None:
            return c.by_author.get(author, 0)
        return None if mention is None else c.by_mention.get(mention, 0)

    def _generate_hour(self, h: int) -> HourBucket:
        if h * HOUR_MS < self.start_ms:
            self._remember_counts(h, _EMPTY_COUNTS)
            return _EMPTY_BUCKET
        self.generated += 1
        # One RNG per hour, drawn in a fixed order: every draw below must stay exactly as it is
        # (same calls, same order) or the world changes. Locals only make it cheaper.
        rng, cfg, tweets = self._rng("hour", h), self.cfg, []
        rand, sample, choices, randint = rng.random, rng.sample, rng.choices, rng.randint
        choice, randrange = rng.choice, rng.randrange
        vocab, cum, at = self.vocab, self._word_cum, self._at
        mention_p, pop_cum, last = cfg.mention_probability, self._pop_cum, len(self.users) - 1
        pop_total = pop_cum[-1]
        bisect_right = bisect.bisect_right
        base, span = h * HOUR_MS, range(HOUR_MS)
        for user in self.users:
            n = _poisson(rng, user.rate / 24)
            if not n:
                continue
            idx = user.idx
            for off in sample(span, min(n, 3000)):
                ms = base + off
                words = choices(vocab, cum_weights=cum, k=randint(4, 14))
                mentions: list[int] = []
                if rand() < mention_p:
                    for _ in range(choice((1, 1, 2))):
                        m = min(bisect_right(pop_cum, rand() * pop_total), last)
                        if m != idx and m not in mentions:
                            mentions.append(m)
                            words.insert(randrange(len(words) + 1), at[m])
                text = " ".join(words)
                if mentions:  # vocabulary words are lower-case already; names are not
                    words = [w.lower() if w[0] == "@" else w for w in words]
                tweets.append(Tweet(((ms - TWEPOCH_MS) << USER_BITS) | idx, idx, ms, text,
                                    tuple(dict.fromkeys(words)), tuple(mentions), choice(LANGS)))  # fmt: skip
        tweets = self._relate(h, tweets)
        tweets.sort(key=_tweet_id, reverse=True)
        by_author: dict[int, list[Tweet]] = {}
        by_mention: dict[int, list[Tweet]] = {}
        for t in tweets:
            got = by_author.get(t.author)
            if got is None:
                by_author[t.author] = [t]
            else:
                got.append(t)
            for m in t.mentions:
                by_mention.setdefault(m, []).append(t)
        bucket = HourBucket(
            tuple(tweets),
            {k: tuple(v) for k, v in by_author.items()},
            {k: tuple(v) for k, v in by_mention.items()},
        )
        self._remember_counts(h, _counts_of(bucket))
        return bucket

    def _relate(self, h: int, drafts: list[Tweet]) -> list[Tweet]:
        """The hour's posts with kinds, references, conversations, links and media, drawn oldest
        first from the hour's second RNG (every post draws the same six numbers, so one post's
        draws never shift another's)."""
        rng = self._rng("relations", h)
        rand, randrange = rng.random, rng.randrange
        users, done = self.users, dict[int, Tweet]()
        out: list[Tweet] = []
        for t in sorted(drafts, key=_tweet_id):
            r, pick, link_r, media_r, domain, n = rand(), rand(), rand(), rand(), randrange(1 << 30), randrange(1 << 30)
            parent = out[int(pick * len(out))] if out else None
            if parent is not None and parent.kind == RETWEETED:
                parent = done[parent.ref]  # X: retweeting or answering a retweet is about its original
            links: list[Link] = []
            if link_r < P_LINK:
                word = self.vocab[n % len(self.vocab)]
                links.append(Link(_tco(domain), f"https://{DOMAINS[domain % len(DOMAINS)]}/{word}/{n % 1000}"))
            media = MEDIA_TYPES[n % len(MEDIA_TYPES)] if media_r < P_MEDIA else ""
            if media:
                kind_path = "photo" if media == "photo" else "video"
                links.append(Link(_tco(n), f"https://x.com/{users[t.author].username}/status/{t.id}/{kind_path}/1"))
            text = " ".join([t.text, *(lk.tco for lk in links)])
            new = Tweet(t.id, t.author, t.created_ms, text, t.words, t.mentions, t.lang, conversation=t.id,
                        media=media, links=tuple(links))  # fmt: skip
            if parent is not None and r < P_RETWEET + P_REPLY + P_QUOTE:
                new = _related(new, parent, r, users[parent.author].username)
            done[new.id] = new
            out.append(new)
        return out

    def _remember_counts(self, h: int, c: HourCounts) -> None:
        self._counts[h] = c
        while len(self._counts) > self._count_hours:
            self._counts.popitem(last=False)

    def get_tweet(self, tweet_id: int) -> Tweet | None:
        """The post with this id, whether or not it is visible yet."""
        if tweet_id <= 0 or tweet_id.bit_length() > 63:
            return None
        ms, author = tweet_ms(tweet_id), tweet_id & ((1 << USER_BITS) - 1)
        h = ms // HOUR_MS
        if self._count_for(h, author, None) == 0:
            return None
        items = self.hour(h).by_author.get(author, ())
        i = bisect.bisect_left(items, -tweet_id, key=_neg_id)
        return items[i] if i < len(items) and items[i].id == tweet_id else None

    def scan(
        self,
        lo_ms: int,
        hi_ms: int,
        author: int | None = None,
        mention: int | None = None,
        index: Callable[[HourBucket], Sequence[Tweet]] | None = None,
    ) -> Iterator[Tweet]:
        """Posts with ``lo_ms <= created_ms < hi_ms``, newest first, optionally one author's or
        mentioning one user. ``index`` (ignored with an author or a mention) narrows each hour to
        candidates, newest first, a superset of what the caller will keep (see
        :attr:`harvester.sandbox.query.Query.candidates`)."""
        lo_ms = max(lo_ms, self.start_ms)
        if hi_ms <= lo_ms:
            return
        top, bottom = (hi_ms - 1) // HOUR_MS, lo_ms // HOUR_MS
        counts, key = self._counts, author if author is not None else mention
        for h in range(top, bottom - 1, -1):
            if key is not None:
                c = counts.get(h)
                if c is not None and (c.by_author if author is not None else c.by_mention).get(key, 0) == 0:
                    continue  # nothing of this author / mention this hour: no need to generate it
            bucket = self.hour(h)
            items: Sequence[Tweet]
            if author is not None:
                items = bucket.by_author.get(author, ())
            elif mention is not None:
                items = bucket.by_mention.get(mention, ())
            elif index is not None:
                items = index(bucket)
            else:
                items = bucket.tweets
            if not items:
                continue
            # Newest first, so created_ms never increases along `items`: bisect to the first post
            # below hi_ms, stop at the first below lo_ms. Only the end hours are cut.
            i = bisect.bisect_right(items, -hi_ms, key=_neg_ms) if h == top else 0
            if h == bottom and items[-1].created_ms < lo_ms:
                for t in items[i:] if i else items:
                    if t.created_ms < lo_ms:
                        break
                    yield t
            else:
                yield from items[i:] if i else items

    def nth_newest(
        self, vis_ms: int, n: int, author: int | None = None, mention: int | None = None
    ) -> Tweet | None:
        """The ``n``-th newest (1-based) post created at or before ``vis_ms``, by ``author`` or
        mentioning ``mention``; None when there are fewer. Counts through whole hours from
        :meth:`counts`, so only the first and the last hour are read post by post."""
        if n < 1:
            return None
        top, bottom = vis_ms // HOUR_MS, self.start_ms // HOUR_MS
        if vis_ms < self.start_ms:
            return None
        left, key = n, author if author is not None else mention
        if key is None:
            return None
        counts, by_author = self._counts, author is not None
        for h in range(top, bottom - 1, -1):
            if h != top:
                c = counts.get(h) or self.counts(h)
                have = (c.by_author if by_author else c.by_mention).get(key, 0)
                if have < left:
                    left -= have
                    continue
            bucket = self.hour(h)
            items = (bucket.by_author if author is not None else bucket.by_mention).get(key, ())
            i = bisect.bisect_right(items, -(vis_ms + 1), key=_neg_ms) if h == top else 0
            if len(items) - i >= left:
                return items[i + left - 1]
            left -= len(items) - i
        return None


def _tco(n: int) -> str:
    """A ``t.co`` link with a 10-character code derived from ``n``."""
    code = ""
    for _ in range(10):
        n, d = divmod(n * 7919 + 13, 62)
        code += _B62[d]
    return "https://t.co/" + code


def _related(t: Tweet, parent: Tweet, r: float, parent_name: str) -> Tweet:
    """``t`` made a retweet (``r`` < P_RETWEET), reply or quote of ``parent``; unchanged when that
    would be a self-retweet (not modelled)."""
    at = "@" + parent_name
    if r < P_RETWEET:
        if parent.author == t.author:
            return t
        mentions = tuple(dict.fromkeys((parent.author, *parent.mentions)))
        return Tweet(t.id, t.author, t.created_ms, f"RT {at}: {parent.text}",
                     tuple(dict.fromkeys((at.lower(), *parent.words))), mentions, parent.lang, RETWEETED,
                     parent.id, conversation=t.id, media=parent.media, links=parent.links)  # fmt: skip
    if r < P_RETWEET + P_REPLY:
        if parent.author == t.author:  # a thread: no name put in front
            return Tweet(t.id, t.author, t.created_ms, t.text, t.words, t.mentions, t.lang, REPLIED_TO, parent.id,
                         parent.author, parent.conversation, t.media, t.links)  # fmt: skip
        return Tweet(t.id, t.author, t.created_ms, f"{at} {t.text}", tuple(dict.fromkeys((at.lower(), *t.words))),
                     tuple(dict.fromkeys((parent.author, *t.mentions))), t.lang, REPLIED_TO, parent.id,
                     parent.author, parent.conversation, t.media, t.links)  # fmt: skip
    return Tweet(t.id, t.author, t.created_ms, t.text, t.words, t.mentions, t.lang, QUOTED, parent.id,
                 conversation=t.id, media=t.media, links=t.links)  # fmt: skip


def _counts_of(bucket: HourBucket) -> HourCounts:
    return HourCounts({k: len(v) for k, v in bucket.by_author.items()},
                      {k: len(v) for k, v in bucket.by_mention.items()})  # fmt: skip


def _tweet_id(t: Tweet) -> int:
    return t.id


def _neg_id(t: Tweet) -> int:
    return -t.id


def _neg_ms(t: Tweet) -> int:
    return -t.created_ms


def _cumulative(weights: list[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out
