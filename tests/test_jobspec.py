"""Job files: what a valid job becomes, and a one-line error for every kind of mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harvester.config import load_config
from harvester.core import api_tables
from harvester.core.endpoints import KIND_ENDPOINT
from harvester.core.model import JobSpec
from harvester.errors import JobSpecError, UserError
from harvester.jobspec import load_jobs, parse_interval


def write(directory: Path, text: str, name: str = "jobs.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def one(tmp_path: Path, text: str) -> JobSpec:
    [spec] = load_jobs([write(tmp_path, text)])
    return spec


def job_error(path: Path | list[Path], file: Path, job: str | None, key: str | None) -> JobSpecError:
    """Load expecting a JobSpecError whose one-line message names exactly file, job and key."""
    with pytest.raises(JobSpecError) as info:
        load_jobs(path if isinstance(path, list) else [path])
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert (err.file, err.job, err.key) == (str(file), job, key)
    prefix = str(file)
    if job:
        prefix += f": job {job!r}"
    if key:
        prefix += f": {key}"
    assert message.startswith(prefix + ": "), message
    return err


def bad(tmp_path: Path, body: str, job: str | None, key: str | None) -> str:
    """The message for a one-file job set whose first job is ``body``."""
    path = write(tmp_path, body)
    return str(job_error(path, path, job, key))


# --------------------------------------------------------------------------- valid jobs


def test_search_job(tmp_path: Path) -> None:
    spec = one(
        tmp_path,
        """
        [[job]]
        name = "s-1"
        kind = "search"
        query = "coffee lang:en"
        start_time = "2026-09-01T00:00:00Z"
        end_time = 2026-09-03T02:00:00+02:00
        max_results = 50
        tweet_fields = ["created_at", "author_id", "created_at"]
        expansions = ["author_id"]
        user_fields = ["username"]
        priority = -3
        """,
    )
    assert spec == JobSpec(
        name="s-1",
        kind="search",
        source=str(tmp_path / "jobs.toml"),
        query="coffee lang:en",
        start_time="2026-09-01T00:00:00Z",
        end_time="2026-09-03T00:00:00Z",  # TOML datetime converted to UTC
        max_results=50,
        tweet_fields=("created_at", "author_id"),  # duplicates dropped
        expansions=("author_id",),
        user_fields=("username",),
        priority=-3,
    )


def test_archive_search_uses_full_archive_bounds(tmp_path: Path) -> None:
    spec = one(
        tmp_path,
        f'[[job]]\nname = "a"\nkind = "search"\narchive = true\nquery = "{"x" * 1024}"\nmax_results = 500\n',
    )
    assert spec.archive
    assert spec.max_results == 500


def test_user_job_ids_are_strings_and_deduplicated(tmp_path: Path) -> None:
    spec = one(
        tmp_path,
        """
        [[job]]
        name = "t"
        kind = "timeline"
        user_ids = [12, "783214", "12", 783214]
        usernames = ["XDevelopers", "@xdevelopers", "jack"]
        """,
    )
    assert spec.user_ids == ("12", "783214")
    assert spec.usernames == ("XDevelopers", "jack")
    assert spec.auth == "app"
    assert spec.max_results is None


def test_lookup_accepts_many_ids(tmp_path: Path) -> None:
    ids = ", ".join(f'"{1000 + i}"' for i in range(10_000))
    spec = one(tmp_path, f'[[job]]\nname = "l"\nkind = "lookup_tweets"\ntweet_ids = [{ids}]\n')
    assert len(spec.tweet_ids) == 10_000


def test_reserved_keys_go_to_extra(tmp_path: Path) -> None:
    spec = one(
        tmp_path,
        """
        [[job]]
        name = "p"
        kind = "mentions"
        user_ids = ["1"]
        mode = "poll"
        schedule = "*/15 * * * *"
        min_interval = "15m"
        max_interval = 86400
        active_since = [5, "6", "5"]
        """,
    )
    assert spec.extra == {
        "mode": "poll",
        "schedule": "*/15 * * * *",
        "min_interval": 900,
        "max_interval": 86400,
        "active_since": ("5", "6"),
    }


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        (" 2H ", 7200),
        (0, None),
        (-5, None),
        ("0m", None),
        ("15", None),
        ("m", None),
        (True, None),
        # issue 19: fractions and units everywhere
        (1.5, 1.5),
        (0.25, 0.25),
        ("1.5m", 90),
        ("250ms", 0.25),
        ("1h 30m", 5400),
        (".5s", 0.5),
        ("2w", 14 * 86400),
        (0.001, None),  # below the 10 ms floor
        ("1.5", None),  # a string needs a unit
        ("1.5.2m", None),
        (float("inf"), None),
        (float("nan"), None),
    ],
)
def test_parse_interval(value: object, seconds: float | None) -> None:
    assert parse_interval(value) == seconds


def test_directory_loads_sorted_files_and_all_jobs(tmp_path: Path) -> None:
    write(tmp_path, '[[job]]\nname = "b"\nkind = "followers"\nuser_ids = ["1"]\n', "b.toml")
    write(
        tmp_path,
        '[[job]]\nname = "a2"\nkind = "lookup_users"\nusernames = ["x"]\n'
        '[[job]]\nname = "a1"\nkind = "following"\nuser_ids = ["2"]\n',
        "a.toml",
    )
    write(tmp_path, "not toml at all [", "notes.txt")
    jobs = load_jobs([tmp_path])
    assert [j.name for j in jobs] == ["a2", "a1", "b"]
    assert jobs[0].source == str(tmp_path / "a.toml")
    # The same file named twice (directory and file) is read once.
    assert [j.name for j in load_jobs([tmp_path, tmp_path / "b.toml"])] == ["a2", "a1", "b"]


def test_auth_checked_against_config(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        '[auth.users.alice]\nconsumer_key_env = "A"\nconsumer_secret_env = "B"\n'
        'token_env = "C"\ntoken_secret_env = "D"\n[auth.pools]\nreaders = ["alice"]\n',
        "config.toml",
    )
    config = load_config(cfg)
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    path = write(jobs_dir, '[[job]]\nname = "t"\nkind = "timeline"\nuser_ids = ["1"]\nauth = "readers"\n')
    assert load_jobs([path], config=config)[0].auth == "readers"
    assert load_jobs([path])[0].auth == "readers"  # without a config any name passes
    path = write(jobs_dir, '[[job]]\nname = "t"\nkind = "timeline"\nuser_ids = ["1"]\nauth = "alcie"\n')
    with pytest.raises(JobSpecError) as info:
        load_jobs([path], config=config)
    assert str(info.value).startswith(f"{path}: job 't': auth: unknown auth 'alcie'; did you mean 'alice'?")


# --------------------------------------------------------------------------- mistakes


def test_missing_file_or_directory(tmp_path: Path) -> None:
    err = job_error(tmp_path / "nope.toml", tmp_path / "nope.toml", None, None)
    assert "no such file or directory" in str(err)
    assert isinstance(err, UserError)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no *.toml" in str(job_error(empty, empty, None, None))


def test_malformed_toml(tmp_path: Path) -> None:
    path = write(tmp_path, '[[job]]\nname = "a"\nkind = \n')
    err = job_error(path, path, None, None)
    assert "invalid TOML" in str(err)
    assert "line 3" in str(err)


def test_file_structure(tmp_path: Path) -> None:
    path = write(tmp_path, '[job]\nname = "a"\n')
    assert "[[job]]" in str(job_error(path, path, None, "job"))
    path = write(tmp_path, "")
    assert "no [[job]] tables" in str(job_error(path, path, None, None))
    path = write(tmp_path, '[[jobs]]\nname = "a"\n')
    assert "did you mean 'job'?" in str(job_error(path, path, None, "jobs"))


def test_duplicate_name_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, '[[job]]\nname = "dup"\nkind = "timeline"\nuser_ids = ["1"]\n', "a.toml")
    second = write(tmp_path, '[[job]]\nname = "dup"\nkind = "followers"\nuser_ids = ["1"]\n', "b.toml")
    err = job_error([tmp_path], second, "dup", "name")
    assert f"first defined in {first}" in str(err)


def test_duplicate_name_in_one_file(tmp_path: Path) -> None:
    body = '[[job]]\nname = "x"\nkind = "timeline"\nuser_ids = ["1"]\n' * 2
    assert "duplicate" in bad(tmp_path, body, "x", "name")


def test_one_bad_file_queues_nothing(tmp_path: Path) -> None:
    write(tmp_path, '[[job]]\nname = "good"\nkind = "timeline"\nuser_ids = ["1"]\n', "a.toml")
    write(tmp_path, '[[job]]\nname = "bad"\nkind = "timeline"\n', "b.toml")
    with pytest.raises(JobSpecError):
        load_jobs([tmp_path])


@pytest.mark.parametrize("name", ["has space", "a/b", "", "x" * 65, "ünï"])
def test_bad_name(tmp_path: Path, name: str) -> None:
    message = bad(tmp_path, f'[[job]]\nname = "{name}"\nkind = "timeline"\nuser_ids = ["1"]\n', "#1", "name")
    assert repr(name) in message or "..." in message


def test_name_required_and_typed(tmp_path: Path) -> None:
    ok = '[[job]]\nname = "ok"\nkind = "timeline"\nuser_ids = ["1"]\n'
    assert "is required" in bad(tmp_path, ok + '[[job]]\nkind = "timeline"\n', "#2", "name")
    assert "must be a string" in bad(tmp_path, "[[job]]\nname = 5\n", "#1", "name")


def test_unknown_kind_with_hint(tmp_path: Path) -> None:
    message = bad(tmp_path, '[[job]]\nname = "k"\nkind = "timelines"\n', "k", "kind")
    assert "unknown kind 'timelines'; did you mean 'timeline'?" in message
    assert "is required" in bad(tmp_path, '[[job]]\nname = "k"\n', "k", "kind")


def test_unknown_key_with_hint(tmp_path: Path) -> None:
    message = bad(tmp_path, '[[job]]\nname = "u"\nkind = "timeline"\nusernmes = ["a"]\n', "u", "usernmes")
    assert "unknown key; did you mean 'usernames'?" in message
    message = bad(tmp_path, '[[job]]\nname = "u"\nkind = "timeline"\n"a\\nb" = 1\n', "u", '"a\\nb"')
    assert "unknown key" in message


@pytest.mark.parametrize(
    ("kind", "key", "value"),
    [
        ("timeline", "query", '"x"'),
        ("timeline", "archive", "true"),
        ("followers", "start_time", '"2026-01-01T00:00:00Z"'),
        ("search", "user_ids", '["1"]'),
        ("lookup_tweets", "max_results", "10"),
        ("lookup_users", "tweet_ids", '["1"]'),
        ("lookup_tweets", "usernames", '["a"]'),
    ],
)
def test_key_not_valid_for_kind(tmp_path: Path, kind: str, key: str, value: str) -> None:
    message = bad(tmp_path, f'[[job]]\nname = "n"\nkind = "{kind}"\n{key} = {value}\n', "n", key)
    assert f"does not apply to kind {kind!r}" in message


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ('kind = "search"', "query", "is required for kind 'search'"),
        ('kind = "search"\nquery = "  "', "query", "must not be empty"),
        ('kind = "timeline"', "user_ids", "needs at least one user"),
        ('kind = "followers"\nuser_ids = []', "user_ids", "needs at least one user"),
        ('kind = "lookup_users"', "user_ids", "needs at least one user"),
        ('kind = "lookup_tweets"', "tweet_ids", "needs at least one id"),
    ],
)
def test_missing_required_param(tmp_path: Path, body: str, key: str, expected: str) -> None:
    assert expected in bad(tmp_path, f'[[job]]\nname = "m"\n{body}\n', "m", key)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('kind = "search"\nquery = "q"\nmax_results = 101', "between 10 and 100 for /2/tweets/search/recent"),
        ('kind = "search"\nquery = "q"\nmax_results = 9', "between 10 and 100"),
        ('kind = "search"\narchive = true\nquery = "q"\nmax_results = 501', "between 10 and 500"),
        ('kind = "timeline"\nuser_ids = ["1"]\nmax_results = 4', "between 5 and 100 for /2/users/:id/tweets"),
        ('kind = "mentions"\nuser_ids = ["1"]\nmax_results = 101', "between 5 and 100"),
        ('kind = "followers"\nuser_ids = ["1"]\nmax_results = 1001', "between 1 and 1000"),
        ('kind = "following"\nuser_ids = ["1"]\nmax_results = 0', "between 1 and 1000"),
        ('kind = "following"\nuser_ids = ["1"]\nmax_results = true', "must be an integer"),
        ('kind = "following"\nuser_ids = ["1"]\nmax_results = 10.0', "must be an integer"),
    ],
)
def test_max_results_out_of_bounds_for_endpoint(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in bad(tmp_path, f'[[job]]\nname = "m"\n{body}\n', "m", "max_results")


def test_max_results_bounds_accepted(tmp_path: Path) -> None:
    assert one(tmp_path, '[[job]]\nname = "f"\nkind = "followers"\nuser_ids = ["1"]\nmax_results = 1000\n')
    assert one(tmp_path, '[[job]]\nname = "t"\nkind = "timeline"\nuser_ids = ["1"]\nmax_results = 5\n')


def test_query_too_long(tmp_path: Path) -> None:
    message = bad(tmp_path, f'[[job]]\nname = "q"\nkind = "search"\nquery = "{"a" * 513}"\n', "q", "query")
    assert "is 513 characters; recent search allows at most 512" in message
    assert "a" * 100 not in message  # the query itself is not echoed
    assert one(tmp_path, f'[[job]]\nname = "q"\nkind = "search"\nquery = "{"a" * 512}"\n').query
    body = f'[[job]]\nname = "q"\nkind = "search"\narchive = true\nquery = "{"a" * 1025}"\n'
    assert "full-archive search allows at most 1024" in bad(tmp_path, body, "q", "query")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"2026-09-01"', "must look like 2026-01-31T00:00:00Z"),
        ('"2026-09-01T00:00:00"', "must look like"),
        ('"2026-09-01T00:00:00.000Z"', "must look like"),
        ('"2026-09-01 00:00:00Z"', "must look like"),
        ('"2026-02-30T00:00:00Z"', "is not a real date and time"),
        ("2026-09-01T00:00:00", "has no UTC offset"),
        ("2026-09-01T00:00:00.5Z", "whole seconds"),
        ("2026-09-01", "got a date"),
        ("1", "got an integer"),
    ],
)
def test_bad_time_format(tmp_path: Path, value: str, expected: str) -> None:
    body = f'[[job]]\nname = "t"\nkind = "search"\nquery = "q"\nstart_time = {value}\n'
    assert expected in bad(tmp_path, body, "t", "start_time")


@pytest.mark.parametrize("end", ["2026-09-01T00:00:00Z", "2026-08-31T23:59:59Z"])
def test_start_not_before_end(tmp_path: Path, end: str) -> None:
    body = (
        '[[job]]\nname = "t"\nkind = "timeline"\nuser_ids = ["1"]\n'
        f'start_time = "2026-09-01T00:00:00Z"\nend_time = "{end}"\n'
    )
    assert "must be after start_time" in bad(tmp_path, body, "t", "end_time")


def test_since_id_not_below_until_id(tmp_path: Path) -> None:
    body = '[[job]]\nname = "t"\nkind = "timeline"\nuser_ids = ["1"]\nsince_id = "20"\nuntil_id = "3"\n'
    assert "must be greater than since_id" in bad(tmp_path, body, "t", "until_id")


def test_search_time_and_id_bounds_exclusive(tmp_path: Path) -> None:
    body = (
        '[[job]]\nname = "t"\nkind = "search"\nquery = "q"\n'
        'start_time = "2026-09-01T00:00:00Z"\nsince_id = "5"\n'
    )
    assert "not both" in bad(tmp_path, body, "t", "since_id")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("user_ids", '["12a"]', "item 0 must be a numeric id of 1-19 digits, got '12a'"),
        ("user_ids", '["1", "12345678901234567890"]', "item 1 must be a numeric id"),
        ("user_ids", '["-1"]', "item 0 must be a numeric id"),
        ("user_ids", "[-1]", "item 0 must be an id string, got an integer -1"),
        ("user_ids", "[1.5]", "item 0 must be an id string, got a float"),
        ("user_ids", '"12"', "must be a list, got a string"),
        ("since_id", '"abc"', "must be a numeric id"),
        ("active_since", '["x"]', "item 0 must be a numeric id"),
    ],
)
def test_bad_id(tmp_path: Path, key: str, value: str, expected: str) -> None:
    extra = "" if key == "user_ids" else 'user_ids = ["1"]\n'
    body = f'[[job]]\nname = "i"\nkind = "timeline"\n{extra}{key} = {value}\n'
    assert expected in bad(tmp_path, body, "i", key)


@pytest.mark.parametrize("name", ["has-dash", "sixteen_chars_xx", "", "a b", 'x\\"y'])
def test_bad_username(tmp_path: Path, name: str) -> None:
    body = f'[[job]]\nname = "u"\nkind = "lookup_users"\nusernames = ["ok", "{name}"]\n'
    assert "item 1 must be 1-15 of A-Z a-z 0-9 _" in bad(tmp_path, body, "u", "usernames")


@pytest.mark.parametrize(
    ("kind", "key", "value", "expected"),
    [
        (
            "search",
            "tweet_fields",
            '["created_at", "creatd_at"]',
            "unknown value 'creatd_at'; did you mean 'created_at'?",
        ),
        ("search", "user_fields", '["followers_count"]', "unknown value 'followers_count'"),
        ("search", "expansions", '["pinned_tweet_id"]', "unknown value 'pinned_tweet_id'"),
        ("followers", "expansions", '["author_id"]', "unknown value 'author_id'"),
        ("followers", "tweet_fields", "[1]", "item 0 must be a string"),
    ],
)
def test_unknown_field_or_expansion(tmp_path: Path, kind: str, key: str, value: str, expected: str) -> None:
    users = "" if kind == "search" else 'user_ids = ["1"]\n'
    query = 'query = "q"\n' if kind == "search" else ""
    body = f'[[job]]\nname = "f"\nkind = "{kind}"\n{users}{query}{key} = {value}\n'
    assert expected in bad(tmp_path, body, "f", key)


def test_user_expansion_on_user_kind_is_fine(tmp_path: Path) -> None:
    body = '[[job]]\nname = "f"\nkind = "followers"\nuser_ids = ["1"]\nexpansions = ["pinned_tweet_id"]\n'
    assert one(tmp_path, body).expansions == ("pinned_tweet_id",)


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        (
            'min_interval = "2h"\nmax_interval = "1h"',
            "min_interval",
            "(7200s) must not exceed max_interval (3600s)",
        ),
        ('min_interval = "soon"', "min_interval", "must be seconds > 0 or a duration"),
        ("max_interval = 0", "max_interval", "must be seconds > 0"),
        ('mode = "forever"', "mode", "must be 'once' or 'poll'"),
        ('schedule = "every day"', "schedule", "expected 'every <duration>'"),
        ('mode = "once"\nschedule = "0 * * * *"', "schedule", "needs mode = 'poll'"),
        ("schedule = 5", "schedule", "must be 'every 15m' or a cron expression"),
    ],
)
def test_reserved_keys_validated(tmp_path: Path, extra: str, key: str, expected: str) -> None:
    body = f'[[job]]\nname = "r"\nkind = "timeline"\nuser_ids = ["1"]\n{extra}\n'
    assert expected in bad(tmp_path, body, "r", key)


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        ('priority = "high"', "priority", "must be an integer, got a string"),
        ("priority = true", "priority", "must be an integer, got a boolean"),
        ("priority = 10000000", "priority", "between"),
        ("auth = 1", "auth", "must be a string"),
        ('auth = ""', "auth", "must not be empty"),
    ],
)
def test_wrong_type_of_common_keys(tmp_path: Path, extra: str, key: str, expected: str) -> None:
    body = f'[[job]]\nname = "c"\nkind = "timeline"\nuser_ids = ["1"]\n{extra}\n'
    assert expected in bad(tmp_path, body, "c", key)


def test_archive_must_be_bool_and_app_only(tmp_path: Path) -> None:
    body = '[[job]]\nname = "a"\nkind = "search"\nquery = "q"\narchive = "yes"\n'
    assert "must be true or false" in bad(tmp_path, body, "a", "archive")
    body = '[[job]]\nname = "a"\nkind = "search"\nquery = "q"\narchive = true\nauth = "alice"\n'
    assert "/2/tweets/search/all is app-only" in bad(tmp_path, body, "a", "auth")


# --------------------------------------------------------------------------- fields and expansions (X's document)


def _search(extra: str, kind: str = "search") -> str:
    target = 'query = "q"' if kind == "search" else 'user_ids = ["1"]'
    return f'[[job]]\nname = "f"\nkind = "{kind}"\n{target}\n{extra}\n'


def test_either_version_of_a_name_is_accepted_and_kept_as_written(tmp_path: Path) -> None:
    spec = one(
        tmp_path,
        _search(
            'tweet_fields = ["note_tweet", "article_title", "author_id"]\n'  # 2.166, 2.167, 2.166-only
            'expansions = ["referenced_tweets.id", "edit_history_post_ids", "username"]\n'
            'user_fields = ["pinned_tweet_id", "subscribes_to_you"]'
        ),
    )
    assert spec.tweet_fields == ("note_tweet", "article_title", "author_id")
    assert spec.expansions == ("referenced_tweets.id", "edit_history_post_ids", "username")
    assert spec.user_fields == ("pinned_tweet_id", "subscribes_to_you")
    users = one(tmp_path, _search('expansions = ["pinned_post_id", "affiliation.user_id"]', "followers"))
    assert users.expansions == ("pinned_post_id", "affiliation.user_id")


def test_post_fields_is_tweet_fields_under_its_2167_name(tmp_path: Path) -> None:
    spec = one(tmp_path, _search('post_fields = ["note_post", "created_at"]'))
    assert (spec.post_fields, spec.tweet_fields) == (("note_post", "created_at"), ())
    body = _search('tweet_fields = ["created_at"]\npost_fields = ["lang"]')
    assert "set one of them, not both" in bad(tmp_path, body, "f", "post_fields")


def test_media_place_and_poll_fields_on_kinds_that_return_posts(tmp_path: Path) -> None:
    for kind in ("search", "timeline", "mentions"):
        spec = one(
            tmp_path,
            _search(
                'expansions = ["attachments.media_keys", "geo.place_id", "attachments.poll_ids"]\n'
                'media_fields = ["url", "preview_image_url", "variants"]\n'
                'place_fields = ["full_name", "geo"]\npoll_fields = ["options"]',
                kind,
            ),
        )
        assert spec.media_fields == ("url", "preview_image_url", "variants")
        assert (spec.place_fields, spec.poll_fields) == (("full_name", "geo"), ("options",))
    body = '[[job]]\nname = "f"\nkind = "lookup_tweets"\ntweet_ids = ["1"]\nmedia_fields = ["url"]\n'
    assert one(tmp_path, body).media_fields == ("url",)
    # The user routes take no media.fields in X's document.
    message = bad(tmp_path, _search('media_fields = ["url"]', "followers"), "f", "media_fields")
    assert ("does not apply to kind 'followers' (only to search, timeline, mentions, lookup_tweets, stream, "
            "liked_tweets, quote_tweets, conversation, list_tweets, bookmarks)") in message


@pytest.mark.parametrize(
    ("kind", "key", "value", "expected"),
    [
        ("search", "media_fields", "preview_image_ur", "did you mean 'preview_image_url'?"),
        ("search", "expansions", "referenced_post", "did you mean 'referenced_posts'?"),
        ("search", "post_fields", "note_posts", "did you mean 'note_post'?"),
        ("search", "poll_fields", "option", "did you mean 'options'?"),
        ("followers", "expansions", "pinned_post", "did you mean 'pinned_post_id'?"),
        ("search", "expansions", "affiliation", "for kind 'search' (it applies to followers, following"),
    ],
)
def test_a_name_in_neither_version_is_an_error_with_a_suggestion(
    tmp_path: Path, kind: str, key: str, value: str, expected: str
) -> None:
    message = bad(tmp_path, _search(f'{key} = ["{value}"]', kind), "f", key)
    assert f"unknown value {value!r}" in message
    assert expected in message


def test_every_expansion_and_field_the_document_lists_is_accepted(tmp_path: Path) -> None:
    """The names are the document's, per route: nothing listed there is refused here."""
    keys = {"expansions": "expansions", "post_fields": "post.fields", "user_fields": "user.fields",
            "media_fields": "media.fields", "place_fields": "place.fields", "poll_fields": "poll.fields"}  # fmt: skip
    for kind in ("search", "timeline", "mentions", "followers", "following"):
        route = api_tables.ROUTES[KIND_ENDPOINT[kind]]
        lines = []
        for key, param in keys.items():
            found = route.param(param)
            if found is not None:
                lines.append(f"{key} = {list(found.enum)!r}".replace("'", '"'))
        spec = one(tmp_path, _search("\n".join(lines), kind))
        for key, param in keys.items():
            found = route.param(param)
            assert getattr(spec, key) == (found.enum if found else ()), (kind, key)


