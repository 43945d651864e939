"""X's search query language, as much of it as researchers commonly use, parsed once and matched.

Supported (X's "build a query" page): keywords (whole, case-insensitive words), ``"exact
phrases"``, implicit AND (space), ``OR`` (AND binds tighter, as on X), parentheses, ``-`` before
any term or group, and the operators

- standalone: ``from:`` (username or user id), ``to:`` (replies to the user), ``@user``
  (mentions, including the names X puts in front of replies and retweets), ``retweets_of:``,
  ``conversation_id:``, ``url:`` (tokenized match on a link's ``t.co`` or expanded URL:
  ``url:github`` or ``url:"https://github.com/x"``);
- conjunction-required (need a standalone term beside them, as on X): ``is:retweet``,
  ``is:reply``, ``is:quote``, ``is:verified``, ``has:media``, ``has:images``, ``has:links``
  (links *and* media, as X documents), ``has:mentions``, ``lang:``.

Anything else that looks like an operator (``foo:bar``, ``is:nullcast``, ``#tag``, ``$tag``) is
refused with X's own message ("Reference to invalid operator …"), so a harvester that relies on
an operator the sandbox does not model finds out instead of getting silently empty pages.
Keyword search returning retweets is not restricted (X stopped returning retweets to keyword
search on 2026-05-04, x-api-spec.md §1; not modelled, so ``is:retweet`` has something to find).

Besides its predicate, a query yields *candidates*: per hour of the world, the posts that could
match, read from the hour's indexes (by word, author, mention): a term's own list, the
shortest list of an AND, the union of an OR. The predicate then runs on those alone, so a rare
word over a week reads a few dozen posts instead of every post of the week. Negations and
operators without an index leave the choice to the other side of an AND (alone, to a scan).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harvester.sandbox.world import (
    HOUR_MS,
    QUOTED,
    REPLIED_TO,
    RETWEETED,
    USER_BITS,
    HourBucket,
    Tweet,
    World,
    tweet_ms,
)

_TOKEN = re.compile(r'\s*(-?\(|\)|-?[A-Za-z_]+:"[^"]*"|-?"[^"]*"|-?[^\s()"]+)')
_URL_SPLIT = re.compile(r"[^a-z0-9]+")
_PREFIX = "There were errors processing your request: "
_OPERATORS_PAGE = "http://t.co/operators"
STANDALONE = ("from", "to", "retweets_of", "conversation_id", "url")
CONJUNCTION = ("is", "has", "lang")
IS_VALUES = ("retweet", "reply", "quote", "verified")
HAS_VALUES = ("media", "images", "links", "mentions")


class QueryError(ValueError):
    """The query is not valid in the supported subset; the message goes into the 400 body."""


Matcher = Callable[[Tweet], bool]
# One hour's posts that might match, newest first (a superset of the matches); None = all posts.
Candidates = Callable[[HourBucket], Sequence[Tweet]]


@dataclass(frozen=True)
class Query:
    """A parsed query: its text, a predicate over posts, and where to find candidates."""

    text: str
    match: Matcher
    candidates: Candidates | None = None


@dataclass(frozen=True)
class _Node:
    """A parsed (sub)expression. ``standalone``: it can only match posts a positive standalone
    term matches (what X requires of a whole query); ``conjunction_at``: 1-based position of a
    conjunction-required operator in it, for the error when nothing standalone is beside it."""

    match: Matcher
    standalone: bool
    candidates: Candidates | None
    conjunction_at: int = 0


def parse(text: str, world: World) -> Query:
    """Parse ``text`` into a :class:`Query`; raises :class:`QueryError`."""
    tokens = _tokenize(text)
    if not tokens:
        raise QueryError(_PREFIX + "query must not be empty")
    pos, node = _parse_or(tokens, 0, world)
    if pos != len(tokens):
        raise QueryError(_PREFIX + f"unexpected `{tokens[pos][0]}` (at position {tokens[pos][1]})")
    if not node.standalone:
        if node.conjunction_at:
            raise QueryError(_PREFIX + f"is/has/lang cannot be used as a standalone operator "
                                       f"(at position {node.conjunction_at})")  # fmt: skip
        raise QueryError(_PREFIX + "Rules must contain a non-negation term")
    return Query(text, node.match, node.candidates)


def _tokenize(text: str) -> list[tuple[str, int]]:
    """Tokens with their 1-based positions in ``text``."""
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise QueryError(_PREFIX + f"cannot parse `{text[pos:]}` (at position {pos + 1})")
        tokens.append((m.group(1), m.start(1) + 1))
        pos = m.end()
    return tokens


def _parse_or(tokens: list[tuple[str, int]], pos: int, world: World) -> tuple[int, _Node]:
    pos, first = _parse_and(tokens, pos, world)
    alts = [first]
    while pos < len(tokens) and tokens[pos][0] == "OR":
        pos, nxt = _parse_and(tokens, pos + 1, world)
        alts.append(nxt)
    if len(alts) == 1:
        return pos, first
    matchers = [a.match for a in alts]
    return pos, _Node(lambda t: any(m(t) for m in matchers), all(a.standalone for a in alts),
                      _union([a.candidates for a in alts]), _first_at(alts))  # fmt: skip


def _parse_and(tokens: list[tuple[str, int]], pos: int, world: World) -> tuple[int, _Node]:
    parts: list[_Node] = []
    while pos < len(tokens) and tokens[pos][0] not in ("OR", ")"):
        tok, at = tokens[pos]
        if tok in ("(", "-("):
            pos, inner = _parse_or(tokens, pos + 1, world)
            if pos >= len(tokens) or tokens[pos][0] != ")":
                raise QueryError(_PREFIX + f"missing `)` (at position {at})")
            pos += 1
            parts.append(_negate(inner) if tok == "-(" else inner)
            continue
        negate = tok.startswith("-") and len(tok) > 1
        node = _term(tok[1:] if negate else tok, at + (1 if negate else 0), world)
        parts.append(_negate(node) if negate else node)
        pos += 1
    if not parts:
        raise QueryError(_PREFIX + "empty expression")
    if len(parts) == 1:
        return pos, parts[0]
    matchers = [p.match for p in parts]
    return pos, _Node(lambda t: all(m(t) for m in matchers), any(p.standalone for p in parts),
                      _intersect([p.candidates for p in parts]), _first_at(parts))  # fmt: skip


def _first_at(nodes: list[_Node]) -> int:
    return next((n.conjunction_at for n in nodes if n.conjunction_at), 0)


def _negate(node: _Node) -> _Node:
    inner = node.match
    return _Node(lambda t: not inner(t), False, None, 0)


def _invalid_operator(name: str, at: int) -> QueryError:
    return QueryError(_PREFIX + f"Reference to invalid operator '{name}'. Operator is not available in current "
                      f"product or product packaging. Please refer to complete available operator list at "
                      f"{_OPERATORS_PAGE}. (at position {at})")  # fmt: skip


def _user(world: World, name: str) -> int:
    """User index of a username or user id; -1 (matches nothing) when there is none."""
    user = world.by_username.get(name.lower()) or (world.by_id.get(name) if name.isdigit() else None)
    return -1 if user is None else user.idx


def _term(tok: str, at: int, world: World) -> _Node:
    if tok.startswith('"'):
        phrase = tok.strip('"').lower().split()
        if not phrase:
            raise QueryError(_PREFIX + f"empty phrase (at position {at})")
        joined = " " + " ".join(phrase) + " "
        return _Node(lambda t: all(w in t.words for w in phrase) and joined in " " + t.text.lower() + " ", True,
                     lambda b: min((b.word(w) for w in phrase), key=len))  # fmt: skip
    if tok.startswith("@") and len(tok) > 1:
        idx = _user(world, tok[1:])
        return _Node(lambda t: idx in t.mentions, True, lambda b: b.by_mention.get(idx, ()))
    if tok[0] in "#$":
        raise _invalid_operator(tok[0], at)
    name, sep, value = tok.partition(":")
    if not sep:
        word = tok.lower()
        return _Node(lambda t: word in t.words, True, lambda b: b.word(word))
    value = value.strip('"') if value.startswith('"') else value
    if name in STANDALONE:
        return _standalone(name, value, at, world)
    if name == "lang" and value:
        return _Node(lambda t: t.lang == value, False, None, at)
    if name == "is" and value in IS_VALUES:
        return _Node(_is(value, world), False, None, at)
    if name == "has" and value in HAS_VALUES:
        return _Node(_has(value), False, None, at)
    raise _invalid_operator(tok if name in ("is", "has") else name, at)


def _standalone(name: str, value: str, at: int, world: World) -> _Node:
    if not value:
        raise QueryError(_PREFIX + f"missing value of operator '{name}' (at position {at})")
    if name == "from":
        idx = _user(world, value)
        return _Node(lambda t: t.author == idx, True, lambda b: b.by_author.get(idx, ()))
    if name == "to":
        idx = _user(world, value)
        return _Node(lambda t: t.kind == REPLIED_TO and t.reply_to == idx, True, None)
    if name == "retweets_of":
        idx = _user(world, value)
        mask = (1 << USER_BITS) - 1
        return _Node(lambda t: t.kind == RETWEETED and t.ref & mask == idx, True, None)
    if name == "conversation_id":
        if not value.isdigit() or len(value) > 19:
            raise QueryError(_PREFIX + f"Invalid conversation_id '{value}' (at position {at})")
        conv = int(value)
        hour = tweet_ms(conv) // HOUR_MS  # a conversation lives in its first post's hour

        def in_hour(b: HourBucket) -> Sequence[Tweet]:
            return b.tweets if b.tweets and b.tweets[0].created_ms // HOUR_MS == hour else ()

        return _Node(lambda t: t.conversation == conv, True, in_hour)
    wanted = [w for w in _URL_SPLIT.split(value.lower()) if w]
    if not wanted:
        raise QueryError(_PREFIX + f"missing value of operator 'url' (at position {at})")
    return _Node(lambda t: any(_url_has(lk.tco, wanted) or _url_has(lk.expanded, wanted) for lk in t.links), True,
                 None)  # fmt: skip


def _url_has(url: str, wanted: list[str]) -> bool:
    """Tokenized match: ``wanted``'s tokens appear in order, one after another, in ``url``'s."""
    have = [w for w in _URL_SPLIT.split(url.lower()) if w]
    n = len(wanted)
    return any(have[i : i + n] == wanted for i in range(len(have) - n + 1))


def _is(value: str, world: World) -> Matcher:
    if value == "retweet":
        return lambda t: t.kind == RETWEETED
    if value == "reply":
        return lambda t: t.kind == REPLIED_TO
    if value == "quote":
        return lambda t: t.kind == QUOTED
    verified = frozenset(u.idx for u in world.users if u.verified)
    return lambda t: t.author in verified


def _has(value: str) -> Matcher:
    if value == "media":
        return lambda t: bool(t.media)
    if value == "images":
        return lambda t: t.media == "photo"
    if value == "links":
        return lambda t: bool(t.links)
    return lambda t: bool(t.mentions)


def _intersect(cands: list[Candidates | None]) -> Candidates | None:
    """AND: any one side's candidates will do; take the shortest list of the hour."""
    known = [c for c in cands if c is not None]
    if not known:
        return None
    if len(known) == 1:
        return known[0]
    return lambda b: min((c(b) for c in known), key=len)


def _union(cands: list[Candidates | None]) -> Candidates | None:
    """OR: every side must be indexed; their lists merged, newest first, each post once."""
    if any(c is None for c in cands):
        return None
    known = [c for c in cands if c is not None]

    def union(b: HourBucket) -> Sequence[Tweet]:
        lists = [lst for lst in (c(b) for c in known) if lst]
        if len(lists) <= 1:
            return lists[0] if lists else ()
        merged = {t.id: t for lst in lists for t in lst}
        return [merged[i] for i in sorted(merged, reverse=True)]

    return union
