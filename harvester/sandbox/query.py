"""A documented subset of X's search query language, parsed once and matched against posts.

Supported: space-separated terms (AND), ``OR`` (AND binds tighter, as on X), ``-term``
negation, parentheses, ``"quoted phrases"``, ``from:username``, ``@username`` (mentions) and
``lang:xx``. Matching is on whole, case-insensitive words. Anything else that looks like an
operator (``foo:bar``) is rejected, as is a query with only negated terms, so a harvester bug
that sends a malformed query gets a 400 here as it would on X.

Besides its predicate, a query yields *candidates*: per hour of the world, the posts that could
match, read from the hour's indexes (by word, author, mention): a term's own list, the
shortest list of an AND, the union of an OR. The predicate then runs on those alone, so a rare
word over a week reads a few dozen posts instead of every post of the week. Negations and
``lang:`` have no index and leave the choice to the other side of an AND (alone, to a scan).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harvester.sandbox.world import HourBucket, Tweet, World

_TOKEN = re.compile(r'\s*(\(|\)|-?"[^"]*"|-?[^\s()"]+)')


class QueryError(ValueError):
    """The query is not valid in the supported subset; the message goes into the 400 body."""


Matcher = Callable[[Tweet], bool]
# One hour's posts that might match, newest first (a superset of the matches); None = all posts.
Candidates = Callable[[HourBucket], Sequence[Tweet]]
_Parsed = tuple[int, Matcher, bool, Candidates | None]


@dataclass(frozen=True)
class Query:
    """A parsed query: its text, a predicate over posts, and where to find candidates."""

    text: str
    match: Matcher
    candidates: Candidates | None = None


def parse(text: str, world: World) -> Query:
    """Parse ``text`` into a :class:`Query`; raises :class:`QueryError`."""
    tokens = _tokenize(text)
    if not tokens:
        raise QueryError("There were errors processing your request: query must not be empty")
    pos, matcher, positive, candidates = _parse_or(tokens, 0, world)
    if pos != len(tokens):
        raise QueryError(f"There were errors processing your request: unexpected `{tokens[pos]}`")
    if not positive:
        raise QueryError("There were errors processing your request: Rules must contain a non-negation term")
    return Query(text, matcher, candidates)


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise QueryError(f"There were errors processing your request: cannot parse `{text[pos:]}`")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def _parse_or(tokens: list[str], pos: int, world: World) -> _Parsed:
    pos, first, positive, cand = _parse_and(tokens, pos, world)
    alts, cands = [first], [cand]
    while pos < len(tokens) and tokens[pos] == "OR":
        pos, nxt, pos_nxt, cand_nxt = _parse_and(tokens, pos + 1, world)
        alts.append(nxt)
        cands.append(cand_nxt)
        positive = positive and pos_nxt
    if len(alts) == 1:
        return pos, first, positive, cand
    return pos, (lambda t: any(a(t) for a in alts)), positive, _union(cands)


def _parse_and(tokens: list[str], pos: int, world: World) -> _Parsed:
    parts: list[Matcher] = []
    cands: list[Candidates | None] = []
    positive = False
    while pos < len(tokens) and tokens[pos] not in ("OR", ")"):
        tok = tokens[pos]
        if tok == "(":
            pos, inner, inner_pos, inner_cand = _parse_or(tokens, pos + 1, world)
            if pos >= len(tokens) or tokens[pos] != ")":
                raise QueryError("There were errors processing your request: missing `)`")
            pos += 1
            parts.append(inner)
            cands.append(inner_cand)
            positive = positive or inner_pos
            continue
        negate = tok.startswith("-") and len(tok) > 1
        term, cand = _term(tok[1:] if negate else tok, world)
        parts.append(_negate(term) if negate else term)
        cands.append(None if negate else cand)
        positive = positive or not negate
        pos += 1
    if not parts:
        raise QueryError("There were errors processing your request: empty expression")
    if len(parts) == 1:
        return pos, parts[0], positive, cands[0]
    return pos, (lambda t: all(p(t) for p in parts)), positive, _intersect(cands)


def _term(tok: str, world: World) -> tuple[Matcher, Candidates | None]:
    if tok.startswith('"'):
        phrase = tok.strip('"').lower().split()
        if not phrase:
            raise QueryError("There were errors processing your request: empty phrase")
        joined = " " + " ".join(phrase) + " "
        return (lambda t: all(w in t.words for w in phrase) and joined in " " + t.text.lower() + " "), (
            lambda b: min((b.word(w) for w in phrase), key=len)
        )
    if tok.startswith("from:"):
        user = world.by_username.get(tok[5:].lower())
        idx = -1 if user is None else user.idx
        return (lambda t: t.author == idx), (lambda b: b.by_author.get(idx, ()))
    if tok.startswith("lang:"):
        lang = tok[5:]
        return (lambda t: t.lang == lang), None
    if tok.startswith("@"):
        user = world.by_username.get(tok[1:].lower())
        idx = -1 if user is None else user.idx
        return (lambda t: idx in t.mentions), (lambda b: b.by_mention.get(idx, ()))
    if ":" in tok:
        raise QueryError(f"There were errors processing your request: unsupported operator `{tok}`")
    word = tok.lower()
    return (lambda t: word in t.words), (lambda b: b.word(word))


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


def _negate(term: Matcher) -> Matcher:
    return lambda t: not term(t)
