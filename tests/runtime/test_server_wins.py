"""What the server says wins: windows learned from headers, servers that change their mind, hidden
per-second limiters — against the sandbox, whose behaviour the harvester's config does not know.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harvester.config import Config
from harvester.core.model import JobSpec
from harvester.runtime.harvest import RunResult
from harvester.runtime.runtime import Runtime
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import EPOCH, data_ids, harvest_sandbox, make_config, read_pages, run_virtual

SEARCH = "/2/tweets/search/recent"
TIMELINE = "/2/users/:id/tweets"
FOLLOWERS = "/2/users/:id/followers"
WINDOW = 10.0
LIMITS = {SEARCH: (4, 4), TIMELINE: (4, 4), FOLLOWERS: (3, 3)}
USERS = ("774592", "8288491", "94399023", "980201543")

JOBS = [
    JobSpec(name="search", kind="search", query="bumife", start_time="2026-11-15T00:00:00Z",
            end_time="2026-11-18T00:00:00Z", max_results=40),
    JobSpec(name="timelines", kind="timeline", user_ids=USERS, end_time="2026-11-19T00:00:00Z", max_results=100),
    JobSpec(name="followers", kind="followers", user_ids=USERS[2:], max_results=25),
]


def truth(sb: Sandbox) -> dict[str, set[str]]:
    t = sb.truth
    return {
        "search": set(t.search("bumife", "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z")),
        "timelines": {i for u in USERS for i in t.timeline(u, None, "2026-11-19T00:00:00Z")},
        "followers": {i for u in USERS[2:] for i in t.followers(u)},
    }


def assert_equal_to_truth(tmp: Path, expected: dict[str, set[str]]) -> None:
    for job, want in expected.items():
        pages = read_pages(tmp / "out" / f"{job}.jsonl")
        ids = data_ids(pages)
        for task in {p["__harvester"]["task"] for p in pages}:  # one account may follow two of ours
            own = data_ids(p for p in pages if p["__harvester"]["task"] == task)
            assert len(own) == len(set(own)), f"{job}/{task}: duplicates"
        assert set(ids) == want, f"{job}: missing {len(want - set(ids))}, extra {len(set(ids) - want)}"


def lower_bound(sb: Sandbox, window: float) -> float:
    """The largest over buckets of (windows its requests need - 1) x window."""
    sent: dict[str, int] = {}
    for (served, status), n in sb.stats.requests.items():
        route = served.replace("{id}", ":id")
        if route in LIMITS and status == 200:
            sent[route] = sent.get(route, 0) + n
    return max((math.ceil(n / LIMITS[r][0]) - 1) * window for r, n in sent.items())


def run(tmp: Path, config: Config, sandbox: SandboxConfig) -> tuple[RunResult, Sandbox, float, dict[str, set[str]]]:
    """Harvest ``JOBS``; returns the result, the sandbox, the makespan and the truth."""
    start: list[float] = []

    def started(rt: Runtime) -> None:
        start.append(rt.clock.now())

    async def main() -> tuple[RunResult, Sandbox, float, dict[str, set[str]]]:
        result, sb = await harvest_sandbox(config, JOBS, sandbox=sandbox, on_runtime=started)
        return result, sb, sb.clock.now() - start[0], truth(sb)

    return run_virtual(main)


@pytest.mark.parametrize("window", [10.0, 30.0])
def test_short_windows_are_learned_not_assumed_and_the_backlog_finishes_at_the_lower_bound(
    tmp_path: Path, window: float
) -> None:
    """[limits] window_seconds stays at its default (900 s): the server's short windows are learned.

    The sandbox, like X as x-api-spec.md §3.1 describes it, opens a window at its first request
    and reports the reset in whole seconds (rounded up). A client that trusts only the headers
    can send the next window's first request no sooner than that reported second, so each window
    costs up to one second more than its length: at most 1 + 1/window of the lower bound.
    """
    config = make_config(tmp_path, workers=4, pacing="burst")
    assert config.limits.window_seconds == 900.0
    sandbox = SandboxConfig(epoch=EPOCH, window_seconds=window, limit_overrides=LIMITS)
    result, sb, makespan, expected = run(tmp_path, config, sandbox)
    assert result.outcome == "complete" and sum(sb.stats.too_many.values()) == 0
    assert_equal_to_truth(tmp_path, expected)
    lb = lower_bound(sb, window)
    assert lb >= 4 * window, f"a backlog of several windows: LB {lb}"
    print(f"\n{window:.0f} s windows, prior 900 s: makespan {makespan:.1f} s, lower bound {lb:.0f} s, "
          f"ratio {makespan / lb:.3f}, 429s 0")
    assert makespan <= (1 + 1.2 / window) * lb
    # Learned from the headers, on the safe side: the reset's rounding second and the skew bound.
    learned = {f.route: f.window for f in result.machine.limits.snapshot() if f.route in LIMITS}
    assert all(window <= w <= window + 2 for w in learned.values()), learned


@pytest.mark.parametrize("quirk", ["hidden_per_second", "shrinking_windows", "sliding_windows"])
def test_a_server_that_disagrees_with_the_model_still_gives_every_page_and_fails_nothing(
    tmp_path: Path, quirk: str
) -> None:
    config = make_config(tmp_path, workers=4)
    sandbox = SandboxConfig(epoch=EPOCH, window_seconds=30.0, limit_overrides=LIMITS, quirks=frozenset({quirk}))
    result, _, _, expected = run(tmp_path, config, sandbox)
    assert result.outcome == "complete", (result.stop, [j.last_error for j in result.jobs])
    assert all(j.failed == 0 for j in result.jobs)
    assert_equal_to_truth(tmp_path, expected)


def test_a_server_that_changes_its_mind_is_followed(tmp_path: Path) -> None:
    # The bucket is spent when the run starts; its first 429 announces limit 15 / reset +900 s,
    # and every later answer says 3 per 30 s (the server changed its mind).
    config = make_config(tmp_path, workers=2, pacing="burst")
    sandbox = SandboxConfig(epoch=EPOCH, window_seconds=900.0, limit_overrides={SEARCH: (15, 15)},
                            mind_changes={SEARCH: (3, 30.0)})  # fmt: skip
    jobs = [JobSpec(name=f"search{i}", kind="search", query=q, start_time="2026-11-15T00:00:00Z",
                    end_time="2026-11-18T00:00:00Z", max_results=100) for i, q in enumerate(("bumife", "qiqipa"))]

    def spend_the_window(sb: Sandbox) -> None:
        for _ in range(15):
            sb.limiter.check(SEARCH, None, EPOCH)

    async def main() -> tuple[RunResult, Sandbox, float]:
        result, sb = await harvest_sandbox(config, jobs, sandbox=sandbox, setup=spend_the_window)
        return result, sb, sb.clock.now() - EPOCH

    result, sb, elapsed = run_virtual(main)
    assert result.outcome == "complete"
    pages = sb.stats.requests[(SEARCH, 200)]
    assert pages >= 8
    # 3 requests per 30 s after the change: about 10 s a page, not the 900 s the 429 announced.
    assert elapsed < pages * 15, (elapsed, pages)
