"""``harvester sandbox``: serve the fake X API v2 until interrupted.

With ``--speed S`` the process runs on a ``WarpLoop``: simulated time (tweet creation, windows,
``x-rate-limit-reset``, ``Date``) passes S times faster than real time. A harvester talking to it
must run at the same speed (tests and benchmarks run both in one loop instead).

It accepts any Bearer token unless ``--token-env VAR`` names the one to accept, so it runs with
no token in its environment. The flags are defined here (:func:`add_sandbox_arguments`) so the
CLI's parser stays one call; nothing here imports the sandbox until it is served, so building
the parser stays cheap for every other command.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from harvester.clock import LoopClock, simulated_now, wall_time
from harvester.clock import run as run_loop
from harvester.errors import UserError

if TYPE_CHECKING:
    from harvester.sandbox import SandboxConfig
    from harvester.sandbox.config import StreamFault

DEFAULT_API_VERSION = "2.166"  # SandboxConfig's default (a test keeps the two equal)
API_VERSIONS = ("2.166", "2.167")  # harvester.sandbox.openapi.VERSIONS (likewise)


def add_sandbox_arguments(sb: argparse.ArgumentParser) -> None:
    """The ``sandbox`` subcommand's flags; every help line shows its default."""
    sb.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sb.add_argument("--port", type=int, default=8899, help="port to listen on (0: any free port)")
    sb.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    sb.add_argument("--seed", type=int, default=7, help="world seed (the same seed gives the same world)")
    sb.add_argument("--epoch", type=float, default=None,
                    help="simulated start time, epoch seconds (default: now)")  # fmt: skip
    sb.add_argument("--anchor", type=float, default=None,
                    help="real wall-clock time at which simulated time is --epoch (default: when the "
                         "server starts); a daemon given the same --epoch, --anchor, --speed shares the "
                         "timeline")  # fmt: skip
    sb.add_argument("--token-env", default=None, metavar="VAR",
                    help="accept only the bearer token in env var VAR (default: any bearer token)")  # fmt: skip
    sb.add_argument("--latency", type=float, default=0.0, help="seconds added to each response")
    sb.add_argument("--window", type=float, default=None,
                    help="rate-limit window seconds (default: 900)")  # fmt: skip
    sb.add_argument("--limit", action="append", default=[], metavar="ROUTE=N",
                    help="per-app requests per window on ROUTE (repeatable), e.g. /2/tweets/search/recent=5 "
                         "(default: X's table)")  # fmt: skip
    sb.add_argument("--api-version", default=DEFAULT_API_VERSION, choices=API_VERSIONS,
                    help="which names of X's OpenAPI document requests are validated against")  # fmt: skip
    sb.add_argument("--quirk", action="append", default=[], metavar="NAME",
                    help="switch on a behaviour of another X-like server (repeatable; 'all': every one; "
                         "an unknown name lists them) (default: none)")  # fmt: skip
    sb.add_argument("--cap", type=int, default=None, metavar="N",
                    help="monthly Post cap: usage-capped 429 once N Posts were read (default: 3,000,000, "
                         "never reached)")  # fmt: skip
    sb.add_argument("--capped-route", action="append", default=[], metavar="ROUTE",
                    help="a route whose Posts count toward the cap (repeatable; default: every Post read)")
    sb.add_argument("--keepalive", type=float, default=20.0, metavar="SECONDS",
                    help="the filtered stream's keep-alive period (default: 20, as X)")
    sb.add_argument("--stream-fault", action="append", default=[], metavar="AFTER:END[:THEN:TIMES]",
                    help="AFTER simulated seconds from the sandbox's start (or at the next connect, if none is "
                         "open then), end the stream by END (drop, stall or disconnect), then answer the next "
                         "TIMES connects with THEN (refuse, 503 or 429); repeatable, e.g. 60:drop or "
                         "300:drop:429:2 (default: none)")  # fmt: skip


def _limits(specs: list[str], table: dict[str, tuple[int | None, int | None]]) -> dict[str, tuple[int | None, int | None]]:
    """``ROUTE=N`` options: the app limit N per window on ROUTE (the user limit is kept)."""
    out: dict[str, tuple[int | None, int | None]] = {}
    for spec in specs:
        route, sep, n = spec.partition("=")
        if not sep or route not in table or not n.isdigit() or int(n) < 1:
            raise UserError(f"--limit {spec}: expected ROUTE=N with a known route and N >= 1")
        out[route] = (int(n), table[route][1])
    return out


