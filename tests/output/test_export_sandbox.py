"""``harvester export`` of jobs harvested from the sandbox: rows equal the pages, once each."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harvester.cli import main
from harvester.core.model import JobSpec
from harvester.output.columns import POST_COLUMNS, USER_COLUMNS
from harvester.output.export import ExportOptions, export_jobs
from harvester.output.writers import arrow_schema
from harvester.testing import data_ids, harvest_sandbox, make_config, read_pages, run_virtual

SEARCH = JobSpec(
    name="search", kind="search", query="bumife", start_time="2026-11-15T00:00:00Z",
    end_time="2026-11-18T00:00:00Z", max_results=100, expansions=("author_id",), user_fields=("username",),
    tweet_fields=("created_at", "author_id", "public_metrics", "lang", "entities", "conversation_id"),
)  # fmt: skip
FOLLOWERS = JobSpec(name="followers", kind="followers", user_ids=("980201543",), max_results=1000,
                    user_fields=("created_at", "public_metrics", "description"))  # fmt: skip


@pytest.fixture(scope="module")
def harvested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A search and a followers job harvested once from the sandbox; returns the output dir."""
    tmp = tmp_path_factory.mktemp("harvest")
    config = make_config(tmp, workers=2)

    async def go() -> None:
        result, _ = await harvest_sandbox(config, [SEARCH, FOLLOWERS])
        assert not result.failed and result.stop is None

    run_virtual(go)
    return tmp / "out"


def copy_output(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("export"))
    return dst


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_search_csv_has_one_row_per_unique_post_with_the_authors_username(harvested: Path,
                                                                          tmp_path: Path) -> None:  # fmt: skip
    out = copy_output(harvested, tmp_path / "out")
    # A second host's slot that fetched the same pages again, later: every post now appears twice.
    slot = out / "otherhost-1"
    slot.mkdir()
    shutil.copy(out / "search.jsonl", slot / "search.jsonl")
    pages = read_pages(out / "search.jsonl") + read_pages(slot / "search.jsonl")
    ids = data_ids(pages)
    assert len(ids) == 2 * len(set(ids)) > 100  # several pages of real duplicates

    code = main(["export", "search", "--config", str(write_config(tmp_path, out)), "--format", "csv"])
    assert code == 0
    rows = read_csv(out / "export" / "search.csv")
    assert list(rows[0]) == [c.name for c in POST_COLUMNS]
    assert Counter(r["id"] for r in rows) == Counter(set(ids))  # each unique post exactly once
    usernames = {u["id"]: u["username"] for p in pages for u in p["includes"]["users"]}
    posts = {o["id"]: o for p in pages for o in p["data"]}
    for r in rows:
        post = posts[r["id"]]
        assert r["author_id"] == post["author_id"]
        assert r["author_username"] == usernames[post["author_id"]] != ""
        assert r["text"] == post["text"]
        assert r["like_count"] == str(post["public_metrics"]["like_count"])
        assert r["created_at"] == post["created_at"]  # X's own format, kept
        assert r["lang"] == post["lang"] and r["job"] == "search"
        assert r["mentions"] == " ".join(m["username"] for m in post.get("entities", {}).get("mentions", []))


def write_config(tmp: Path, out: Path) -> Path:
    path = tmp / "config.toml"
    path.write_text(f'[harvest]\noutput_dir = "{out}"\nstate = "{tmp / "state.db"}"\n')
    return path


def test_followers_become_user_rows_of_the_followed_user(harvested: Path, tmp_path: Path) -> None:
    [result] = export_jobs(harvested, ["followers"], ExportOptions(format="csv"), out=str(tmp_path / "f.csv"))
    rows = read_csv(tmp_path / "f.csv")
    users = {u["id"]: u for p in read_pages(harvested / "followers.jsonl") for u in p["data"]}
    assert result.kind == "user" and result.rows == len(rows) == len(users) > 50
    assert list(rows[0]) == [c.name for c in USER_COLUMNS]
    for r in rows:
        u = users[r["id"]]
        assert (r["username"], r["name"], r["description"]) == (u["username"], u["name"], u["description"])
        assert r["followers_count"] == str(u["public_metrics"]["followers_count"])
        assert r["relation"] == "followers" and r["relation_of"] == "980201543"
        assert r["verified"] == "" and r["location"] == ""  # not requested: empty, no KeyError


