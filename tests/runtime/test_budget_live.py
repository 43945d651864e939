"""Budget, credits and cap against the sandbox: stop before overspending, never after."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

import harvester.runtime.harvest as harvest_module
from harvester.config import Budget, CapConfig, Prices
from harvester.core import pricing
from harvester.core.model import JobSpec
from harvester.core.request import Cause
from harvester.runtime.harvest import RunResult
from harvester.sandbox import SandboxConfig
from harvester.testing import (
    EPOCH,
    data_ids,
    harvest_sandbox,
    ledger_micros,
    make_config,
    read_pages,
    run_virtual,
)

SEARCH = "/2/tweets/search/recent"
SEARCH_JOB = JobSpec(name="search", kind="search", query="bumife", start_time="2026-11-15T00:00:00Z",
                     end_time="2026-11-18T00:00:00Z", max_results=100)
TIMELINE_JOB = JobSpec(name="timelines", kind="timeline", user_ids=("8288491", "94399023"),
                       end_time="2026-11-19T00:00:00Z", max_results=100)


def no_dups(tmp: Path, job: str) -> list[str]:
    pages = read_pages(tmp / "out" / f"{job}.jsonl")
    ids = data_ids(pages)
    assert len(ids) == len(set(ids)), f"{job}: duplicates"
    assert max(Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages).values()) == 1
    return ids


def test_budget_stops_before_overspending_and_matches_the_sandbox_to_the_cent(tmp_path: Path) -> None:
    budget = 1.23  # not a multiple of a page: the last request must shrink to fit
    config = make_config(tmp_path, workers=3)

    async def main() -> tuple[RunResult, float]:
        result, sb = await harvest_sandbox(config, [SEARCH_JOB], max_usd=budget)
        return result, sb.ledger.total_usd

    result, sandbox_usd = run_virtual(main)
    assert result.stop is not None and result.stop.cause is Cause.RUN_BUDGET, result.stop
    assert result.outcome == "stopped"
    spent = ledger_micros(tmp_path / "state.db")
    assert spent <= pricing.usd_to_micros(budget)
    assert abs(spent - pricing.usd_to_micros(sandbox_usd)) < 10_000, (spent, sandbox_usd)  # to the cent
    assert round(pricing.micros_to_usd(spent), 2) == round(sandbox_usd, 2)
    left = pricing.usd_to_micros(budget) - spent
    smallest = pricing.quote(SEARCH, 10).micros  # the endpoint's minimum page, worst case
    assert left < smallest, f"${left / 1e6} left unused, a minimum request costs ${smallest / 1e6}"
    assert result.jobs[0].pending >= 1, "work remained"
    no_dups(tmp_path, "search")


def test_credits_depleted_stops_cleanly_and_a_rerun_completes(tmp_path: Path) -> None:
    config = make_config(tmp_path, workers=2)

    async def first() -> RunResult:
        result, _ = await harvest_sandbox(config, [SEARCH_JOB], sandbox=SandboxConfig(epoch=EPOCH, balance_usd=1.0))
        return result

    r1 = run_virtual(first)
    assert r1.stop is not None and r1.stop.cause is Cause.CREDITS and "credits" in r1.stop.message.lower()
    assert r1.outcome == "stopped"
    partial = no_dups(tmp_path, "search")
    assert 0 < len(partial) < 636

    async def second() -> tuple[RunResult, set[str]]:
        result, sb = await harvest_sandbox(config, [SEARCH_JOB], sandbox=SandboxConfig(epoch=EPOCH, balance_usd=50.0))
        return result, set(sb.truth.search("bumife", "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"))

    r2, truth = run_virtual(second)
    assert r2.stop is None and r2.outcome == "complete"
    ids = no_dups(tmp_path, "search")
    assert ids[: len(partial)] == partial, "pages from the first run are kept as they were"
    assert set(ids) == truth


def test_cap_on_search_only_stops_search_while_the_timeline_completes(tmp_path: Path) -> None:
    base = make_config(tmp_path, workers=2)
    config = replace(base, cap=CapConfig(monthly_posts=250, capped_endpoints=(SEARCH,)))

    async def main() -> tuple[RunResult, set[str]]:
        result, sb = await harvest_sandbox(config, [SEARCH_JOB, TIMELINE_JOB])
        t = sb.truth
        return result, {i for u in TIMELINE_JOB.user_ids for i in t.timeline(u, None, TIMELINE_JOB.end_time)}

    result, timeline_truth = run_virtual(main)
    jobs = {j.job: j for j in result.jobs}
    assert jobs["timelines"].state == "done"
    assert set(no_dups(tmp_path, "timelines")) == timeline_truth
    assert jobs["search"].state != "done"
    assert len(no_dups(tmp_path, "search")) <= 250
    assert result.stop is not None and result.stop.cause is Cause.CAP, result.stop
    assert result.outcome == "stopped"


def test_usage_capped_429_from_the_api_is_never_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's cap (the harvester's own is larger): one usage-capped 429, then search parks.

    ``/2/usage/tweets`` may lag (x-api-spec.md §4); the first run pretends it said nothing, so
    the 429 is what tells the harvester. A second run reads the usage endpoint at start and sends
    no request into the cap at all.
    """
    sandbox = SandboxConfig(epoch=EPOCH, monthly_cap=300, capped_routes=frozenset({SEARCH}))

    async def silent_usage(rt: object) -> bool:
        return False

    async def main(tmp: Path) -> tuple[RunResult, int]:
        result, sb = await harvest_sandbox(make_config(tmp, workers=1), [SEARCH_JOB], sandbox=sandbox)
        return result, sum(n for (route, status), n in sb.stats.requests.items() if status == 429)

    with monkeypatch.context() as m:
        m.setattr(harvest_module, "poll_usage", silent_usage)
        result, capped_429s = run_virtual(lambda: main(tmp_path / "a"))
    assert capped_429s == 1
    assert result.stop is not None and result.stop.cause is Cause.CAP, result.stop

    result, capped_429s = run_virtual(lambda: main(tmp_path / "b"))
    assert capped_429s == 0
    assert len(no_dups(tmp_path / "b", "search")) <= 300


