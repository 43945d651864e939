"""The Config tree: one frozen dataclass per TOML section (see the package docstring)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from harvester import __version__
from harvester.core.budget import Budget
from harvester.core.cap import CapConfig
from harvester.core.endpoints import ID_PATTERN
from harvester.core.pricing import Prices
from harvester.errors import ConfigError
from harvester.store import is_shared_state

DEFAULTS_SOURCE = "<defaults>"
APP_AUTH = "app"  # the auth name of the app-only bearer token

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_AUTH_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ID = re.compile(ID_PATTERN)

# ``[pricing]``, ``[budget]`` and ``[cap]`` are the core's own values (``core.pricing.Prices``,
# ``core.budget.Budget``, ``core.cap.CapConfig``): the loader builds them directly, so there is
# one default for each figure and no mirror type to keep in step.


# --------------------------------------------------------------------------- the Config tree


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiConfig:
    """``[api]``: where requests go.

    Attributes:
        base_url: scheme and host (no trailing slash); the demo points it at the sandbox.
        bearer_env: the NAME of the environment variable holding the app bearer token.
        timeout_seconds: total time allowed for one request.
        user_agent: sent as ``User-Agent``.
    """

    base_url: str = "https://api.x.com"
    bearer_env: str = "X_BEARER_TOKEN"
    timeout_seconds: float = 30.0
    user_agent: str = f"harvester/{__version__}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserAuthConfig:
    """``[auth.users.<name>]``: an OAuth 1.0a user context, as environment variable NAMES.

    Attributes:
        name: the context's name, used as ``auth = "<name>"`` in job files.
        consumer_key_env, consumer_secret_env, token_env, token_secret_env: variable names.
        user_id: the authenticated user's id, for owned-read pricing (None: never owned).
    """

    name: str
    consumer_key_env: str
    consumer_secret_env: str
    token_env: str
    token_secret_env: str
    user_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    """``[auth]``: user contexts and pools of them (a pool spreads requests over its users)."""

    users: Mapping[str, UserAuthConfig] = field(default_factory=dict)
    pools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class HarvestConfig:
    """``[harvest]``: the worker pool and where results and state go.

    Attributes:
        workers: concurrent workers.
        output_dir: one ``<job>.jsonl`` per job is written here (absolute).
        state: the state store: an absolute SQLite file path, or a ``postgresql://`` URL.
        lease_seconds: how long a claim lasts before another host may take the task.
        fsync: fsync output before committing a page (durability over speed).
        pacing: ``auto`` (spread a window's remaining requests over it while the bucket's backlog
            is longer than the window has left, else send at once), ``spread`` or ``burst``.
        max_attempts: failed attempts of one page before its task fails.
    """

    workers: int = 4
    output_dir: Path = Path("out")
    state: str = "state/harvester.db"
    lease_seconds: float = 300.0
    fsync: bool = True
    pacing: Literal["auto", "spread", "burst"] = "auto"
    max_attempts: int = 8
    run_for: float | None = None  # ``harvester run`` ends after this many seconds (``--for``)

    @property
    def state_is_postgres(self) -> bool:
        """Whether several processes may share this state (PostgreSQL)."""
        return is_shared_state(self.state)


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointLimits:
    """``[limits.endpoints."<route>"]``: overrides of the table's per-window priors."""

    app: int | None = None
    user: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitsConfig:
    """``[limits]``: rate-limit priors (the response headers replace them).

    Attributes:
        window_seconds: the window assumed before headers are seen.
        margin_429_seconds: extra wait after ``x-rate-limit-reset`` (TOML key ``429_margin_seconds``).
        max_latency_seconds: the longest a request may take to reach X after it is granted (and
            the most hosts' clocks may disagree): the sliding guard allows a window's limit per
            window plus this. Larger is safer and slightly slower.
        endpoints: per-route overrides, keyed by route template.
    """

    window_seconds: float = 900.0
    margin_429_seconds: float = 1.0
    max_latency_seconds: float = 5.0
    endpoints: Mapping[str, EndpointLimits] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonConfig:
    """``[daemon]``: long-running mode."""

    grace_seconds: float = 30.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    reload_on_sighup: bool = True
    poll_budget: float | None = None  # requests/day shared by the poll jobs without their own


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamConfig:
    """``[stream]``: the filtered stream's connection (``kind = "stream"`` jobs).

    Attributes:
        stall_seconds: silence (no Post, no keep-alive) after which the connection is taken for
            dead and reconnected; X sends a keep-alive at least every 20 s (tweepy reads with 21).
        prune_rules: delete every server rule no job has, not only those harvester added.
        fill_gaps: fill a disconnect longer than ``backfill_minutes`` can cover by recent search.
        fill_downtime: on start, fill the time the process was not running (else the stream
            starts afresh from now).
    """

    stall_seconds: float = 21.0
    prune_rules: bool = False
    fill_gaps: bool = True
    fill_downtime: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class UserCredentials:
    """An OAuth 1.0a user context's secrets, read from the environment. ``repr`` hides them."""

    name: str
    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str
    user_id: str | None = None

    def __repr__(self) -> str:
        return f"UserCredentials(name={self.name!r}, user_id={self.user_id!r}, secrets=<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole configuration.

    Attributes:
        source: the file it was read from (None: defaults only).
        base_dir: relative paths were resolved against this directory.
    """

    source: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    api: ApiConfig = field(default_factory=ApiConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    harvest: HarvestConfig = field(default_factory=HarvestConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    pricing: Prices = field(default_factory=Prices)
    budget: Budget = field(default_factory=Budget)
    cap: CapConfig = field(default_factory=CapConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)

    @property
    def file(self) -> str:
        """The name errors use for this config."""
        return str(self.source) if self.source is not None else DEFAULTS_SOURCE

    def auth_names(self) -> frozenset[str]:
        """Names a job's ``auth`` may take: ``"app"``, a user context or a pool."""
        return frozenset({APP_AUTH, *self.auth.users, *self.auth.pools})

    def bearer_token(self, environ: Mapping[str, str] | None = None) -> str:
        """The app bearer token from the environment variable named by ``api.bearer_env``."""
        env = os.environ if environ is None else environ
        name = self.api.bearer_env
        value = env.get(name, "")
        if not value.strip():
            raise ConfigError(
                self.file, "api.bearer_env", f"environment variable {name} is not set or is empty"
            )
        return value.strip()

    def user_credentials(self, name: str, environ: Mapping[str, str] | None = None) -> UserCredentials:
        """The secrets of user context ``name``, read from its environment variables."""
        env = os.environ if environ is None else environ
        user = self.auth.users.get(name)
        if user is None:
            raise ConfigError(self.file, f"auth.users.{name}", "no such user context")
        values: dict[str, str] = {}
        for attr in ("consumer_key_env", "consumer_secret_env", "token_env", "token_secret_env"):
            var = cast(str, getattr(user, attr))
            value = env.get(var, "").strip()
            if not value:
                raise ConfigError(
                    self.file,
                    f"auth.users.{name}.{attr}",
                    f"environment variable {var} is not set or is empty",
                )
            values[attr.removesuffix("_env")] = value
        return UserCredentials(name=name, user_id=user.user_id, **values)


# --------------------------------------------------------------------------- reading
