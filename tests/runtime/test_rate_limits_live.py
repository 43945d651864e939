"""The rate-limit engine against the sandbox: tiny windows, faults, user contexts."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from harvester.config import Config, EndpointLimits, LimitsConfig
from harvester.core.model import JobSpec
from harvester.runtime.harvest import RunResult
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import EPOCH, data_ids, harvest_sandbox, make_config, read_pages, run_virtual

SEARCH = "/2/tweets/search/recent"
TIMELINE = "/2/users/:id/tweets"

JOBS = [
    JobSpec(name="search", kind="search", query="bumife", start_time="2026-11-15T00:00:00Z",
            end_time="2026-11-18T00:00:00Z", max_results=10),
    JobSpec(name="timelines", kind="timeline", user_ids=("774592", "8288491", "94399023"),
            end_time="2026-11-19T00:00:00Z", max_results=20),
]


def truth(sb: Sandbox) -> dict[str, set[str]]:
    t = sb.truth
    return {
        "search": set(t.search("bumife", "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z")),
        "timelines": {i for u in ("774592", "8288491", "94399023")
                      for i in t.timeline(u, None, "2026-11-19T00:00:00Z")},
    }


def check_output(tmp: Path, expected: dict[str, set[str]]) -> None:
    for job, want in expected.items():
        pages = read_pages(tmp / "out" / f"{job}.jsonl")
        ids = data_ids(pages)
        assert len(ids) == len(set(ids)), f"{job}: duplicates"
        assert set(ids) == want, f"{job}: missing {len(want - set(ids))} extra {len(set(ids) - want)}"
        per_page = Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages)
        assert max(per_page.values()) == 1


def tiny_window_config(tmp: Path) -> Config:
    base = make_config(tmp, workers=4, pacing="burst")
    limits = LimitsConfig(window_seconds=2.0,
                          endpoints={SEARCH: EndpointLimits(app=10, user=10),
                                     TIMELINE: EndpointLimits(app=10, user=10)})
    return replace(base, limits=limits)


def test_four_workers_tiny_window_no_429(tmp_path: Path) -> None:
    """10 requests per 2 s per endpoint, 4 workers, ~200 pages: never a 429, every page."""
    sandbox = SandboxConfig(epoch=EPOCH, window_seconds=2.0,
                            limit_overrides={SEARCH: (10, 10), TIMELINE: (10, 10)})

    async def main() -> tuple[RunResult, dict[str, set[str]], int, dict[str, int]]:
        result, sb = await harvest_sandbox(tiny_window_config(tmp_path), JOBS, sandbox=sandbox)
        return result, truth(sb), sum(sb.stats.too_many.values()), sb.stats.max_allowed_per_bucket()

    result, expected, too_many, max_allowed = run_virtual(main)
    assert not result.failed and result.stop is None
    assert too_many == 0 and result.stats.too_many == 0
    assert max(max_allowed.values()) <= 10
    assert result.stats.requests >= 150, "the backlog must span many windows"
    check_output(tmp_path, expected)


def test_faults_of_every_kind_end_equal_to_truth(tmp_path: Path) -> None:
    """5% of each fault kind: output equals the truth, no duplicates, malformed never written."""
    sandbox = SandboxConfig(
        epoch=EPOCH, seed=7, fault_5xx_rate=0.05, fault_drop_rate=0.05, fault_slow_rate=0.05,
        fault_slow_seconds=2.0, fault_no_headers_rate=0.05, fault_malformed_rate=0.05,
    )
    config = make_config(tmp_path, workers=4, pacing="burst", max_attempts=20)
    config = replace(config, api=replace(config.api, timeout_seconds=10.0))

    async def main() -> tuple[RunResult, dict[str, set[str]], list[str]]:
        result, sb = await harvest_sandbox(config, JOBS, sandbox=sandbox)
        return result, truth(sb), list(sb.faults.injected)

    result, expected, injected = run_virtual(main)
    kinds = {k.split(":")[0] for k in injected}
    assert len(kinds) >= 4, f"every kind of fault should have fired: {kinds}"
    assert not result.failed, [j for j in result.jobs if j.failed]
    assert result.stats.retries > 0
    check_output(tmp_path, expected)


def test_a_pool_of_user_contexts_multiplies_the_user_limit(tmp_path: Path) -> None:
    """Three user tokens in one pool: three user buckets, each within its own limit, no 429."""
    import os

    from harvester.config import AuthConfig, UserAuthConfig

    users = {}
    for n in range(3):
        os.environ.update({f"P{n}_CK": "ck", f"P{n}_CS": "cs", f"P{n}_AT": f"at-{n}", f"P{n}_AS": "as"})
        users[f"u{n}"] = UserAuthConfig(name=f"u{n}", consumer_key_env=f"P{n}_CK", consumer_secret_env=f"P{n}_CS",
                                        token_env=f"P{n}_AT", token_secret_env=f"P{n}_AS")
    base = tiny_window_config(tmp_path)
    config = replace(base, auth=AuthConfig(users=users, pools={"crowd": ("u0", "u1", "u2")}))
    job = replace(JOBS[1], name="timelines", auth="crowd")
    sandbox = SandboxConfig(epoch=EPOCH, window_seconds=2.0, limit_overrides={TIMELINE: (10, 10)})

    def setup(sb: Sandbox) -> None:
        for n in range(3):
            sb.add_user_token("ck", "cs", f"at-{n}", "as", "774592")

    async def main() -> tuple[RunResult, dict[str, set[str]], int, dict[str, int]]:
        result, sb = await harvest_sandbox(config, [job], sandbox=sandbox, setup=setup)
        windows = sb.stats.windows
        user_buckets = {b: sum(w.allowed for w in ws) for b, ws in windows.items() if "user:" in b}
        return result, truth(sb), sum(sb.stats.too_many.values()), user_buckets

    result, expected, too_many, user_buckets = run_virtual(main)
    assert not result.failed
    assert too_many == 0
    assert len(user_buckets) == 3, user_buckets
    assert min(user_buckets.values()) >= 0.2 * sum(user_buckets.values()), "the pool spreads the work"
    check_output(tmp_path, {"timelines": expected["timelines"]})