STREAM_ENDS = ("drop", "stall", "disconnect")
STREAM_THEN = ("refuse", "503", "429")


def _stream_faults(specs: list[str]) -> tuple[StreamFault, ...]:
    """``--stream-fault AFTER:END[:THEN:TIMES]`` options, in the order given."""
    from harvester.sandbox.config import StreamFault

    faults = []
    for spec in specs:
        parts = spec.split(":")
        bad = UserError(f"--stream-fault {spec}: expected AFTER:END[:THEN:TIMES] with AFTER seconds >= 0, END one "
                        f"of {', '.join(STREAM_ENDS)}, THEN one of {', '.join(STREAM_THEN)}, TIMES >= 1")  # fmt: skip
        if len(parts) not in (2, 4) or parts[1] not in STREAM_ENDS:
            raise bad
        try:
            after = float(parts[0])
            times = int(parts[3]) if len(parts) == 4 else 0
        except ValueError:
            raise bad from None
        then = parts[2] if len(parts) == 4 else ""
        if not 0 <= after < float("inf") or (then and (then not in STREAM_THEN or times < 1)):
            raise bad
        faults.append(StreamFault(after=after, end=parts[1], then=then, times=times))
    return tuple(faults)


def sandbox_config(args: argparse.Namespace) -> tuple[SandboxConfig, list[str]]:
    """The sandbox's config from the flags, and the bearer tokens it accepts (none: any)."""
    from harvester.sandbox import SandboxConfig
    from harvester.sandbox import tables as T
    from harvester.sandbox.quirks import QUIRKS

    tokens: list[str] = []
    if args.token_env is not None:
        token = os.environ.get(args.token_env, "")
        if not token:
            raise UserError(f"--token-env: environment variable {args.token_env} is not set")
        tokens.append(token)
    if args.speed <= 0:
        raise UserError("--speed: must be > 0")
    if not 0 <= args.port <= 65535:
        raise UserError("--port: must be within 0..65535")
    quirks = set(QUIRKS) if "all" in args.quirk else set(args.quirk)
    unknown = sorted(quirks - set(QUIRKS))
    if unknown:
        raise UserError(f"--quirk {unknown[0]}: unknown quirk (known: all, {', '.join(QUIRKS)})")
    if args.cap is not None and args.cap < 0:
        raise UserError("--cap: must be >= 0")
    for route in args.capped_route:
        if route not in T.ROUTES:
            raise UserError(f"--capped-route {route}: unknown route (known: {', '.join(T.ROUTES)})")
    epoch = wall_time() if args.epoch is None else args.epoch
    overrides: dict[str, object] = {"seed": args.seed, "latency_seconds": args.latency, "epoch": epoch,
                                    "api_version": args.api_version, "quirks": frozenset(quirks),
                                    "monthly_cap": args.cap}  # fmt: skip
    if args.window is not None:
        overrides["window_seconds"] = args.window
    if args.limit:
        overrides["limit_overrides"] = _limits(args.limit, T.RATE_LIMITS)
    if args.capped_route:
        overrides["capped_routes"] = frozenset(args.capped_route)
    if not 0 < args.keepalive < float("inf"):
        raise UserError("--keepalive: must be > 0 seconds")
    overrides["stream_keepalive_seconds"] = args.keepalive
    overrides["stream_faults"] = _stream_faults(args.stream_fault)
    return SandboxConfig(**overrides), tokens  # type: ignore[arg-type]  # keys are SandboxConfig fields


def serve_sandbox(args: argparse.Namespace) -> int:
    """Run the sandbox on ``args.host:args.port``."""
    from harvester.sandbox import serve

    cfg, tokens = sandbox_config(args)
    quirks = cfg.quirks
    epoch = cfg.epoch

    async def main() -> None:
        clock = LoopClock(epoch=epoch if args.anchor is None else simulated_now(epoch, args.anchor, args.speed))
        on = f", quirks {', '.join(sorted(quirks))}" if quirks else ""
        print(f"sandbox: serving http://{args.host}:{args.port} (speed {args.speed}, API {args.api_version}{on})",
              file=sys.stderr)  # fmt: skip
        await serve(cfg, args.host, args.port, tokens, clock=clock, any_bearer=not tokens)

    try:
        run_loop(main, speed=args.speed)
    except KeyboardInterrupt:
        return 0
    return 0
