"""The sandbox validates requests with tables read from X's OpenAPI document, in two versions.

2.167 is the document as published; 2.166 is derived from it by a hand-written delta that must
reproduce exactly the v2.166 enums quoted in x-api-spec.md §1. Both versions accept and refuse
the right names, and the 400 bodies have X's invalid-request shape in both wordings.
"""

from __future__ import annotations

import ast
import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from sbhelp import Client, Reply, drive

from harvester.sandbox import Sandbox, SandboxConfig
from harvester.sandbox import tables as T
from harvester.sandbox.openapi import DELTA_2166, VERSIONS, document, tables

SANDBOX = Path(__file__).resolve().parents[2] / "harvester" / "sandbox"
SEARCH = "/2/tweets/search/recent"
INVALID = "https://api.twitter.com/2/problems/invalid-request"


def _reference(name: str) -> Path:
    here = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
    path = Path(os.environ.get("HARVESTER_REFERENCE_DIR", here)) / name
    if not path.exists():
        path = here / name
    assert path.exists(), f"reference document {path} is missing"
    return path


def _spec_list(label: str) -> set[str]:
    """A comma-separated list quoted in x-api-spec.md §1 after ``label``."""
    text = _reference("x-api-spec.md").read_text()
    sec = text[text.index("## 1. Endpoints") : text.index("## 2. Response shapes")]
    m = re.search(re.escape(label) + r"\s*`([^`]*)`", sec)
    assert m, label
    return {v.strip() for v in m.group(1).replace("\n", " ").split(",")}


def test_vendored_document_is_the_reference_one() -> None:
    """The package's gzip holds exactly X's document from shared/reference, version 2.167."""
    ref = json.loads(_reference("openapi-2.167.json").read_text())
    assert document() == ref and ref["info"]["version"] == "2.167"
    vendored = SANDBOX.parent / "reference" / "openapi-2.167.json.gz"
    assert json.loads(gzip.decompress(vendored.read_bytes())) == ref


def test_2167_tables_are_the_document() -> None:
    doc = document()
    api = tables("2.167")
    for route in T.ROUTES:
        op = doc["paths"][route.replace(":id", "{id}").replace(":username", "{username}")]["get"]
        names = set()
        for p in op["parameters"]:
            if "$ref" in p:
                p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
            names.add(p["name"])
        assert set(api.route(route).params) == names, route
    post = doc["components"]["parameters"]["PostFieldsParameter"]["schema"]["items"]["enum"]
    assert api.route(SEARCH).params["post.fields"].enum == tuple(post)
    assert "author_id" not in post and "note_post" in post  # what makes 2.167 refuse the old names
    mr = api.route(SEARCH).params["max_results"]
    assert (mr.minimum, mr.maximum, mr.default) == (10, 100, 10)
    assert api.route(T.FOLLOWERS).params["pagination_token"].min_length == 16
    assert api.route(T.USAGE).params["days"].default == 7
    assert api.route(T.COUNTS_RECENT).params["granularity"].enum == ("minute", "hour", "day")


def test_2166_delta_gives_exactly_the_spec_lists() -> None:
    old = tables("2.166")
    assert old.post_fields == "tweet.fields" and "post.fields" not in old.route(SEARCH).params
    search, user = old.route(SEARCH).params, old.route(T.USER).params
    assert set(search["tweet.fields"].enum or ()) == _spec_list("`tweet.fields` enum:")
    assert set(search["user.fields"].enum or ()) == _spec_list("`user.fields`:")
    assert set(search["expansions"].enum or ()) == _spec_list("Tweet `expansions`:")
    assert set(user["expansions"].enum or ()) == _spec_list("User `expansions`:")
    assert all(d.source.startswith("x-api-spec.md §") for d in DELTA_2166.values())
    # Everything the delta does not touch is the document's.
    new = tables("2.167")
    for route in T.ROUTES:
        for name, p in new.route(route).params.items():
            if name not in ("post.fields", "expansions", "user.fields"):
                assert old.route(route).params[name] == p, (route, name)


