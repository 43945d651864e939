"""The in-process daemon (issue 14): a redefined job's old generation is superseded, not failed;
a run that outlasts its schedule says which slots it collapsed; ``/status`` never shows a
``next_slot`` in the past as if nothing were late."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from structlog.testing import capture_logs

from harvester.core.schedule import Schedule, collapsed_slots
from harvester.embed.status import read_status
from harvester.runtime.monitor import status_json, take_snapshot
from harvester.testing import EPOCH, make_config, read_pages, run_virtual, sandbox_daemon

WINDOW = 'start_time = "2026-11-15T00:00:00Z"\nend_time = "2026-11-18T00:00:00Z"\n'


def search(query: str, extra: str = "") -> str:
    return f'[[job]]\nname = "s"\nkind = "search"\nquery = "{query}"\n{WINDOW}max_results = 10\n{extra}'


def test_a_job_redefined_mid_run_is_superseded_not_failed(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "jobs.toml").write_text(search("bumife"))  # 64 pages, spread: still running after 20 s
    config = make_config(tmp_path, workers=2, pacing="spread")

    async def main() -> tuple[Any, Any, dict[str, Any], set[str]]:
        async with sandbox_daemon(config, [jobs]) as (daemon, sb, _results):
            await anyio.sleep(20)
            assert daemon.rt is not None and daemon.scheduler is not None
            [during] = [j for j in await daemon.rt.store.job_stats() if j.job == "s"]
            (jobs / "jobs.toml").write_text(search("qiqipa"))
            assert await daemon.reload()
            await anyio.sleep(60)
            [after] = [j for j in await daemon.rt.store.job_stats() if j.job == "s"]
            snapshot = status_json(await take_snapshot(daemon.rt, daemon.scheduler))
            truth = set(sb.truth.search("qiqipa", "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"))
            daemon.stop("test over")
        return during, after, snapshot, truth

    during, after, snapshot, truth = run_virtual(main)
    assert during.pending + during.claimed == 1 and 0 < during.pages < 64
    assert (after.failed, after.superseded, after.state) == (0, 1, "done")
    [job] = snapshot["jobs"]
    assert (job["state"], job["failed"], job["superseded"]) == ("done", 0, 1)
    assert [s["generation"] for s in snapshot["schedules"]] == [1]
    pages = read_pages(tmp_path / "out" / "s.jsonl")
    gen1 = [p for p in pages if p["__harvester"]["task"] == "search~g1"]
    assert {d["id"] for p in gen1 for d in p.get("data", [])} == truth  # the new definition, whole

    status = anyio.run(lambda: read_status(config, EPOCH + 3600, every=True)).to_json()
    [job] = status["jobs"]
    assert (job["state"], job["failed"], job["generation"]) == ("done", 0, 1)
    assert [(g["generation"], g["state"]) for g in job["generations"]] == [(0, "superseded"), (1, "done")]


def test_a_run_that_outlasts_its_schedule_says_which_slots_it_collapsed(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "jobs.toml").write_text(search("bumife", 'schedule = "every 30s"\n'))  # spread: a run takes ~2 min
    config = make_config(tmp_path, workers=2, pacing="spread")
    every = Schedule.parse("every 30s")

    async def main() -> list[tuple[float, dict[str, Any]]]:
        seen = []
        async with sandbox_daemon(config, [jobs]) as (daemon, _sb, _results):
            assert daemon.rt is not None and daemon.scheduler is not None
            for _ in range(16):
                await anyio.sleep(10)
                snap = status_json(await take_snapshot(daemon.rt, daemon.scheduler))
                seen.append((snap["now"], snap["schedules"][0]))
            daemon.stop("test over")
        return seen

    with capture_logs() as logs:
        seen = run_virtual(main)
    late = [(now, view) for now, view in seen if view["due_slot"] is not None]
    assert len(late) >= 5, "the first run outlasted several slots"
    for now, view in seen:
        assert view["next_slot"] > now, "next_slot is never in the past"
    for now, view in late:
        assert view["due_slot"] <= now and view["running"]
        assert view["collapsed"] == collapsed_slots(every, view["last_slot"], view["due_slot"])[0]
    assert max(view["collapsed"] for _, view in late) >= 2
    [warning] = [e for e in logs if e["event"] == "slots_collapsed"]
    assert warning["log_level"] == "warning" and warning["job"] == "s" and warning["collapsed"] >= 2
    assert warning["slots"][0] == "2026-11-20T00:00:30Z" and len(warning["slots"]) == warning["collapsed"]
