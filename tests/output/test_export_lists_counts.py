"""``harvester export`` of list and counts jobs harvested from the sandbox: rows equal the pages'
objects (lists field by field, count buckets adding up to X's own total), in CSV and Parquet."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harvester.cli import main
from harvester.core.model import JobSpec
from harvester.output.columns import COUNT_COLUMNS, LIST_COLUMNS
from harvester.output.export import ExportOptions, export_jobs
from harvester.output.writers import arrow_schema
from harvester.sandbox import SandboxConfig
from harvester.sandbox.truth import Truth
from harvester.sandbox.world import World
from harvester.testing import EPOCH, harvest_sandbox, make_config, read_pages, run_virtual

ME = "980201543"  # the default world's most followed user: on many lists
LIST_FIELDS = ("created_at", "description", "follower_count", "member_count", "private")
SANDBOX = SandboxConfig(epoch=EPOCH)


class _At:
    def now(self) -> float:
        return EPOCH


def _top_owner() -> str:
    """The user owning the most lists in the default world (so owned_lists has several)."""
    truth = Truth(World(SANDBOX), _At())  # type: ignore[arg-type]
    owners = Counter(truth.world.users[lst.owner].id for lst in truth.social.lists)
    return owners.most_common(1)[0][0]


def _specs(owner: str) -> list[JobSpec]:
    return [
        JobSpec(name="counts", kind="counts", query="ka", granularity="hour"),
        JobSpec(name="counts_default", kind="counts", query="ka"),
        JobSpec(name="owned_lists", kind="owned_lists", user_ids=(owner,), list_fields=LIST_FIELDS,
                expansions=("owner_id",)),
        JobSpec(name="list_memberships", kind="list_memberships", user_ids=(ME,), max_results=20,
                list_fields=LIST_FIELDS),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def harvested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Two counts jobs and two list jobs harvested once; returns the output dir and the lists' owner."""
    tmp = tmp_path_factory.mktemp("harvest")
    owner = _top_owner()

    async def go() -> None:
        result, _ = await harvest_sandbox(make_config(tmp, workers=2), _specs(owner), sandbox=SANDBOX)
        assert result.outcome == "complete", (result.stop, [(j.job, j.last_error) for j in result.jobs])

    run_virtual(go)
    return tmp / "out", owner


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def buckets(pages: list[dict[str, Any]]) -> tuple[list[tuple[str, str, int]], int]:
    """Every bucket of the pages, and X's total (the pages' ``meta.total_tweet_count`` summed)."""
    found = [(b["start"], b["end"], b["tweet_count"]) for p in pages for b in p.get("data", [])]
    return found, sum(p["meta"]["total_tweet_count"] for p in pages)


def test_counts_csv_has_one_row_per_bucket_adding_up_to_xs_total(harvested: tuple[Path, str],
                                                                 tmp_path: Path) -> None:  # fmt: skip
    out, _ = harvested
    [result] = export_jobs(out, ["counts"], ExportOptions(format="csv"), out=str(tmp_path / "c.csv"))
    rows = read_csv(tmp_path / "c.csv")
    expected, total = buckets(read_pages(out / "counts.jsonl"))
    assert result.kind == "count" and result.rows == len(rows) == len(expected) == 168  # 7 days of hours
    assert list(rows[0]) == [c.name for c in COUNT_COLUMNS]
    assert Counter((r["start"], r["end"], int(r["tweet_count"])) for r in rows) == Counter(expected)
    assert sum(int(r["tweet_count"]) for r in rows) == total > 0
    assert {(r["job"], r["query"], r["granularity"]) for r in rows} == {("counts", "ka", "hour")}
    assert all(r["retrieved_at"].endswith("Z") for r in rows)


def test_counts_parquet_is_typed_and_a_request_without_granularity_is_xs_hour(harvested: tuple[Path, str],
                                                                             tmp_path: Path) -> None:  # fmt: skip
    out, _ = harvested
    pages = read_pages(out / "counts_default.jsonl")
    assert all("granularity=" not in p["__twarc"]["url"] for p in pages)  # the default went unsaid
    export_jobs(out, ["counts_default"], ExportOptions(format="parquet", batch_rows=50), out=str(tmp_path / "c.parquet"))
    table = pq.read_table(tmp_path / "c.parquet")
    assert table.schema.equals(arrow_schema(COUNT_COLUMNS))
    assert table.schema.field("start").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("tweet_count").type == pa.int64()
    expected, total = buckets(pages)
    rows = table.to_pylist()
    assert Counter((iso(r["start"]), iso(r["end"]), r["tweet_count"]) for r in rows) == Counter(expected)
    assert sum(r["tweet_count"] for r in rows) == total > 0
    assert {r["granularity"] for r in rows} == {"hour"} and {r["query"] for r in rows} == {"ka"}


def test_owned_lists_csv_through_the_command_equals_the_list_objects(harvested: tuple[Path, str],
                                                                     tmp_path: Path) -> None:  # fmt: skip
    out, owner = harvested
    config = tmp_path / "config.toml"
    config.write_text(f'[harvest]\noutput_dir = "{out}"\nstate = "{tmp_path / "state.db"}"\n')
    dest = tmp_path / "lists.csv"
    assert main(["export", "owned_lists", "--config", str(config), "--out", str(dest)]) == 0
    rows = read_csv(dest)
    lists = {o["id"]: o for p in read_pages(out / "owned_lists.jsonl") for o in p["data"]}
    assert list(rows[0]) == [c.name for c in LIST_COLUMNS]
    assert sorted(r["id"] for r in rows) == sorted(lists) and len(lists) > 1
    for r in rows:
        lst = lists[r["id"]]
        assert (r["name"], r["description"], r["created_at"]) == (lst["name"], lst["description"], lst["created_at"])
        assert (r["follower_count"], r["member_count"]) == (str(lst["follower_count"]), str(lst["member_count"]))
        assert r["owner_id"] == lst["owner_id"] == owner
        assert r["private"] == ("true" if lst["private"] else "false")
        assert (r["relation"], r["relation_of"], r["job"]) == ("owned_lists", owner, "owned_lists")


def test_list_memberships_parquet_has_every_list_once_typed(harvested: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = harvested
    [result] = export_jobs(out, ["list_memberships"], ExportOptions(format="parquet"), out=str(tmp_path / "m.parquet"))
    table = pq.read_table(tmp_path / "m.parquet")
    assert table.schema.equals(arrow_schema(LIST_COLUMNS))
    assert table.schema.field("private").type == pa.bool_()
    assert table.schema.field("member_count").type == pa.int64()
    pages = read_pages(out / "list_memberships.jsonl")
    lists = {o["id"]: o for p in pages for o in p["data"]}
    assert len(pages) > 1 and result.kind == "list" and table.num_rows == result.rows == len(lists) > 20
    for r in table.to_pylist():
        lst = lists[r["id"]]
        assert (r["name"], r["private"], r["member_count"]) == (lst["name"], lst["private"], lst["member_count"])
        assert r["follower_count"] == lst["follower_count"] and r["owner_id"] is None  # no expansion: null
        assert iso(r["created_at"]) == lst["created_at"]
        assert (r["relation"], r["relation_of"], r["from_cache"]) == ("list_memberships", ME, False)
