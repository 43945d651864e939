"""Fuzzing the config and job loaders (issue 14): a valid result or ONE line, never a traceback.

Hypothesis writes TOML documents built from the loaders' own vocabulary (every section, key and
kind they know, plus random keys), with values of every TOML type (strings of any Unicode,
integers past 64 bits, nan and inf, dates and times, arrays and tables nested at random), in
both spellings (``[section]`` / ``[[job]]`` headers and inline tables), and then damages some of
the bytes: truncation at a random point, a byte-order mark, UTF-16, a random byte flipped,
invalid UTF-8 inserted, a value nested thousands of levels deep.

The property: ``load_config`` returns a :class:`Config` or raises a :class:`ConfigError`, and
``load_jobs`` returns a list of :class:`JobSpec` or raises a :class:`JobSpecError`; an error's
message is one line. Any other exception (``RecursionError``, ``ValueError``, ``TypeError``,
``OverflowError``...) fails the test with the example that caused it.

Example counts (``MAX_EXAMPLES``) are printed in the closing note of the change; each property
runs in a few seconds on one core.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from harvester.config import AuthConfig, Config, UserAuthConfig, load_config
from harvester.config.load import _SECTION_KEYS
from harvester.core.model import KINDS, JobSpec
from harvester.errors import ConfigError, JobSpecError
from harvester.jobspec import ALL_KEYS, load_jobs

MAX_EXAMPLES = {"config_structured": 400, "config_raw": 300, "jobs_structured": 300, "jobs_raw": 300}
SETTINGS: dict[str, Any] = {"deadline": None, "database": None,
                            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
# A failing example with a 5,000-level value has a huge repr; Hypothesis warns about it, and the
# suite turns warnings into errors, which would hide the failure itself.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

# -- values ---------------------------------------------------------------------------------------

WORDS = [
    "15m", "1.5m", "0.25", "90s", "1h30m", "every 15m", "every 0.5s", "every day", "0 3 * * *", "@hourly",
    "search", "timeline", "mentions", "followers", "lookup_tweets", "lookup_users", "app", "alice", "poll", "once",
    "12345", "2244994945", "x" * 600, "", " ", "jack", "@jack", "coffee -is:retweet", "created_at", "author_id",
    "2026-11-17T00:00:00Z", "2026-02-30T00:00:00Z", "yesterday", "https://api.x.com", "http://127.0.0.1:notaport",
    "http://u:p@h:1", "http://[::1", "ftp://x", "postgresql://h/db", "POSTGRESQL://u:pw@h/db",
    "postgresql+asyncpg://u:pw@h/db", "sqlite:///x.db", "state/h.db", "out", "..", ".x", "a/b", "spread", "burst",
    "X_BEARER_TOKEN", "not a var", "/2/tweets/search/recent", "/2/nope", "\x00", "\u202e", "caf\u00e9", "\U0001f600",
]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24)
strings = st.one_of(st.sampled_from(WORDS), text)
ints = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 2, 4, 8, 256, 257, 65535, 65536, 10**19]))
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 0.001, 0.25, 1e308]))
times = st.one_of(
    st.datetimes(timezones=st.sampled_from(
        [None, dt.UTC, dt.timezone(dt.timedelta(hours=-7)), dt.timezone(dt.timedelta(hours=14))])),
    st.dates(), st.times(),
)
scalars = st.one_of(st.booleans(), ints, floats, strings, times)


def keys_from(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), st.sampled_from(known), text.filter(bool))


def values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
        max_leaves=8,
    )


CONFIG_KEYS = sorted({k for ks in _SECTION_KEYS.values() for k in ks}
                     | {"endpoints", "users", "pools", "auto_recharge", "app", "user", "consumer_key_env",
                        "consumer_secret_env", "token_env", "token_secret_env", "user_id", "threshold_usd",
                        "amount_usd", "max_per_day", "alice", "/2/tweets/search/recent", "429_margin_seconds"})
SECTIONS = sorted([*_SECTION_KEYS, "auth"])
JOB_KEYS = sorted(ALL_KEYS)

# -- a small TOML writer --------------------------------------------------------------------------

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(v), repr(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON's escapes are TOML basic-string escapes
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def document(doc: dict[str, Any], headers: bool) -> str:
    """TOML for ``doc``: tables as ``[name]`` / ``[[name]]`` sections when ``headers``, else inline."""
    lines = [f"{key(k)} = {value(v)}" for k, v in doc.items()
             if not headers or not (isinstance(v, dict) or _tables(v))]
    if headers:
        for k, v in doc.items():
            if isinstance(v, dict):
                lines.append(f"[{key(k)}]")
                lines.extend(f"{key(k2)} = {value(v2)}" for k2, v2 in v.items())
            elif _tables(v):
                for item in v:
                    lines.append(f"[[{key(k)}]]")
                    lines.extend(f"{key(k2)} = {value(v2)}" for k2, v2 in item.items())
    return "\n".join(lines) + "\n"


def _tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


# -- damage ---------------------------------------------------------------------------------------

@st.composite
def damaged(draw: st.DrawFn, source: st.SearchStrategy[str]) -> bytes:
    raw = draw(source).encode("utf-8")
    how = draw(st.sampled_from(["none"] * 8 + ["truncate", "bom", "utf16", "flip", "invalid", "deep",
                                              "deep-inline", "nul"]))
    if how == "truncate" and raw:
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "bom":
        return draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"])) + raw
    if how == "utf16":
        return raw.decode("utf-8").encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"])))
    if how == "flip" and raw:
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1:]
    if how == "invalid":
        i = draw(st.integers(0, len(raw)))
        return raw[:i] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])) + raw[i:]
    if how == "deep":
        n = draw(st.integers(60, 6000))
        return raw + b"deep = " + b"[" * n + b"1" + b"]" * n + b"\n"
    if how == "deep-inline":
        n = draw(st.integers(60, 3000))
        return raw + b"deep = " + b"{a = " * n + b"1" + b"}" * n + b"\n"
    if how == "nul" and raw:
        i = draw(st.integers(0, len(raw)))
        return raw[:i] + b"\x00" + raw[i:]
    return raw


config_docs = st.builds(
    document,
    st.dictionaries(keys_from(SECTIONS), st.one_of(st.dictionaries(keys_from(CONFIG_KEYS), values(
        keys_from(CONFIG_KEYS)), max_size=6), scalars), max_size=5),
    st.booleans(),
)
# Values of job keys: mostly scalars and flat lists (what a job key holds), sometimes deep.
job_values = st.one_of(scalars, scalars, st.lists(st.one_of(strings, ints, times), max_size=4),
                       values(keys_from(JOB_KEYS)))
job_tables = st.one_of(
    st.dictionaries(keys_from(JOB_KEYS), job_values, max_size=8),
    st.builds(lambda head, rest: {**rest, **head},
              st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "A", ".x", "..", "ok-1", "x/y"]),
                                     "kind": st.sampled_from(KINDS)}),
              st.dictionaries(st.sampled_from(JOB_KEYS), job_values, max_size=8)),
)
job_docs = st.builds(
    document,
    st.one_of(
        st.fixed_dictionaries({"job": st.lists(job_tables, max_size=3)}),
        st.dictionaries(keys_from(["job", *JOB_KEYS]), job_values, max_size=3),
    ),
    st.booleans(),
)
# Near-valid documents: the shipped examples (every config key; one job per kind, plus poll and
# schedule keys) with a few random edits, so most of the validators' depth is reached.
_ROOT = Path(__file__).resolve().parent.parent
_EXAMPLE_CONFIG = tomllib.loads((_ROOT / "config.toml").read_text())
_EXAMPLE_CONFIG["auth"] = {"users": {"alice": {"consumer_key_env": "A_CK", "consumer_secret_env": "A_CS",
                                               "token_env": "A_AT", "token_secret_env": "A_AS", "user_id": "12"}},
                           "pools": {"readers": ["alice"]}}
_EXAMPLE_JOBS = [t for f in sorted((_ROOT / "jobs").glob("*.toml")) for t in tomllib.loads(f.read_text())["job"]]
_EXAMPLE_JOBS.append({"name": "p", "kind": "timeline", "user_ids": ["1", "2"], "mode": "poll", "min_interval": "1.5m",
                      "max_interval": 86400, "active_since": ["1"], "schedule": "every 15m", "auth": "alice"})


@st.composite
def edited(draw: st.DrawFn, base: Any, keys: st.SearchStrategy[str]) -> Any:
    """``base`` (a deep copy) with 0-3 edits: a value replaced, a key removed or a key added."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 3))):
        tables = [doc]
        stack = [doc]
        while stack:  # every table and every array of tables in the document
            node = stack.pop()
            for v in node.values() if isinstance(node, dict) else node:
                if isinstance(v, dict | list):
                    tables.append(v)
                    stack.append(v)
        table = draw(st.sampled_from(tables))
        if isinstance(table, list):
            if table:
                table[draw(st.integers(0, len(table) - 1))] = draw(values(keys))
            continue
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action in ("replace", "remove") and table:
            k = draw(st.sampled_from(sorted(table)))
            if action == "remove":
                del table[k]
            else:
                table[k] = draw(st.one_of(scalars, values(keys)))
        else:
            table[draw(keys)] = draw(st.one_of(scalars, values(keys)))
    return doc


