"""config.toml loading: defaults, relative paths, secrets, and one-line errors for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.config import (
    DEFAULT_CAPPED_ENDPOINTS,
    Config,
    EndpointLimits,
    UserCredentials,
    load_config,
)
from harvester.errors import ConfigError, UserError


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, key: str | None) -> ConfigError:
    """Load ``path`` expecting a ConfigError whose one-line message starts with file and key."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert err.file == str(path)
    assert err.key == key
    prefix = f"{path}: {key}: " if key else f"{path}: "
    assert message.startswith(prefix), message
    return err


# --------------------------------------------------------------------------- defaults and values


def test_none_gives_defaults_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.source is None
    assert config.base_dir == tmp_path
    assert config.api.base_url == "https://api.x.com"
    assert config.api.bearer_env == "X_BEARER_TOKEN"
    assert config.harvest.workers == 4
    assert config.harvest.output_dir == tmp_path / "out"
    assert config.harvest.state == str(tmp_path / "state" / "harvester.db")
    assert config.harvest.pacing == "auto"
    assert config.limits.window_seconds == 900
    assert config.pricing.post == 5_000  # micro-dollars: the core's own price table
    assert config.budget.warn_at == (0.8,)
    assert config.budget.cycle_start_day == 1
    assert config.budget.auto_recharge is None
    assert config.cap.monthly_posts == 3_000_000
    assert set(DEFAULT_CAPPED_ENDPOINTS) == {
        "/2/tweets/search/recent",
        "/2/tweets/search/all",
        "/2/tweets",
        "/2/users/:id/tweets",
        "/2/users/:id/mentions",
        "/2/users/:id/liked_tweets",
        "/2/tweets/:id/quote_tweets",
        "/2/lists/:id/tweets",
        "/2/users/:id/bookmarks",
        "/2/tweets/search/stream",
    }
    assert config.cap.capped_endpoints == DEFAULT_CAPPED_ENDPOINTS
    assert config.daemon.metrics_port == 9464
    assert config.auth_names() == {"app"}


def test_empty_file_equals_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(write(tmp_path, ""))
    assert config == Config(
        source=tmp_path / "config.toml",
        base_dir=tmp_path,
        harvest=load_config(None).harvest,
    )


def test_values_are_read_and_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[api]
base_url = "http://127.0.0.1:8080/"
timeout_seconds = 5
[harvest]
workers = 256
pacing = "burst"
fsync = false
[limits]
429_margin_seconds = 2
[limits.endpoints."/2/users/:id/tweets"]
app = 100
[limits.endpoints."/2/tweets/search/all"]
app = 10
[budget]
max_usd_per_run = 3
warn_at = [0.9, 0.5, 0.5]
[budget.auto_recharge]
threshold_usd = 1.5
amount_usd = 10
[cap]
capped_endpoints = ["/2/tweets/search/recent"]
[daemon]
metrics_port = 0
""",
    )
    config = load_config(path)
    assert config.api.base_url == "http://127.0.0.1:8080"  # trailing slash dropped
    assert config.api.timeout_seconds == 5.0
    assert isinstance(config.api.timeout_seconds, float)
    assert config.harvest.workers == 256
    assert config.harvest.pacing == "burst"
    assert config.harvest.fsync is False
    assert config.limits.margin_429_seconds == 2.0
    assert config.limits.endpoints == {
        "/2/users/:id/tweets": EndpointLimits(app=100, user=None),
        "/2/tweets/search/all": EndpointLimits(app=10, user=None),
    }
    assert config.budget.max_usd_per_run == 3.0
    assert config.budget.warn_at == (0.5, 0.9)
    assert config.budget.auto_recharge is not None
    assert config.budget.auto_recharge.max_per_day == 5
    assert config.cap.capped_endpoints == ("/2/tweets/search/recent",)
    assert config.daemon.metrics_port == 0


def test_relative_paths_resolve_against_the_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    path = write(sub, '[harvest]\noutput_dir = "data/out"\nstate = "st.db"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("etc") / "config.toml")
    assert config.base_dir == sub
    assert config.harvest.output_dir == sub / "data" / "out"
    assert config.harvest.state == str(sub / "st.db")
    assert not config.harvest.state_is_postgres
    assert load_config(str(path)).harvest.output_dir == sub / "data" / "out"


def test_absolute_path_and_postgres_url_are_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[harvest]\noutput_dir = "/srv/out"\nstate = "postgresql://h/db"\n'))
    assert config.harvest.output_dir == Path("/srv/out")
    assert config.harvest.state == "postgresql://h/db"
    assert config.harvest.state_is_postgres


def test_auth_users_and_pools(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[auth.users.alice]
consumer_key_env = "A_CK"
consumer_secret_env = "A_CS"
token_env = "A_T"
token_secret_env = "A_TS"
user_id = 12
[auth.users.bob]
consumer_key_env = "B_CK"
consumer_secret_env = "B_CS"
token_env = "B_T"
token_secret_env = "B_TS"
[auth.pools]
readers = ["alice", "bob", "alice"]
""",
    )
    config = load_config(path)
    assert config.auth.users["alice"].user_id == "12"
    assert config.auth.users["bob"].user_id is None
    assert config.auth.pools == {"readers": ("alice", "bob")}
    assert config.auth_names() == {"app", "alice", "bob", "readers"}


