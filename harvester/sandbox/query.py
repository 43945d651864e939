"""A documented subset of X's search query language, parsed once and matched against posts.

Supported: space-separated terms (AND), ``OR`` (AND binds tighter, as on X), ``-term``
negation, parentheses, ``"quoted phrases"``, ``from:username``, ``@username`` (mentions) and
``lang:xx``. Matching is on whole, case-insensitive words. Anything else that looks like an
operator (``foo:bar``) is rejected, as is a query with only negated terms, so a harvester bug
that sends a malformed query gets a 400 here as it would on X.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from harvester.sandbox.world import Tweet, World

_TOKEN = re.compile(r'\s*(\(|\)|-?"[^"]*"|-?[^\s()"]+)')


class QueryError(ValueError):
    """The query is not valid in the supported subset; the message goes into the 400 body."""


Matcher = Callable[[Tweet], bool]


@dataclass(frozen=True)
class Query:
    """A parsed query: its text and a predicate over posts."""

    text: str
    match: Matcher


def parse(text: str, world: World) -> Query:
    """Parse ``text`` into a :class:`Query`; raises :class:`QueryError`."""
    tokens = _tokenize(text)
    if not tokens:
        raise QueryError("There were errors processing your request: query must not be empty")
    pos, matcher, positive = _parse_or(tokens, 0, world)
    if pos != len(tokens):
        raise QueryError(f"There were errors processing your request: unexpected `{tokens[pos]}`")
    if not positive:
        raise QueryError(
            "There were errors processing your request: Rules must contain a non-negation term"
        )
    return Query(text, matcher)


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


def _parse_or(tokens: list[str], pos: int, world: World) -> tuple[int, Matcher, bool]:
    pos, first, positive = _parse_and(tokens, pos, world)
    alts = [first]
    while pos < len(tokens) and tokens[pos] == "OR":
        pos, nxt, pos_nxt = _parse_and(tokens, pos + 1, world)
        alts.append(nxt)
        positive = positive and pos_nxt
    if len(alts) == 1:
        return pos, first, positive
    return pos, (lambda t: any(a(t) for a in alts)), positive


def _parse_and(tokens: list[str], pos: int, world: World) -> tuple[int, Matcher, bool]:
    parts: list[Matcher] = []
    positive = False
    while pos < len(tokens) and tokens[pos] not in ("OR", ")"):
        tok = tokens[pos]
        if tok == "(":
            pos, inner, inner_pos = _parse_or(tokens, pos + 1, world)
            if pos >= len(tokens) or tokens[pos] != ")":
                raise QueryError("There were errors processing your request: missing `)`")
            pos += 1
            parts.append(inner)
            positive = positive or inner_pos
            continue
        negate = tok.startswith("-") and len(tok) > 1
        term = _term(tok[1:] if negate else tok, world)
        parts.append(_negate(term) if negate else term)
        positive = positive or not negate
        pos += 1
    if not parts:
        raise QueryError("There were errors processing your request: empty expression")
    if len(parts) == 1:
        return pos, parts[0], positive
    return pos, (lambda t: all(p(t) for p in parts)), positive


def _term(tok: str, world: World) -> Matcher:
    if tok.startswith('"'):
        phrase = tok.strip('"').lower().split()
        if not phrase:
            raise QueryError("There were errors processing your request: empty phrase")
        joined = " " + " ".join(phrase) + " "
        return lambda t: set(phrase) <= t.words and joined in " " + t.text.lower() + " "
    if tok.startswith("from:"):
        user = world.by_username.get(tok[5:].lower())
        idx = -1 if user is None else user.idx
        return lambda t: t.author == idx
    if tok.startswith("lang:"):
        lang = tok[5:]
        return lambda t: t.lang == lang
    if tok.startswith("@"):
        user = world.by_username.get(tok[1:].lower())
        idx = -1 if user is None else user.idx
        return lambda t: idx in t.mentions
    if ":" in tok:
        raise QueryError(f"There were errors processing your request: unsupported operator `{tok}`")
    word = tok.lower()
    return lambda t: word in t.words


def _negate(term: Matcher) -> Matcher:
    return lambda t: not term(t)
