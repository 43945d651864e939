"""The starvation guard in the daemon's claims: under a backlog, the quietest source of the lowest
priority is still polled within max_interval (plus the wait for the bucket's next request)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import anyio

from harvester.core.schedule import split_key
from harvester.sandbox import SandboxConfig
from harvester.testing import EPOCH, make_config, read_pages, run_virtual, sandbox_daemon

BUSY = """
[[job]]
name = "busy{n}"
kind = "search"
query = "{q}"
max_results = 10
start_time = "{start}"
priority = 5
mode = "poll"
min_interval = "1m"
max_interval = "1h"
"""
QUIET = """
[[job]]
name = "quiet"
kind = "search"
query = "qiqipa"
max_results = 10
mode = "poll"
min_interval = "1m"
max_interval = "1h"
"""
HOURS = 4
LIMIT = 3  # recent search requests per 15-minute window: 12 an hour for sources that want 300


def test_a_backlog_still_visits_the_quietest_source_within_max_interval(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    start = datetime.fromtimestamp(EPOCH - 600, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # a short backfill
    busy = "".join(BUSY.format(n=i, q=q, start=start) for i, q in enumerate(["gybudu"] * 4))
    (jobs / "jobs.toml").write_text(busy + QUIET)
    config = make_config(tmp_path, workers=2)
    sandbox = SandboxConfig(epoch=EPOCH, limit_overrides={"/2/tweets/search/recent": (LIMIT, LIMIT)})

    async def main() -> None:
        async with sandbox_daemon(config, [jobs], sandbox=sandbox) as (daemon, _, _):
            await anyio.sleep(HOURS * 3600)
            daemon.stop("test over")

    run_virtual(main)
    polls: dict[str, list[float]] = {}
    busy_pages = sum(len(read_pages(tmp_path / "out" / f"busy{i}.jsonl")) for i in range(4))
    for job in ("busy0", "busy1", "busy2", "busy3", "quiet"):
        pages = read_pages(tmp_path / "out" / f"{job}.jsonl")
        first: dict[str, float] = {}
        for p in pages:  # one time per poll: its first page
            meta = p["__harvester"]
            first.setdefault(meta["task"], meta["retrieved_at"])
        polls[job] = sorted(first.values())
    assert busy_pages > 5 * len(polls["quiet"]), "the busy sources got the backlog's requests"
    times = [*polls["quiet"][1:], EPOCH + HOURS * 3600]  # from its backfill's last page to the end
    gaps = [b - a for a, b in pairwise(times)]
    # Past its deadline it is the next request the bucket allows: at worst a window away (the
    # sandbox's window opens its LIMIT requests at once), plus the pacing's spacing.
    slack = 900 + 900 / LIMIT
    print("quiet polls:", len(polls["quiet"]), "longest gap (h):", round(max(gaps) / 3600, 2), "busy pages:", busy_pages)
    assert len(polls["quiet"]) >= HOURS - 1
    assert max(gaps) <= 3600 + slack, [round(g / 3600, 2) for g in gaps]
    assert all(split_key(k)[0] == "search" for k in {p["__harvester"]["task"] for p in read_pages(tmp_path / "out" / "quiet.jsonl")})