def test_parquet_round_trip(harvested: Path, tmp_path: Path) -> None:
    [result] = export_jobs(harvested, ["search"], ExportOptions(format="parquet", batch_rows=64),
                           out=str(tmp_path / "s.parquet"))  # fmt: skip
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.schema.equals(arrow_schema(POST_COLUMNS))
    assert table.schema.field("id").type == pa.string()
    assert table.schema.field("created_at").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("like_count").type == pa.int64()
    pages = read_pages(harvested / "search.jsonl")
    posts = {o["id"]: o for p in pages for o in p["data"]}
    assert table.num_rows == result.rows == len(posts)
    got = {r["id"]: r for r in table.to_pylist()}
    assert set(got) == set(posts)
    for pid, post in posts.items():
        r: dict[str, Any] = got[pid]
        assert r["like_count"] == post["public_metrics"]["like_count"]
        assert r["created_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z") == post["created_at"]
        assert r["author_username"] is not None and r["from_cache"] is False
        assert r["in_reply_to_user_id"] is None  # missing is null


def test_parquet_of_odd_input_still_writes(tmp_path: Path) -> None:
    """No rows: a valid empty file with the full schema. A lone surrogate (valid JSON): mended, kept."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "empty.jsonl").write_text('{"meta": {"result_count": 0}, "__harvester": {"path": "/2/tweets/search/recent"}}\n')
    (out / "odd.jsonl").write_text('{"data": [{"id": "1", "text": "a\\ud800b"}], "__harvester": {"retrieved_at": 1.5}}\n')
    export_jobs(out, ["empty", "odd"], ExportOptions(format="parquet"))
    empty = pq.read_table(out / "export" / "empty.parquet")
    assert empty.num_rows == 0 and empty.schema.equals(arrow_schema(POST_COLUMNS))
    [row] = pq.read_table(out / "export" / "odd.parquet").to_pylist()
    assert row["text"] == "a?b" and row["retrieved_at"].timestamp() == 1.5
    for fmt in ("csv", "jsonl"):
        export_jobs(out, ["odd"], ExportOptions(format=fmt))  # type: ignore[arg-type]
        assert "a?b" in (out / "export" / f"odd.{fmt}").read_text()


def test_duckdb_and_pandas_read_the_exports_directly(harvested: Path, tmp_path: Path) -> None:
    """What researchers do next (issue 18): open the CSV and the Parquet file with DuckDB and
    pandas as they are, and get the same posts with the same ids and authors."""
    import duckdb
    import pandas as pd

    out = copy_output(harvested, tmp_path / "out")
    config = str(write_config(tmp_path, out))
    assert main(["export", "search", "--config", config, "--format", "csv"]) == 0
    assert main(["export", "search", "--config", config, "--format", "parquet"]) == 0
    csv_path, parquet_path = out / "export" / "search.csv", out / "export" / "search.parquet"
    posts = {o["id"]: o["author_id"] for p in read_pages(out / "search.jsonl") for o in p["data"]}

    con = duckdb.connect()
    for path in (csv_path, parquet_path):
        reader = "read_csv" if path.suffix == ".csv" else "read_parquet"
        rows = con.execute(f"SELECT CAST(id AS VARCHAR), CAST(author_id AS VARCHAR) FROM {reader}(?)",
                           [str(path)]).fetchall()  # fmt: skip
        assert dict(rows) == posts, path
    frames = [pd.read_csv(csv_path, dtype={"id": str, "author_id": str}), pd.read_parquet(parquet_path)]
    for frame in frames:
        assert dict(zip(frame["id"].astype(str), frame["author_id"].astype(str), strict=True)) == posts