# --------------------------------------------------------------------------- issue 16 kinds


def test_new_kinds_take_their_inputs_limits_and_bounds(tmp_path: Path) -> None:
    spec = one(tmp_path, '[[job]]\nname = "c"\nkind = "conversation"\ntweet_ids = ["5"]\narchive = true\n'
                         'max_results = 500\nstart_time = 2026-01-01T00:00:00Z\nlimit = 1000\n')
    assert (spec.kind, spec.archive, spec.max_results, spec.limit, spec.start_time) == (
        "conversation", True, 500, 1000, "2026-01-01T00:00:00Z")
    counts = one(tmp_path, '[[job]]\nname = "n"\nkind = "counts"\nquery = "q"\ngranularity = "day"\n')
    assert counts.granularity == "day"
    lists = one(tmp_path, '[[job]]\nname = "m"\nkind = "list_members"\nlist_ids = ["84839422"]\n')
    assert lists.list_ids == ("84839422",)
    assert "granularity: must be one of minute, hour, day" in bad(
        tmp_path, '[[job]]\nname = "n"\nkind = "counts"\nquery = "q"\ngranularity = "week"\n', "n", "granularity")
    assert "does not apply to kind 'liking_users'" in bad(
        tmp_path, '[[job]]\nname = "l"\nkind = "liking_users"\ntweet_ids = ["1"]\nstart_time = 2026-01-01T00:00:00Z\n',
        "l", "start_time")
    assert "must be between 1 and 100 for /2/tweets/:id/retweeted_by" in bad(
        tmp_path, '[[job]]\nname = "l"\nkind = "retweeted_by"\ntweet_ids = ["1"]\nmax_results = 1000\n',
        "l", "max_results")
    assert "needs at least one list id" in bad(tmp_path, '[[job]]\nname = "m"\nkind = "list_tweets"\n', "m", "list_ids")
    assert "limit: must be a whole number" in bad(
        tmp_path, '[[job]]\nname = "s"\nkind = "search"\nquery = "q"\nlimit = 2.5\n', "s", "limit")


