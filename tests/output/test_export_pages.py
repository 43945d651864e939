"""``harvester export`` on hand-written pages: dedup, both line layouts, torn lines, filters, columns."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from harvester.cli import main
from harvester.errors import UserError
from harvester.output.columns import COUNT_COLUMNS, LIST_COLUMNS, POST_COLUMNS, USER_COLUMNS, readme_table
from harvester.output.export import ExportOptions, JobExport, export_jobs
from harvester.output.reader import lines_backwards

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_795_132_800.0  # 2026-11-20T00:00:00Z


def post(pid: int, **extra: Any) -> dict[str, Any]:
    return {"id": str(pid), "text": f"post {pid}", "edit_history_tweet_ids": [str(pid)], **extra}


def user(uid: int, **extra: Any) -> dict[str, Any]:
    return {"id": str(uid), "name": f"User {uid}", "username": f"user{uid}", **extra}


def page(data: list[dict[str, Any]], at: float, *, path: str = "/2/tweets/search/recent", job: str = "j",
         includes: dict[str, Any] | None = None, **harvester: Any) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"data": data, "meta": {"result_count": len(data)}}
    if includes:
        body["includes"] = includes
    body["__harvester"] = {"job": job, "task": "t", "page": 1, "path": path, "retrieved_at": at, **harvester}
    return body


def write(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


def export_csv(out: Path, jobs: list[str], **options: Any) -> tuple[list[JobExport], list[dict[str, str]]]:
    dest = out.parent / "result.csv"
    results = export_jobs(out, jobs, ExportOptions(format="csv", **options), out=str(dest))
    with dest.open(newline="", encoding="utf-8") as f:
        return results, list(csv.DictReader(f))


# --------------------------------------------------------------------------- dedup


def test_dedup_across_pages_and_slots_keeps_the_most_recently_retrieved_version(tmp_path: Path) -> None:
    out = tmp_path / "out"
    metrics = {"public_metrics": {"like_count": 1}}
    write(out / "j.jsonl",
          page([post(1, **metrics), post(2)], T0 + 100),
          page([post(2), post(4)], T0 + 150))  # same post on two pages of one file
    write(out / "hosta-1" / "j.jsonl", page([post(1, public_metrics={"like_count": 3})], T0 + 300))
    write(out / "hostb-2" / "j.jsonl", page([post(1, public_metrics={"like_count": 2}), post(3)], T0 + 200))
    # not slots: an export folder, a folder not named <host>-<n>, a file moved aside
    write(out / "export" / "j.jsonl", page([post(99)], T0 + 900))
    write(out / "backup" / "j.jsonl", page([post(98)], T0 + 900))
    write(out / "j.jsonl.orphaned-1", page([post(97)], T0 + 900))

    [result], rows = export_csv(out, ["j"])
    assert sorted(r["id"] for r in rows) == ["1", "2", "3", "4"]
    assert {r["id"]: r["like_count"] for r in rows}["1"] == "3"  # the newest of three copies
    assert (result.files, result.pages, result.duplicates, result.rows) == (3, 4, 3, 4)
    assert {r["id"]: r["retrieved_at"] for r in rows}["1"] == "2026-11-20T00:05:00.000Z"


def test_within_one_file_the_later_line_wins(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "j.jsonl", page([post(1, lang="en")], T0), page([post(1, lang="fr")], T0))
    _, rows = export_csv(out, ["j"])
    assert [(r["id"], r["lang"]) for r in rows] == [("1", "fr")]


def test_rows_come_in_reverse_file_order(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "j.jsonl", page([post(5), post(4)], T0), page([post(3), post(2)], T0 + 1))
    _, rows = export_csv(out, ["j"])
    assert [r["id"] for r in rows] == ["2", "3", "4", "5"]


# --------------------------------------------------------------------------- line layouts


def test_cached_object_lines_of_both_layouts_are_rows(tmp_path: Path) -> None:
    out = tmp_path / "out"
    users = {"users": [user(7)]}
    write(
        out / "j.jsonl",
        # today: a page the cache answered whole: data only, marked from_cache
        page([post(1, author_id="7")], T0, path="/2/tweets", includes=users, from_cache=True),
        # issue 13: cached objects on their own line, no meta, a __twarc block beside __harvester
        {"data": [post(2, author_id="7")],
         "__harvester": {"job": "j", "task": "ids:0", "page": 1, "path": "/2/tweets", "retrieved_at": T0 + 5,
                         "from_cache": True},
         "__twarc": {"url": "https://api.x.com/2/tweets?ids=2", "version": "harvester 0.1.0",
                     "retrieved_at": "2026-11-20T00:00:05.000Z"}},
        # a line written by twarc itself: only __twarc says when and from where
        {"data": [post(3)], "__twarc": {"url": "https://api.x.com/2/users/42/mentions?max_results=100",
                                        "version": "2.14.0", "retrieved_at": "2026-11-20T00:00:09+00:00"}},
        page([post(4)], T0 + 1),
    )  # fmt: skip
    _, rows = export_csv(out, ["j"])
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"1", "2", "3", "4"}
    assert (by_id["1"]["from_cache"], by_id["2"]["from_cache"], by_id["4"]["from_cache"]) == ("true", "true", "false")
    assert by_id["1"]["author_username"] == "user7"
    assert by_id["2"]["author_username"] == ""  # its line has no includes: empty, never a KeyError
    assert by_id["3"]["retrieved_at"] == "2026-11-20T00:00:09.000Z"
    assert (by_id["3"]["relation"], by_id["3"]["relation_of"], by_id["3"]["job"]) == ("mentions", "42", "j")
    assert [r["id"] for r in rows] == ["4", "3", "2", "1"]


def test_torn_and_foreign_lines_are_skipped_counted_and_logged(tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = json.dumps(page([post(2)], T0 + 1))
    path = write(out / "j.jsonl", page([post(1)], T0), "this is not json", "[1, 2]", '{"hello": "world"}', good)
    with path.open("ab") as f:
        f.write(good[: len(good) // 2].encode())  # a process died mid-append: no newline, half a page
    with capture_logs() as logs:
        [result], rows = export_csv(out, ["j"])
    assert sorted(r["id"] for r in rows) == ["1", "2"]
    assert (result.skipped_lines, result.pages) == (4, 2)
    skipped = [e for e in logs if e["event"] == "export_line_skipped"]
    assert len(skipped) == 4 and all(e["file"] == str(path) for e in skipped)
    assert skipped[0]["byte_offset"] == path.stat().st_size - len(good) // 2  # the torn tail, read first


def test_objects_of_the_other_kind_or_without_id_are_counted_not_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "j.jsonl", page([post(1), user(2), {"text": "no id"}, "junk", {"start": "x"}], T0))  # type: ignore[list-item]
    [result], rows = export_csv(out, ["j"])
    assert [r["id"] for r in rows] == ["1"] and result.other_objects == 4


def test_lines_backwards_equals_the_lines_reversed(tmp_path: Path) -> None:
    rng = random.Random(3)
    lines = [("x" * rng.choice([0, 1, 5, 17, 40])).encode() for _ in range(300)]
    path = tmp_path / "f"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for block in (1, 7, 16, 1 << 20):
        got = list(lines_backwards(path, block=block))
        assert [line for _, line in got] == [x for x in reversed(lines) if x]
        data = path.read_bytes()
        assert all(data[o : o + len(line)] == line and (o == 0 or data[o - 1 : o] == b"\n") for o, line in got)


# --------------------------------------------------------------------------- expansions and columns


def test_a_post_is_flattened_with_its_pages_expansions(tmp_path: Path) -> None:
    out = tmp_path / "out"
    full = post(
        10, author_id="7", created_at="2026-11-17T10:00:00.000Z", lang="en", conversation_id="9",
        in_reply_to_user_id="8",
        referenced_tweets=[{"type": "replied_to", "id": "9"}, {"type": "quoted", "id": "5"}],
        public_metrics={"like_count": 4, "retweet_count": 3, "reply_count": 2, "quote_count": 1,
                        "impression_count": 100, "bookmark_count": 0},
        entities={"hashtags": [{"tag": "a"}, {"tag": "b"}], "mentions": [{"username": "user8"}],
                  "urls": [{"url": "https://t.co/x", "expanded_url": "https://example.com/x"}, {"url": "https://t.co/y"}]},
        attachments={"media_keys": ["3_1", "7_2", "3_404"]},
    )  # fmt: skip
    renamed = post(11, author_id="404", referenced_posts=[{"type": "retweeted", "id": "10"}],
                   note_tweet={"text": "the whole long text", "entities": {"hashtags": [{"tag": "long"}]}},
                   entities={"hashtags": [{"tag": "short"}]})  # fmt: skip
    includes = {"users": [user(7), user(8)],
                "media": [{"media_key": "3_1", "type": "photo", "url": "https://pbs/1.jpg"},
                          {"media_key": "7_2", "type": "video", "preview_image_url": "https://pbs/2.jpg"}]}  # fmt: skip
    write(out / "j.jsonl", page([full, renamed, post(12)], T0, includes=includes))
    _, rows = export_csv(out, ["j"])
    by_id = {r["id"]: r for r in rows}
    r = by_id["10"]
    assert (r["author_username"], r["author_name"]) == ("user7", "User 7")
    assert (r["created_at"], r["lang"], r["conversation_id"], r["in_reply_to_user_id"]) == (
        "2026-11-17T10:00:00.000Z", "en", "9", "8")
    assert (r["replied_to_id"], r["quoted_id"], r["retweeted_id"]) == ("9", "5", "")
    assert [r[k] for k in ("like_count", "retweet_count", "reply_count", "quote_count", "impression_count",
                           "bookmark_count")] == ["4", "3", "2", "1", "100", "0"]  # fmt: skip
    assert (r["hashtags"], r["mentions"]) == ("a b", "user8")
    assert r["urls"] == "https://example.com/x https://t.co/y"
    assert r["media_urls"] == "https://pbs/1.jpg https://pbs/2.jpg"
    r = by_id["11"]
    assert (r["retweeted_id"], r["text"], r["hashtags"]) == ("10", "the whole long text", "long")
    assert (r["author_id"], r["author_username"]) == ("404", "")  # author not in includes
    assert all(v == "" for k, v in by_id["12"].items() if k not in {"id", "text", "job", "retrieved_at",
                                                                     "from_cache"})  # fmt: skip


def test_user_rows_keep_one_row_per_follow_edge(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "f.jsonl",
          page([user(1, public_metrics={"followers_count": 5}), user(2)], T0, path="/2/users/100/followers"),
          page([user(1, verified=True, protected=False)], T0 + 1, path="/2/users/200/followers"),
          page([user(1)], T0 + 2, path="/2/users/100/followers"))  # fmt: skip
    [result], rows = export_csv(out, ["f"])
    assert result.kind == "user" and list(rows[0]) == [c.name for c in USER_COLUMNS]
    edges = sorted((r["relation_of"], r["id"]) for r in rows)
    assert edges == [("100", "1"), ("100", "2"), ("200", "1")]
    assert result.duplicates == 1
    by_edge = {(r["relation_of"], r["id"]): r for r in rows}
    assert by_edge[("200", "1")]["verified"] == "true" and by_edge[("200", "1")]["protected"] == "false"
    assert by_edge[("100", "1")]["followers_count"] == ""  # the newest copy (T0 + 2) had no metrics


def test_an_output_without_objects_gets_the_header_its_path_or_job_kind_says(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "f.jsonl", {"meta": {"result_count": 0},
                            "__harvester": {"job": "f", "path": "/2/users/1/following", "retrieved_at": T0}})  # fmt: skip
    (out / "g.jsonl").write_text("")
    export_jobs(out, ["f", "g"], ExportOptions(), out=str(tmp_path / "x") + "/", kinds={"g": "lookup_users"})
    for job in ("f", "g"):
        header = (tmp_path / "x" / f"{job}.csv").read_text().splitlines()
        assert header == [",".join(c.name for c in USER_COLUMNS)]


def test_counts_and_lists_without_objects_get_their_own_header_not_posts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "c.jsonl", {"meta": {"total_tweet_count": 0},
                            "__harvester": {"job": "c", "path": "/2/tweets/counts/all", "retrieved_at": T0}})  # fmt: skip
    write(out / "m.jsonl", {"meta": {"result_count": 0},
                            "__harvester": {"job": "m", "path": "/2/users/1/list_memberships", "retrieved_at": T0}})  # fmt: skip
    (out / "p.jsonl").write_text("")
    results = export_jobs(out, ["c", "m", "p"], ExportOptions(), out=str(tmp_path / "x") + "/",
                          kinds={"p": "pinned_lists"})  # fmt: skip
    assert [r.kind for r in results] == ["count", "list", "list"]
    for job, columns in (("c", COUNT_COLUMNS), ("m", LIST_COLUMNS), ("p", LIST_COLUMNS)):
        assert (tmp_path / "x" / f"{job}.csv").read_text().splitlines() == [",".join(c.name for c in columns)]
    with pytest.raises(UserError, match=r"cannot hold count rows and list rows \(c \(count\), m \(list\)\)"):
        export_jobs(out, ["c", "m"], ExportOptions(), out=str(tmp_path / "both.csv"))


def test_count_buckets_dedup_by_start_and_end_and_select_by_start(tmp_path: Path) -> None:
    """Two runs' pages over the same hours: each bucket once (the newer), a partial first bucket kept apart."""
    out = tmp_path / "out"

    def counts(buckets: list[tuple[str, str, int]], at: float) -> dict[str, Any]:
        return {"data": [{"start": s, "end": e, "tweet_count": n} for s, e, n in buckets],
                "meta": {"total_tweet_count": sum(n for _, _, n in buckets)},
                "__harvester": {"job": "c", "path": "/2/tweets/counts/recent", "retrieved_at": at},
                "__twarc": {"url": "https://api.x.com/2/tweets/counts/recent?query=a+b&granularity=day"}}  # fmt: skip

    d = "2026-11-1{}T00:00:00.000Z".format
    write(out / "c.jsonl", counts([(d(5), d(6), 1), (d(6), d(7), 2)], T0),
          counts([("2026-11-15T00:00:00.500Z", d(6), 9), (d(6), d(7), 3), (d(7), d(8), 4)], T0 + 1))  # fmt: skip
    [result], rows = export_csv(out, ["c"])
    got = sorted((r["start"], r["tweet_count"]) for r in rows)
    assert got == [(d(5), "1"), ("2026-11-15T00:00:00.500Z", "9"), (d(6), "3"), (d(7), "4")]
    assert result.duplicates == 1
    assert {(r["query"], r["granularity"], r["job"]) for r in rows} == {("a b", "day", "c")}
    _, rows = export_csv(out, ["c"], since=datetime(2026, 11, 16, tzinfo=UTC).timestamp())
    assert sorted(r["start"] for r in rows) == [d(6), d(7)]


