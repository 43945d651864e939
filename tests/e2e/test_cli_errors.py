"""Bad input of every kind: one line naming the file, job or key; exit 2; nothing queued."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.cli import main

GOOD_JOB = """
[[job]]
name = "s"
kind = "search"
query = "cats"
"""

CONFIG_CASES = {
    "malformed toml": ("[harvest\nworkers = 2", "config.toml"),
    "unknown key": ("[harvest]\nworkerz = 2", "harvest.workerz"),
    "wrong type": ('[harvest]\nworkers = "four"', "harvest.workers"),
    "bool as int": ("[harvest]\nworkers = true", "harvest.workers"),
    "out of range": ("[harvest]\nworkers = 0", "harvest.workers"),
    "bad url": ('[api]\nbase_url = "ftp://example"', "api.base_url"),
    "unknown section": ("[harvset]\nworkers = 2", "harvset"),
    "unknown limits route": ('[limits.endpoints."/2/nope"]\napp = 5', "/2/nope"),
    "bad pacing": ('[harvest]\npacing = "fast"', "harvest.pacing"),
    "negative budget": ("[budget]\nmax_usd_per_run = -1.0", "budget.max_usd_per_run"),
}

JOB_CASES = {
    "malformed toml": ("[[job]\nname = 'x'", "jobs.toml"),
    "unknown key": (GOOD_JOB + 'quer = "x"\n', "quer"),
    "unknown kind": ('[[job]]\nname = "a"\nkind = "likes"\n', "kind"),
    "max_results out of bounds": (GOOD_JOB + "max_results = 500\n", "max_results"),
    "query too long": ('[[job]]\nname = "a"\nkind = "search"\nquery = "' + "x" * 600 + '"\n', "query"),
    "bad time": (GOOD_JOB + 'start_time = "yesterday"\n', "start_time"),
    "start after end": (GOOD_JOB + 'start_time = "2026-11-18T00:00:00Z"\nend_time = "2026-11-17T00:00:00Z"\n',
                        "end_time"),
    "bad id": ('[[job]]\nname = "a"\nkind = "lookup_tweets"\ntweet_ids = ["12x"]\n', "tweet_ids"),
    "bad username": ('[[job]]\nname = "a"\nkind = "timeline"\nusernames = ["no spaces"]\n', "usernames"),
    "missing users": ('[[job]]\nname = "a"\nkind = "followers"\n', "followers"),
    "key not for kind": ('[[job]]\nname = "a"\nkind = "timeline"\nuser_ids = ["1"]\nquery = "x"\n', "query"),
    "bad name": ('[[job]]\nname = "a/b"\nkind = "search"\nquery = "x"\n', "name"),
    "unknown field": (GOOD_JOB + 'tweet_fields = ["colour"]\n', "tweet_fields"),
    "duplicate name": (GOOD_JOB + GOOD_JOB, "'s'"),
}


def run_cli(tmp: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("harvester: error:")]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_config(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                    monkeypatch: pytest.MonkeyPatch) -> None:
    text, needle = CONFIG_CASES[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("X_BEARER_TOKEN", "t")
    (tmp_path / "config.toml").write_text(text)
    (tmp_path / "jobs.toml").write_text(GOOD_JOB)
    code, err = run_cli(tmp_path, ["run", "--config", "config.toml", "--jobs", "jobs.toml"], capsys)
    assert_one_line_error(code, err, "config.toml", needle)
    assert not (tmp_path / "state").exists(), "nothing may be queued"


@pytest.mark.parametrize("case", sorted(JOB_CASES))
def test_bad_job_file(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    text, needle = JOB_CASES[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("X_BEARER_TOKEN", "t")
    (tmp_path / "jobs.toml").write_text(text)
    code, err = run_cli(tmp_path, ["run", "--jobs", "jobs.toml"], capsys)
    assert_one_line_error(code, err, "jobs.toml", needle)
    assert not (tmp_path / "state").exists(), "nothing may be queued"


def test_missing_token_names_the_variable_not_a_value(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    (tmp_path / "jobs.toml").write_text(GOOD_JOB)
    code, err = run_cli(tmp_path, ["run", "--jobs", "jobs.toml"], capsys)
    assert_one_line_error(code, err, "X_BEARER_TOKEN")
    assert not (tmp_path / "state").exists()


def test_missing_jobs_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(tmp_path, ["run", "--jobs", "nope"], capsys)
    assert_one_line_error(code, err, "nope")


def test_corrupt_state_file_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("X_BEARER_TOKEN", "t")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "harvester.db").write_bytes(b"this is not sqlite at all" * 100)
    (tmp_path / "jobs.toml").write_text(GOOD_JOB)
    code, err = run_cli(tmp_path, ["run", "--jobs", "jobs.toml"], capsys)
    lines = [line for line in err.splitlines() if line.startswith("harvester: error:")]
    assert code == 1 and len(lines) == 1, err
    assert "harvester.db" in lines[0] and "Traceback" not in err
    assert (tmp_path / "state" / "harvester.db").read_bytes().startswith(b"this is not"), "left untouched"


def test_token_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad base URL fails the run; the token appears in no output."""
    secret = "AAAA-very-secret-token-value"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("X_BEARER_TOKEN", secret)
    (tmp_path / "config.toml").write_text(
        '[api]\nbase_url = "http://127.0.0.1:9"\ntimeout_seconds = 1.0\n[harvest]\nmax_attempts = 1\n')
    (tmp_path / "jobs.toml").write_text(GOOD_JOB)
    main(["run", "--config", "config.toml", "--jobs", "jobs.toml"])
    out = capsys.readouterr()
    assert secret not in out.out and secret not in out.err
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f


def test_run_refuses_while_another_process_holds_the_state(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A run beside a daemon would put the daemon's claims back: it refuses, one line, exit 1."""
    from harvester.runtime.lock import state_lock

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("X_BEARER_TOKEN", "a-long-enough-token")
    (tmp_path / "jobs.toml").write_text(GOOD_JOB)
    lock = state_lock(str(tmp_path / "state" / "harvester.db"))
    lock.acquire()
    try:
        code = main(["run", "--jobs", "jobs.toml"])
    finally:
        lock.release()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("harvester: error:")]
    assert code == 1 and len(lines) == 1 and "another harvester process" in lines[0]
