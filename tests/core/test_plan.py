"""The planner: jobs -> tasks, tasks -> requests, bodies -> page results. No I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from harvester.core.endpoints import ENDPOINTS
from harvester.core.model import JobSpec, NewTask, Task
from harvester.core.page import parse_page
from harvester.core.plan import Cursor, PageRequest, PageResult, describe, fingerprint, page_request, plan_job
from harvester.core.plan import interpret_page as interpret_parsed
from harvester.errors import BadResponse


def ids(n: int, start: int = 1) -> tuple[str, ...]:
    return tuple(str(start + i) for i in range(n))


def claimed(new: NewTask, cursor: str | None = None, task_id: int = 1) -> Task:
    """The task a worker would claim for ``new``."""
    return Task(
        id=task_id,
        job=new.job,
        key=new.key,
        endpoint=new.endpoint,
        path_params=new.path_params,
        params=new.params,
        priority=new.priority,
        auth=new.auth,
        write=new.write,
        cursor=cursor,
        pages=0,
        items=0,
        attempts=0,
    )


# --------------------------------------------------------------------------- plan_job


def test_search_is_one_task_with_all_params() -> None:
    spec = JobSpec(
        name="s",
        kind="search",
        query="coffee",
        start_time="2026-09-01T00:00:00Z",
        end_time="2026-09-04T00:00:00Z",
        tweet_fields=("created_at", "author_id"),
        user_fields=("username",),
        expansions=("author_id",),
        priority=3,
        auth="alice",
    )
    assert plan_job(spec) == [
        NewTask(
            job="s",
            key="search",
            endpoint="/2/tweets/search/recent",
            params={
                "query": "coffee",
                "start_time": "2026-09-01T00:00:00Z",
                "end_time": "2026-09-04T00:00:00Z",
                "max_results": "100",  # the endpoint's maximum when unset
                "tweet.fields": "created_at,author_id",
                "user.fields": "username",
                "expansions": "author_id",
            },
            priority=3,
            auth="alice",
        )
    ]


def test_archive_search_and_id_bounds() -> None:
    spec = JobSpec(
        name="s", kind="search", query="q", archive=True, since_id="5", until_id="9", max_results=42
    )
    [task] = plan_job(spec)
    assert task.endpoint == "/2/tweets/search/all"
    assert dict(task.params) == {"query": "q", "since_id": "5", "until_id": "9", "max_results": "42"}
    [task] = plan_job(replace(spec, max_results=None))
    assert task.params["max_results"] == "500"


@pytest.mark.parametrize(
    ("kind", "route", "max_results", "time_bounds"),
    [
        ("timeline", "/2/users/:id/tweets", "100", True),
        ("mentions", "/2/users/:id/mentions", "100", True),
        ("followers", "/2/users/:id/followers", "1000", False),
        ("following", "/2/users/:id/following", "1000", False),
    ],
)
def test_user_kinds_one_task_per_user(kind: str, route: str, max_results: str, time_bounds: bool) -> None:
    spec = JobSpec(
        name="u",
        kind=kind,
        user_ids=("12", "34"),
        start_time="2026-09-01T00:00:00Z" if time_bounds else None,
        user_fields=("created_at",),
        priority=-1,
        auth="pool",
    )
    tasks = plan_job(spec)
    assert [t.key for t in tasks] == ["user:12", "user:34"]
    for task, uid in zip(tasks, ("12", "34"), strict=True):
        assert task.endpoint == route
        assert task.path_params == {"id": uid}
        assert (task.priority, task.auth, task.write) == (-1, "pool", True)
        expected = {"max_results": max_results, "user.fields": "created_at"}
        if time_bounds:
            expected["start_time"] = "2026-09-01T00:00:00Z"
        assert dict(task.params) == expected


def test_usernames_become_resolve_tasks() -> None:
    names = tuple(f"user{i}" for i in range(150))
    spec = JobSpec(name="u", kind="timeline", user_ids=("7",), usernames=names, priority=2, auth="alice")
    tasks = plan_job(spec)
    assert [t.key for t in tasks] == ["user:7", "resolve:0000", "resolve:0001"]
    resolve = tasks[1:]
    for task in resolve:
        assert task.endpoint == "/2/users/by"
        assert task.write is False
        assert (task.priority, task.auth) == (2, "alice")
    assert resolve[0].params["usernames"].split(",") == list(names[:100])
    assert resolve[1].params["usernames"].split(",") == list(names[100:])


@pytest.mark.parametrize(
    ("count", "sizes"), [(10_000, [100] * 100), (250, [100, 100, 50]), (1, [1]), (100, [100])]
)
def test_lookup_tweets_chunks_by_100(count: int, sizes: list[int]) -> None:
    all_ids = ids(count, 1_000_000)
    spec = JobSpec(name="l", kind="lookup_tweets", tweet_ids=all_ids, tweet_fields=("text",), priority=5)
    tasks = plan_job(spec)
    assert [len(t.params["ids"].split(",")) for t in tasks] == sizes
    assert [t.key for t in tasks] == [f"ids:{n:05d}" for n in range(len(sizes))]
    assert [i for t in tasks for i in t.params["ids"].split(",")] == list(all_ids)  # each once, in order
    assert len({t.key for t in tasks}) == len(tasks)
    for task in tasks:
        assert task.endpoint == "/2/tweets"
        assert task.path_params == {}
        assert task.params["tweet.fields"] == "text"
        assert task.priority == 5
        assert "max_results" not in task.params


def test_lookup_users_by_id_and_username() -> None:
    spec = JobSpec(name="l", kind="lookup_users", user_ids=ids(101), usernames=("a", "b"), auth="x")
    tasks = plan_job(spec)
    assert [(t.key, t.endpoint) for t in tasks] == [
        ("ids:00000", "/2/users"),
        ("ids:00001", "/2/users"),
        ("usernames:00000", "/2/users/by"),
    ]
    assert tasks[1].params["ids"] == "101"
    assert tasks[2].params["usernames"] == "a,b"
    assert all(t.write and t.auth == "x" for t in tasks)  # username lookups are output, not resolves


def test_planning_is_deterministic() -> None:
    spec = JobSpec(name="l", kind="lookup_tweets", tweet_ids=ids(250))
    assert plan_job(spec) == plan_job(spec)


# --------------------------------------------------------------------------- page_request


@pytest.mark.parametrize(
    ("spec", "token_param"),
    [
        (JobSpec(name="s", kind="search", query="q"), "next_token"),
        (JobSpec(name="s", kind="search", query="q", archive=True), "next_token"),
        (JobSpec(name="t", kind="timeline", user_ids=("12",)), "pagination_token"),
        (JobSpec(name="t", kind="mentions", user_ids=("12",)), "pagination_token"),
        (JobSpec(name="t", kind="followers", user_ids=("12",)), "pagination_token"),
        (JobSpec(name="t", kind="following", user_ids=("12",)), "pagination_token"),
    ],
)
def test_cursor_param_per_endpoint(spec: JobSpec, token_param: str) -> None:
    [new] = plan_job(spec)
    first = page_request(claimed(new))
    assert first.params == dict(new.params)
    assert token_param not in first.params
    later = page_request(claimed(new, cursor="tok123"))
    assert later.params == {**new.params, token_param: "tok123"}
    assert ENDPOINTS[new.endpoint].token_param == token_param


def test_path_params_are_filled() -> None:
    [new] = plan_job(JobSpec(name="t", kind="timeline", user_ids=("2244994945",)))
    assert page_request(claimed(new)) == PageRequest(
        path="/2/users/2244994945/tweets", params={"max_results": "100"}
    )
    [lookup] = plan_job(JobSpec(name="l", kind="lookup_tweets", tweet_ids=("1",)))
    assert page_request(claimed(lookup)).path == "/2/tweets"


def test_cursor_on_unpaginated_endpoint_is_a_bug() -> None:
    [lookup] = plan_job(JobSpec(name="l", kind="lookup_tweets", tweet_ids=("1",)))
    with pytest.raises(ValueError, match="not paginated"):
        page_request(claimed(lookup, cursor="x"))


# --------------------------------------------------------------------------- interpret_page


def interpret_page(task: Task, body: Any, spec: JobSpec | None = None) -> PageResult:
    """Parse once (as the request machine does), then interpret."""
    return interpret_parsed(task, parse_page(body, describe(task)), spec)

SEARCH = claimed(plan_job(JobSpec(name="s", kind="search", query="q"))[0])
LOOKUP = claimed(
    plan_job(JobSpec(name="l", kind="lookup_tweets", tweet_ids=("20", "1276230436478386177")))[0]
)


def test_good_page() -> None:
    body = {
        "data": [{"id": "3", "text": "a"}, {"id": "2", "text": "b"}],
        "includes": {"users": [{"id": "9", "username": "u"}]},
        "meta": {"newest_id": "3", "oldest_id": "2", "result_count": 2, "next_token": "abc"},
    }
    result = interpret_page(SEARCH, body)
    assert result == PageResult(next_cursor=result.next_cursor, items=2, newest_id="3")
    assert Cursor.decode(result.next_cursor) == Cursor(token="abc", seen=fingerprint(["3", "2"]))
    assert page_request(replace(SEARCH, cursor=result.next_cursor)).params["next_token"] == "abc"


def test_a_bare_token_stored_before_cursors_carried_more_is_still_a_token() -> None:
    assert page_request(replace(SEARCH, cursor="abc")).params["next_token"] == "abc"


def test_a_repeated_page_switches_to_until_id_and_is_not_written_again() -> None:
    body = {"data": [{"id": "30", "text": "a"}, {"id": "20", "text": "b"}], "meta": {"next_token": "t1"}}
    first = interpret_page(SEARCH, body)
    shuffled = {"data": list(reversed(body["data"])), "meta": {"next_token": "t2"}}  # same ids, a new token
    again = interpret_page(replace(SEARCH, cursor=first.next_cursor, items=2), shuffled)
    assert again.discard and again.items == 0 and again.warning and "until_id" in again.warning
    task = replace(SEARCH, cursor=again.next_cursor, items=2)
    req = page_request(task)
    assert req.params["until_id"] == "19" and "next_token" not in req.params
    nxt = interpret_page(task, {"data": [{"id": "10", "text": "c"}], "meta": {"next_token": "t3"}})
    assert not nxt.discard and Cursor.decode(nxt.next_cursor).until_id == "9"  # by until_id from now on
    assert interpret_page(replace(task, cursor=nxt.next_cursor), {"meta": {"result_count": 0}}).next_cursor is None


def test_a_repeated_page_ends_pagination_where_until_id_is_not_taken() -> None:
    follows = claimed(plan_job(JobSpec(name="f", kind="followers", user_ids=("12",)))[0])
    body = {"data": [{"id": "1", "username": "a"}], "meta": {"next_token": "t1"}}
    first = interpret_page(follows, body)
    again = interpret_page(replace(follows, cursor=first.next_cursor), {**body, "meta": {"next_token": "t2"}})
    assert again.discard and again.next_cursor is None and "ends here" in (again.warning or "")


def test_pagination_stops_at_the_endpoints_documented_depth() -> None:
    timeline = claimed(plan_job(JobSpec(name="t", kind="timeline", user_ids=("12",)))[0])
    body = {"data": [{"id": str(i), "text": "x"} for i in range(100)], "meta": {"next_token": "more"}}
    result = interpret_page(replace(timeline, items=3_100), body)
    assert result.next_cursor is None and "3,200" in (result.warning or "")


def test_last_page_has_no_next_token() -> None:
    body = {"data": [{"id": "1"}], "meta": {"result_count": 1, "newest_id": "1", "oldest_id": "1"}}
    assert interpret_page(replace(SEARCH, cursor="abc"), body) == PageResult(
        next_cursor=None, items=1, newest_id="1"
    )


def test_empty_page() -> None:
    assert interpret_page(SEARCH, {"meta": {"result_count": 0}}) == PageResult(next_cursor=None, items=0)


def test_partial_error_page() -> None:
    body = {
        "data": [{"id": "20", "text": "just setting up my twttr"}],
        "errors": [{"value": "1276230436478386177", "title": "Not Found Error", "resource_type": "tweet"}],
    }
    assert interpret_page(LOOKUP, body) == PageResult(next_cursor=None, items=1, errors=1)


def test_all_ids_unknown_is_a_valid_empty_page() -> None:
    body = {
        "errors": [{"value": "20", "title": "Not Found Error"}, {"value": "21", "title": "Not Found Error"}]
    }
    assert interpret_page(LOOKUP, body) == PageResult(next_cursor=None, items=0, errors=2)


def test_unpaginated_endpoint_ignores_next_token() -> None:
    assert interpret_page(LOOKUP, {"data": [{"id": "1"}], "meta": {"next_token": "x"}}).next_cursor is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([], "not a JSON object"),
        ("oops", "not a JSON object"),
        ({}, "no data, meta or errors"),
        ({"title": "Too Many Requests", "status": 429}, "no data, meta or errors"),
        ({"data": "1"}, "data is str, not a list"),
        ({"data": ["1"]}, "data[0] is str, not an object"),
        ({"data": [], "meta": []}, "meta is list, not an object"),
        ({"meta": {"next_token": 5}}, "meta.next_token is int"),
        ({"meta": {"next_token": ""}}, "meta.next_token is str"),
        ({"meta": {"newest_id": 3}}, "meta.newest_id is int"),
        ({"errors": {"title": "x"}}, "errors is dict, not a list"),
    ],
)
def test_malformed_bodies(body: Any, expected: str) -> None:
    with pytest.raises(BadResponse, match=re.escape(expected)) as info:
        interpret_page(SEARCH, body)
    assert "/2/tweets/search/recent (s/search)" in str(info.value)


def test_repeated_cursor_is_refused() -> None:
    with pytest.raises(BadResponse, match="repeats the cursor"):
        interpret_page(replace(SEARCH, cursor="abc"), {"meta": {"next_token": "abc"}})


# --------------------------------------------------------------------------- resolve spawning


def resolve_body(*user_ids: str) -> Mapping[str, Any]:
    return {"data": [{"id": uid, "name": f"n{uid}", "username": f"u{uid}"} for uid in user_ids]}


def test_resolve_page_spawns_per_user_tasks() -> None:
    spec = JobSpec(
        name="tl",
        kind="timeline",
        user_ids=("1",),
        usernames=("alpha", "beta", "ghost"),
        start_time="2026-09-01T00:00:00Z",
        tweet_fields=("created_at",),
        priority=4,
        auth="alice",
    )
    planned = plan_job(spec)
    resolve = claimed(planned[1])
    body = {
        **resolve_body("1", "22", "22"),
        "errors": [{"value": "ghost", "detail": "Could not find user with usernames: [ghost]."}],
    }
    result = interpret_page(resolve, body, spec)
    assert result.next_cursor is None
    assert result.items == 3
    assert result.errors == 1
    assert [t.key for t in result.spawn] == ["user:1", "user:22"]
    # Spawned tasks are exactly what plan_job builds for a user id: same key, params, priority, auth.
    assert result.spawn[0] == planned[0]
    spawned = result.spawn[1]
    assert spawned == replace(planned[0], key="user:22", path_params={"id": "22"})
    assert (spawned.endpoint, spawned.write, spawned.priority, spawned.auth) == (
        "/2/users/:id/tweets",
        True,
        4,
        "alice",
    )
    assert dict(spawned.params) == {
        "max_results": "100",
        "start_time": "2026-09-01T00:00:00Z",
        "tweet.fields": "created_at",
    }


@pytest.mark.parametrize("kind", ["mentions", "followers", "following"])
def test_resolve_spawns_tasks_of_the_jobs_kind(kind: str) -> None:
    spec = JobSpec(name="j", kind=kind, usernames=("alpha",))
    [resolve] = plan_job(spec)
    [task] = interpret_page(claimed(resolve), resolve_body("5"), spec).spawn
    assert task.endpoint == f"/2/users/:id/{kind}"
    assert task.path_params == {"id": "5"}


def test_resolve_with_no_users_found_spawns_nothing() -> None:
    spec = JobSpec(name="j", kind="timeline", usernames=("ghost",))
    [resolve] = plan_job(spec)
    body = {"errors": [{"value": "ghost", "title": "Not Found Error"}]}
    assert interpret_page(claimed(resolve), body, spec) == PageResult(next_cursor=None, items=0, errors=1)


def test_resolve_needs_the_matching_spec() -> None:
    spec = JobSpec(name="j", kind="timeline", usernames=("alpha",))
    [resolve] = plan_job(spec)
    with pytest.raises(ValueError, match="needs its job spec"):
        interpret_page(claimed(resolve), resolve_body("5"))
    with pytest.raises(ValueError, match="not 'j'"):
        interpret_page(claimed(resolve), resolve_body("5"), replace(spec, name="other"))


def test_resolve_with_bad_user_id_is_a_bad_response() -> None:
    spec = JobSpec(name="j", kind="timeline", usernames=("alpha",))
    [resolve] = plan_job(spec)
    with pytest.raises(BadResponse, match=r"data\[0\]\.id"):
        interpret_page(claimed(resolve), {"data": [{"id": 5}]}, spec)


def test_username_lookup_pages_spawn_nothing() -> None:
    spec = JobSpec(name="l", kind="lookup_users", usernames=("alpha",))
    [task] = plan_job(spec)
    assert interpret_page(claimed(task), resolve_body("5"), spec) == PageResult(next_cursor=None, items=1)


def test_fields_are_sent_under_the_parameter_the_job_key_names() -> None:
    """``tweet_fields`` goes as ``tweet.fields``, ``post_fields`` as ``post.fields``: what the job
    says, values as written; media, place and poll fields under their own parameters."""
    spec = JobSpec(
        name="s",
        kind="search",
        query="q",
        post_fields=("note_post", "created_at"),
        media_fields=("url", "variants"),
        place_fields=("full_name",),
        poll_fields=("options",),
        expansions=("referenced_tweets.id", "attachments.media_keys"),
    )
    [task] = plan_job(spec)
    assert {k: v for k, v in task.params.items() if k.endswith(".fields") or k == "expansions"} == {
        "post.fields": "note_post,created_at",
        "media.fields": "url,variants",
        "place.fields": "full_name",
        "poll.fields": "options",
        "expansions": "referenced_tweets.id,attachments.media_keys",
    }
    [user] = plan_job(JobSpec(name="u", kind="timeline", user_ids=("1",), tweet_fields=("note_tweet",)))
    assert user.params["tweet.fields"] == "note_tweet"
    assert "post.fields" not in user.params


# --------------------------------------------------------------------------- issue 16 kinds


def test_post_list_and_counts_jobs_plan_one_task_per_source() -> None:
    from harvester.core.plan import iter_plan

    conv = plan_job(JobSpec(name="c", kind="conversation", tweet_ids=("5", "6"), archive=True, max_results=500,
                            start_time="2026-01-01T00:00:00Z"))
    assert [(t.key, t.endpoint) for t in conv] == [("tweet:5", "/2/tweets/search/all"), ("tweet:6", "/2/tweets/search/all")]
    assert conv[0].params["query"] == "conversation_id:5" and conv[0].params["max_results"] == "500"
    assert conv[0].params["start_time"] == "2026-01-01T00:00:00Z" and not conv[0].path_params
    [quotes] = plan_job(JobSpec(name="q", kind="quote_tweets", tweet_ids=("7",)))
    assert (quotes.endpoint, quotes.path_params, quotes.params["max_results"]) == ("/2/tweets/:id/quote_tweets",
                                                                                   {"id": "7"}, "100")
    [members] = plan_job(JobSpec(name="m", kind="list_members", list_ids=("9",), user_fields=("created_at",)))
    assert (members.key, members.path_params, members.params["user.fields"]) == ("list:9", {"id": "9"}, "created_at")
    [pinned] = plan_job(JobSpec(name="p", kind="pinned_lists", user_ids=("3",), auth="me"))
    assert "max_results" not in pinned.params  # the endpoint takes none: one page
    [counts] = plan_job(JobSpec(name="n", kind="counts", query="q", granularity="day", archive=True))
    assert (counts.key, counts.endpoint, counts.params["granularity"]) == ("counts", "/2/tweets/counts/all", "day")
    files = list(iter_plan(JobSpec(name="l", kind="lookup_tweets", tweet_ids=("1",)),
                           {"tweet_ids": iter(str(i) for i in range(2, 252))}))
    assert [t.key for t in files] == ["ids:00000", "file:00000", "file:00001", "file:00002"]
    assert [len(t.params["ids"].split(",")) for t in files] == [1, 100, 100, 50]


def test_a_jobs_limit_asks_for_no_more_than_it_wants() -> None:
    [t] = plan_job(JobSpec(name="s", kind="search", query="q", limit=42))
    assert t.params["max_results"] == "42"
    [t] = plan_job(JobSpec(name="s", kind="search", query="q", limit=3))
    assert t.params["max_results"] == "10"  # not below the endpoint's minimum


def test_fan_out_takes_posts_or_their_authors_deduplicated() -> None:
    from harvester.core.page import parse_page
    from harvester.core.plan import fan_out

    source = Task(id=1, job="src", key="search", endpoint="/2/tweets/search/recent", path_params={}, params={},
                  priority=0, auth="app", write=True, cursor=None, pages=0, items=0, attempts=0)
    page = parse_page({"data": [{"id": "10", "author_id": "1"}, {"id": "11", "author_id": "1"},
                                {"id": "12", "author_id": "2"}], "meta": {"result_count": 3}}, "src")
    followers = fan_out(JobSpec(name="f", kind="followers", from_job="src"), source, page)
    assert [t.key for t in followers] == ["user:1", "user:2"]
    quotes = fan_out(JobSpec(name="q", kind="quote_tweets", from_job="src"), source, page)
    assert [t.key for t in quotes] == ["tweet:10", "tweet:11", "tweet:12"]
    lookups = fan_out(JobSpec(name="l", kind="lookup_tweets", from_job="src"), source, page)
    assert [(t.key, t.params["ids"]) for t in lookups] == [("from:search:000000:00000", "10,11,12")]