# --------------------------------------------------------------------------- selection


def test_since_until_select_posts_by_created_at(tmp_path: Path) -> None:
    out = tmp_path / "out"
    times = ["2026-11-16T23:59:59.999Z", "2026-11-17T00:00:00.000Z", "2026-11-17T11:59:59.000Z",
             "2026-11-17T12:00:00.000Z", "2026-11-18T00:00:00.000Z"]  # fmt: skip
    write(out / "j.jsonl", page([post(i, created_at=t) for i, t in enumerate(times)] + [post(9)], T0))
    since, until = datetime(2026, 11, 17, tzinfo=UTC), datetime(2026, 11, 17, 12, tzinfo=UTC)
    [result], rows = export_csv(out, ["j"], since=since.timestamp(), until=until.timestamp())
    assert sorted(r["id"] for r in rows) == ["1", "2"]
    assert result.outside == 4  # three outside, one without created_at
    code = main(["export", "j", "--config", str(config(tmp_path, out)), "--out", str(tmp_path / "c.csv"),
                 "--since", "2026-11-17", "--until", "2026-11-17T12:00:00Z"])  # fmt: skip
    assert code == 0
    assert (tmp_path / "c.csv").read_text() == (tmp_path / "result.csv").read_text()


def test_since_until_select_users_by_retrieval_time(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "u.jsonl", page([user(1), user(2)], T0 - 10, path="/2/users"),
          page([user(2, location="new")], T0 + 10, path="/2/users"))  # fmt: skip
    _, rows = export_csv(out, ["u"], since=T0)
    assert [(r["id"], r["location"]) for r in rows] == [("2", "new")]
    _, rows = export_csv(out, ["u"], until=T0)
    assert sorted((r["id"], r["location"]) for r in rows) == [("1", ""), ("2", "")]  # the version in the window