def test_tables_are_built_once_per_process() -> None:
    assert tables("2.167") is tables("2.167") and document() is document()
    with pytest.raises(ValueError, match="api_version"):
        SandboxConfig(api_version="2.150")
    with pytest.raises(ValueError, match="unknown quirk nope"):
        SandboxConfig(quirks=frozenset({"nope"}))


def test_sandbox_imports_nothing_from_harvester_but_the_clock() -> None:
    """So a wrong limit, price or field name cannot hide in both the harvester and the sandbox."""
    for path in SANDBOX.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
            for mod in mods:
                if mod.startswith("harvester"):
                    assert mod == "harvester.clock" or mod.startswith("harvester.sandbox"), (path.name, mod)


def _bad(r: Reply) -> list[dict[str, Any]]:
    assert r.status == 400, r.body
    assert set(r.body) == {"errors", "title", "detail", "type"}
    assert r.body["title"] == "Invalid Request" and r.body["type"] == INVALID
    assert r.body["detail"] == "One or more parameters to your request was invalid."
    return list(r.body["errors"])


OLD = {"tweet.fields": "author_id,referenced_tweets,in_reply_to_user_id,edit_history_tweet_ids,note_tweet",
       "expansions": "referenced_tweets.id,referenced_tweets.id.author_id,edit_history_tweet_ids,"
                     "entities.note.mentions.username,referenced_tweets.id.attachments.media_keys",
       "user.fields": "affiliation,most_recent_tweet_id,pinned_tweet_id"}  # fmt: skip
NEW = {"post.fields": "created_at,note_post,article_title", "expansions": "referenced_posts,edit_history_post_ids",
       "user.fields": "subscribes_to_you,username"}  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
def test_each_version_accepts_its_names_and_refuses_the_others(version: str) -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = {"query": sb.truth.sample_queries().common}
        uid = sb.truth.most_active(1)[0].id
        mine, theirs = (OLD, NEW) if version == "2.166" else (NEW, OLD)
        assert (await c.get(SEARCH, {**q, **mine})).status == 200
        u_mine = "affiliation.user_id,pinned_tweet_id" if version == "2.166" else "affiliation,pinned_post_id"
        u_theirs = "affiliation,pinned_post_id" if version == "2.166" else "affiliation.user_id,pinned_tweet_id"
        assert (await c.get(f"/2/users/{uid}", {"expansions": u_mine})).status == 200
        assert (await c.get(f"/2/users/{uid}", {"expansions": u_theirs})).status == 400
        for name, value in theirs.items():
            name = sb.api.tables.post_fields if name in ("tweet.fields", "post.fields") else name
            errors = _bad(await c.get(SEARCH, {**q, name: value}))
            assert list(errors[0]["parameters"]) == [name]
        # The other version's name of the Post fields parameter is an alias (same enum).
        alias = sb.api.tables.post_fields_alias
        r = await c.get(SEARCH, {**q, alias: "created_at,lang"})
        assert r.status == 200 and "created_at" in r.body["data"][0]
        both = _bad(await c.get(SEARCH, {**q, "tweet.fields": "lang", "post.fields": "lang"}))
        assert "At most one of" in both[0]["message"]
        assert r.headers["api-version"] == version

    drive(SandboxConfig(api_version=version), body)


@pytest.mark.parametrize("version", VERSIONS)
def test_strict_param_names_refuses_the_alias(version: str) -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = {"query": sb.truth.sample_queries().common}
        own, alias = sb.api.tables.post_fields, sb.api.tables.post_fields_alias
        assert (await c.get(SEARCH, {**q, own: "created_at"})).status == 200
        errors = _bad(await c.get(SEARCH, {**q, alias: "created_at"}))
        assert errors == [{"parameters": {alias: ["created_at"]},
                           "message": f"The query parameter [{alias}] is not one of "
                                      f"[{','.join(sb.api.tables.route(SEARCH).query_names())}]"}]  # fmt: skip

    drive(SandboxConfig(api_version=version, quirks=frozenset({"strict_param_names"})), body)


