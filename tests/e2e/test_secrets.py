"""Secrets never printed: every error path of the CLI suite, run with secrets planted, grepped for them.

Planted: the bearer token (in its environment variable), an OAuth 1.0a user context's four
secrets (environment variables named by the config), ``PGPASSWORD``, and a password inside the
state URL in every spelling of its scheme. Each case of ``test_cli_errors.py`` and of
``inputcases.CASES`` runs with them, once plain and once with ``-v`` (tracebacks on), and then
stdout, stderr and every file the run created or changed are searched for each secret.

A last case fails at run time instead (nothing listens at the API's address), so the token and
the OAuth secrets have actually been read, registered and sent through the retry and failure
paths (logs, the state's last errors, the summary) before the grep.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from inputcases import CASES, CLOSED_URL, GOOD_JOB, STATE_PASSWORD, Case, changed, lay_out, run, snapshot
from test_cli_errors import CONFIG_CASES, JOB_CASES

SECRETS = {
    "X_BEARER_TOKEN": "AAAAbearer-planted-5ecret-0123456789",
    "ALICE_CK": "ck-planted-5ecret-0123456789",
    "ALICE_CS": "cs-planted-5ecret-0123456789",
    "ALICE_AT": "at-planted-5ecret-0123456789",
    "ALICE_AS": "as-planted-5ecret-0123456789",
    "PGPASSWORD": "pg-planted-5ecret-0123456789",
}
OAUTH = """[auth.users.alice]
consumer_key_env = "ALICE_CK"
consumer_secret_env = "ALICE_CS"
token_env = "ALICE_AT"
token_secret_env = "ALICE_AS"
user_id = "12"

"""
NEEDLES = [*SECRETS.values(), STATE_PASSWORD, "hunter2secret"]
RUN = ("run", "--config", "config.toml", "--jobs", "jobs.toml")


def _with_oauth(case: Case) -> Case:
    """The case with the OAuth user context in its config (a config of its own if it had none)."""
    files = dict(case.files)
    config = files.get("config.toml")
    if config is None and "--config" not in case.argv:  # ./config.toml is then read by default
        files["config.toml"] = OAUTH
    elif isinstance(config, str):
        files["config.toml"] = OAUTH + config
    return replace(case, files=files)


ALL: dict[str, Case] = {f"input: {k}": v for k, v in CASES.items()}
ALL |= {f"config: {k}": Case({"config.toml": text, "jobs.toml": GOOD_JOB}, RUN)
        for k, (text, _) in CONFIG_CASES.items()}
ALL |= {f"job file: {k}": Case({"jobs.toml": text}, ("run", "--jobs", "jobs.toml"))
        for k, (text, _) in JOB_CASES.items()}
ALL["missing user secret"] = Case(
    {"config.toml": OAUTH, "jobs.toml": '[[job]]\nname = "t"\nkind = "timeline"\nuser_ids = ["1"]\nauth = "bob"\n'},
    RUN)
ALL["run fails at run time"] = Case(
    {"config.toml": f'[api]\nbase_url = "{CLOSED_URL}"\ntimeout_seconds = 1.0\n[harvest]\nmax_attempts = 1\n',
     "jobs.toml": GOOD_JOB + '[[job]]\nname = "t"\nkind = "timeline"\nuser_ids = ["1"]\nauth = "alice"\n'},
    RUN, code=1)


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
@pytest.mark.parametrize("name", sorted(ALL))
def test_no_secret_in_any_output(name: str, verbose: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    case = _with_oauth(ALL[name])
    if verbose:
        case = replace(case, argv=(case.argv[0], "-v", *case.argv[1:]))
    lay_out(tmp_path, case)
    before = snapshot(tmp_path)
    result = run(tmp_path, case, SECRETS, capsys, monkeypatch)
    assert result.code != 0, "every case is an error path"
    if name == "run fails at run time":
        assert result.code == 1 and (tmp_path / "state" / "harvester.db").exists(), "the run really ran"
    text = result.out + result.err
    written = {p: snap for p, snap in snapshot(tmp_path).items() if p in changed(before, snapshot(tmp_path))}
    for secret in NEEDLES:
        assert secret not in text, (secret, text[-2000:])
        for path, (_kind, _, _, data) in written.items():
            assert secret.encode() not in data, (secret, path)
    # The redaction leaves the rest readable: the error line is still there.
    assert "harvester: error:" in result.err or result.code == 1
