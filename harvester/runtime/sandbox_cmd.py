"""``harvester sandbox``: serve the fake X API v2 until interrupted.

With ``--speed S`` the process runs on a ``WarpLoop``: simulated time (tweet creation, windows,
``x-rate-limit-reset``, ``Date``) passes S times faster than real time. A harvester talking to it
must run at the same speed (tests and benchmarks run both in one loop instead).
"""

from __future__ import annotations

import argparse
import os
import sys

from harvester.clock import LoopClock, wall_time
from harvester.clock import run as run_loop
from harvester.errors import UserError
from harvester.sandbox import SandboxConfig, serve
from harvester.sandbox import tables as T


def _limits(specs: list[str]) -> dict[str, tuple[int | None, int | None]]:
    """``ROUTE=N`` options: the app limit N per window on ROUTE (the user limit is kept)."""
    out: dict[str, tuple[int | None, int | None]] = {}
    for spec in specs:
        route, sep, n = spec.partition("=")
        if not sep or route not in T.RATE_LIMITS or not n.isdigit() or int(n) < 1:
            raise UserError(f"--limit {spec}: expected ROUTE=N with a known route and N >= 1")
        out[route] = (int(n), T.RATE_LIMITS[route][1])
    return out


def serve_sandbox(args: argparse.Namespace) -> int:
    """Run the sandbox on ``args.host:args.port``; the accepted bearer token comes from the env."""
    token = os.environ.get(args.token_env, "")
    if not token:
        raise UserError(f"--token-env: environment variable {args.token_env} is not set")
    if args.speed <= 0:
        raise UserError("--speed: must be > 0")
    if not 0 <= args.port <= 65535:
        raise UserError("--port: must be within 0..65535")
    epoch = wall_time() if args.epoch is None else args.epoch
    overrides: dict[str, object] = {"seed": args.seed, "latency_seconds": args.latency, "epoch": epoch}
    if args.window is not None:
        overrides["window_seconds"] = args.window
    if args.limit:
        overrides["limit_overrides"] = _limits(args.limit)
    cfg = SandboxConfig(**overrides)  # type: ignore[arg-type]  # keys are SandboxConfig fields

    async def main() -> None:
        clock = LoopClock(epoch=epoch)
        print(f"sandbox: serving http://{args.host}:{args.port} (speed {args.speed})", file=sys.stderr)
        await serve(cfg, args.host, args.port, [token], clock=clock)

    try:
        run_loop(main, speed=args.speed)
    except KeyboardInterrupt:
        return 0
    return 0
