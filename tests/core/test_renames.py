"""Known renames between OpenAPI 2.166 and 2.167, and reading the 400s that call for one.

The table is checked against both versions' enums: the 2.167 ones from the generated tables,
the 2.166 ones from x-api-spec.md §1 and from the 2.167 document's stream routes, which still
carry them. Each version's enum, rebuilt from the other's with the table, must come out exact.

The 400 bodies are of two wordings: X's (x-api-spec.md §2.3, and the sandbox's copy of it), and
the other X-like server's from issue 13 ("invalid value 'referenced_tweets.id' at index 0: value
must be one of: [...]"), whose full bodies were not recorded: they are built around that quote
with the parameter named in each place such a server may put it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.core import api_tables
from harvester.core.renames import (
    FAMILY_PARAMS,
    KNOWN_NAMES,
    Change,
    Family,
    InvalidValue,
    Rename,
    aliases,
    apply_rename,
    known_rename,
    parse_invalid_values,
    renames_for,
)

POST_167 = frozenset(api_tables.POST_FIELDS)
USER_167 = frozenset(api_tables.USER_FIELDS)
POST_EXP_167 = frozenset(api_tables.POST_EXPANSIONS)
USER_EXP_167 = frozenset(api_tables.USER_EXPANSIONS)


def _spec_section_1() -> str:
    here = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
    path = Path(os.environ.get("HARVESTER_REFERENCE_DIR", here)) / "x-api-spec.md"
    if not path.exists():
        pytest.skip(f"reference spec not found at {path}")
    text = path.read_text(encoding="utf-8")
    return text[text.index("## 1. Endpoints") : text.index("## 2. Response shapes")]


def _quoted(section: str, label: str) -> frozenset[str]:
    m = re.search(label + r"\s*`([^`]*)`", section)
    assert m, label
    return frozenset(v.strip() for v in m.group(1).split(","))


def _enums_166() -> dict[Family, frozenset[str]]:
    """The 2.166 enums x-api-spec.md §1 quotes."""
    s = _spec_section_1()
    return {
        Family.POST_FIELDS: _quoted(s, r"`tweet\.fields` enum:"),
        Family.USER_FIELDS: _quoted(s, r"`user\.fields`:"),
        Family.POST_EXPANSIONS: _quoted(s, r"Tweet `expansions`:"),
        Family.USER_EXPANSIONS: _quoted(s, r"User `expansions`:"),
    }


ENUMS_167 = {
    Family.POST_FIELDS: POST_167,
    Family.USER_FIELDS: USER_167,
    Family.POST_EXPANSIONS: POST_EXP_167,
    Family.USER_EXPANSIONS: USER_EXP_167,
}


def _names(family: Family, side: str) -> set[str]:
    return {v for e in KNOWN_NAMES if e.family == family and (v := getattr(e, side)) is not None}


# --------------------------------------------------------------------------- the table


@pytest.mark.parametrize("family", list(Family))
def test_each_version_is_the_other_rewritten_by_the_table(family: Family) -> None:
    old, new = _enums_166()[family], ENUMS_167[family]
    assert (new - _names(family, "new")) | _names(family, "old") == old
    assert (old - _names(family, "old")) | _names(family, "new") == new
    # Every entry is a real difference: its old name is not in 2.167, its new one not in 2.166.
    assert not _names(family, "old") & new
    assert not _names(family, "new") & old


def test_the_document_still_lists_the_2166_names_on_its_stream_routes() -> None:
    """A second source for the 2.166 enums, always at hand: the 2.167 document's stream routes."""
    stream = api_tables.ROUTES["/2/tweets/search/stream"]
    old = _enums_166()
    for family, param in (
        (Family.POST_FIELDS, "tweet.fields"),
        (Family.USER_FIELDS, "user.fields"),
        (Family.POST_EXPANSIONS, "expansions"),
    ):
        found = stream.param(param)
        assert found is not None
        assert set(found.enum) == old[family]


def test_the_brief_list_of_removed_names() -> None:
    removed = {(e.family, e.old) for e in KNOWN_NAMES if e.new is None}
    assert removed == {
        (Family.POST_FIELDS, "author_id"),
        (Family.POST_FIELDS, "in_reply_to_user_id"),
        (Family.POST_FIELDS, "referenced_tweets"),
        (Family.POST_FIELDS, "edit_history_tweet_ids"),
        (Family.POST_EXPANSIONS, "referenced_tweets.id.author_id"),
        (Family.POST_EXPANSIONS, "referenced_tweets.id.attachments.media_keys"),
        (Family.POST_EXPANSIONS, "entities.note.mentions.username"),
        (Family.USER_FIELDS, "pinned_tweet_id"),
        (Family.USER_FIELDS, "most_recent_tweet_id"),
        (Family.USER_FIELDS, "affiliation"),
    }
    assert all(e.source.startswith("x-api-spec.md §") for e in KNOWN_NAMES)


