"""Quota benchmark: harvester's planned pacing against a reactive client, on one backlog.

A backlog several windows deep on four buckets (recent search, timelines with the app token,
timelines with a user token, followers) is harvested twice from the in-process sandbox on a
fast-forwarding clock:

- **harvester**: the real ``harvest()`` (rate-limit engine, gates, workers);
- **reactive**: what common clients do (tweepy, twarc): send until a 429, sleep until
  ``x-rate-limit-reset`` + 1 s, send again.

Three routes and two auth contexts (the app token and one user's OAuth 1.0a token). Each pacing
mode (``auto``, the default; ``spread``; ``burst``) and the reactive client run on the same
backlog, twice: one several windows deep (``--windows``, 4 by default) and one that fits one
window. For each it prints the makespan (from the backlog's first request to the end) against the
rate-limit lower bound LB (the largest, over buckets, of (windows the bucket's requests need - 1)
x window), the requests sent per *full* window as a percentage of the limit, the 429 count, and
pages per real second. On the one-window backlog LB is 0 and nothing should wait at all: the
bound is then the reactive client's own makespan (it never waits unless it got a 429, so it is
as fast as this machine sends those pages), and the longest task's pages times one request's
latency is printed beside it (a chain of pages can only go one after another).

    python benchmarks/quota.py [--windows 4] [--workers 8] [--pacing auto spread burst]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# benchmarks/queue.py would shadow the standard library's ``queue`` for scripts run from here.
sys.path[:] = [p for p in sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import math
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from harvester.clock import LoopClock
from harvester.config import AuthConfig, Config, EndpointLimits, LimitsConfig, UserAuthConfig
from harvester.core.model import JobSpec
from harvester.core.plan import page_request, plan_job
from harvester.log import configure
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import APP_TOKEN, EPOCH, make_config, run_virtual

SEARCH = "/2/tweets/search/recent"
TIMELINE = "/2/users/:id/tweets"
FOLLOWERS = "/2/users/:id/followers"
# Small windows' worth of requests, so a few windows of backlog stay a few thousand requests.
LIMITS = {SEARCH: (30, 30), TIMELINE: (30, 20), FOLLOWERS: (15, 15)}
WINDOW = 900.0
USER = ("ck", "cs", "at-bench", "as")


@dataclass
class Row:
    name: str
    makespan: float
    lower_bound: float
    window_use: float
    too_many: int
    pages: int
    real_seconds: float
    latency: float = 0.0  # mean seconds per request (measured by the reactive client only)
    chain: int = 1  # the longest chain of pages (each needs the last one's token): its latencies add up


def workload(sb: Sandbox, windows: int) -> list[JobSpec]:
    """Jobs sized so each bucket needs about ``windows`` windows of requests."""
    t = sb.truth
    users = sorted(t.users_list(), key=lambda u: u.posts_per_day)
    mid = [u for u in users if 5 <= u.posts_per_day <= 40]
    app_users, user_users = mid[0::2], mid[1::2]
    followed = [u for u in sorted(t.users_list(), key=lambda u: -u.followers) if u.followers >= 40]
    end = "2026-11-19T00:00:00Z"

    def take(pool: list[Any], per_user: int, want: int) -> tuple[str, ...]:
        out: list[str] = []
        total = 0
        for u in pool:
            if total >= want:
                break
            out.append(u.id)
            total += per_user(u) if callable(per_user) else per_user
        return tuple(out)

    def tl_pages(u: Any) -> int:
        return max(1, math.ceil(len(t.timeline(u.id, None, end)) / 10))

    def fl_pages(u: Any) -> int:
        return max(1, math.ceil(u.followers / 20))

    app_tl, user_tl = LIMITS[TIMELINE]
    query, start = t.sample_queries().common, "2026-11-18T00:00:00Z"
    matches = len(t.search(query, start, end))  # one chain of pages sized to the backlog
    return [
        JobSpec(name="search", kind="search", query=query, start_time=start, end_time=end,
                max_results=min(100, max(10, math.ceil(matches / (LIMITS[SEARCH][0] * windows - 5))))),
        JobSpec(name="tl-app", kind="timeline", user_ids=take(app_users, tl_pages, app_tl * windows - 5),
                end_time=end, max_results=10),
        JobSpec(name="tl-user", kind="timeline", user_ids=take(user_users, tl_pages, user_tl * windows - 5),
                end_time=end, max_results=10, auth="u1"),
        JobSpec(name="followers", kind="followers",
                user_ids=take(followed, fl_pages, LIMITS[FOLLOWERS][0] * windows - 3), max_results=20),
    ]


def sandbox_config() -> SandboxConfig:
    return SandboxConfig(epoch=EPOCH, limit_overrides=LIMITS, window_seconds=WINDOW)


def bench_config(tmp: Path, workers: int, pacing: str) -> Config:
    import os

    os.environ.update({"B_CK": USER[0], "B_CS": USER[1], "B_AT": USER[2], "B_AS": USER[3]})
    cfg = make_config(tmp, workers=workers, pacing=pacing, fsync=False)
    return replace(
        cfg,
        limits=LimitsConfig(window_seconds=WINDOW,
                            endpoints={r: EndpointLimits(app=a, user=u) for r, (a, u) in LIMITS.items()}),
        auth=AuthConfig(users={"u1": UserAuthConfig(name="u1", consumer_key_env="B_CK",
                                                    consumer_secret_env="B_CS", token_env="B_AT",
                                                    token_secret_env="B_AS")}),
    )


def measure(name: str, sb: Sandbox, end: float, pages: int, real: float, chain: int) -> Row:
    """Makespan (from the backlog's first request), lower bound and full-window use, from the
    sandbox's own window records."""
    lower = 0.0
    full_used: list[float] = []
    backlog = {b: w for b, w in sb.stats.windows.items() if not b.startswith("/2/usage/")}  # usage reads are free
    start = min(w[0].start for w in backlog.values())
    for windows in backlog.values():
        sent = sum(w.allowed for w in windows)
        limit = windows[0].limit
        lower = max(lower, (math.ceil(sent / limit) - 1) * WINDOW)
        full_used += [w.allowed / w.limit for w in windows[:-1]]
    use = 100.0 * sum(full_used) / len(full_used) if full_used else 100.0
    return Row(name, end - start, lower, use, sum(sb.stats.too_many.values()), pages, real, chain=chain)


async def run_harvester(tmp: Path, windows: int, workers: int, pacing: str) -> Row:
    from harvester.runtime.harvest import harvest

    clock = LoopClock(epoch=EPOCH)
    sb = Sandbox(sandbox_config(), clock)
    sb.add_app_token(APP_TOKEN)
    sb.add_user_token(*USER, user_id=sb.truth.users_list()[0].id)
    url = await sb.start(port=0)
    specs = workload(sb, windows)
    cfg = bench_config(tmp, workers, pacing)
    cfg = replace(cfg, api=replace(cfg.api, base_url=url))
    real0 = time.perf_counter()
    result = await harvest(cfg, specs, clock=clock, bearer=APP_TOKEN)
    t1, real = clock.now(), time.perf_counter() - real0
    await sb.stop()
    assert not result.failed, result.jobs
    return measure(f"harvester ({pacing})", sb, t1, result.stats.pages, real, longest_chain(tmp))


async def run_reactive(windows: int, workers: int) -> Row:
    """Send until 429, then sleep until the reset + 1 s (tweepy's ``wait_on_rate_limit``)."""
    from oauthlib.oauth1 import Client

    clock = LoopClock(epoch=EPOCH)
    sb = Sandbox(sandbox_config(), clock)
    sb.add_app_token(APP_TOKEN)
    sb.add_user_token(*USER, user_id=sb.truth.users_list()[0].id)
    url = await sb.start(port=0)
    tasks = [t for s in workload(sb, windows) for t in plan_job(s)]
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for task in tasks:
        queue.put_nowait((task, None))
    pages = 0
    latencies: list[float] = []
    pending = defaultdict(int)
    for task in tasks:
        pending[task.job] += 1
    real0 = time.perf_counter()

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal pages
        while True:
            try:
                task, cursor = queue.get_nowait()
            except asyncio.QueueEmpty:
                if not any(pending.values()):
                    return
                await asyncio.sleep(0.5)
                continue
            from harvester.core.model import Task

            t = Task(id=0, job=task.job, key=task.key, endpoint=task.endpoint, path_params=task.path_params,
                     params=task.params, priority=0, auth=task.auth, write=True, cursor=cursor, pages=0,
                     items=0, attempts=0)
            req = page_request(t)
            while True:
                full = url + req.path
                if task.auth == "u1":
                    c = Client(USER[0], client_secret=USER[1], resource_owner_key=USER[2],
                               resource_owner_secret=USER[3], timestamp=str(int(clock.now())))
                    q = "&".join(f"{k}={v}" for k, v in sorted(req.params.items()))
                    _, h, _ = c.sign(f"{full}?{q}", http_method="GET")
                    auth = h["Authorization"]
                else:
                    auth = f"Bearer {APP_TOKEN}"
                sent_at = clock.now()
                async with session.get(full, params=dict(req.params), headers={"Authorization": auth}) as r:
                    body = await r.json()
                    latencies.append(clock.now() - sent_at)
                    if r.status == 429:
                        reset = float(r.headers.get("x-rate-limit-reset", clock.now() + 60))
                        await clock.sleep_until(reset + 1)
                        continue
                    assert r.status == 200, (r.status, body)
                    break
            pages += 1
            token = body.get("meta", {}).get("next_token")
            if token:
                queue.put_nowait((task, token))
            else:
                pending[task.job] -= 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(workers)))
    t1, real = clock.now(), time.perf_counter() - real0
    await sb.stop()
    row = measure("reactive (send until 429)", sb, t1, pages, real, 1)
    return replace(row, latency=sum(latencies) / max(1, len(latencies)))