# --------------------------------------------------------------------------- secrets


def test_bearer_token_read_from_the_named_env_var() -> None:
    config = Config()
    assert config.bearer_token({"X_BEARER_TOKEN": "s3cr3t-value"}) == "s3cr3t-value"


@pytest.mark.parametrize("environ", [{}, {"X_BEARER_TOKEN": ""}, {"X_BEARER_TOKEN": "  "}])
def test_missing_bearer_token_names_the_variable(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        Config().bearer_token(environ)
    message = str(info.value)
    assert message == "<defaults>: api.bearer_env: environment variable X_BEARER_TOKEN is not set or is empty"


def test_bearer_token_uses_os_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[api]\nbearer_env = "MY_TOKEN"\n'))
    monkeypatch.setenv("MY_TOKEN", "abc")
    assert config.bearer_token() == "abc"
    monkeypatch.delenv("MY_TOKEN")
    with pytest.raises(ConfigError, match="MY_TOKEN"):
        config.bearer_token()


def test_pasted_token_in_bearer_env_is_refused_without_echo(tmp_path: Path) -> None:
    token = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3D" + "EUifiRBkKG5E2XzMDjRfl76"
    err = config_error(write(tmp_path, f'[api]\nbearer_env = "{token}"\n'), "api.bearer_env")
    assert token not in str(err)
    assert "NAME" in str(err)


def test_user_credentials_hide_secrets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[auth.users.alice]\nconsumer_key_env = "A_CK"\nconsumer_secret_env = "A_CS"\n'
        'token_env = "A_T"\ntoken_secret_env = "A_TS"\nuser_id = "7"\n',
    )
    config = load_config(path)
    env = {"A_CK": "ck-SECRET", "A_CS": "cs-SECRET", "A_T": "t-SECRET", "A_TS": "ts-SECRET"}
    creds = config.user_credentials("alice", env)
    assert isinstance(creds, UserCredentials)
    assert (creds.consumer_key, creds.token_secret, creds.user_id) == ("ck-SECRET", "ts-SECRET", "7")
    assert "SECRET" not in repr(creds)
    assert "SECRET" not in str(creds)
    assert "SECRET" not in repr(config)
    with pytest.raises(ConfigError) as info:
        config.user_credentials("alice", {**env, "A_TS": ""})
    assert str(info.value) == (
        f"{path}: auth.users.alice.token_secret_env: environment variable A_TS is not set or is empty"
    )
    assert "SECRET" not in str(info.value)
    with pytest.raises(ConfigError, match="no such user context"):
        config.user_credentials("carol", env)


# --------------------------------------------------------------------------- mistakes


def test_missing_file(tmp_path: Path) -> None:
    err = config_error(tmp_path / "nope.toml", None)
    assert "no such file" in str(err)
    assert isinstance(err, UserError)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "directory" in str(config_error(tmp_path, None))