def test_fields_select_and_order_columns(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "j.jsonl", page([post(1, lang="de", public_metrics={"like_count": 2})], T0))
    export_jobs(out, ["j"], ExportOptions(fields=("like_count", "id", "lang")), out=str(tmp_path / "a.csv"))
    assert (tmp_path / "a.csv").read_text() == "like_count,id,lang\n2,1,de\n"
    export_jobs(out, ["j"], ExportOptions(format="jsonl", fields=("lang", "quoted_id")), out=str(tmp_path / "a.jsonl"))
    assert (tmp_path / "a.jsonl").read_text() == '{"lang": "de", "quoted_id": null}\n'
    with pytest.raises(UserError, match=r"unknown column 'colour' for post rows; valid: id,created_at,"):
        export_jobs(out, ["j"], ExportOptions(fields=("id", "colour")))
    assert not (out / "export").exists()  # nothing written


def test_jsonl_rows_have_every_column_with_nulls_and_native_types(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "j.jsonl", page([post(1, created_at="2026-11-17T10:00:00.000Z",
                                      public_metrics={"like_count": 2})], T0))  # fmt: skip
    export_jobs(out, ["j"], ExportOptions(format="jsonl"))
    [row] = [json.loads(x) for x in (out / "export" / "j.jsonl").read_text().splitlines()]
    assert list(row) == [c.name for c in POST_COLUMNS]
    assert (row["like_count"], row["from_cache"], row["quoted_id"]) == (2, False, None)
    assert (row["created_at"], row["retrieved_at"]) == ("2026-11-17T10:00:00.000Z", "2026-11-20T00:00:00.000Z")


