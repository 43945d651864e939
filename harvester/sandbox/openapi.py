"""The sandbox's request-validation tables, read from X's published OpenAPI document.

X's document (version 2.167) ships gzipped inside the package (``harvester/reference/``). The
sandbox reads it itself, instead of a copy of the harvester's tables, so that a wrong field
name on the harvester's side gets a 400 here as it would from a server built from that
document, rather than hiding in both.

For each route the sandbox serves, the document gives the allowed query parameters, which are
required, integer bounds and defaults, string patterns and lengths, and the enum of every
fields/expansions parameter. Only what the sandbox needs is kept, as frozen values.

Two API versions are served:

- ``2.167``: the document as it is (the Post fields parameter is ``post.fields``).
- ``2.166``: the names before X's rename, derived from the 2.167 tables by :data:`DELTA_2166`,
  a small hand-written delta whose every line is sourced from ``x-api-spec.md`` (§0
  "Field-name drift", and the v2.166 enums quoted in §1 "Fields and expansions").

The document is parsed once per process (tests build many sandboxes).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

DOCUMENT = "reference/openapi-2.167.json.gz"
DOCUMENT_VERSION = "2.167"
VERSIONS: tuple[str, ...] = ("2.166", "2.167")

# The routes the sandbox serves, in the sandbox's spelling (":id") → the document's ("{id}").
SERVED: tuple[str, ...] = (
    "/2/tweets/search/recent", "/2/tweets/search/all", "/2/tweets", "/2/tweets/:id", "/2/users",
    "/2/users/by", "/2/users/by/username/:username", "/2/users/:id", "/2/users/:id/tweets",
    "/2/users/:id/mentions", "/2/users/:id/followers", "/2/users/:id/following", "/2/usage/tweets",
    "/2/tweets/counts/recent", "/2/tweets/counts/all", "/2/tweets/:id/liking_users", "/2/users/:id/liked_tweets",
    "/2/tweets/:id/retweeted_by", "/2/tweets/:id/quote_tweets", "/2/lists/:id/tweets", "/2/lists/:id/members",
    "/2/lists/:id/followers", "/2/users/:id/owned_lists", "/2/users/:id/followed_lists",
    "/2/users/:id/list_memberships", "/2/users/:id/pinned_lists", "/2/users/:id/bookmarks",
    "/2/users/:id/blocking", "/2/users/:id/muting",
)  # fmt: skip


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of one route, as the document constrains it.

    ``kind`` is the schema type: ``integer``, ``string`` or ``array`` (comma-joined on the wire,
    ``style: form, explode: false``). ``enum`` is a string's or an array item's enum, in the
    document's order (X's 400 message lists the allowed values in that order). ``pattern`` is a
    string's or an array item's pattern.
    """

    name: str
    location: str  # "query" or "path"
    required: bool
    kind: str
    minimum: int | None = None
    maximum: int | None = None
    default: int | str | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    date_time: bool = False
    enum: tuple[str, ...] | None = None
    min_items: int | None = None
    max_items: int | None = None


@dataclass(frozen=True)
class RouteParams:
    """Every parameter a route accepts, by name, in the document's order."""

    route: str
    params: Mapping[str, ParamSpec]

    def query_names(self) -> tuple[str, ...]:
        return tuple(n for n, p in self.params.items() if p.location == "query")


@dataclass(frozen=True)
class ApiTables:
    """The validation tables of one API version.

    ``post_fields`` is this version's name of the Post fields parameter and ``post_fields_alias``
    the other name, accepted too unless the ``strict_param_names`` quirk is on (x-api-spec.md §0:
    "Simulator: accept `tweet.fields` (and also `post.fields` as an alias)").
    """

    version: str
    routes: Mapping[str, RouteParams]
    post_fields: str
    post_fields_alias: str

    def route(self, route: str) -> RouteParams:
        return self.routes[route]


@dataclass(frozen=True)
class EnumDelta:
    """How one enum of 2.166 differs from 2.167: names 2.167 dropped and the 2.166 names."""

    removed: tuple[str, ...]
    added: tuple[str, ...]
    source: str


