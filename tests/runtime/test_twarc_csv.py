"""twarc-csv reads harvester's output, provenance columns included (the ``__twarc`` block)."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from harvester.core.model import JobSpec
from harvester.testing import data_ids, harvest_sandbox, make_config, read_pages, run_virtual

SEARCH = JobSpec(name="search", kind="search", query="qiqipa", start_time="2026-11-15T00:00:00Z",
                 end_time="2026-11-18T00:00:00Z", tweet_fields=("created_at", "author_id"),
                 expansions=("author_id",), user_fields=("username",))  # fmt: skip
TWARC_KEYS = {"url", "version", "retrieved_at"}  # what twarc2 writes (twarc/client2.py) and twarc-csv reads


def test_twarc_csv_fills_its_provenance_columns_from_harvester_output(tmp_path: Path) -> None:
    run_virtual(lambda: harvest_sandbox(make_config(tmp_path), [SEARCH]))
    out = tmp_path / "out" / "search.jsonl"
    pages = read_pages(out)
    assert pages
    for page in pages:  # the block twarc2 itself writes: every key, the time as ISO-8601 UTC
        block = page["__twarc"]
        assert set(block) == TWARC_KEYS
        datetime.fromisoformat(block["retrieved_at"])  # ISO-8601 (Python reads the Z itself)
        assert block["url"].split("?")[0].endswith("/2/tweets/search/recent")
    if importlib.util.find_spec("twarc_csv") is None:  # the test extra installs it; without it, the shape only
        return
    csv_path = tmp_path / "search.csv"
    env = {**os.environ, "BEARER_TOKEN": "unused-twarc-insists-on-one"}
    twarc2 = "import sys; from twarc.command2 import twarc2; sys.argv[0] = 'twarc2'; twarc2()"
    subprocess.run([sys.executable, "-c", twarc2, "csv", str(out), str(csv_path)], check=True, env=env,
                   capture_output=True, timeout=120)  # fmt: skip
    rows = list(csv.DictReader(csv_path.open()))
    assert {r["id"] for r in rows} == set(data_ids(pages))
    assert all(r["__twarc.retrieved_at"] and r["__twarc.url"] and r["__twarc.version"] for r in rows)
    assert all(r["author.username"] for r in rows)