def longest_chain(tmp: Path) -> int:
    """Pages of the longest task in the output (its pages go one after another)."""
    per: dict[tuple[str, str], int] = defaultdict(int)
    for path in (tmp / "out").glob("*.jsonl"):
        with path.open() as lines:
            for line in lines:
                meta = json.loads(line)["__harvester"]
                per[(path.name, meta["task"])] += 1
    return max(per.values(), default=1)


def table(title: str, rows: list[Row], unpaced: float) -> None:
    print(f"\n{title}")
    print(f"{'client':28} {'makespan s':>11} {'LB s':>8} {'bound s':>9} {'vs bound':>9} "
          f"{'full-window use':>15} {'429s':>5} {'pages':>6} {'pages/real s':>12}")
    for r in rows:
        bound = r.lower_bound if r.lower_bound else unpaced
        print(f"{r.name:28} {r.makespan:11.1f} {r.lower_bound:8.0f} {bound:9.3f} {r.makespan / bound:9.3f} "
              f"{r.window_use:14.1f}% {r.too_many:5d} {r.pages:6d} {r.pages / r.real_seconds:12.0f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--windows", type=int, default=4)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--pacing", nargs="+", choices=["auto", "burst", "spread"], default=["auto", "spread", "burst"])
    args = p.parse_args()
    configure(json=True, level=40, stream=sys.stderr)
    for windows in (args.windows, 1):
        with tempfile.TemporaryDirectory() as tmp:
            rows = []
            for pacing in args.pacing:
                (Path(tmp) / pacing).mkdir()
                rows.append(run_virtual(
                    lambda p=pacing, w=windows: run_harvester(Path(tmp) / p, w, args.workers, p)))  # type: ignore[misc]
            reactive = run_virtual(lambda w=windows: run_reactive(w, args.workers))  # type: ignore[misc]
        chain = max(r.chain for r in rows)
        table(f"backlog of {windows} window(s) of {WINDOW:.0f} s on 4 buckets (3 routes, 2 auth contexts); "
              f"one request's latency {reactive.latency * 1000:.1f} ms; longest task {chain} pages "
              f"({chain * reactive.latency:.2f} s of latency)", [*rows, reactive], reactive.makespan)


if __name__ == "__main__":
    main()
