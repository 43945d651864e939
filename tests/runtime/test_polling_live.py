"""Adaptive polling in the daemon: busy sources are polled often, silent ones back off, nothing twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio

from harvester.core.schedule import split_key
from harvester.sandbox import Sandbox
from harvester.testing import EPOCH, data_ids, make_config, read_pages, run_virtual, sandbox_daemon

JOBS = """
[[job]]
name = "busy"
kind = "search"
query = "gybudu"
max_results = 100
mode = "poll"
min_interval = "5m"
max_interval = "6h"

[[job]]
name = "quiet"
kind = "search"
query = "qiqipa"
max_results = 100
mode = "poll"
min_interval = "5m"
max_interval = "6h"
"""
HOURS = 12


def test_busy_query_polled_more_often_than_a_rare_one_and_nothing_twice(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "jobs.toml").write_text(JOBS)
    config = make_config(tmp_path, workers=2, pacing="burst")

    async def main() -> Sandbox:
        async with sandbox_daemon(config, [jobs]) as (daemon, sb, _):
            await anyio.sleep(HOURS * 3600)
            daemon.stop("test over")
        return sb

    sb = run_virtual(main)
    polls = {}
    for job, query in (("busy", "gybudu"), ("quiet", "qiqipa")):
        pages = read_pages(tmp_path / "out" / f"{job}.jsonl")
        # every post up to the source's last poll (search's end_time defaults to now - 30 s)
        last = max(p["__harvester"]["retrieved_at"] for p in pages)
        want = set(sb.truth.search(query, EPOCH - 7 * 86400 + 60, last - 31, at=last))
        assert max(Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages).values()) == 1
        ids = data_ids(pages)
        assert len(ids) == len(set(ids)), f"{job}: a post was fetched twice"
        assert want <= set(ids), f"{job}: missed {len(want - set(ids))} posts"
        polls[job] = len({split_key(p["__harvester"]["task"])[1] for p in pages})
    print("polls per source:", polls)
    assert polls["busy"] > 3 * polls["quiet"], polls
    assert polls["quiet"] >= HOURS * 3600 / (6 * 3600) - 1, "the quiet source is still visited within max_interval"