# --------------------------------------------------------------------------- destinations


def test_one_combined_file_or_one_file_per_job(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "a.jsonl", page([post(1), post(2)], T0, job="a"))
    write(out / "b.jsonl", page([post(2), post(3)], T0, job="b"))
    write(out / "f.jsonl", page([user(1)], T0, job="f", path="/2/users/9/followers"))
    results, rows = export_csv(out, ["a", "b"])
    assert sorted((r["job"], r["id"]) for r in rows) == [("a", "1"), ("a", "2"), ("b", "2"), ("b", "3")]
    assert {r.out for r in results} == {tmp_path / "result.csv"}
    export_jobs(out, ["a", "f"], ExportOptions(), out=str(tmp_path / "each") + "/")
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == ["a.csv", "f.csv"]
    with pytest.raises(UserError, match=r"cannot hold post rows and user rows \(a \(post\), f \(user\)\)"):
        export_jobs(out, ["a", "f"], ExportOptions(), out=str(tmp_path / "both.csv"))
    assert not (tmp_path / "both.csv").exists()


def test_an_export_never_overwrites_harvest_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out / "a.jsonl", page([post(1)], T0, job="a"))
    write(out / "h-1" / "b.jsonl", page([post(2)], T0, job="b"))
    before = (out / "a.jsonl").read_bytes()
    for dest in (out / "a.jsonl", out / "other.jsonl", out / "h-1" / "b.jsonl"):
        with pytest.raises(UserError, match="would overwrite harvest output"):
            export_jobs(out, ["a"], ExportOptions(format="jsonl"), out=str(dest))
    assert (out / "a.jsonl").read_bytes() == before and not (out / "other.jsonl").exists()