def test_from_job_names_a_job_that_returns_what_it_takes(tmp_path: Path) -> None:
    src = '[[job]]\nname = "src"\nkind = "search"\nquery = "q"\n'
    ok = src.replace('query = "q"', 'query = "q"\ntweet_fields = ["author_id"]') + \
        '[[job]]\nname = "fan"\nkind = "followers"\nfrom_job = "src"\n'
    specs = load_jobs([write(tmp_path, ok)])
    assert specs[1].from_job == "src" and not specs[1].user_ids
    no_author = src + '[[job]]\nname = "fan"\nkind = "followers"\nfrom_job = "src"\n'
    path = write(tmp_path, no_author)
    assert "add 'author_id' to its tweet_fields" in str(job_error(path, path, "fan", "from_job"))
    missing = src + '[[job]]\nname = "fan"\nkind = "quote_tweets"\nfrom_job = "sr"\n'
    path = write(tmp_path, missing)
    assert "no job named 'sr'; did you mean 'src'?" in str(job_error(path, path, "fan", "from_job"))
    users = '[[job]]\nname = "u"\nkind = "followers"\nuser_ids = ["1"]\n' \
            '[[job]]\nname = "fan"\nkind = "quote_tweets"\nfrom_job = "u"\n'
    path = write(tmp_path, users)
    assert "takes post ids" in str(job_error(path, path, "fan", "from_job"))