def test_families_sharing_a_parameter_share_no_name() -> None:
    """``expansions`` carries post and user expansions: a value must say which one it is."""
    by_param: dict[str, list[Family]] = {}
    for family, params in FAMILY_PARAMS.items():
        for p in params:
            by_param.setdefault(p, []).append(family)
    for families in by_param.values():
        seen: set[str] = set()
        for family in families:
            names = _names(family, "old") | _names(family, "new") | ENUMS_167[family]
            assert not names & seen
            seen |= names


def test_aliases_recognise_a_family_by_its_names() -> None:
    assert aliases("expansions", POST_EXP_167) == {
        "referenced_tweets.id", "edit_history_tweet_ids", "referenced_tweets.id.author_id",
        "referenced_tweets.id.attachments.media_keys", "entities.note.mentions.username",
    }  # fmt: skip
    assert aliases("expansions", USER_EXP_167) == {
        "pinned_tweet_id",
        "most_recent_tweet_id",
        "affiliation.user_id",
    }
    assert aliases("post.fields", POST_167) == aliases("tweet.fields", POST_167)
    assert "note_tweet" in aliases("post.fields", POST_167)
    assert aliases("user.fields", USER_167) == {"pinned_tweet_id", "most_recent_tweet_id", "affiliation"}
    # The other way: a 2.166 list gets the 2.167 names.
    assert aliases("expansions", _enums_166()[Family.POST_EXPANSIONS]) == {
        "referenced_posts", "edit_history_post_ids", "username",
    }  # fmt: skip
    # Lists of no known family: one shared name is not enough (DM events list referenced_posts).
    assert aliases("expansions", {"owner_id"}) == frozenset()
    assert aliases("expansions", api_tables.DM_EVENT_EXPANSIONS) == frozenset()
    assert aliases("media.fields", api_tables.MEDIA_FIELDS) == frozenset()


# --------------------------------------------------------------------------- known_rename


RENAMED = [(e.family, e.old, e.new) for e in KNOWN_NAMES if e.old is not None and e.new is not None]


@pytest.mark.parametrize(("family", "old", "new"), RENAMED)
def test_a_renamed_value_is_resent_under_the_name_the_server_lists(
    family: Family, old: str, new: str
) -> None:
    param = FAMILY_PARAMS[family][-1]
    to_new = known_rename(param, old, ENUMS_167[family])
    assert to_new is not None and (to_new.change, to_new.value, to_new.new) == (Change.VALUE, old, new)
    old_list = _enums_166()[family]
    to_old = known_rename(param, new, old_list)
    assert to_old is not None and (to_old.change, to_old.value, to_old.new) == (Change.VALUE, new, old)
    # The server's list decides: it must hold the counterpart, or say nothing.
    assert known_rename(param, old, ["something_else"]) is None
    assert known_rename(param, old, ()) == to_new
    # A value the server lists as valid was not what it refused.
    assert known_rename(param, old, [old, new]) is None


def test_tweet_fields_and_post_fields_share_their_values() -> None:
    for param in ("tweet.fields", "post.fields"):
        rename = known_rename(param, "note_tweet", POST_167)
        assert rename is not None and rename.param == param and rename.new == "note_post"


def test_a_value_only_one_version_has_is_dropped_when_refused() -> None:
    cases = [
        ("tweet.fields", "author_id", POST_167),
        ("post.fields", "referenced_tweets", POST_167),
        ("expansions", "referenced_tweets.id.author_id", POST_EXP_167),
        ("user.fields", "pinned_tweet_id", USER_167),
        ("user.fields", "affiliation", USER_167),
        ("expansions", "username", ["author_id", "referenced_tweets.id"]),  # 2.167's, to a 2.166 server
        ("post.fields", "article_title", ()),
    ]
    for param, value, valid in cases:
        rename = known_rename(param, value, valid)
        assert rename == Rename(change=Change.DROP, param=param, value=value, new=None, reason=rename.reason)
        assert "2.167" in rename.reason and value in rename.describe()


