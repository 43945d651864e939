"""Pacing against the sandbox: a short backlog goes out at once, a long one is spread safely.

Times are the sandbox's own arrival times on the fast-forwarding loop: a wait the harvester
chose shows as virtual seconds, while sending and answering cost only the real time they take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from harvester.core.model import JobSpec
from harvester.runtime.harvest import RunResult
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.sandbox.limits import Decision
from harvester.testing import EPOCH, data_ids, harvest_sandbox, make_config, read_pages, run_virtual

SEARCH = "/2/tweets/search/recent"
START, END = "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"
# Generous for one in-process request on a loaded 2-core CI machine; a paced gap is >= 1.9 s here.
LATENCY = 0.25


def arrivals(config_pacing: Literal["auto", "spread", "burst"], tmp: Path, sandbox: SandboxConfig,
             jobs: list[JobSpec]) -> tuple[RunResult, Sandbox, list[float], set[str]]:
    """Harvest ``jobs``; returns the result, the sandbox, when each search request arrived, the truth."""
    times: list[float] = []

    def record(sb: Sandbox) -> None:
        check = sb.limiter.check

        def noting(route: str, user_token: str | None, now: float, consume: bool = True) -> Decision:
            if route == SEARCH:
                times.append(now)
            return check(route, user_token, now, consume)

        sb.limiter.check = noting  # type: ignore[method-assign]

    async def main() -> tuple[RunResult, Sandbox, set[str]]:
        result, sb = await harvest_sandbox(make_config(tmp, workers=4, pacing=config_pacing), jobs,
                                           sandbox=sandbox, setup=record)
        return result, sb, set(sb.truth.search("bumife", START, END))

    result, sb, truth = run_virtual(main)
    return result, sb, times, truth


def test_a_short_backlog_is_sent_within_one_latency_per_request_of_the_windows_start(tmp_path: Path) -> None:
    """16 pages where the window has room for 450: auto sends them back to back; spread spaces them."""
    jobs = [JobSpec(name="s", kind="search", query="bumife", start_time=START, end_time=END, max_results=40)]
    sandbox = SandboxConfig(epoch=EPOCH, window_seconds=900.0, limit_overrides={SEARCH: (450, 450)})
    result, sb, times, truth = arrivals("auto", tmp_path / "auto", sandbox, jobs)
    assert result.outcome == "complete" and sum(sb.stats.too_many.values()) == 0
    n = len(times)
    assert n >= 10, times
    assert set(data_ids(read_pages(tmp_path / "auto" / "out" / "s.jsonl"))) == truth
    for i, t in enumerate(times):
        assert t - times[0] <= i * LATENCY, f"request {i} sent {t - times[0]:.2f} s after the window's start"

    # The same backlog under spread pacing is stretched over the window: the check above can fail.
    _, _, spread, _ = arrivals("spread", tmp_path / "spread", sandbox, jobs)
    assert spread[-1] - spread[0] >= (len(spread) - 1) * 1.5


@pytest.mark.parametrize("pacing", ["spread", "auto"])
def test_spreading_a_long_backlog_never_gets_a_429_from_a_server_counting_sliding_windows(
    tmp_path: Path, pacing: Literal["auto", "spread"]
) -> None:
    """4 requests in any trailing 30 s, for a backlog of many windows: not one 429."""
    jobs = [JobSpec(name="s", kind="search", query="bumife", start_time=START, end_time=END, max_results=25)]
    sandbox = SandboxConfig(epoch=EPOCH, window_seconds=30.0, limit_overrides={SEARCH: (4, 4)},
                            quirks=frozenset({"sliding_windows"}))
    result, sb, times, truth = arrivals(pacing, tmp_path, sandbox, jobs)
    assert result.outcome == "complete"
    assert len(times) >= 5 * 4, f"a backlog of several windows: {len(times)} requests"
    assert sum(sb.stats.too_many.values()) == 0, sb.stats.too_many
    # The sandbox's verdict, checked independently: no trailing 30 s holds more than 4 requests.
    assert all(times[i + 4] - times[i] >= 30.0 for i in range(len(times) - 4))
    assert set(data_ids(read_pages(tmp_path / "out" / "s.jsonl"))) == truth