def test_malformed_toml_names_line_and_column(tmp_path: Path) -> None:
    err = config_error(write(tmp_path, "[harvest]\nworkers = \n"), None)
    assert "invalid TOML" in str(err)
    assert "line 2, column 11" in str(err)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[api]\nuser_agent = '\xff'\n")
    assert "UTF-8" in str(config_error(path, None))


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("[harvest]\nworker = 3\n", "harvest.worker", "did you mean 'workers'?"),
        ("[harvset]\nworkers = 3\n", "harvset", "did you mean 'harvest'?"),
        ("workers = 3\n", "workers", "did you mean workers under [harvest]?"),
        ("[limits]\nwindow_second = 9\n", "limits.window_second", "did you mean 'window_seconds'?"),
        ("[budget.autorecharge]\namount_usd = 1\n", "budget.autorecharge", "did you mean 'auto_recharge'?"),
        ("[api]\nbearer = 'X'\n", "api.bearer", "did you mean 'bearer_env'?"),
    ],
)
def test_unknown_key_or_section_with_hint(tmp_path: Path, text: str, key: str, suggestion: str) -> None:
    err = config_error(write(tmp_path, text), key)
    assert "unknown" in str(err)
    assert suggestion in str(err)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[harvest]\nworkers = "4"\n', "harvest.workers", "must be an integer, got a string '4'"),
        ("[harvest]\nworkers = 4.0\n", "harvest.workers", "must be an integer, got a float 4.0"),
        ("[harvest]\nworkers = true\n", "harvest.workers", "must be an integer, got a boolean True"),
        ("[daemon]\nmetrics_port = false\n", "daemon.metrics_port", "must be an integer, got a boolean"),
        ("[pricing]\npost = true\n", "pricing.post", "must be a number, got a boolean"),
        ('[pricing]\npost = "0.005"\n', "pricing.post", "must be a number, got a string"),
        ("[harvest]\nfsync = 1\n", "harvest.fsync", "must be true or false, got an integer 1"),
        ("[api]\nbase_url = 3\n", "api.base_url", "must be a string, got an integer 3"),
        ('[cap]\ncapped_endpoints = "/2/tweets"\n', "cap.capped_endpoints", "must be a list of strings"),
        ("[cap]\ncapped_endpoints = [1]\n", "cap.capped_endpoints", "item 0 must be a string"),
        ('[budget]\nwarn_at = ["0.5"]\n', "budget.warn_at", "items must be numbers"),
        ("harvest = 3\n", "harvest", "must be a table"),
        ("[auth.pools]\nreaders = 'alice'\n", "auth.pools.readers", "must be a list of strings"),
    ],
)
def test_wrong_type(tmp_path: Path, text: str, key: str, expected: str) -> None:
    assert expected in str(config_error(write(tmp_path, text), key))


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[harvest]\nworkers = 0\n", "harvest.workers", "between 1 and 256, got 0"),
        ("[harvest]\nworkers = 257\n", "harvest.workers", "between 1 and 256, got 257"),
        ("[harvest]\nmax_attempts = 0\n", "harvest.max_attempts", "between 1 and 1000"),
        ("[daemon]\nmetrics_port = 70000\n", "daemon.metrics_port", "between 0 and 65535"),
        ("[budget]\ncycle_start_day = 29\n", "budget.cycle_start_day", "between 1 and 28"),
        ("[pricing]\nuser = -0.01\n", "pricing.user", "between 0 and 1000"),
        ("[api]\ntimeout_seconds = 0\n", "api.timeout_seconds", "greater than 0"),
        ("[budget]\nmax_usd_per_run = 0\n", "budget.max_usd_per_run", "greater than 0"),
        ("[budget]\nwarn_at = [0.5, 1.5]\n", "budget.warn_at", "fractions in (0, 1], got 1.5"),
        ("[limits]\nwindow_seconds = nan\n", "limits.window_seconds", "finite"),
        ("[limits]\n429_margin_seconds = -1\n", "limits.429_margin_seconds", "between 0 and 3600"),
        ('[harvest]\npacing = "spred"\n', "harvest.pacing", "did you mean 'spread'?"),
        ('[api]\nuser_agent = ""\n', "api.user_agent", "must not be empty"),
        ('[api]\nuser_agent = "a\\r\\nX-Evil: 1"\n', "api.user_agent", "control characters"),
        ('[harvest]\nstate = "mysql://x/y"\n', "harvest.state", "postgresql:// URL"),
        ('[harvest]\nstate = "postgresql://u:hunter2xx@h/db"\n', "harvest.state", "set PGPASSWORD"),
        ('[harvest]\nstate = "postgresql://u@h/db?password=hunter2xx"\n', "harvest.state", "set PGPASSWORD"),
        ("[limits]\nmax_latency_seconds = 0\n", "limits.max_latency_seconds", "between 0.1 and 600"),
    ],
)
def test_out_of_range(tmp_path: Path, text: str, key: str, expected: str) -> None:
    message = str(config_error(write(tmp_path, text), key))
    assert expected in message
    assert "hunter2xx" not in message  # a password in the file is refused without being echoed


