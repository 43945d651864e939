"""The in-process daemon against the sandbox: scheduled runs once per slot, changed jobs afresh."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import anyio

from harvester.core.request import Cause
from harvester.core.schedule import (
    split_key,
)
from harvester.runtime.daemon import DaemonResult
from harvester.testing import EPOCH, data_ids, make_config, read_pages, run_virtual, sandbox_daemon

SEARCH = """
[[job]]
name = "s"
kind = "search"
query = "{query}"
start_time = "2026-11-15T00:00:00Z"
end_time = "2026-11-18T00:00:00Z"
max_results = 10
schedule = "*/15 * * * *"
"""

ONCE = """
[[job]]
name = "once"
kind = "lookup_users"
usernames = ["Tapami820", "Vepa_924"]
"""


def _daemon_run(tmp: Path, steps: list[tuple[float, str | None]]) -> tuple[DaemonResult, dict[str, set[str]]]:
    """Run a daemon in-process for the given (simulated seconds, new job text or None) steps."""
    jobs = tmp / "jobs"
    jobs.mkdir(exist_ok=True)
    config = make_config(tmp, workers=3)

    async def main() -> tuple[DaemonResult, dict[str, set[str]]]:
        async with sandbox_daemon(config, [jobs]) as (daemon, sb, results):
            truth = {q: set(sb.truth.search(q, "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"))
                     for q in ("qiqipa", "bumife")}
            for n, (seconds, text) in enumerate(steps):
                if n and text is not None:
                    (jobs / "jobs.toml").write_text(text)
                    assert await daemon.reload() or text == "broken"
                await anyio.sleep(seconds)
            daemon.stop("test over")
        return results[0], truth

    (jobs / "jobs.toml").write_text(steps[0][1] or "")
    return run_virtual(main)


def test_daemon_runs_a_scheduled_job_once_per_slot_and_a_changed_job_afresh(tmp_path: Path) -> None:
    both = SEARCH.format(query="qiqipa") + ONCE
    steps: list[tuple[float, str | None]] = [
        (3600.0 + 60, both),  # slots at :00 :15 :30 :45 :00 -> 5 runs
        (1800.0, SEARCH.format(query="bumife") + ONCE),  # redefined: generation 1, runs at once
        (60.0, "broken"),  # a bad file keeps the jobs
        (60.0, ONCE),  # search removed: no more runs
    ]
    result, truth = _daemon_run(tmp_path, steps)
    assert result.stop is not None and result.stop.cause is Cause.SIGNAL
    pages = read_pages(tmp_path / "out" / "s.jsonl")
    per_page = Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages)
    assert max(per_page.values()) == 1
    runs: dict[str, list[dict[str, Any]]] = {}
    for p in pages:
        runs.setdefault(p["__harvester"]["task"], []).append(p)
    gen0 = sorted(k for k in runs if "~g" not in k)
    gen1 = sorted(k for k in runs if k.endswith("~g1"))
    assert [split_key(k)[1] for k in gen0] == [int(EPOCH) + i * 900 for i in range(5)]
    assert 2 <= len(gen1) <= 3  # at the redefinition, then every 15 min until removed
    # The first run harvests the window; later runs ask only for posts newer than the newest
    # seen (since_id), and a bounded window has none: nothing is fetched twice.
    assert sorted(data_ids(runs[gen0[0]])) == sorted(truth["qiqipa"])
    for key in gen0[1:]:
        assert data_ids(runs[key]) == [], key
    complete = [k for k in gen1 if "next_token" not in runs[k][-1].get("meta", {})]
    assert gen1[0] in complete
    first = data_ids(runs[gen1[0]])  # redefined: starts afresh, whole window once
    assert sorted(first) == sorted(truth["bumife"])
    for key in gen1[1:]:
        assert data_ids(runs[key]) == [], key
    once = read_pages(tmp_path / "out" / "once.jsonl")
    assert {p["__harvester"]["task"] for p in once} == {"usernames:00000"}  # ran once, plain keys
    assert len(once) == 1
