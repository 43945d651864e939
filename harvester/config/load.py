"""``load_config``: the file (or the defaults) read section by section into a Config."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from harvester.config import rules
from harvester.config.model import (
    _AUTH_NAME,
    _ID,
    APP_AUTH,
    DEFAULTS_SOURCE,
    ApiConfig,
    AuthConfig,
    Config,
    DaemonConfig,
    EndpointLimits,
    HarvestConfig,
    LimitsConfig,
    StreamConfig,
    UserAuthConfig,
)
from harvester.config.toml_table import _show, _Table, _type_name, hint
from harvester.config.tomlfile import TomlFileError, read_toml
from harvester.core.budget import AutoRecharge, Budget
from harvester.core.cap import CapConfig
from harvester.core.endpoints import ENDPOINTS
from harvester.core.pricing import Prices, micros_to_usd
from harvester.errors import ConfigError
from harvester.redact import has_url_password, redact
from harvester.store import is_shared_state, redact_url, url_passwords, url_scheme


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
        data = read_toml(source)
    except TomlFileError as e:
        raise ConfigError(file, None, str(e)) from None
    base_dir = source.resolve().parent
    return _build(file, source, base_dir, data)


def config_from_mapping(data: Mapping[str, Any], *, name: str = "<dict>", base_dir: str | Path | None = None) -> Config:
    """A config from the tables a TOML file would hold (``{"harvest": {"workers": 8}, ...}``),
    checked by the same rules as a file; for programs embedding harvester.

    ``name`` is what error messages call it; relative paths resolve against ``base_dir``
    (default: the working directory).

    Raises:
        ConfigError: a bad section, key or value (one line naming it).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(name, None, f"must be a mapping of sections, got {_type_name(data)}")
    base = Path.cwd() if base_dir is None else Path(base_dir).resolve()
    return _build(name, None, base, data)


def _build(file: str, source: Path | None, base_dir: Path, data: Mapping[str, Any]) -> Config:
    top = _Table(file, (), data)
    sections = ("api", "auth", "harvest", "limits", "pricing", "budget", "cap", "daemon", "stream")
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
        stream=_stream(top.table("stream")),
    )
    top.finish()
    return config


_SECTION_KEYS = {
    "api": ("base_url", "bearer_env", "timeout_seconds", "user_agent"),
    "harvest": ("workers", "output_dir", "state", "lease_seconds", "fsync", "pacing", "max_attempts", "run_for"),
    "limits": ("window_seconds", "429_margin_seconds", "max_latency_seconds"),
    "pricing": ("post", "user", "follow", "list", "owned_read", "bill_includes", "counts_recent", "counts_all"),
    "budget": ("max_usd_per_run", "spending_limit_usd", "cycle_start_day", "balance_usd", "warn_at"),
    "cap": ("monthly_posts", "capped_endpoints", "usage_poll_seconds"),
    "daemon": ("grace_seconds", "metrics_host", "metrics_port", "reload_on_sighup", "poll_budget"),
    "stream": ("stall_seconds", "prune_rules", "fill_gaps", "fill_downtime"),
}


def _section_of(key: str) -> str | None:
    """The section owning ``key``, for a key written outside any section."""
    return next((s for s, keys in _SECTION_KEYS.items() if key in keys), None)


def _api(t: _Table) -> ApiConfig:
    d = ApiConfig()
    result = ApiConfig(
        base_url=_base_url(t, t.string("base_url", d.base_url)),
        bearer_env=t.env_name("bearer_env", d.bearer_env),
        timeout_seconds=t.number("timeout_seconds", d.timeout_seconds, above=0, hi=3600),
        user_agent=t.string("user_agent", d.user_agent),
    )
    t.finish()
    return result