def test_the_same_name_in_two_families_is_told_apart_by_the_parameter() -> None:
    # ``edit_history_tweet_ids``: a post expansion renamed, a post field removed.
    exp = known_rename("expansions", "edit_history_tweet_ids", POST_EXP_167)
    field = known_rename("tweet.fields", "edit_history_tweet_ids", POST_167)
    assert exp is not None and exp.change is Change.VALUE and exp.new == "edit_history_post_ids"
    assert field is not None and field.change is Change.DROP
    # ``affiliation``: a 2.167 user expansion (from affiliation.user_id), a 2.166 user field.
    back = known_rename("expansions", "affiliation", _enums_166()[Family.USER_EXPANSIONS])
    assert back is not None and back.new == "affiliation.user_id"
    dropped = known_rename("user.fields", "affiliation", USER_167)
    assert dropped is not None and dropped.change is Change.DROP


def test_a_refused_parameter_is_renamed_when_the_server_takes_the_other_name() -> None:
    listed = ["query", "post.fields", "expansions"]
    rename = known_rename("tweet.fields", None, listed)
    assert rename is not None and (rename.change, rename.param, rename.new) == (Change.PARAMETER, "tweet.fields",
                                                                                 "post.fields")  # fmt: skip
    back = known_rename("post.fields", None, ["query", "tweet.fields"])
    assert back is not None and back.new == "tweet.fields"
    assert known_rename("tweet.fields", None, ()) == rename
    assert known_rename("tweet.fields", None, ["query", "expansions"]) is None
    assert known_rename("user.fields", None, ()) is None


def test_unknown_names_have_no_rename() -> None:
    assert known_rename("tweet.fields", "creatd_at", POST_167) is None
    assert known_rename("expansions", "referenced_tweets.id", ["a", "b"]) is None  # neither name listed
    assert known_rename("max_results", "0", ()) is None
    assert known_rename(None, "referenced_tweets.id", ()) is None
    assert known_rename("media.fields", "note_tweet", ()) is None  # not a media field


def test_renames_for_a_whole_400() -> None:
    refused = [
        InvalidValue(param="expansions", value="referenced_tweets.id", valid=tuple(POST_EXP_167)),
        InvalidValue(param="tweet.fields", value="author_id", valid=tuple(POST_167)),
    ]
    found = renames_for(refused)
    assert found is not None and [r.change for r in found] == [Change.VALUE, Change.DROP]
    assert renames_for([*refused, InvalidValue(param="max_results", value="0")]) is None
    assert renames_for([]) is None


def test_apply_rename_edits_the_query() -> None:
    params = {"query": "x", "expansions": "author_id,referenced_tweets.id", "tweet.fields": "author_id"}
    [to_posts] = renames_for([InvalidValue(param="expansions", value="referenced_tweets.id")]) or ()
    assert apply_rename(params, to_posts) == {**params, "expansions": "author_id,referenced_posts"}
    drop = known_rename("tweet.fields", "author_id", POST_167)
    assert drop is not None
    assert apply_rename(params, drop) == {
        "query": "x",
        "expansions": params["expansions"],
    }  # last value: param goes
    move = known_rename("tweet.fields", None, ())
    assert move is not None
    assert apply_rename(params, move) == {
        "query": "x",
        "expansions": params["expansions"],
        "post.fields": "author_id",
    }
    assert apply_rename({"query": "x"}, move) == {"query": "x"}  # nothing to do
    # A rename onto a value already there does not repeat it.
    twice = {"expansions": "referenced_posts,referenced_tweets.id"}
    assert apply_rename(twice, to_posts) == {"expansions": "referenced_posts"}
    assert params["expansions"] == "author_id,referenced_tweets.id"  # the input is not changed


# --------------------------------------------------------------------------- parse_invalid_values

X_LIST = ",".join(api_tables.POST_EXPANSIONS)

# X's wording (x-api-spec.md §2.3; the sandbox answers the same way).
X_BODY: dict[str, Any] = {
    "errors": [
        {
            "parameters": {"expansions": ["referenced_tweets.id"]},
            "message": f"The `expansions` query parameter value [referenced_tweets.id] is not one of [{X_LIST}]",
        }
    ],
    "title": "Invalid Request",
    "detail": "One or more parameters to your request was invalid.",
    "type": "https://api.twitter.com/2/problems/invalid-request",
}
OTHER_LIST = ", ".join(api_tables.POST_EXPANSIONS)
OTHER_TEXT = f"invalid value 'referenced_tweets.id' at index 0: value must be one of: [{OTHER_LIST}]"


def _one(body: object, **kw: Any) -> InvalidValue:
    [found] = parse_invalid_values(body, **kw)
    return found


