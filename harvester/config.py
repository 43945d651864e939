"""``config.toml`` -> a frozen :class:`Config`.

Theory of operation
-------------------
The config file is read once (and again on SIGHUP) into a tree of frozen, slotted, keyword-only
dataclasses, one per TOML section. Every key is optional; :func:`load_config` with ``None``
returns the defaults, and the repository's ``config.toml`` spells every default out (a test keeps
the two equal).

Reading is strict, because a typo that silently falls back to a default costs money: an unknown
section or key is an error (with a "did you mean" hint), an ``int`` key refuses floats and
``true``, and every figure is range-checked. Every problem raises
``ConfigError(file, "section.key", problem)`` whose message is one line.

Secrets never live in a file. The config names *environment variables* (``bearer_env``,
``consumer_key_env``, ...); values are read on demand by :meth:`Config.bearer_token` and
:meth:`Config.user_credentials`, and the only object that holds them,
:class:`UserCredentials`, hides them from ``repr``. Error messages name the variable, never its
value, and a name that is not a valid variable name (someone pasted the token itself) is
refused without being echoed.

Relative paths (``output_dir``, a file ``state``) resolve against the config file's directory,
or the working directory when there is no file.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, cast
from urllib.parse import urlsplit

from harvester import __version__
from harvester.core.endpoints import ENDPOINTS, ID_PATTERN
from harvester.errors import ConfigError
from harvester.store import is_shared_state, url_passwords

DEFAULTS_SOURCE = "<defaults>"
APP_AUTH = "app"  # the auth name of the app-only bearer token

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_AUTH_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ID = re.compile(ID_PATTERN)

DEFAULT_CAPPED_ENDPOINTS: tuple[str, ...] = tuple(r for r, e in ENDPOINTS.items() if e.capped)


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
        pacing: ``spread`` a window's remaining requests over the window, or ``burst`` them.
        max_attempts: failed attempts of one page before its task fails.
    """

    workers: int = 4
    output_dir: Path = Path("out")
    state: str = "state/harvester.db"
    lease_seconds: float = 300.0
    fsync: bool = True
    pacing: Literal["spread", "burst"] = "spread"
    max_attempts: int = 8

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
class PricingConfig:
    """``[pricing]``: USD per resource (per request for counts), pay-per-use §6.1.

    Attributes:
        bill_includes: count expanded ``includes`` objects as billed reads (the safe side: it is
            unconfirmed whether X bills them).
    """

    post: float = 0.005
    user: float = 0.010
    follow: float = 0.010
    owned_read: float = 0.001
    bill_includes: bool = True
    counts_recent: float = 0.005
    counts_all: float = 0.010


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoRechargeConfig:
    """``[budget.auto_recharge]``: mirrors the console's auto-recharge (off unless both set).

    Attributes:
        threshold_usd: recharge when the balance falls below this.
        amount_usd: added per recharge.
        max_per_day: recharges per UTC day.
        max_per_month_usd: recharged USD per billing cycle (None: no ceiling).
        min_interval_seconds: X recharges at most once per 5 minutes.
    """

    threshold_usd: float | None = None
    amount_usd: float | None = None
    max_per_day: int = 5
    max_per_month_usd: float | None = None
    min_interval_seconds: float = 300.0

    @property
    def enabled(self) -> bool:
        return self.threshold_usd is not None and self.amount_usd is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetConfig:
    """``[budget]``: money limits (None: no limit of that kind).

    Attributes:
        max_usd_per_run: stop a run before it spends more than this.
        spending_limit_usd: the console's per-billing-cycle spending limit.
        cycle_start_day: day of month a billing cycle starts.
        balance_usd: prepaid credits at start (None: unknown, not tracked).
        warn_at: fractions of a limit at which to warn, ascending.
    """

    max_usd_per_run: float | None = None
    spending_limit_usd: float | None = None
    cycle_start_day: int = 1
    balance_usd: float | None = None
    warn_at: tuple[float, ...] = (0.8,)
    auto_recharge: AutoRechargeConfig = field(default_factory=AutoRechargeConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapConfig:
    """``[cap]``: the monthly Post-read cap (§6.1) and which routes count toward it."""

    monthly_posts: int = 3_000_000
    capped_endpoints: tuple[str, ...] = DEFAULT_CAPPED_ENDPOINTS
    usage_poll_seconds: float = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonConfig:
    """``[daemon]``: long-running mode."""

    grace_seconds: float = 30.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    reload_on_sighup: bool = True


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
    pricing: PricingConfig = field(default_factory=PricingConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    cap: CapConfig = field(default_factory=CapConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)

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


def quote_key(part: str) -> str:
    """A TOML key part as written in a dotted key: bare if it can be, else quoted and escaped."""
    if _BARE_KEY.match(part):
        return part
    return '"' + part.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _fmt_key(parts: tuple[str, ...]) -> str:
    return ".".join(quote_key(p) for p in parts)


def _show(value: object, limit: int = 60) -> str:
    """A value for a one-line message: repr'd (escapes newlines) and shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def hint(name: str, known: Iterable[object]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known``, or ``""``."""
    candidates = [str(k) for k in known]
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


class _Table:
    """One TOML table being read: typed getters that remember which keys they consumed."""

    def __init__(self, file: str, path: tuple[str, ...], data: Mapping[str, Any]) -> None:
        self.file = file
        self.path = path
        self.data = data
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return _fmt_key((*self.path, name))

    def fail(self, name: str | None, problem: str) -> NoReturn:
        key = self.key(name) if name is not None else _fmt_key(self.path)
        raise ConfigError(self.file, key or None, problem)

    def _get(self, name: str) -> Any:
        self.used.add(name)
        return self.data.get(name)

    def _expect(self, name: str, value: object, what: str) -> NoReturn:
        self.fail(name, f"must be {what}, got {_type_name(value)} {_show(value)}")

    def integer(self, name: str, default: int, *, lo: int | None = None, hi: int | None = None) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self._expect(name, value, "an integer")
        self._range(name, value, lo, hi)
        return value

    def number(
        self,
        name: str,
        default: float,
        *,
        lo: float | None = None,
        hi: float | None = None,
        above: float | None = None,
    ) -> float:
        result = self.opt_number(name, lo=lo, hi=hi, above=above)
        return default if result is None else result

    def opt_number(
        self, name: str, *, lo: float | None = None, hi: float | None = None, above: float | None = None
    ) -> float | None:
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._expect(name, value, "a number")
        number = float(value)
        if not math.isfinite(number):
            self.fail(name, f"must be a finite number, got {_show(value)}")
        if above is not None and number <= above:
            self.fail(name, f"must be greater than {above:g}, got {value!r}")
        self._range(name, number, lo, hi)
        return number

    def _range(self, name: str, value: float, lo: float | None, hi: float | None) -> None:
        if lo is not None and hi is not None and not lo <= value <= hi:
            self.fail(name, f"must be between {lo:g} and {hi:g}, got {value!r}")
        if lo is not None and value < lo:
            self.fail(name, f"must be at least {lo:g}, got {value!r}")
        if hi is not None and value > hi:
            self.fail(name, f"must be at most {hi:g}, got {value!r}")

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._expect(name, value, "true or false")
        return value

    def string(self, name: str, default: str) -> str:
        result = self.opt_string(name)
        return default if result is None else result

    def opt_string(self, name: str) -> str | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self._expect(name, value, "a string")
        if not value.strip():
            self.fail(name, "must not be empty")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            self.fail(name, "must not contain control characters")
        return value

    def env_name(self, name: str, default: str | None = None) -> str:
        value = self._get(name)
        if value is None:
            if default is None:
                self.fail(name, "is required (the NAME of an environment variable)")
            return default
        if not isinstance(value, str):
            self._expect(name, value, "a string")
        if not _ENV_NAME.match(value):
            # Do not echo the value: it may be a pasted secret.
            self.fail(
                name,
                "must be the NAME of an environment variable (letters, digits and _), "
                "not a token; put the token itself in that variable",
            )
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(name, default)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            self.fail(name, f"must be one of {options}, got {_show(value)}{hint(value, choices)}")
        return value

    def str_list(self, name: str) -> list[str] | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, list):
            self._expect(name, value, "a list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(name, f"item {i} must be a string, got {_type_name(item)} {_show(item)}")
        return cast("list[str]", value)

    def table(self, name: str) -> _Table:
        value = self._get(name)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self._expect(name, value, "a table")
        return _Table(self.file, (*self.path, name), cast("dict[str, Any]", value))

    def finish(self) -> None:
        """Refuse keys nobody read."""
        for name in self.data:
            if name not in self.used:
                known = sorted(self.used)
                what = "section" if isinstance(self.data[name], dict) else "key"
                self.fail(name, f"unknown {what}{hint(name, known)}")


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file; ``None`` gives every default (relative to the cwd).

    Raises:
        ConfigError: the file is missing, unreadable, not TOML, or has a bad key or value.
    """
    if path is None:
        return _build(DEFAULTS_SOURCE, None, Path.cwd(), {})
    source = Path(path)
    file = str(source)
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, None, "no such file") from None
    except IsADirectoryError:
        raise ConfigError(file, None, "is a directory, not a config file") from None
    except OSError as e:
        raise ConfigError(file, None, f"cannot read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(file, None, f"not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, None, f"invalid TOML: {e}") from None
    base_dir = source.resolve().parent
    return _build(file, source, base_dir, data)


def _build(file: str, source: Path | None, base_dir: Path, data: Mapping[str, Any]) -> Config:
    top = _Table(file, (), data)
    sections = ("api", "auth", "harvest", "limits", "pricing", "budget", "cap", "daemon")
    for name, value in data.items():
        if name not in sections:
            owner = _section_of(name)
            tip = f"; did you mean {name} under [{owner}]?" if owner else hint(name, sections)
            what = "section" if isinstance(value, dict) else "key"
            top.fail(name, f"unknown {what}{tip}")
    config = Config(
        source=source,
        base_dir=base_dir,
        api=_api(top.table("api")),
        auth=_auth(top.table("auth")),
        harvest=_harvest(top.table("harvest"), base_dir),
        limits=_limits(top.table("limits")),
        pricing=_pricing(top.table("pricing")),
        budget=_budget(top.table("budget")),
        cap=_cap(top.table("cap")),
        daemon=_daemon(top.table("daemon")),
    )
    top.finish()
    return config


_SECTION_KEYS = {
    "api": ("base_url", "bearer_env", "timeout_seconds", "user_agent"),
    "harvest": ("workers", "output_dir", "state", "lease_seconds", "fsync", "pacing", "max_attempts"),
    "limits": ("window_seconds", "429_margin_seconds", "max_latency_seconds"),
    "pricing": ("post", "user", "follow", "owned_read", "bill_includes", "counts_recent", "counts_all"),
    "budget": ("max_usd_per_run", "spending_limit_usd", "cycle_start_day", "balance_usd", "warn_at"),
    "cap": ("monthly_posts", "capped_endpoints", "usage_poll_seconds"),
    "daemon": ("grace_seconds", "metrics_host", "metrics_port", "reload_on_sighup"),
}


def _section_of(key: str) -> str | None:
    """The section owning ``key``, for a key written outside any section."""
    return next((s for s, keys in _SECTION_KEYS.items() if key in keys), None)


def _api(t: _Table) -> ApiConfig:
    d = ApiConfig()
    base_url = t.string("base_url", d.base_url)
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        t.fail("base_url", f"must be an http:// or https:// URL, got {_show(base_url)}")
    if parts.query or parts.fragment or " " in base_url:
        t.fail("base_url", f"must not have a query, fragment or spaces, got {_show(base_url)}")
    result = ApiConfig(
        base_url=base_url.rstrip("/"),
        bearer_env=t.env_name("bearer_env", d.bearer_env),
        timeout_seconds=t.number("timeout_seconds", d.timeout_seconds, above=0, hi=3600),
        user_agent=t.string("user_agent", d.user_agent),
    )
    t.finish()
    return result


def _auth(t: _Table) -> AuthConfig:
    users_t = t.table("users")
    users: dict[str, UserAuthConfig] = {}
    for name in users_t.data:
        u = users_t.table(name)
        if not _AUTH_NAME.match(name) or name == APP_AUTH:
            u.fail(None, "a user context name must match [A-Za-z0-9_.-]{1,64} and not be 'app'")
        user_id = u._get("user_id")
        if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id >= 0:
            user_id = str(user_id)
        if user_id is not None and not (isinstance(user_id, str) and _ID.match(user_id)):
            u.fail("user_id", f"must be a numeric id string (1-19 digits), got {_show(user_id)}")
        users[name] = UserAuthConfig(
            name=name,
            consumer_key_env=u.env_name("consumer_key_env"),
            consumer_secret_env=u.env_name("consumer_secret_env"),
            token_env=u.env_name("token_env"),
            token_secret_env=u.env_name("token_secret_env"),
            user_id=user_id,
        )
        u.finish()
    pools_t = t.table("pools")
    pools: dict[str, tuple[str, ...]] = {}
    for name in list(pools_t.data):
        members = pools_t.str_list(name) or []
        if not _AUTH_NAME.match(name) or name == APP_AUTH or name in users:
            pools_t.fail(
                name, "a pool name must match [A-Za-z0-9_.-]{1,64}, not be 'app' nor a user context's name"
            )
        if not members:
            pools_t.fail(name, "a pool needs at least one user context")
        for member in members:
            if member not in users:
                pools_t.fail(name, f"unknown user context {_show(member)}{hint(member, users)}")
        pools[name] = tuple(dict.fromkeys(members))
    t.finish()
    return AuthConfig(users=users, pools=pools)


def _harvest(t: _Table, base_dir: Path) -> HarvestConfig:
    d = HarvestConfig()
    state = t.string("state", d.state)
    if is_shared_state(state) and url_passwords(state):
        # Secrets never live in files (the config may be committed): libpq's own variables do.
        t.fail("state", "holds a password; remove it and set PGPASSWORD (or use ~/.pgpass) instead")
    if not is_shared_state(state):
        if "://" in state:
            t.fail("state", f"must be a file path or a postgresql:// URL, got {_show(state)}")
        state = str(base_dir / state)
    result = HarvestConfig(
        workers=t.integer("workers", d.workers, lo=1, hi=256),
        output_dir=base_dir / t.string("output_dir", str(d.output_dir)),
        state=state,
        lease_seconds=t.number("lease_seconds", d.lease_seconds, lo=1),
        fsync=t.boolean("fsync", d.fsync),
        pacing=cast(Literal["spread", "burst"], t.choice("pacing", d.pacing, ("spread", "burst"))),
        max_attempts=t.integer("max_attempts", d.max_attempts, lo=1, hi=1000),
    )
    t.finish()
    return result


def _limits(t: _Table) -> LimitsConfig:
    d = LimitsConfig()
    window = t.number("window_seconds", d.window_seconds, lo=1)
    margin = t.number("429_margin_seconds", d.margin_429_seconds, lo=0, hi=3600)
    latency = t.number("max_latency_seconds", d.max_latency_seconds, lo=0.1, hi=600)
    routes_t = t.table("endpoints")
    endpoints: dict[str, EndpointLimits] = {}
    for route in routes_t.data:
        if route not in ENDPOINTS:
            routes_t.fail(route, f"unknown route{hint(route, ENDPOINTS)}")
        r = routes_t.table(route)
        app = r.integer("app", 0, lo=1) or None
        user = r.integer("user", 0, lo=1) or None
        if user is not None and ENDPOINTS[route].user_limit is None:
            r.fail("user", "this route is app-only; it has no per-user limit")
        r.finish()
        endpoints[route] = EndpointLimits(app=app, user=user)
    t.finish()
    return LimitsConfig(window_seconds=window, margin_429_seconds=margin, max_latency_seconds=latency,
                        endpoints=endpoints)


def _pricing(t: _Table) -> PricingConfig:
    d = PricingConfig()
    result = PricingConfig(
        post=t.number("post", d.post, lo=0),
        user=t.number("user", d.user, lo=0),
        follow=t.number("follow", d.follow, lo=0),
        owned_read=t.number("owned_read", d.owned_read, lo=0),
        bill_includes=t.boolean("bill_includes", d.bill_includes),
        counts_recent=t.number("counts_recent", d.counts_recent, lo=0),
        counts_all=t.number("counts_all", d.counts_all, lo=0),
    )
    t.finish()
    return result


def _budget(t: _Table) -> BudgetConfig:
    d = BudgetConfig()
    warn = t._get("warn_at")
    warn_at = d.warn_at
    if warn is not None:
        if not isinstance(warn, list):
            t._expect("warn_at", warn, "a list of fractions")
        for item in warn:
            if isinstance(item, bool) or not isinstance(item, int | float):
                t.fail("warn_at", f"items must be numbers, got {_type_name(item)} {_show(item)}")
            if not 0 < item <= 1:
                t.fail("warn_at", f"items must be fractions in (0, 1], got {item!r}")
        warn_at = tuple(sorted({float(x) for x in warn}))
    ar = t.table("auto_recharge")
    da = AutoRechargeConfig()
    recharge = AutoRechargeConfig(
        threshold_usd=ar.opt_number("threshold_usd", lo=0),
        amount_usd=ar.opt_number("amount_usd", above=0),
        max_per_day=ar.integer("max_per_day", da.max_per_day, lo=1, hi=288),
        max_per_month_usd=ar.opt_number("max_per_month_usd", above=0),
        min_interval_seconds=ar.number("min_interval_seconds", da.min_interval_seconds, lo=0),
    )
    if (recharge.threshold_usd is None) != (recharge.amount_usd is None):
        missing = "amount_usd" if recharge.amount_usd is None else "threshold_usd"
        ar.fail(missing, "is required when auto-recharge is on (set both threshold_usd and amount_usd)")
    ar.finish()
    result = BudgetConfig(
        max_usd_per_run=t.opt_number("max_usd_per_run", above=0),
        spending_limit_usd=t.opt_number("spending_limit_usd", above=0),
        cycle_start_day=t.integer("cycle_start_day", d.cycle_start_day, lo=1, hi=28),
        balance_usd=t.opt_number("balance_usd"),
        warn_at=warn_at,
        auto_recharge=recharge,
    )
    t.finish()
    return result


def _cap(t: _Table) -> CapConfig:
    d = CapConfig()
    routes = t.str_list("capped_endpoints")
    if routes is not None:
        for route in routes:
            if route not in ENDPOINTS:
                t.fail("capped_endpoints", f"unknown route {_show(route)}{hint(route, ENDPOINTS)}")
    result = CapConfig(
        monthly_posts=t.integer("monthly_posts", d.monthly_posts, lo=1),
        capped_endpoints=tuple(dict.fromkeys(routes)) if routes is not None else d.capped_endpoints,
        usage_poll_seconds=t.number("usage_poll_seconds", d.usage_poll_seconds, lo=1),
    )
    t.finish()
    return result


def _daemon(t: _Table) -> DaemonConfig:
    d = DaemonConfig()
    result = DaemonConfig(
        grace_seconds=t.number("grace_seconds", d.grace_seconds, lo=0, hi=86400),
        metrics_host=t.string("metrics_host", d.metrics_host),
        metrics_port=t.integer("metrics_port", d.metrics_port, lo=0, hi=65535),
        reload_on_sighup=t.boolean("reload_on_sighup", d.reload_on_sighup),
    )
    t.finish()
    return result
