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

Command-line flags that override keys (``--workers``, ``--max-usd``, ``--metrics-port``) are
merged by :func:`with_overrides` with the keys' own rules (:mod:`harvester.config.rules`), and
files are read by :mod:`harvester.config.tomlfile` (BOMs, encodings, nesting, links named).
"""


from __future__ import annotations

from harvester.config.load import config_from_mapping, load_config
from harvester.config.model import (
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
    UserCredentials,
)
from harvester.config.overrides import with_overrides
from harvester.config.toml_table import hint, quote_key
from harvester.core.budget import AutoRecharge, Budget
from harvester.core.cap import DEFAULT_CAPPED_ENDPOINTS, CapConfig
from harvester.core.pricing import Prices

__all__ = [
    "APP_AUTH",
    "DEFAULTS_SOURCE",
    "DEFAULT_CAPPED_ENDPOINTS",
    "ApiConfig",
    "AuthConfig",
    "AutoRecharge",
    "Budget",
    "CapConfig",
    "Config",
    "DaemonConfig",
    "EndpointLimits",
    "HarvestConfig",
    "LimitsConfig",
    "Prices",
    "StreamConfig",
    "UserAuthConfig",
    "UserCredentials",
    "config_from_mapping",
    "hint",
    "load_config",
    "quote_key",
    "with_overrides",
]