def test_x_wording() -> None:
    found = _one(X_BODY)
    assert (found.param, found.value, found.valid) == (
        "expansions",
        "referenced_tweets.id",
        api_tables.POST_EXPANSIONS,
    )
    assert not found.unknown_parameter
    rename = known_rename(found.param, found.value, found.valid)
    assert rename is not None and rename.new == "referenced_posts"
    # Raw bytes or text of the same body read the same.
    assert _one(json.dumps(X_BODY).encode()) == found == _one(json.dumps(X_BODY))


def test_x_wording_several_refusals_and_other_problems() -> None:
    body = {
        "errors": [
            {"parameters": {"tweet.fields": ["created_at,note_tweet"]},  # the sandbox sends the whole list
             "message": "The `tweet.fields` query parameter value [note_tweet] is not one of [created_at,note_post,text]"},
            {"parameters": {"max_results": ["0"]}, "message": "The `max_results` query parameter value [0] is not between 5 and 100"},
            {"parameters": {"sort_order": ["newest"]},
             "message": "The `sort_order` query parameter value is not one of [recency,relevancy]"},
        ],
        "title": "Invalid Request",
    }  # fmt: skip
    assert [(f.param, f.value, f.valid) for f in parse_invalid_values(body)] == [
        ("tweet.fields", "note_tweet", ("created_at", "note_post", "text")),
        ("max_results", "0", ()),
        ("sort_order", "newest", ("recency", "relevancy")),
    ]


def test_x_wording_unknown_parameter() -> None:
    body = {
        "errors": [{"parameters": {"tweet.fields": ["created_at"]},
                    "message": "The query parameter [tweet.fields] is not one of [query,start_time,post.fields,expansions]"}],
        "title": "Invalid Request",
    }  # fmt: skip
    found = _one(body)
    assert (found.param, found.value, found.valid) == ("tweet.fields", None, ("query", "start_time", "post.fields",
                                                                              "expansions"))  # fmt: skip
    assert found.unknown_parameter
    rename = known_rename(found.param, found.value, found.valid)
    assert rename is not None and rename.change is Change.PARAMETER and rename.new == "post.fields"


@pytest.mark.parametrize(
    "body",
    [
        {"title": "Invalid Request", "status": 400, "detail": f"expansions: {OTHER_TEXT}"},
        {"title": "Bad Request", "status": 400, "detail": f"query parameter 'expansions': {OTHER_TEXT}"},
        {"title": "Bad Request", "status": 400, "detail": f'parameter "expansions" {OTHER_TEXT}'},
        {"errors": [{"parameter": "expansions", "message": OTHER_TEXT}]},
        {"errors": [{"parameters": {"expansions": ["referenced_tweets.id"]}, "detail": OTHER_TEXT}]},
        {"errors": [{"loc": ["query", "expansions", 0], "msg": OTHER_TEXT, "type": "enum"}]},
        {"errors": [{"source": {"parameter": "expansions"}, "detail": OTHER_TEXT}]},
        {"errors": [{"location": "query.expansions", "message": OTHER_TEXT}], "title": "Invalid Request"},
        {"title": "Invalid Request", "detail": "expansions", "errors": [{"message": OTHER_TEXT}]},
        {"title": "Invalid Request", "parameter": "expansions", "errors": [{"message": OTHER_TEXT}]},
        {"title": "Invalid Request", "detail": f"{OTHER_TEXT} (in 'expansions')"},
        f"expansions: {OTHER_TEXT}",  # a text body
    ],
)
def test_other_servers_wording_with_the_parameter_anywhere(body: object) -> None:
    found = _one(body)
    assert (found.param, found.value, found.valid) == (
        "expansions",
        "referenced_tweets.id",
        api_tables.POST_EXPANSIONS,
    )
    rename = known_rename(found.param, found.value, found.valid)
    assert rename is not None and rename.new == "referenced_posts"


def test_other_wording_variants() -> None:
    cases = [
        ('invalid value "note_tweet" at index 2: value must be one of: ["note_post", "text"]', "note_tweet",
         ("note_post", "text")),
        ("invalid value `note_tweet` at index 2: value must be one of: [`note_post`,`text`]", "note_tweet",
         ("note_post", "text")),
        ("invalid value note_tweet at index 2: value must be one of: note_post, text", "note_tweet",
         ("note_post", "text")),
        ("Invalid value 'note_tweet' at index 2: must be one of (note_post, text)", "note_tweet", ("note_post", "text")),
        ("invalid value 'note_tweet' at index 2", "note_tweet", ()),
    ]  # fmt: skip
    for text, value, valid in cases:
        found = _one({"errors": [{"parameter": "tweet.fields", "message": text}]})
        assert (found.param, found.value, found.valid) == ("tweet.fields", value, valid), text