def test_owned_reads_use_the_owned_price(tmp_path: Path) -> None:
    """A user context reading its own timeline is billed $0.001 per post, on both sides."""
    owner = "8288491"
    base = make_config(tmp_path, workers=1)
    config = replace(base, pricing=Prices(bill_includes=False), budget=Budget())
    job = JobSpec(name="own", kind="timeline", user_ids=(owner,), end_time="2026-11-19T00:00:00Z",
                  max_results=100, auth="me")
    import os

    from harvester.config import AuthConfig, UserAuthConfig

    os.environ.update({"T_CK": "ck", "T_CS": "cs", "T_AT": "at-owner", "T_AS": "as"})
    config = replace(config, auth=AuthConfig(users={"me": UserAuthConfig(
        name="me", consumer_key_env="T_CK", consumer_secret_env="T_CS", token_env="T_AT",
        token_secret_env="T_AS", user_id=owner)}))
    sandbox = SandboxConfig(epoch=EPOCH, app_owner_user_id=owner)

    async def main() -> tuple[RunResult, float, int]:
        result, sb = await harvest_sandbox(
            config, [job], sandbox=sandbox,
            setup=lambda s: s.add_user_token("ck", "cs", "at-owner", "as", owner))
        return result, sb.ledger.total_usd, len(sb.truth.timeline(owner, None, job.end_time))

    result, sandbox_usd, posts = run_virtual(main)
    assert not result.failed, result.jobs
    spent = ledger_micros(tmp_path / "state.db")
    assert spent == posts * 1_000, (spent, posts)
    assert round(sandbox_usd, 6) == round(posts * 0.001, 6)