@pytest.mark.parametrize(
    ("value", "per_day"),
    [("2400", 2400.0), ("'300/day'", 300.0), ("'10/h'", 240.0), ("12.5", 12.5), ("'50%'", None)],
)
def test_poll_budget(tmp_path: Path, value: str, per_day: float | None) -> None:
    from harvester.core.endpoints import ENDPOINTS

    spec = one(tmp_path, f'[[job]]\nname = "p"\nkind = "timeline"\nuser_ids = ["1"]\nmode = "poll"\npoll_budget = {value}\n')
    limit = ENDPOINTS[KIND_ENDPOINT["timeline"]].app_limit
    assert limit is not None
    want = per_day if per_day is not None else 0.5 * limit * 96  # half the route's windows, per day
    assert spec.extra["poll_budget"] == pytest.approx(want)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("poll_budget = 100", "needs mode = 'poll'"),
        ('mode = "poll"\npoll_budget = 0', "more than 0"),
        ('mode = "poll"\npoll_budget = "lots"', "requests per day"),
        ('mode = "poll"\npoll_budget = "150%"', "within (0, 100]%"),
        ('mode = "poll"\npoll_budget = true', "requests per day"),
    ],
)
def test_poll_budget_errors(tmp_path: Path, extra: str, expected: str) -> None:
    body = f'[[job]]\nname = "r"\nkind = "timeline"\nuser_ids = ["1"]\n{extra}\n'
    assert expected in bad(tmp_path, body, "r", "poll_budget")