def test_readme_lists_every_column_in_order() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme_table("post") in readme
    assert readme_table("user") in readme
    assert readme_table("list") in readme
    assert readme_table("count") in readme


# --------------------------------------------------------------------------- the command


def config(tmp: Path, out: Path) -> Path:
    path = tmp / "config.toml"
    path.write_text(f'[harvest]\noutput_dir = "{out}"\nstate = "{tmp / "state.db"}"\n')
    return path


def test_the_command_prints_one_line_per_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    write(out / "a.jsonl", page([post(1), post(1)], T0, job="a"), "torn")
    code = main(["export", "a", "--config", str(config(tmp_path, out)), "--format", "jsonl"])
    assert code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == (f"a: 1 post rows -> {out / 'export' / 'a.jsonl'} "
                       "(1 pages in 1 file; 1 duplicates dropped; 1 lines skipped (not pages))")  # fmt: skip


BAD = {
    "unknown job": (["nope"], "job 'nope': no output under"),
    "bad since": (["a", "--since", "yesterday"], "--since 'yesterday': not a date"),
    "naive time": (["a", "--until", "2026-11-17T10:00:00"], "--until '2026-11-17T10:00:00': say the time zone"),
    "until before since": (["a", "--since", "2026-11-18", "--until", "2026-11-17"], "--until '2026-11-17': not after"),
    "unknown field": (["a", "--fields", "id,nope"], "--fields: unknown column 'nope' for post rows; valid: id,"),
    "empty field": (["a", "--fields", "id,,text"], "--fields 'id,,text': an empty column name"),
    "bad job name": (["../a"], "job '../a': not a job name"),
    "overwrite": (["a", "--out", "OUT/a.jsonl"], "would overwrite harvest output"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_2(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    write(out / "a.jsonl", page([post(1)], T0, job="a"))
    args, needle = BAD[case]
    args = [a.replace("OUT", str(out)) for a in args]
    code = main(["export", *args, "--config", str(config(tmp_path, out))])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("harvester: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert needle in lines[0]
    assert not (out / "export").exists()


def test_csv_and_jsonl_need_no_pyarrow_and_parquet_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    out = tmp_path / "out"
    write(out / "a.jsonl", page([post(1)], T0, job="a"))
    for mod in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    cfg = str(config(tmp_path, out))
    assert main(["export", "a", "--config", cfg, "--format", "csv"]) == 0
    assert main(["export", "a", "--config", cfg, "--format", "jsonl"]) == 0
    assert main(["export", "a", "--config", cfg, "--format", "parquet"]) == 2
    err = capsys.readouterr().err
    assert "harvester: error: --format parquet needs pyarrow: pip install 'harvester[export]'" in err
    assert not (out / "export" / "a.parquet").exists()