def _base_url(t: _Table, base_url: str) -> str:
    """``[api] base_url`` checked as far as a request would use it, so it fails here, not later.

    A user or password in it is refused (and not echoed): the token lives in the environment,
    and aiohttp would raise on the first request anyway. The port is parsed now: ``urlsplit``
    only reads it lazily, so ``:notaport`` used to pass here and then fail every request while
    the run retried (and showed its spend) for minutes.
    """
    shown = _show(redact(base_url))
    try:
        parts = urlsplit(base_url)
        port = parts.port  # ValueError: not a number, or outside 0-65535
    except ValueError:
        netloc = base_url.partition("://")[2].partition("/")[0]
        port_text = netloc.rpartition("@")[2].rpartition(":")[2]
        t.fail("base_url", f"has an invalid port {_show(port_text)} (must be a number from 1 to 65535)")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        t.fail("base_url", f"must be an http:// or https:// URL, got {shown}")
    if "@" in parts.netloc:
        t.fail(
            "base_url",
            "must not contain a user name or password (the token goes in the environment variable "
            "named by api.bearer_env)",
        )
    if parts.query or parts.fragment or any(c.isspace() for c in base_url):
        t.fail("base_url", f"must not have a query, fragment or spaces, got {shown}")
    if not parts.hostname:
        t.fail("base_url", f"has no host name, got {shown}")
    if port == 0:
        t.fail("base_url", "has port 0 (must be a number from 1 to 65535)")
    return base_url.rstrip("/")


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
    state = _state(t, t.string("state", d.state), base_dir)
    result = HarvestConfig(
        workers=rules.workers(t),
        output_dir=base_dir / t.string("output_dir", str(d.output_dir)),
        state=state,
        lease_seconds=t.number("lease_seconds", d.lease_seconds, lo=1),
        fsync=t.boolean("fsync", d.fsync),
        pacing=cast(Literal["auto", "spread", "burst"], t.choice("pacing", d.pacing, ("auto", "spread", "burst"))),
        max_attempts=t.integer("max_attempts", d.max_attempts, lo=1, hi=1000),
        run_for=rules.run_for(t),
    )
    t.finish()
    return result


def _state(t: _Table, state: str, base_dir: Path) -> str:
    """``[harvest] state``: an absolute file path, or a ``postgresql://`` URL without a password.

    A URL is never echoed with its password: any scheme, any spelling of it, is shown redacted.
    The scheme is matched in any case and written back in lower case (asyncpg and libpq expect
    ``postgresql://``).
    """
    scheme = url_scheme(state)
    if scheme is None and "://" not in state:
        return str(base_dir / state)
    if url_passwords(state) or has_url_password(state):
        # Secrets never live in files (the config may be committed): libpq's own variables do.
        t.fail("state", f"holds a password ({_show(redact_url(state))}); remove it and set PGPASSWORD "
                        "(or use ~/.pgpass) instead")
    if not is_shared_state(state):
        tip = " (write postgresql://; no driver suffix)" if scheme and scheme.startswith("postgres") else ""
        t.fail("state", f"must be a file path or a postgresql:// URL, got {_show(redact_url(state))}{tip}")
    assert scheme is not None
    return scheme + state[len(scheme):]


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


def _pricing(t: _Table) -> Prices:
    """``[pricing]`` in USD, as the core's micro-dollar price table."""
    d = Prices()
    usd = {name: t.number(name, micros_to_usd(getattr(d, name)), lo=0, hi=1000)  # USD per resource or request
           for name in ("post", "user", "follow", "list", "owned_read", "counts_recent", "counts_all")}
    result = Prices.from_config({**usd, "bill_includes": t.boolean("bill_includes", d.bill_includes)})
    t.finish()
    return result


def _budget(t: _Table) -> Budget:
    d = Budget()
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
    threshold = ar.opt_number("threshold_usd", lo=0)
    amount = ar.opt_number("amount_usd", above=0)
    max_per_day = ar.integer("max_per_day", 5, lo=1, hi=288)
    max_per_month = ar.opt_number("max_per_month_usd", above=0)
    min_interval = ar.number("min_interval_seconds", 300.0, lo=0)
    if (threshold is None) != (amount is None):
        missing = "amount_usd" if amount is None else "threshold_usd"
        ar.fail(missing, "is required when auto-recharge is on (set both threshold_usd and amount_usd)")
    recharge = None
    if threshold is not None and amount is not None:
        try:
            recharge = AutoRecharge(threshold_usd=threshold, amount_usd=amount, max_per_day=max_per_day,
                                    max_per_month_usd=max_per_month, min_interval_seconds=min_interval)
        except ValueError as exc:
            ar.fail("max_per_month_usd", str(exc).removeprefix("auto_recharge: "))
    ar.finish()
    result = Budget(
        max_usd_per_run=rules.max_usd_per_run(t),
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


def _stream(t: _Table) -> StreamConfig:
    d = StreamConfig()
    result = StreamConfig(
        stall_seconds=t.number("stall_seconds", d.stall_seconds, above=0, hi=86400),
        prune_rules=rules.prune_rules(t),
        fill_gaps=t.boolean("fill_gaps", d.fill_gaps),
        fill_downtime=t.boolean("fill_downtime", d.fill_downtime),
    )
    t.finish()
    return result


def _daemon(t: _Table) -> DaemonConfig:
    d = DaemonConfig()
    result = DaemonConfig(
        grace_seconds=t.number("grace_seconds", d.grace_seconds, lo=0, hi=86400),
        metrics_host=t.string("metrics_host", d.metrics_host),
        metrics_port=rules.metrics_port(t),
        reload_on_sighup=t.boolean("reload_on_sighup", d.reload_on_sighup),
        poll_budget=t.opt_number("poll_budget", above=0),
    )
    t.finish()
    return result