@pytest.mark.parametrize("url", ["ftp://api.x.com", "api.x.com", "https://", "https://x.com/?a=1", "http//x"])
def test_bad_base_url(tmp_path: Path, url: str) -> None:
    err = config_error(write(tmp_path, f'[api]\nbase_url = "{url}"\n'), "api.base_url")
    assert "URL" in str(err) or "query" in str(err)


def test_unknown_route_in_limits(tmp_path: Path) -> None:
    path = write(tmp_path, '[limits.endpoints."/2/users/:id/tweet"]\napp = 5\n')
    err = config_error(path, 'limits.endpoints."/2/users/:id/tweet"')
    assert "unknown route; did you mean '/2/users/:id/tweets'?" in str(err)


def test_bad_override_in_limits(tmp_path: Path) -> None:
    path = write(tmp_path, '[limits.endpoints."/2/tweets"]\napp = 0\n')
    config_error(path, 'limits.endpoints."/2/tweets".app')
    path = write(tmp_path, '[limits.endpoints."/2/tweets"]\napps = 5\n')
    assert "did you mean 'app'?" in str(config_error(path, 'limits.endpoints."/2/tweets".apps'))
    path = write(tmp_path, '[limits.endpoints."/2/tweets/search/all"]\nuser = 5\n')
    assert "app-only" in str(config_error(path, 'limits.endpoints."/2/tweets/search/all".user'))


def test_unknown_route_in_cap(tmp_path: Path) -> None:
    path = write(tmp_path, '[cap]\ncapped_endpoints = ["/2/tweets/search/recnt"]\n')
    assert "did you mean '/2/tweets/search/recent'?" in str(config_error(path, "cap.capped_endpoints"))


def test_pool_with_unknown_user(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth.pools]\nreaders = ["alice"]\n')
    assert "unknown user context 'alice'" in str(config_error(path, "auth.pools.readers"))


def test_user_context_missing_env_name(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth.users.alice]\nconsumer_key_env = "A"\n')
    assert "is required" in str(config_error(path, "auth.users.alice.consumer_secret_env"))


def test_user_context_bad_user_id(tmp_path: Path) -> None:
    text = (
        '[auth.users.alice]\nconsumer_key_env = "A"\nconsumer_secret_env = "B"\n'
        'token_env = "C"\ntoken_secret_env = "D"\nuser_id = "@alice"\n'
    )
    config_error(write(tmp_path, text), "auth.users.alice.user_id")


def test_user_context_named_app(tmp_path: Path) -> None:
    config_error(write(tmp_path, '[auth.users.app]\nconsumer_key_env = "A"\n'), "auth.users.app")


def test_half_configured_auto_recharge(tmp_path: Path) -> None:
    path = write(tmp_path, "[budget.auto_recharge]\nthreshold_usd = 5\n")
    assert "is required" in str(config_error(path, "budget.auto_recharge.amount_usd"))


def test_error_messages_escape_newlines_in_values_and_keys(tmp_path: Path) -> None:
    err = config_error(write(tmp_path, '[harvest]\npacing = "a\\nb"\n'), "harvest.pacing")
    assert "control characters" in str(err)
    err = config_error(write(tmp_path, '[budget]\nwarn_at = 0.5\n"a\\nb" = 1\n'), "budget.warn_at")
    assert "got a float 0.5" in str(err)
    err = config_error(write(tmp_path, '[budget]\n"a\\nb" = 1\n'), 'budget."a\\nb"')
    assert "unknown key" in str(err)