near_config_docs = st.builds(document, edited(_EXAMPLE_CONFIG, keys_from(CONFIG_KEYS)), st.booleans())
near_job_docs = st.builds(
    document,
    st.lists(st.sampled_from(_EXAMPLE_JOBS), min_size=1, max_size=3).flatmap(
        lambda jobs: edited({"job": jobs}, keys_from(JOB_KEYS))),
    st.booleans(),
)
raw_bytes = st.one_of(st.binary(max_size=200), text.map(lambda s: s.encode("utf-8", "surrogatepass")))

# -- the properties -------------------------------------------------------------------------------

_DIR = Path(tempfile.mkdtemp(prefix="harvester-fuzz-"))


def _one_line_or_valid(load: Callable[[Path], Any], error: type[Exception], raw: bytes, name: str) -> None:
    path = _DIR / name
    path.write_bytes(raw)
    try:
        result = load(path)
    except error as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, message
        assert message.startswith(str(path)), message
        event("one-line error")
        return
    event("valid result")
    if error is ConfigError:
        assert isinstance(result, Config)
    else:
        assert isinstance(result, list) and all(isinstance(s, JobSpec) for s in result)


def _load_jobs_with_config(path: Path) -> list[JobSpec]:
    return load_jobs([path], config=AUTH_CONFIG)


