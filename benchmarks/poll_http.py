"""Issue 19: polling to a budget, measured over HTTP with the daemon and the sandbox as processes.

Run by hand from the repo root: ``python benchmarks/poll_http.py`` (defaults: 30 simulated days
at 6,000 simulated seconds per real second, 200 timelines + 12 searches, budgets of 300
requests/day x 1, 0.5 and 2). For each budget:

1. ``harvester sandbox`` is started as a process of its own, fast-forwarded (``--speed``), and
   ``harvester daemon`` as another, on the same timeline (``--epoch``/``--anchor``/``--speed``):
   one poll job of 200 user timelines and 12 search jobs (``mode = "poll"``, ``min_interval =
   15m``, ``max_interval = 1d``), sharing ``[daemon] poll_budget``. Nothing else talks to them;
   the benchmark samples the daemon's RSS (psutil) and, at the end, stops it with SIGTERM.
2. What the harvester captured is read from its output: each post's capture time is its page's
   ``retrieved_at``, its creation time its snowflake id's.
3. The truth is the same world built in this process (same seed and epoch: the sandbox's world
   is a function of them): each source's posts over the run.
4. Three reference pollers are computed against that truth with the harvester's request count
   (after its backfill) over the same span, a poll costing a request per 100 new posts, at
   least one (not run over HTTP: a poll at ``t`` captures every post of its source created
   before ``t``, as a poll over HTTP does when it pages through what is new):
   *fixed* polls every source at one interval; *oracle* polls each source at a rate
   proportional to the square root of its true rate (the allocation that minimises mean delay
   for Poisson sources), within the same bounds; *oracle+5c* is the harvester's own rule (Rules 5
   and 5c of ``core.policy``: no poll expecting more than a page) fed the true rates. All start
   each source at a random phase.

Printed per budget: requests (total, and per day after the first day against the budget),
coverage (share of the posts created from the daemon's start to a day before the end that were
captured), mean and p90 capture delay, empty-response share, the daemon's RSS at the end of day
1, the middle and the end (and its range after day 1), and ``state.db``'s size.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import bisect
import json
import math
import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import psutil

from harvester.clock import LoopClock
from harvester.core.policy import DAY, budget_stretch, page_fit
from harvester.runtime.polling import snowflake_time
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.sandbox.query import parse
from harvester.testing import EPOCH, run_virtual

MIN_INTERVAL, MAX_INTERVAL = 900.0, DAY
TOKEN_ENV = "BENCH_POLL_TOKEN"


@dataclass
class World:
    """The sources and, per source, the creation times of its posts (sorted) over the span."""

    users: list[str]
    queries: list[str]
    posts: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # source -> [(created, id)]


def world_sources(seed: int, n_users: int, n_queries: int) -> tuple[list[str], list[str]]:
    async def main() -> tuple[list[str], list[str]]:
        sb = Sandbox(SandboxConfig(epoch=EPOCH, seed=seed), LoopClock(epoch=EPOCH))
        rng = random.Random(seed)
        users = sorted(u.id for u in sb.truth.users_list())
        chosen = sorted(rng.sample(users, min(n_users, len(users))), key=int)
        qs = sb.truth.sample_queries()
        vocab = sb.world.vocab
        queries = [qs.common, qs.rare, qs.from_active, qs.mention_popular]
        for rank in (3, 10, 30, 60, 120, 250, 500, 1000, 2000, 4000):
            if len(queries) >= n_queries:
                break
            if rank < len(vocab) and vocab[rank] not in queries:
                queries.append(vocab[rank])
        return chosen, queries[:n_queries]

    return run_virtual(main)


def world_posts(seed: int, users: list[str], queries: list[str], t0: float, t1: float) -> World:
    """Every source's posts created in [t0, t1), from the world the sandbox serves."""

    async def main() -> World:
        sb = Sandbox(SandboxConfig(epoch=EPOCH, seed=seed), LoopClock(epoch=EPOCH))
        world = sb.world
        by_idx = {world.by_id[u].idx: u for u in users}
        matchers = [(q, parse(q, world).match) for q in queries]
        out = World(users=users, queries=queries)
        for s in [f"user:{u}" for u in users] + [f"query:{q}" for q in queries]:
            out.posts[s] = []
        for h in range(int(t0 * 1000) // 3_600_000, int(t1 * 1000) // 3_600_000 + 1):
            for t in world.hour(h).tweets:
                c = t.created_ms / 1000
                if not t0 <= c < t1:
                    continue
                u = by_idx.get(t.author)
                if u is not None:
                    out.posts[f"user:{u}"].append((c, str(t.id)))
                for q, match in matchers:
                    if match(t):
                        out.posts[f"query:{q}"].append((c, str(t.id)))
        for v in out.posts.values():
            v.sort()
        return out

    return run_virtual(main)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_setup(tmp: Path, port: int, users: list[str], queries: list[str], budget: float) -> tuple[Path, Path]:
    config = tmp / "config.toml"
    config.write_text(
        f'[api]\nbase_url = "http://127.0.0.1:{port}"\nbearer_env = "{TOKEN_ENV}"\ntimeout_seconds = 3600\n\n'
        f'[harvest]\noutput_dir = "{tmp / "out"}"\nstate = "{tmp / "state.db"}"\nworkers = 4\n\n'
        f"[daemon]\nmetrics_port = 0\ngrace_seconds = 5\npoll_budget = {budget}\n"
    )
    jobs = tmp / "jobs"
    jobs.mkdir()
    common = 'mode = "poll"\nmin_interval = "15m"\nmax_interval = "1d"\nmax_results = 100\n'
    text = f'[[job]]\nname = "timelines"\nkind = "timeline"\nuser_ids = {json.dumps(users)}\n{common}\n'
    for i, q in enumerate(queries):
        text += f'[[job]]\nname = "q{i:02d}"\nkind = "search"\nquery = {json.dumps(q)}\n{common}\n'
    (jobs / "jobs.toml").write_text(text)
    return config, jobs


@dataclass
class Run:
    """What one harvester run did, read from its output."""

    t0: float
    t1: float
    captured: dict[str, dict[str, float]]  # source -> post id -> first capture time
    requests: int  # response lines written within [t0, t1]
    backfill: int  # of which first polls' pages
    empty: int  # non-backfill responses with no post
    rss: list[tuple[float, int]]  # (simulated time, bytes)
    state_bytes: int
    request_times: list[float]


def run_harvester(args: argparse.Namespace, users: list[str], queries: list[str], budget: float) -> Run:
    tmp = Path(tempfile.mkdtemp(prefix="poll_http_"))
    port = free_port()
    config, jobs = write_setup(tmp, port, users, queries, budget)
    env = dict(os.environ, **{TOKEN_ENV: "bench-token"})
    speed = args.speed
    anchor = time.time() + 1.0

    def sim(real: float) -> float:
        return EPOCH + speed * (real - anchor)

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "harvester", "sandbox", "--port", str(port), "--speed", str(speed), "--seed",
         str(args.seed), "--epoch", str(EPOCH), "--anchor", str(anchor)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "sandbox.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    log = open(tmp / "daemon.log", "w")  # noqa: SIM115
    daemon = subprocess.Popen(
        [sys.executable, "-m", "harvester", "daemon", "--config", str(config), "--jobs", str(jobs), "--speed",
         str(speed), "--epoch", str(EPOCH), "--anchor", str(anchor)],
        env=env, stdout=log, stderr=log,
    )  # fmt: skip
    while "daemon_started" not in (tmp / "daemon.log").read_text():
        if daemon.poll() is not None:
            raise SystemExit(f"daemon exited: {(tmp / 'daemon.log').read_text()[-2000:]}")
        time.sleep(0.05)
    t0 = sim(time.time())
    end = t0 + args.days * DAY
    rss: list[tuple[float, int]] = []
    proc = psutil.Process(daemon.pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                rss.append((sim(time.time()), proc.memory_info().rss))
            except psutil.Error:
                return
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    while sim(time.time()) < end:
        if daemon.poll() is not None:
            raise SystemExit(f"daemon exited early: {(tmp / 'daemon.log').read_text()[-2000:]}")
        time.sleep(min(1.0, max(0.01, (end - sim(time.time())) / speed)))
    t1 = sim(time.time())
    stop.set()
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=60)
    sandbox.send_signal(signal.SIGINT)
    try:
        sandbox.wait(timeout=20)
    except subprocess.TimeoutExpired:
        sandbox.kill()
    log.close()

    captured: dict[str, dict[str, float]] = defaultdict(dict)
    requests = backfill = empty = 0
    times: list[float] = []
    for path in sorted((tmp / "out").glob("*.jsonl")):
        job = path.stem
        with path.open() as f:
            for line in f:
                page = json.loads(line)
                meta = page["__harvester"]
                at = float(meta["retrieved_at"])
                if at > t1:
                    continue
                requests += 1
                times.append(at)
                first = "@" not in meta["task"]
                backfill += first
                data = page.get("data") or []
                if not data and not first:
                    empty += 1
                if job == "timelines":
                    source = "user:" + meta["path"].split("/")[3]
                else:
                    source = f"query:{queries[int(job[1:])]}"
                seen = captured[source]
                for item in data:
                    seen.setdefault(str(item["id"]), at)
    state = sum(p.stat().st_size for p in tmp.glob("state.db*"))
    (tmp / "rss.csv").write_text("".join(f"{(t - t0) / DAY:.4f},{r}\n" for t, r in rss))  # day, bytes
    print(f"  (run folder {tmp})", flush=True)
    return Run(t0=t0, t1=t1, captured=dict(captured), requests=requests, backfill=backfill, empty=empty, rss=rss,
               state_bytes=state, request_times=times)  # fmt: skip


@dataclass
class Figures:
    requests: int
    coverage: float
    mean_delay: float
    p90_delay: float
    empty_share: float
    per_request: float


def figures_from(delays: list[float], total: int, requests: int, empty: int, polls: int) -> Figures:
    delays.sort()
    n = len(delays)
    return Figures(
        requests=requests,
        coverage=n / total if total else 1.0,
        mean_delay=sum(delays) / n if n else math.nan,
        p90_delay=delays[min(n - 1, int(0.9 * n))] if n else math.nan,
        empty_share=empty / polls if polls else math.nan,
        per_request=n / requests if requests else math.nan,
    )


def harvester_figures(run: Run, world: World, cut: float) -> Figures:
    delays: list[float] = []
    total = 0
    for source, posts in world.posts.items():
        seen = run.captured.get(source, {})
        for created, pid in posts:
            if not run.t0 <= created < cut:
                continue
            total += 1
            at = seen.get(pid)
            if at is not None:
                delays.append(max(0.0, at - (snowflake_time(pid) or created)))
    steady = run.requests - run.backfill
    return figures_from(delays, total, run.requests, run.empty, steady)


def reference_figures(world: World, intervals: dict[str, float], t0: float, t1: float, cut: float,
                      seed: int) -> Figures:  # fmt: skip
    """Poll each source every ``intervals[source]`` from a random phase; a poll captures every
    post created before it, and costs a request per 100 posts it brings (at least one), as a
    poll over HTTP does."""
    rng = random.Random(seed)
    delays: list[float] = []
    total = polls = empty = requests = 0
    for source, posts in world.posts.items():
        step = intervals[source]
        phase = rng.uniform(0, step)
        times = []
        t = t0 + phase
        while t <= t1:
            times.append(t)
            t += step
        polls += len(times)
        created = [c for c, _ in posts]
        prev = t0
        for t in times:
            new = bisect.bisect_left(created, t) - bisect.bisect_left(created, prev)
            empty += new == 0
            requests += max(1, math.ceil(new / 100))
            prev = t
        for c in created:
            if not t0 <= c < cut:
                continue
            total += 1
            i = bisect.bisect_left(times, c)
            if i < len(times):
                delays.append(times[i] - c)
    return figures_from(delays, total, requests, empty, polls)


def fixed_intervals(sources: list[str], step: float) -> dict[str, float]:
    """Every source every ``step`` seconds."""
    return dict.fromkeys(sources, step)


def oracle_intervals(rates: dict[str, float], hi: float, c: float) -> dict[str, float]:
    """Each source every ``c / sqrt(true rate)`` seconds, within ``[MIN_INTERVAL, hi]``."""
    return {s: min(hi, max(MIN_INTERVAL, c / math.sqrt(r))) for s, r in rates.items()}


def oracle_paged_intervals(rates: dict[str, float], hi: float, c: float) -> dict[str, float]:
    """The harvester's rule (core.policy Rules 5 and 5c: no poll expects more than a page) with
    the true rates: each source every ``min(c / sqrt(rate), page_fit(100) / rate)``, clamped."""
    fit = page_fit(100)
    return {s: min(hi, max(MIN_INTERVAL, min(c / math.sqrt(r), fit / r))) for s, r in rates.items()}


def at_requests(make: Callable[[float], dict[str, float]], world: World, t0: float, t1: float, cut: float,
                seed: int, requests: int) -> Figures:  # fmt: skip
    """The poller ``make(x)`` (intervals growing with ``x``) at ``requests`` requests over the span:
    bisection on ``log x``."""
    lo, hi = math.log(1.0), math.log(1e9)
    for _ in range(40):
        mid = (lo + hi) / 2
        if reference_figures(world, make(math.exp(mid)), t0, t1, cut, seed).requests > requests:
            lo = mid
        else:
            hi = mid
    return reference_figures(world, make(math.exp(hi)), t0, t1, cut, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--days", type=float, default=30.0, help="simulated days per run")
    ap.add_argument("--speed", type=float, default=6000.0, help="simulated seconds per real second")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--queries", type=int, default=12)
    ap.add_argument("--budget", type=float, default=300.0, help="poll_budget, requests/day, of the first run")
    ap.add_argument("--factors", type=float, nargs="+", default=[1.0, 0.5, 2.0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--parallel", action="store_true", help="run the budgets' daemons at the same time")
    args = ap.parse_args()

    users, queries = world_sources(args.seed, args.users, args.queries)
    print(f"{len(users)} timelines + {len(queries)} searches {queries}; {args.days:g} simulated days at "
          f"speed {args.speed:g} (about {args.days * DAY / args.speed / 60:.1f} real minutes per run)", flush=True)  # fmt: skip
    header = (f"{'budget/day':>10} {'poller':<9} {'requests':>8} {'new/req':>7} {'coverage':>8} "
              f"{'mean delay':>10} {'p90 delay':>10} {'empty':>6}")  # fmt: skip
    budgets = [args.budget * f for f in args.factors]
    print(f"budgets {budgets} requests/day: running {'all at once' if args.parallel else 'one by one'} ...",
          flush=True)  # fmt: skip
    if args.parallel:
        with ThreadPoolExecutor(len(budgets)) as pool:
            runs = list(pool.map(lambda b: run_harvester(args, users, queries, b), budgets))
    else:
        runs = [run_harvester(args, users, queries, b) for b in budgets]
    for budget, run in zip(budgets, runs, strict=True):
        cut = run.t1 - DAY
        world = world_posts(args.seed, users, queries, run.t0, run.t1)
        h = harvester_figures(run, world, cut)
        span = run.t1 - run.t0
        steady = run.requests - run.backfill
        rates = {s: max(len(p), 0.5) / span for s, p in world.posts.items()}
        sources = list(world.posts)
        fixed = at_requests(partial(fixed_intervals, sources), world, run.t0, run.t1, cut, args.seed, steady)
        # The oracle keeps the harvester's bounds: max_interval, stretched as the harvester
        # stretches it when the budget is below the floor (core.policy Rule 5b).
        hi = MAX_INTERVAL * budget_stretch([(len(sources), MAX_INTERVAL)], budget / DAY)
        oracle = at_requests(partial(oracle_intervals, rates, hi), world, run.t0, run.t1, cut, args.seed, steady)
        paged = at_requests(partial(oracle_paged_intervals, rates, hi), world, run.t0, run.t1, cut, args.seed, steady)
        after_day1 = sum(1 for t in run.request_times if t >= run.t0 + DAY)
        per_day = after_day1 / ((run.t1 - run.t0 - DAY) / DAY)
        rss_after = [r for t, r in run.rss if t >= run.t0 + DAY]
        mid = run.t0 + span / 2

        def at(when: float, samples: list[tuple[float, int]] = run.rss) -> float:
            return min(samples, key=lambda x: abs(x[0] - when))[1] / 2**20

        if hi > MAX_INTERVAL:
            print(f"  budget below the floor ({len(sources)} sources once a day): max_interval stretched to "
                  f"{hi / DAY:.2f} days for both the harvester and the oracle (core.policy Rule 5b)")
        print(header)
        for name, f in (("harvester", h), ("fixed", fixed), ("oracle", oracle), ("oracle+5c", paged)):
            print(f"{budget:>10g} {name:<9} {f.requests:>8,} {f.per_request:>7.2f} {f.coverage:>8.4f} "
                  f"{f.mean_delay / 60:>7.1f} min {f.p90_delay / 60:>6.1f} min {f.empty_share:>6.1%}")  # fmt: skip
        print(f"  harvester requests: {run.requests:,} in all ({run.backfill:,} backfill pages); after day 1 "
              f"{per_day:,.1f}/day against poll_budget {budget:g}/day ({per_day / budget - 1:+.1%})")  # fmt: skip
        print(f"  delay ratios: harvester/oracle {h.mean_delay / oracle.mean_delay:.2f} (target <= 1.2), "
              f"harvester/fixed {h.mean_delay / fixed.mean_delay:.2f} (target <= 0.5), "
              f"harvester/oracle+5c {h.mean_delay / paged.mean_delay:.2f}")  # fmt: skip
        if rss_after:
            print(f"  daemon RSS: day 1 {at(run.t0 + DAY):.1f} MB, middle {at(mid):.1f} MB, end {at(run.t1):.1f} MB; "
                  f"after day 1 min {min(rss_after) / 2**20:.1f} max {max(rss_after) / 2**20:.1f} MB "
                  f"({(max(rss_after) - min(rss_after)) / min(rss_after):.1%} range); first sample "
                  f"{run.rss[0][1] / 2**20:.1f} MB")  # fmt: skip
        print(f"  state.db (with -wal/-shm): {run.state_bytes / 2**20:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
