"""Issue 5: the same request budget spent three ways over a simulated month of the SANDBOX world.

Sources are taken from the sandbox's world (``harvester.sandbox``): every user's timeline, at the
user's true posting rate (``truth.posting_rate``), plus a few search queries (common and rare
words from ``truth.sample_queries()``, a ``from:`` and a mention query) whose rates are measured
from ``truth.search`` counts over the world's 8-day history (full-archive truth, so the whole
8 days count). Three strategies share one request budget over 30 days: fixed-interval polling
(round-robin, every source at one interval), harvester's adaptive policy
(``harvester.core.policy.Policy``, learning rates from what polls return) and an oracle (the
same rules told the true rates).

HONESTY NOTE: the arrivals are *simulated* by ``harvester.core.policy_sim`` as Poisson processes
at the sandbox's rates; nothing is fetched over HTTP and no harvest runs. This measures the
revisit policy on the sandbox's rate distribution, not the end-to-end harvester.

Run from the repo root: ``python -m benchmarks.policy`` (as a module: ``benchmarks/queue.py``
would shadow the stdlib ``queue`` if this folder were ``sys.path[0]``).
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# benchmarks/queue.py would shadow the standard library's ``queue`` for scripts run from here.
sys.path[:] = [p for p in sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import argparse
import random

from harvester.clock import LoopClock
from harvester.core.policy import DAY, Policy
from harvester.core.policy_sim import (
    FixedStrategy,
    OracleStrategy,
    PolicyStrategy,
    SimResult,
    SimSource,
    simulate,
)
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import EPOCH, run_virtual

HISTORY_DAYS = 8
POLICY = Policy(min_interval=900, max_interval=DAY, page_size=100, decay_half_life=3 * DAY, target_yield=5)


async def world_sources() -> tuple[list[SimSource], list[tuple[str, float]]]:
    """Timelines at each user's true rate, plus query sources at their measured rates (items/s)."""
    sb = Sandbox(SandboxConfig(epoch=EPOCH), LoopClock(epoch=EPOCH))
    truth = sb.truth
    sources = [SimSource(id=f"user:{u.id}", rate=truth.posting_rate(u.id) / DAY) for u in truth.users_list()]
    qs = truth.sample_queries()
    measured = []
    for q in (qs.common, qs.rare, qs.from_active, qs.mention_popular):
        n = len(truth.search(q, EPOCH - HISTORY_DAYS * DAY, EPOCH, archive=True, at=EPOCH))
        rate = n / (HISTORY_DAYS * DAY)
        measured.append((q, n))
        sources.append(SimSource(id=f"query:{q}", rate=rate, priority=1))
    return sources, [(q, n / HISTORY_DAYS) for q, n in measured]


def _row(name: str, r: SimResult) -> str:
    return (f"{name:<8} {r.per_request:>13.2f} {r.requests:>9,} {r.captured:>9,} {r.emitted:>9,} "
            f"{r.coverage:>8.1%} {r.mean_delay / 3600:>10.2f} h {r.max_gap / 3600:>8.1f} h")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--every-hours", type=float, default=4.0,
                    help="the budget: what fixed polling of every source this often costs")  # fmt: skip
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    sources, queries = run_virtual(world_sources)
    horizon = args.days * DAY
    budget = int(len(sources) * horizon / (args.every_hours * 3600))
    rates = sorted(s.rate * DAY for s in sources)
    print(f"sandbox world: {len(sources) - len(queries)} user timelines + {len(queries)} queries; "
          f"posts/day per source: median {rates[len(rates) // 2]:.2f}, max {rates[-1]:.1f}, "
          f"total {sum(rates):,.0f}")  # fmt: skip
    for q, per_day in queries:
        print(f"  query {q!r}: {per_day:,.1f}/day (measured over {HISTORY_DAYS} days of truth.search)")
    print(f"{args.days:g} simulated days, budget {budget:,} requests (= every source every {args.every_hours:g} h), "
          f"policy {POLICY!r}")  # fmt: skip

    def run(strategy: FixedStrategy | PolicyStrategy) -> SimResult:
        return simulate(strategy, sources, horizon, budget, random.Random(args.seed))

    fixed = run(FixedStrategy(len(sources)))
    policy = run(PolicyStrategy(POLICY, sources))
    oracle = run(OracleStrategy(POLICY, sources))
    print(f"{'strategy':<8} {'items/request':>13} {'requests':>9} {'captured':>9} {'emitted':>9} "
          f"{'coverage':>8} {'mean delay':>12} {'max gap':>10}")  # fmt: skip
    for name, r in (("fixed", fixed), ("policy", policy), ("oracle", oracle)):
        print(_row(name, r))
    pf = policy.per_request / fixed.per_request if fixed.per_request else float("inf")
    po = policy.per_request / oracle.per_request if oracle.per_request else float("inf")
    print(f"policy/fixed items per request: {pf:.2f}x (target >= 2x) {'PASS' if pf >= 2 else 'FAIL'}")
    print(f"policy/oracle items per request: {po:.1%} (target >= 90%) {'PASS' if po >= 0.9 else 'FAIL'}")
    print(f"mean delay: policy {policy.mean_delay / 3600:.2f} h vs fixed {fixed.mean_delay / 3600:.2f} h "
          f"vs oracle {oracle.mean_delay / 3600:.2f} h")  # fmt: skip


if __name__ == "__main__":
    main()
