"""``plan --probe`` sends as a run sends: real routes, the rate limits, the budget, the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harvester import Harvester, Plan
from harvester.errors import StopHarvest
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.store import open_store
from harvester.testing import APP_TOKEN, EPOCH, run_virtual, sandbox_server

COUNTS = "/2/tweets/counts/recent"
WEEK = {"start_time": "2026-11-14T00:00:00Z", "end_time": "2026-11-19T00:00:00Z"}


def settings(tmp: Path, url: str) -> dict[str, Any]:
    return {"api": {"base_url": url}, "harvest": {"output_dir": str(tmp / "out"), "state": str(tmp / "state.db")}}


def search(name: str, query: str) -> dict[str, Any]:
    return {"name": name, "kind": "search", "query": query, **WEEK}


async def _ledger(tmp: Path) -> tuple[list[dict[str, Any]], int]:
    """The state's ledger rows and how many tasks it holds."""
    store = open_store(str(tmp / "state.db"))
    await store.open()
    try:
        return await store.ledger_entries(0.0), len(await store.job_stats())
    finally:
        await store.close()


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", APP_TOKEN)


def test_probe_files_each_request_under_its_route_books_the_bill_and_sizes_usernames(tmp_path: Path) -> None:
    async def go() -> tuple[Plan, Plan, Sandbox, list[dict[str, Any]], int, int]:
        async with sandbox_server() as (sb, url, clock):
            users = sorted(sb.truth.users_list(), key=lambda u: u.followers)[-3:]
            jobs = [search("search", "bumife"),
                    {"name": "by-name", "kind": "followers", "usernames": [u.username for u in users[:2]]},
                    {"name": "by-id", "kind": "following", "user_ids": [users[2].id]}]  # fmt: skip
            h = Harvester(settings(tmp_path, url), jobs)
            probed = await h.probe(clock=clock)
            entries, tasks = await _ledger(tmp_path)
            return h.plan(), probed, sb, entries, tasks, users[0].followers + users[1].followers

    unprobed, probed, sb, entries, tasks, followers = run_virtual(go)
    # Each request under its real route, nothing else sent (no /2/users for the usernames).
    assert dict(sb.stats.requests) == {(COUNTS, 200): 1, ("/2/users/by", 200): 1, ("/2/users", 200): 1}
    # Booked under the job and the route, and the books are the sandbox's bill to the micro-dollar.
    assert {(e["job"], e["route"]) for e in entries} == {
        ("search", COUNTS), ("by-name", "/2/users/by"), ("by-id", "/2/users")}  # fmt: skip
    assert all(str(e["run"]).startswith("probe-") for e in entries)  # a run of its own, its budget its own
    booked = sum(int(e["micros"]) for e in entries)
    assert booked == probed.probe_cost == round(sb.ledger.total_usd * 1e6) == 5_000 + 3 * 10_000
    by_route: dict[str, int] = {}
    for e in entries:
        by_route[e["route"]] = by_route.get(e["route"], 0) + int(e["micros"])
    assert by_route == {r: round(usd * 1e6) for r, usd in sb.ledger.by_route().items()}
    # The usernames were sized: their followers are the expected resources (unknown unprobed).
    named = probed.job("by-name")
    assert named is not None and named.resources_expected == followers > 0
    assert unprobed.job("by-name") is not None and unprobed.job("by-name").resources_expected is None  # type: ignore[union-attr]
    assert tasks == 0  # the probe queued none of the jobs' tasks


def test_a_tight_budget_stops_the_probe_before_it_overspends(tmp_path: Path) -> None:
    async def go() -> tuple[str, Sandbox, list[dict[str, Any]]]:
        async with sandbox_server() as (sb, url, clock):
            h = Harvester(settings(tmp_path, url), [search(f"s{i}", q) for i, q in enumerate(("a", "b", "c", "d"))])
            with pytest.raises(StopHarvest) as info:
                await h.probe(clock=clock, max_usd=0.012)  # room for two $0.005 counts requests
            entries, _ = await _ledger(tmp_path)
            return str(info.value), sb, entries

    message, sb, entries = run_virtual(go)
    assert dict(sb.stats.requests) == {(COUNTS, 200): 2}
    assert round(sb.ledger.total_usd * 1e6) == sum(int(e["micros"]) for e in entries) == 10_000
    assert "\n" not in message and message.startswith("plan --probe stopped at job s2")
    assert "budget" in message and "$0.01" in message


def test_a_probe_on_a_spent_window_waits_for_it_instead_of_a_429(tmp_path: Path) -> None:
    sandbox = SandboxConfig(epoch=EPOCH, limit_overrides={COUNTS: (2, None)})

    async def go() -> tuple[float, float, Sandbox, list[dict[str, Any]]]:
        async with sandbox_server(sandbox) as (sb, url, clock):
            start = clock.now()
            await Harvester(settings(tmp_path, url), [search("s0", "a"), search("s1", "b")]).probe(clock=clock)
            first = clock.now() - start  # the window's two requests, at once
            # A second probe (a new process, as far as the state knows) finds the window spent.
            await Harvester(settings(tmp_path, url), [search("s2", "c")]).probe(clock=clock)
            entries, _ = await _ledger(tmp_path)
            return first, clock.now() - start, sb, entries

    first, total, sb, entries = run_virtual(go)
    assert dict(sb.stats.requests) == {(COUNTS, 200): 3} and not sb.stats.too_many
    assert first < 60.0 and total >= 900.0  # it waited out the 15-minute window
    assert len(entries) == 3