def test_invalid_enum_value_body_in_x_wording() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = {"query": sb.truth.sample_queries().common}
        enum = sb.api.tables.route(SEARCH).params["expansions"].enum or ()
        r = await c.get(SEARCH, {**q, "expansions": "author_id,referenced_tweets.id"})
        assert r.body == {
            "errors": [{"parameters": {"expansions": ["author_id,referenced_tweets.id"]},
                        "message": f"The `expansions` query parameter value [referenced_tweets.id] is not one of "
                                   f"[{','.join(enum)}]"}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": INVALID}  # fmt: skip
        assert r.body["errors"][0]["message"].endswith(
            "[article.cover_media,article.media_entities,attachments.media_keys,attachments.media_source_tweet,"
            "attachments.poll_ids,author_id,edit_history_post_ids,entities.mentions.username,geo.place_id,"
            "in_reply_to_user_id,referenced_posts,username]")
        errors = _bad(await c.get(SEARCH, {**q, "sort_order": "oldest", "bogus": "1", "max_results": "5"}))
        by_param = {next(iter(e["parameters"])): e["message"] for e in errors}
        assert by_param["sort_order"] == "The `sort_order` query parameter value [oldest] is not one of [recency,relevancy]"
        assert by_param["bogus"].startswith("The query parameter [bogus] is not one of [query,max_results,")
        assert by_param["max_results"] == "The `max_results` query parameter value [5] is not between 10 and 100"

    drive(SandboxConfig(api_version="2.167"), body)


def test_invalid_enum_value_body_in_the_other_servers_wording() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        q = {"query": sb.truth.sample_queries().common}
        enum = sb.api.tables.route(SEARCH).params["expansions"].enum or ()
        r = await c.get(SEARCH, {**q, "expansions": "referenced_tweets.id,author_id"})
        assert r.body["errors"] == [{
            "parameters": {"expansions": ["referenced_tweets.id,author_id"]},
            "message": f"invalid value 'referenced_tweets.id' at index 0: value must be one of: [{', '.join(enum)}]"}]
        assert _bad(r)
        r = await c.get(SEARCH, {**q, "post.fields": "created_at,lang,author_id"})
        assert r.body["errors"][0]["message"].startswith(
            "invalid value 'author_id' at index 2: value must be one of: [article, article_title, attachments,")
        # Other 400s keep X's wording.
        r = await c.get(SEARCH, {**q, "bogus": "1"})
        assert r.body["errors"][0]["message"].startswith("The query parameter [bogus] is not one of [")

    drive(SandboxConfig(api_version="2.167", quirks=frozenset({"alt_400_text"})), body)


def test_document_bounds_patterns_and_lengths() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        uid = sb.truth.most_active(1)[0].id
        errors = _bad(await c.get(f"/2/users/{uid}/followers", {"pagination_token": "short"}))
        assert errors[0]["message"] == "The `pagination_token` query parameter value [short] is shorter than 16 characters"
        errors = _bad(await c.get(SEARCH, {"query": "a", "since_id": "12x"}))
        assert errors[0]["message"] == "The `since_id` query parameter value [12x] does not match ^[0-9]{1,19}$"
        errors = _bad(await c.get(SEARCH, {"query": "x" * 4097}))
        assert errors[0]["message"] == "The `query` query parameter value is not between 1 and 4096 characters"
        errors = _bad(await c.get(f"/2/users/{uid}/tweets", {"exclude": "replies,likes"}))
        assert errors[0]["message"] == "The `exclude` query parameter value [likes] is not one of [replies,retweets]"
        errors = _bad(await c.get("/2/tweets/counts/recent", {"query": "a", "granularity": "week"}))
        assert errors[0]["message"] == "The `granularity` query parameter value [week] is not one of [minute,hour,day]"
        errors = _bad(await c.get("/2/usage/tweets", {"usage.fields": "project_cap,money"}))
        assert "[money] is not one of [cap_reset_day," in errors[0]["message"]
        errors = _bad(await c.get("/2/users/by/username/bad-name"))
        assert errors[0] == {"parameters": {"username": ["bad-name"]},
                             "message": "The `username` query parameter value [bad-name] does not match "
                                        "^[A-Za-z0-9_]{1,15}$"}  # fmt: skip
        r = await c.get("/2/tweets/counts/recent", {"query": "a", "search_count.fields": "tweet_count"})
        assert r.status == 200  # in the document without an enum: any value

    drive(SandboxConfig(), body)