def test_two_refusals_in_one_text_each_with_its_parameter() -> None:
    text = (
        "expansions: invalid value 'referenced_tweets.id' at index 0: value must be one of: [author_id, "
        "referenced_posts]; user.fields: invalid value 'pinned_tweet_id' at index 1: value must be one of: "
        "[id, name]"
    )
    assert [(f.param, f.value, f.valid) for f in parse_invalid_values({"detail": text})] == [
        ("expansions", "referenced_tweets.id", ("author_id", "referenced_posts")),
        ("user.fields", "pinned_tweet_id", ("id", "name")),
    ]


def test_the_request_names_the_parameter_when_the_body_does_not() -> None:
    body = {"title": "Invalid Request", "detail": OTHER_TEXT}
    assert _one(body).param is None
    sent = {"query": "x", "expansions": "author_id,referenced_tweets.id", "tweet.fields": "created_at"}
    assert _one(body, sent=sent).param == "expansions"
    # Ambiguous (the value is in two parameters): still unknown, so no rename is guessed.
    assert (
        _one(body, sent={"expansions": "referenced_tweets.id", "x.fields": "referenced_tweets.id"}).param
        is None
    )


@pytest.mark.parametrize(
    ("text", "param"),
    [
        ("unknown query parameter 'tweet.fields'", "tweet.fields"),
        ("Unsupported parameter: tweet.fields", "tweet.fields"),
        ("Parameter `tweet.fields` is not allowed", "tweet.fields"),
        ("query parameter [post.fields] was not expected", "post.fields"),
        ("'post.fields' is not a valid query parameter", "post.fields"),
    ],
)
def test_unknown_parameter_wordings(text: str, param: str) -> None:
    found = _one({"title": "Invalid Request", "detail": text})
    assert (found.param, found.value) == (param, None)
    assert known_rename(found.param, found.value, found.valid) is not None


@pytest.mark.parametrize(
    "body",
    [
        None, 5, "", "not json at all", b"\xff\xfe", [], [{"message": OTHER_TEXT}], {}, {"errors": "x"},
        {"errors": [None, 3, {"message": None}, {"parameters": [1, 2]}]},
        {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
        # Not a refused value: two parameters that may not go together (the sandbox's wording).
        {"errors": [{"parameters": {"tweet.fields": ["author_id"], "post.fields": ["text"]},
                     "message": "At most one of `tweet.fields`, `post.fields` may be provided"}]},
        {"errors": [{"parameters": {"ids": ["1,1"]}, "message": "Duplicate parameter [ids]"}]},
    ],
)  # fmt: skip
def test_bodies_that_refuse_no_value(body: object) -> None:
    assert parse_invalid_values(body) == ()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_words = st.sampled_from(
    ["invalid value", "'x'", "`expansions`", "query parameter", "value [", "]", "one of:", "[a, b", "parameter",
     ":", "unknown", "index 0", ",", " ", "tweet.fields", "is not one of", "'", '"', "\n"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    body=_json,
    text=st.lists(_words, max_size=25).map("".join),
    key=st.sampled_from(["message", "detail", "msg"]),
)
def test_never_raises_on_odd_bodies(body: object, text: str, key: str) -> None:
    for candidate in (body, text, {"errors": [{key: text}]}, {key: text, "errors": body}):
        found = parse_invalid_values(candidate)
        assert all(isinstance(f, InvalidValue) for f in found)
        for f in found:
            known_rename(f.param, f.value, f.valid)  # nor does what the engine does next


def test_round_trip_every_2166_name_against_a_2167_server() -> None:
    """Each 2.166 name a job may send, refused by a server following 2.167 in either wording,
    is rewritten to a request the 2.167 enums accept."""
    for entry in KNOWN_NAMES:
        if entry.old is None:
            continue
        param = FAMILY_PARAMS[entry.family][-1]
        valid = sorted(ENUMS_167[entry.family])
        bodies = [
            {"errors": [{"parameters": {param: [entry.old]},
                         "message": f"The `{param}` query parameter value [{entry.old}] is not one of [{','.join(valid)}]"}]},
            {"detail": f"{param}: invalid value '{entry.old}' at index 0: value must be one of: [{', '.join(valid)}]"},
        ]  # fmt: skip
        for body in bodies:
            renames = renames_for(parse_invalid_values(body))
            assert renames is not None, (entry, body)
            sent = {param: f"{entry.old},{valid[0]}"}
            for rename in renames:
                sent = apply_rename(sent, rename)
            assert set(sent[param].split(",")) <= ENUMS_167[entry.family], entry
            assert entry.old not in sent[param].split(",")