AUTH_CONFIG = Config(auth=AuthConfig(users={"alice": UserAuthConfig(
    name="alice", consumer_key_env="A_CK", consumer_secret_env="A_CS", token_env="A_AT", token_secret_env="A_AS")}))


@settings(max_examples=MAX_EXAMPLES["config_structured"], **SETTINGS)
@given(damaged(st.one_of(config_docs, near_config_docs, near_config_docs)))
def test_config_loader_structured(raw: bytes) -> None:
    _one_line_or_valid(load_config, ConfigError, raw, "config.toml")


@settings(max_examples=MAX_EXAMPLES["config_raw"], **SETTINGS)
@given(st.one_of(raw_bytes, damaged(text)))
def test_config_loader_raw(raw: bytes) -> None:
    _one_line_or_valid(load_config, ConfigError, raw, "config.toml")


@settings(max_examples=MAX_EXAMPLES["jobs_structured"], **SETTINGS)
@given(damaged(st.one_of(job_docs, near_job_docs, near_job_docs)), st.booleans())
def test_job_loader_structured(raw: bytes, with_config: bool) -> None:
    _one_line_or_valid(_load_jobs_with_config if with_config else lambda p: load_jobs([p]), JobSpecError, raw,
                       "jobs.toml")


@settings(max_examples=MAX_EXAMPLES["jobs_raw"], **SETTINGS)
@given(st.one_of(raw_bytes, damaged(text)))
def test_job_loader_raw(raw: bytes) -> None:
    _one_line_or_valid(lambda p: load_jobs([p]), JobSpecError, raw, "jobs.toml")


def test_the_generators_reach_valid_results_too() -> None:
    """A fuzzer that only ever produced errors would prove little: valid documents come out of the
    same writer (checked on hand-made ones that use every spelling it has)."""
    config = document({"harvest": {"workers": 3, "pacing": "burst"}, "api": {"timeout_seconds": 2.5}}, True)
    assert "[harvest]" in config
    path = _DIR / "valid.toml"
    path.write_text(config)
    assert load_config(path).harvest.workers == 3
    path.write_text(document({"harvest": {"workers": 3}}, False))
    assert load_config(path).harvest.workers == 3
    jobs = document({"job": [{"name": "a", "kind": "search", "query": "x", "min_interval": "1.5m",
                              "start_time": dt.datetime(2026, 11, 17, tzinfo=dt.UTC)}]}, True)
    path.write_text(jobs)
    [spec] = load_jobs([path])
    assert spec.start_time == "2026-11-17T00:00:00Z" and spec.extra["min_interval"] == 90.0
