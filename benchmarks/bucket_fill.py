"""Issue 19: a claim's rate-limit check must not cost more when a window holds many grants.

Run by hand (``python benchmarks/bucket_fill.py``). For each fill (grants per 15-minute window:
10 and 10,000 by default) a :class:`~harvester.core.ratelimit.bucket.Bucket` whose limit is that
fill is driven at steady state: requests granted evenly over the window, each answered with X's
rate headers (``x-rate-limit-*`` and ``Date``) a fraction of a second later, so the sliding log
holds a full window of grants, placed in their windows, on every question. Timed: CPU seconds per
request for what a worker asks of the bucket per request: ``next_send`` (the claim's check: may
this bucket send now?), ``reserve`` and ``observe``.

The baseline, measured in the same run, is the same bucket answering through a scan of the log
(``Bucket._counted``, what every check did before: a list of the counted grants, rebuilt per
question).
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import email.utils
import math
import time

from harvester.core.ratelimit.bucket import Bucket
from harvester.core.ratelimit.decisions import Send

WINDOW = 900.0
START = 1_800_000_000.0


class ScanBucket(Bucket):
    """The bucket as it was: every count and rank a fresh scan of the whole log."""

    __slots__ = ()

    def _count(self, t: float) -> int:
        return len(self._counted(t))

    def _kth_newest(self, t: float, k: int) -> float:
        counted = self._counted(t)
        return counted[len(counted) - k]


def run(cls: type[Bucket], fill: int, windows: float) -> tuple[float, int]:
    """CPU seconds per request over the measured windows (after one window of warm-up, run on
    the indexed bucket: the state is the same, only the questions' cost differs)."""
    b = Bucket(route="/2/users/:id/tweets", auth="app", auth_kind="app", limit=fill, window=WINDOW, mode="burst",
            max_latency=5.0)  # fmt: skip
    gap = WINDOW / fill
    t = START
    window_end = START + WINDOW
    used = 0
    measured = 0
    cpu = 0.0
    warm = START + WINDOW
    end = START + WINDOW * (1 + windows)
    while t < end:
        if t >= warm and type(b) is not cls:
            b.__class__ = cls  # same slots: the warmed-up state, asked the other way
        if t >= window_end:
            window_end += WINDOW
            used = 0
        c0 = time.process_time()
        b.next_send(t)
        d = b.reserve(t)
        if isinstance(d, Send):
            used += 1
            headers = {"x-rate-limit-limit": str(fill), "x-rate-limit-remaining": str(max(0, fill - used)),
                       "x-rate-limit-reset": str(math.floor(window_end)),
                       "date": email.utils.formatdate(math.floor(t), usegmt=True)}  # fmt: skip
            b.observe(d.ticket, t + min(0.2, gap / 2), headers)
        c1 = time.process_time()
        if t >= warm:
            cpu += c1 - c0
            measured += 1
        t += gap
    return cpu / max(1, measured), measured


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--fills", type=int, nargs="+", default=[10, 10_000])
    ap.add_argument("--windows", type=float, default=2.0, help="windows measured after one of warm-up")
    ap.add_argument("--baseline-windows", type=float, default=0.2,
                    help="windows measured for the scanning baseline (it is slow at large fills)")  # fmt: skip
    args = ap.parse_args()
    print(f"{'grants/window':>13} {'indexed µs/request':>19} {'scan µs/request (baseline)':>27} {'speed-up':>9}")
    for fill in args.fills:
        fast, n = run(Bucket, fill, max(args.windows, 20_000 / fill))
        slow, m = run(ScanBucket, fill, max(args.baseline_windows, 2_000 / fill))
        print(f"{fill:>13,} {fast * 1e6:>19.1f} {slow * 1e6:>27.1f} {slow / fast:>8.1f}x   "
              f"({n:,} and {m:,} requests timed)")  # fmt: skip


if __name__ == "__main__":
    main()
