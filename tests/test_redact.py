"""Redaction: URL passwords in any scheme spelling and registered tokens, in errors, logs and status."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
import structlog

from harvester import log as logsetup
from harvester.redact import has_url_password, redact, redact_tree, register_secret

PW = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"postgresql://harv:{PW}@db:5432/h", "postgresql://harv:***@db:5432/h"),
        (f"POSTGRESQL://harv:{PW}@db/h", "POSTGRESQL://harv:***@db/h"),
        (f"postgres://harv:{PW}@db/h", "postgres://harv:***@db/h"),
        (f"postgresql+asyncpg://harv:{PW}@db/h", "postgresql+asyncpg://harv:***@db/h"),
        (f"https://me:{PW}@api.x.com/2", "https://me:***@api.x.com/2"),
        (f"connect to postgresql://u:{PW}@db/h failed: timeout", "connect to postgresql://u:***@db/h failed"),
        (f"postgresql://u:{PW}@x@db/h", "postgresql://u:***@db/h"),  # a password holding "@"
        (f"postgresql://db/h?sslmode=require&password={PW}", "password=***"),
        (f"postgresql://db/h?PassWord={PW}&x=1", "PassWord=***&x=1"),
        (f"host=db user=harv password={PW} dbname=h", "password=*** dbname=h"),
        (f"host=db password='{PW} with space'", "password=***"),
    ],
)
def test_url_passwords_are_redacted(text: str, kept: str) -> None:
    out = redact(text)
    assert PW not in out
    assert kept in out
    assert has_url_password(text)


@pytest.mark.parametrize("text", ["http://127.0.0.1:8899/2/tweets", "https://api.x.com", "state/harvester.db",
                                  "postgresql://harv@db:5432/h", "ratio 3:4 @ noon"])
def test_text_without_secrets_is_left_alone(text: str) -> None:
    assert redact(text) == text
    assert not has_url_password(text)


def test_registered_secrets_and_trees() -> None:
    token = "AAAA-registered-token-for-redact-test"
    register_secret(token)
    register_secret("short")  # too short to be a credential: never scrubbed
    tree = {"a": [f"Bearer {token}", ("x", f"https://u:{PW}@h")], "n": 3, "short": "short"}
    out = redact_tree(tree)
    assert token not in json.dumps(out) and PW not in json.dumps(out)
    assert out == {"a": ["Bearer ***", ("x", "https://u:***@h")], "n": 3, "short": "short"}


def test_log_lines_never_carry_a_url_password() -> None:
    stream = io.StringIO()
    logsetup.configure(json=True, stream=stream)
    try:
        structlog.get_logger("t").warning(
            "store_unreachable", error=OSError(f"cannot connect to POSTGRESQL://u:{PW}@db/h"),
            url=f"postgresql+asyncpg://u:{PW}@db/h", nested={"dsn": f"postgres://u:{PW}@db"}, path=Path("/x"),
        )
    finally:
        logsetup.configure()
    line = stream.getvalue()
    assert PW not in line
    event = json.loads(line)
    assert event["url"] == "postgresql+asyncpg://u:***@db/h"
    assert event["error"] == "cannot connect to POSTGRESQL://u:***@db/h"
    assert event["nested"] == {"dsn": "postgres://u:***@db"} and event["path"] == "/x"


def test_status_redacts_errors_that_quote_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A task's last error quoting a URL with its password is shown redacted by ``status``."""
    from harvester.cli import main
    from harvester.core.model import NewTask
    from harvester.store.sqlite import SqliteStore

    state = tmp_path / "state" / "harvester.db"
    state.parent.mkdir()

    async def failed_task() -> None:
        store = SqliteStore(state)
        await store.open()
        try:
            await store.enqueue([NewTask(job="j", key="k", endpoint="/2/tweets", path_params={}, params={},
                                         priority=0, not_before=0.0, auth="app", write=True)])
            [task] = await store.claim("w", 1.0, 60.0)
            await store.fail(task.id, f"proxy postgresql+asyncpg://u:{PW}@db refused")
        finally:
            await store.close()

    asyncio.run(failed_task())
    monkeypatch.chdir(tmp_path)
    for args in (["status"], ["status", "--json"]):
        assert main(args) == 0
        out = capsys.readouterr().out
        assert PW not in out and "u:***@db" in out
