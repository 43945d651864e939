"""The engines built from config and the store, one way for ``run``, the daemon and ``status``.

The request machine (``core/request``) holds the rate-limit buckets, the ledger, the cap and the
prices. They are built here from the config's values and restored from the store: the buckets
and the cap's server readings from their saved documents, the ledger and the cap's local count
from the ledger's rows (so changing ``[cap] capped_endpoints`` changes the count at once). The
secrets that sign requests are read from the environment here too, and only here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from harvester.api.auth import AuthContext, BearerAuth, OAuth1UserAuth
from harvester.config import APP_AUTH, Config
from harvester.core import budget as money
from harvester.core import cap as capmod
from harvester.core import ratelimit
from harvester.core.model import JobSpec
from harvester.core.request import AuthInfo, RequestMachine
from harvester.errors import ConfigError
from harvester.log import register_secret
from harvester.store.base import Store
from harvester.store.coordination import Coordinator, LocalCoordinator

STATE_LIMITS = "ratelimits"
STATE_CAP = "cap"
STATE_CACHE = "cache_stats"
STATE_STOP = "last_stop"
# The margin after a reset before it counts as passed, until a server shows it rounds its resets
# down (a window 429 right after one): then ``[limits] 429_margin_seconds`` (core.ratelimit).
RESET_MARGIN = 0.1


def auth_infos(config: Config) -> dict[str, AuthInfo]:
    """Every auth context as the machine knows it: names, kinds, user ids, variable names."""
    infos = {APP_AUTH: AuthInfo(name=APP_AUTH, kind="app", env=config.api.bearer_env)}
    for name, user in config.auth.users.items():
        env = f"{user.consumer_key_env}, {user.consumer_secret_env}, {user.token_env}, {user.token_secret_env}"
        infos[name] = AuthInfo(name=name, kind="user", user_id=user.user_id, env=env)
    return infos


def credentials(config: Config, bearer: str | None = None) -> dict[str, AuthContext]:
    """The contexts that sign requests, their secrets read from the environment (and
    registered, so no log line can print them)."""
    token = bearer if bearer is not None else config.bearer_token()
    register_secret(token)
    contexts: dict[str, AuthContext] = {APP_AUTH: BearerAuth(token)}
    for name in config.auth.users:
        creds = config.user_credentials(name, os.environ)
        for secret in (creds.consumer_secret, creds.token, creds.token_secret):
            register_secret(secret)
        contexts[name] = OAuth1UserAuth(
            name=name, consumer_key=creds.consumer_key, consumer_secret=creds.consumer_secret,
            token=creds.token, token_secret=creds.token_secret, user_id=creds.user_id,
        )  # fmt: skip
    return contexts


def budget_of(config: Config, max_usd: float | None = None) -> money.Budget:
    """``[budget]`` (``max_usd`` overrides the run budget)."""
    if max_usd is None:
        return config.budget
    try:
        return replace(config.budget, max_usd_per_run=max_usd)
    except ValueError as exc:
        raise ConfigError(config.file, "budget.max_usd_per_run", str(exc)) from exc


async def build_machine(
    config: Config,
    store: Store,
    now: float,
    specs: Mapping[str, JobSpec],
    *,
    max_usd: float | None = None,
    run: str = "run",
    coordinator: Coordinator | None = None,
) -> RequestMachine:
    """The request machine, restored from the store.

    The ledger's history comes through ``coordinator`` (default: the store's own), so that a
    shared store's later admissions show exactly the rows this history did not include.
    """
    b = config.budget
    since = money.cycle_bounds(now, b.cycle_start_day)[0] - 86_400.0
    coordinator = coordinator if coordinator is not None else LocalCoordinator(store)
    entries = [money.LedgerEntry.from_dict(e) for e in await coordinator.history(since)]
    ledger = money.Ledger.replay(budget_of(config, max_usd), entries, run=run)
    limits = ratelimit.RateLimits(
        {route: (e.app, e.user) for route, e in config.limits.endpoints.items()},
        window=config.limits.window_seconds,
        mode=config.harvest.pacing,
        reset_margin=RESET_MARGIN,
        late_margin=config.limits.margin_429_seconds,
        max_latency=config.limits.max_latency_seconds,
    )
    saved = await store.get_state(STATE_LIMITS)
    if saved:
        limits.load_state(saved)
    cap = capmod.CapTracker(config.cap, b.cycle_start_day)
    saved_cap = await store.get_state(STATE_CAP)
    if saved_cap:
        cap.load_state(saved_cap)
    cap.rebuild(now, ((e.at, e.route, e.posts) for e in entries))  # every process's reads, by today's routes
    return RequestMachine(contexts=auth_infos(config), pools={k: tuple(v) for k, v in config.auth.pools.items()},
                          limits=limits, ledger=ledger, cap=cap, prices=config.pricing, specs=dict(specs),
                          max_attempts=config.harvest.max_attempts)  # fmt: skip


def export_state(machine: RequestMachine) -> dict[str, object]:
    """The documents to save on the way out (the ledger needs none: its rows are the state)."""
    return {STATE_LIMITS: machine.limits.export_state(), STATE_CAP: machine.cap.export_state()}


__all__ = ["STATE_CACHE", "STATE_CAP", "STATE_LIMITS", "STATE_STOP", "auth_infos", "budget_of", "build_machine",
           "credentials", "export_state"]  # fmt: skip