# 2.167 → 2.166, by component parameter of the document. Sources (x-api-spec.md):
# §0 "Field-name drift": v2.167 renamed `tweet.fields` → `post.fields` and the expansion
# `referenced_tweets.id` → `referenced_posts`; v2.166 and earlier use `tweet.fields`.
# §1 "Fields and expansions" [OAS v2.166 enums]: the full v2.166 lists of `tweet.fields`,
# `user.fields`, Post `expansions` and User `expansions`. Each delta below is the difference
# between that list and the 2.167 document; tests/sandbox/test_openapi.py re-reads §1 and checks
# the derived 2.166 enums equal it exactly.
PARAM_RENAMES_2166: Mapping[str, str] = {"post.fields": "tweet.fields"}  # §0
DELTA_2166: Mapping[str, EnumDelta] = {
    "PostFieldsParameter": EnumDelta(
        removed=("article_title", "note_post"),
        added=("author_id", "edit_history_tweet_ids", "in_reply_to_user_id", "note_tweet", "referenced_tweets"),
        source="x-api-spec.md §1 `tweet.fields` enum [OAS v2.166]",
    ),
    "PostExpansionsParameter": EnumDelta(
        removed=("edit_history_post_ids", "referenced_posts", "username"),
        added=(
            "edit_history_tweet_ids",
            "entities.note.mentions.username",
            "referenced_tweets.id",
            "referenced_tweets.id.attachments.media_keys",
            "referenced_tweets.id.author_id",
        ),
        source="x-api-spec.md §0 (referenced_tweets.id → referenced_posts) and §1 Tweet `expansions` [OAS v2.166]",
    ),
    "UserFieldsParameter": EnumDelta(
        removed=("subscribes_to_you",),
        added=("affiliation", "most_recent_tweet_id", "pinned_tweet_id"),
        source="x-api-spec.md §1 `user.fields` enum [OAS v2.166]",
    ),
    "UserExpansionsParameter": EnumDelta(
        removed=("affiliation", "most_recent_post_id", "pinned_post_id"),
        added=("affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"),
        source="x-api-spec.md §1 User `expansions` [OAS v2.166]",
    ),
}


@cache
def document() -> dict[str, Any]:
    """X's OpenAPI document, parsed once per process."""
    raw = resources.files("harvester").joinpath(DOCUMENT).read_bytes()
    doc: dict[str, Any] = json.loads(gzip.decompress(raw))
    return doc


def doc_path(route: str) -> str:
    """``/2/tweets/:id`` → ``/2/tweets/{id}`` (the document's spelling)."""
    return "/".join("{" + p[1:] + "}" if p.startswith(":") else p for p in route.split("/"))


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        target: Any = doc
        for part in parts:
            target = target[part]
        node = target
    return node


def _spec(doc: dict[str, Any], param: dict[str, Any]) -> ParamSpec:
    schema = _resolve(doc, param.get("schema", {}))
    kind = schema.get("type", "string")
    spec = ParamSpec(name=param["name"], location=param["in"], required=bool(param.get("required")), kind=kind)
    if kind == "integer":
        return replace(spec, minimum=schema.get("minimum"), maximum=schema.get("maximum"),
                       default=schema.get("default"))  # fmt: skip
    if kind == "array":
        items = _resolve(doc, schema.get("items", {}))
        enum = items.get("enum")
        return replace(spec, min_items=schema.get("minItems"), max_items=schema.get("maxItems"),
                       enum=None if enum is None else tuple(dict.fromkeys(enum)),
                       pattern=items.get("pattern"))  # fmt: skip
    enum = schema.get("enum")
    return replace(spec, pattern=schema.get("pattern"), min_length=schema.get("minLength"),
                   max_length=schema.get("maxLength"), date_time=schema.get("format") == "date-time",
                   enum=None if enum is None else tuple(enum), default=schema.get("default"))  # fmt: skip


def _apply_delta(spec: ParamSpec, delta: EnumDelta | None) -> ParamSpec:
    if delta is None or spec.enum is None:
        return spec
    kept = [v for v in spec.enum if v not in delta.removed]
    return replace(spec, enum=tuple(sorted({*kept, *delta.added})))


def _build(version: str) -> ApiTables:
    if version not in VERSIONS:
        raise ValueError(f"api_version must be one of {', '.join(VERSIONS)}, not {version!r}")
    doc = document()
    old = version != DOCUMENT_VERSION
    routes: dict[str, RouteParams] = {}
    for route in SERVED:
        op = doc["paths"][doc_path(route)]["get"]
        params: dict[str, ParamSpec] = {}
        for raw in op.get("parameters", []):
            component = raw["$ref"].rsplit("/", 1)[1] if "$ref" in raw else None
            spec = _spec(doc, _resolve(doc, raw))
            if old:
                spec = _apply_delta(spec, DELTA_2166.get(component or ""))
                spec = replace(spec, name=PARAM_RENAMES_2166.get(spec.name, spec.name))
            params[spec.name] = spec
        routes[route] = RouteParams(route, params)
    post, alias = ("tweet.fields", "post.fields") if old else ("post.fields", "tweet.fields")
    return ApiTables(version, routes, post, alias)


@cache
def tables(version: str) -> ApiTables:
    """The validation tables of ``version`` (built once per process and version)."""
    return _build(version)
