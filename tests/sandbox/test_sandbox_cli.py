"""``harvester sandbox``: every flag shows its default, flags reach SandboxConfig, no token needed."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from harvester.cli import _parser, main
from harvester.commands import sandbox as sandbox_cmd
from harvester.errors import UserError
from harvester.sandbox import SandboxConfig
from harvester.sandbox.config import DEFAULT_CAPPED_ROUTES
from harvester.sandbox.openapi import VERSIONS
from harvester.sandbox.quirks import QUIRKS


def test_every_flag_has_a_help_line_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    text = capsys.readouterr().out
    blocks = re.split(r"\n(?=  -)", text.split("options:", 1)[1])
    flags = {b.split()[0].rstrip(","): " ".join(b.split()) for b in blocks if b.strip()}
    for flag in ("--host", "--port", "--seed", "--epoch", "--speed", "--token-env", "--latency", "--window",
                 "--limit", "--api-version", "--quirk", "--cap", "--capped-route", "--keepalive", "--stream-fault",
                 "--config", "-v", "--json-logs"):
        assert flag in flags, flag
        assert "default" in flags[flag], flags[flag]
    assert "(default: 127.0.0.1)" in flags["--host"] and "(default: 8899)" in flags["--port"]
    assert "(default: 7)" in flags["--seed"] and "(default: now)" in flags["--epoch"]
    assert "(default: any bearer token)" in flags["--token-env"]


def test_the_cli_knows_the_sandbox_versions_and_default() -> None:
    assert sandbox_cmd.API_VERSIONS == VERSIONS
    assert SandboxConfig().api_version == sandbox_cmd.DEFAULT_API_VERSION


def _config(*argv: str) -> tuple[SandboxConfig, list[str]]:
    return sandbox_cmd.sandbox_config(_parser().parse_args(["sandbox", *argv]))


def test_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    cfg, tokens = _config("--epoch", "1795132800")
    assert tokens == [] and cfg.api_version == "2.166" and cfg.quirks == frozenset()
    assert cfg.monthly_cap is None and cfg.capped_routes == DEFAULT_CAPPED_ROUTES and cfg.window_seconds == 900
    cfg, tokens = _config("--epoch", "0", "--api-version", "2.167", "--quirk", "random_order", "--quirk",
                          "no_newest_id", "--cap", "500", "--capped-route", "/2/tweets/search/recent",
                          "--capped-route", "/2/tweets/search/all", "--window", "30")  # fmt: skip
    assert cfg.api_version == "2.167" and cfg.quirks == {"random_order", "no_newest_id"}
    assert cfg.monthly_cap == 500 and cfg.window_seconds == 30
    assert cfg.capped_routes == {"/2/tweets/search/recent", "/2/tweets/search/all"}
    assert _config("--epoch", "0", "--quirk", "all")[0].quirks == frozenset(QUIRKS)
    monkeypatch.setenv("MY_TOKEN", "s3cret")
    assert _config("--epoch", "0", "--token-env", "MY_TOKEN")[1] == ["s3cret"]
    with pytest.raises(UserError, match="--token-env: environment variable NOPE_TOKEN is not set"):
        _config("--token-env", "NOPE_TOKEN")
    with pytest.raises(UserError, match="--quirk nope: unknown quirk \\(known: all, sliding_windows"):
        _config("--quirk", "nope")
    with pytest.raises(UserError, match="--capped-route /2/nope: unknown route"):
        _config("--capped-route", "/2/nope")
    with pytest.raises(SystemExit):
        _config("--api-version", "2.150")


def test_stream_flags_reach_the_config() -> None:
    cfg, _ = _config("--epoch", "0")
    assert cfg.stream_keepalive_seconds == 20.0 and cfg.stream_faults == ()
    cfg, _ = _config("--epoch", "0", "--keepalive", "5", "--stream-fault", "60:drop",
                     "--stream-fault", "300:disconnect:429:2")  # fmt: skip
    assert cfg.stream_keepalive_seconds == 5.0
    assert [(f.after, f.end, f.then, f.times) for f in cfg.stream_faults] == [
        (60.0, "drop", "", 0), (300.0, "disconnect", "429", 2)]
    for bad in ("60", "x:drop", "60:explode", "60:drop:429", "60:drop:429:0", "60:drop:418:1", "-1:drop"):
        with pytest.raises(UserError, match=f"--stream-fault {bad}: expected AFTER:END"):
            _config("--epoch", "0", f"--stream-fault={bad}")
    with pytest.raises(UserError, match="--keepalive: must be > 0 seconds"):
        _config("--epoch", "0", "--keepalive", "0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_sandbox_process_without_a_token_in_its_environment(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "X_BEARER_TOKEN"}
    log = (tmp_path / "sandbox.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "harvester", "sandbox", "--port", str(port), "--epoch",
                             "1795132800", "--api-version", "2.167", "--quirk", "empty_newest_id"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:  # waiting for another process to listen: there is no virtual time to jump
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "sandbox.log").read_text()
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/2/tweets/search/recent?query=zzznotaword"
        req = urllib.request.Request(url, headers={"Authorization": "Bearer anything-at-all"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200 and r.headers["api-version"] == "2.167"
            assert json.loads(r.read()) == {"meta": {"result_count": 0, "newest_id": ""}}
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url), timeout=10)  # no credentials at all
        assert e.value.code == 401
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    assert "quirks empty_newest_id" in (tmp_path / "sandbox.log").read_text()
