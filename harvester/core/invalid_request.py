"""What a 400 "invalid request" body refuses: the parameter, the value and the server's list.

Why liberal: the request engine must tell "a name the server spells differently" (resend once,
:mod:`harvester.core.renames`) from every other 400 (fail the job, naming what the server said),
and X-like servers word their refusals differently. Two wordings are known:

- X (x-api-spec.md §2.3): ``errors[]`` items with ``parameters: {param: [value]}`` and a message
  like ``The `expansions` query parameter value [referenced_tweets.id] is not one of
  [article.cover_media,author_id,...]``; an unknown parameter reads ``The query parameter [foo]
  is not one of [query,start_time,...]``.
- a server built from X's document by an OpenAPI validator: ``invalid value
  'referenced_tweets.id' at index 0: value must be one of: [a, b, c]``, with the parameter named
  somewhere else: a ``parameter`` key, a ``loc`` path, a ``parameter 'expansions'`` or
  ``expansions:`` in the text, or the top-level ``detail``.

So the parser looks for the three facts separately (a parameter mention, refused values, a
"one of" list), in any error object, and takes the parameter from the text nearest the value,
then from the error object's keys, then from the request that was sent. It accepts quotes,
backticks, brackets or none, lists with or without spaces, and never raises: an odd body gives
an empty answer, which the engine treats as "not a known rename".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_MAX_TEXT = 100_000  # longer texts are cut: no real refusal is that long
_Q = "`'\"‘’“”"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_NAME_RE = re.compile(rf"^{_NAME}$")
# Words that sit where a parameter name would in prose, and never are one.
_NOT_NAMES = frozenset(
    {"a", "an", "and", "at", "bad", "be", "detail", "error", "errors", "for", "in", "index", "invalid",
     "is", "message", "must", "name", "not", "of", "one", "or", "parameter", "parameters", "problem",
     "query", "request", "the", "to", "validation", "value", "values"}
)  # fmt: skip

_REFUSED = r"(?:unknown|unsupported|unexpected|unrecognized|unrecognised|disallowed)"
_NOT_TAKEN = r"(?:allowed|accepted|supported|recognized|recognised|permitted|known|expected)"
_UNKNOWN_PARAM = [
    re.compile(p, re.IGNORECASE)
    for p in (
        # X: The query parameter [foo] is not one of [query,start_time,...]
        rf"query\s+parameter\s*[\[{_Q}]?(?P<p>{_NAME})[\]{_Q}]?\s+is\s+not\s+one\s+of",
        rf"{_REFUSED}\s+(?:query\s+)?param(?:eter)?s?\b\s*[:=]?\s*[\[{_Q}]?(?P<p>{_NAME})",
        rf"(?:query\s+)?param(?:eter)?\s+[\[{_Q}]?(?P<p>{_NAME})[\]{_Q}]?\s+(?:is|was)\s+not\s+{_NOT_TAKEN}",
        rf"[\[{_Q}](?P<p>{_NAME})[\]{_Q}]\s+is\s+not\s+a\s+(?:valid|{_NOT_TAKEN})\s+(?:query\s+)?param",
    )
]
_VALUE = re.compile(
    r"value\s*\[(?P<b>[^\]]*)\]"  # X: value [x]
    rf"|value\s*:?\s*[{_Q}](?P<q>[^{_Q}]*)[{_Q}]"  # value 'x', invalid value "x"
    rf"|invalid\s+value\s*:?\s*(?P<u>[^\s,;:{_Q}\[\]]+)",  # invalid value x
    re.IGNORECASE,
)
_LIST = re.compile(
    # "one of [a,b]", "must be one of: [a, b]", "one of: a, b" (a bare list needs the colon), but
    # not "At most one of `tweet.fields`, `post.fields` may be provided".
    r"(?:(?<!most\s)one\s+of|(?:allowed|valid|possible|accepted|supported)\s+values?(?:\s+are)?)"
    r"(?:\s*:?\s*(?:\[(?P<b>[^\]]*)\]|\((?P<p>[^)]*)\)|\{(?P<c>[^}]*)\})|\s*:\s*(?P<bare>[^;\n]+))",
    re.IGNORECASE,
)
_PARAM_MENTION = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"[{_Q}\[](?P<p>{_NAME})[{_Q}\]]\s+(?:query\s+)?param",  # X: The `expansions` query parameter
        rf"\bparam(?:eter)?\s*(?:name\s*)?[:=]?\s*[{_Q}\[](?P<p>{_NAME})[{_Q}\]]",  # parameter 'expansions'
        rf"\bparam(?:eter)?\s*(?:name\s*)?[:=]\s*(?P<p>{_NAME})",  # parameter: expansions
        rf"\bparam(?:eter)?\s+(?P<p>{_NAME})\s*[:,;]",  # parameter expansions: ...
        rf"(?:^|[\s(])(?:query[.:/])?(?P<p>{_NAME})\s*:\s",  # expansions: invalid value ...
        rf"\bquery[./](?P<p>{_NAME})",  # query.expansions
        rf"\b(?:in|for)\s+[{_Q}](?P<p>{_NAME})[{_Q}]",  # ... in 'expansions'
    )
]
_COMPLAINT = re.compile(
    r"invalid|not\s+one\s+of|be\s+one\s+of|not\s+valid|not\s+allowed|not\s+supported|unsupported|unknown"
    r"|not\s+recogni[sz]ed",
    re.IGNORECASE,
)
_TEXT_KEYS = ("message", "detail", "msg", "reason", "description", "error")
# Keys an error object may name its parameter under ("name" is not one: it often holds a class
# name such as "ValidationError").
_PARAM_KEYS = ("parameter", "param", "field", "location")


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidValue:
    """One thing a 400 refused.

    Attributes:
        param: the parameter; None when neither the body nor the request tells which.
        value: the refused value; None when the parameter itself was refused (not accepted
            on the route at all).
        valid: the server's list of valid values (of valid parameter names when the
            parameter was refused); empty when the body gave none.
        message: the server's text about it, for the job's failure line.
    """

    param: str | None
    value: str | None
    valid: tuple[str, ...] = ()
    message: str = ""

    @property
    def unknown_parameter(self) -> bool:
        return self.value is None


def parse_invalid_values(body: object, sent: Mapping[str, str] | None = None) -> tuple[InvalidValue, ...]:
    """The values (and parameters) a 400 body refuses; empty when it names none.

    Args:
        body: the decoded JSON body, or its raw text or bytes.
        sent: the request's query parameters; when the body does not name the parameter of a
            refused value, the one whose comma-joined list holds the value is taken.

    Never raises: a body of an unexpected shape gives what could be read from it, or ``()``.
    """
    errors, top = _split(_decode(body))
    outer = _outer_params(top)
    found: list[InvalidValue] = []
    for error in [*errors, top]:
        for item in _from_error(error, outer, sent or {}):
            if item not in found:
                found.append(item)
    # The same refusal, once with and once without its parameter: keep the one that names it.
    named = {(f.value, f.valid) for f in found if f.param is not None}
    return tuple(f for f in found if f.param is not None or (f.value, f.valid) not in named)


# --------------------------------------------------------------------------- body shape


def _decode(body: object) -> object:
    if isinstance(body, bytes | bytearray):
        body = bytes(body[:_MAX_TEXT]).decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return {"message": body}
    return body


def _split(body: object) -> tuple[list[Mapping[str, Any]], Mapping[str, Any]]:
    """The ``errors`` items, and the top-level problem without them."""
    if not isinstance(body, Mapping):
        return [], {}
    errors = body.get("errors")
    items: list[Mapping[str, Any]] = []
    if isinstance(errors, list):
        items = [e for e in errors if isinstance(e, Mapping)]
    elif isinstance(errors, Mapping):
        items = [errors]
    return items, {k: v for k, v in body.items() if k != "errors"}


def _texts(error: Mapping[str, Any]) -> list[str]:
    return [v[:_MAX_TEXT] for k in _TEXT_KEYS if isinstance(v := error.get(k), str) and v.strip()]


def _is_name(text: str) -> bool:
    return bool(_NAME_RE.match(text)) and text.lower() not in _NOT_NAMES


def _named_params(error: Mapping[str, Any]) -> dict[str, list[str]]:
    """Parameters the error object names in its keys, with the values it gives for each."""
    named: dict[str, list[str]] = {}
    params = error.get("parameters")
    if isinstance(params, Mapping):
        for name, values in params.items():
            if isinstance(name, str) and _is_name(name):
                items = values if isinstance(values, list) else [values]
                named[name] = [v for v in items if isinstance(v, str)]
    for key in _PARAM_KEYS:
        value = error.get(key)
        if isinstance(value, str):
            value = value.strip().removeprefix("query.").removeprefix("query:").strip()
            if _is_name(value):
                named.setdefault(value, [])
    for key in ("loc", "source"):  # ["query", "expansions", 0]; {"parameter": "expansions"}
        value = error.get(key)
        if isinstance(value, list):
            names = [v for v in value if isinstance(v, str) and _is_name(v)]
            if names:
                named.setdefault(names[-1], [])
        elif isinstance(value, Mapping):
            name = value.get("parameter")
            if isinstance(name, str) and _is_name(name):
                named.setdefault(name, [])
    return named


def _outer_params(top: Mapping[str, Any]) -> list[str]:
    """Parameters the top level names (keys, mentions, or a ``detail`` that is just a name):
    the fallback for an ``errors`` item that names none."""
    names = list(_named_params(top))
    for text in _texts(top):
        if _is_name(text.strip()):
            names.append(text.strip())
        names.extend(name for _, name in _mentions(text))
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------- text


def _items(text: str) -> tuple[str, ...]:
    """``[a, 'b', "c"]`` -> ``("a", "b", "c")``."""
    parts = (p.strip().strip(_Q).strip() for p in re.split(r",|\s+or\s+", text))
    return tuple(dict.fromkeys(p for p in parts if p))


def _list_after(text: str, start: int, end: int) -> tuple[str, ...]:
    m = _LIST.search(text, start, end)
    if m is None:
        return ()
    if m.group("bare") is not None:
        return _items(m.group("bare").rstrip(". "))
    return _items(m.group("b") or m.group("p") or m.group("c") or "")


def _mentions(text: str) -> list[tuple[int, str]]:
    found = []
    for pattern in _PARAM_MENTION:
        for m in pattern.finditer(text):
            if _is_name(m.group("p")):
                found.append((m.start(), m.group("p")))
    return sorted(found)


def _param_near(mentions: list[tuple[int, str]], start: int, end: int) -> str | None:
    """The mention nearest before ``start``, else the first one before ``end``."""
    before = [name for pos, name in mentions if pos < start]
    if before:
        return before[-1]
    after = [name for pos, name in mentions if start <= pos < end]
    return after[0] if after else None


def _from_error(
    error: Mapping[str, Any], outer: list[str], sent: Mapping[str, str]
) -> Iterator[InvalidValue]:
    named = _named_params(error)
    texts = _texts(error)
    matched = False
    for text in texts:
        unknown = [m for pattern in _UNKNOWN_PARAM for m in pattern.finditer(text) if _is_name(m.group("p"))]
        for m in unknown:
            matched = True
            yield InvalidValue(param=m.group("p"), value=None, valid=_list_after(text, m.end("p"), len(text)),
                               message=text)  # fmt: skip
        if unknown:
            continue
        mentions = _mentions(text)
        values = list(_VALUE.finditer(text))
        for i, m in enumerate(values):
            raw = next(g for g in (m.group("b"), m.group("q"), m.group("u")) if g is not None)
            end = values[i + 1].start() if i + 1 < len(values) else len(text)
            valid = _list_after(text, m.end(), end)
            param = _param_near(mentions, m.start(), end) or _param_of(raw, named, outer, sent)
            for value in _items(raw) or ("",):
                if value not in valid:
                    matched = True
                    yield InvalidValue(param=param, value=value, valid=valid, message=text)
    if matched or not named:
        return
    # No refused value in the text (X's "The `sort_order` query parameter value is not one of
    # [...]"): the values the error object gives, if its text complains about values at all.
    complaint = next((t for t in texts if _COMPLAINT.search(t)), None) if texts else ""
    if complaint is None:
        return
    valid = _list_after(complaint, 0, len(complaint))
    for name, given in named.items():
        for value in given:
            # Without the server's list, which item of a comma-joined value it refused is unknown.
            for item in _items(value) if valid else (value,):
                if item not in valid:
                    yield InvalidValue(param=name, value=item, valid=valid, message=complaint)


def _param_of(
    value: str, named: Mapping[str, list[str]], outer: list[str], sent: Mapping[str, str]
) -> str | None:
    """The parameter of a refused value the text does not name: from the error object's keys
    (the only one, or the one whose values hold it), the top level's, else the request's."""
    if len(named) == 1:
        return next(iter(named))
    holding = [n for n, given in named.items() if any(value in _items(g) for g in given)]
    if len(holding) == 1:
        return holding[0]
    if len(outer) == 1:
        return outer[0]
    holding = [n for n, given in sent.items() if isinstance(given, str) and value in given.split(",")]
    return holding[0] if len(holding) == 1 else None
