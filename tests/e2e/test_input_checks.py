"""Every bad input of issue 14's list, end to end: exit code, ONE line, nothing queued, nothing changed.

Each case (``inputcases.CASES``) lays out its files, runs the command, and then checks:

- the exit code (2 for bad input; 1 for a state file that is not harvester's, as for a corrupt one);
- exactly one ``harvester: error:`` line, naming the file, job, key or flag, and no traceback;
- nothing queued and nothing changed on disk: every path under the working folder has the same
  kind, mode, mtime and bytes as before (so no state, lock, output or ``-wal`` file appeared, and
  a foreign database kept every byte of its header).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from inputcases import CASES, changed, error_lines, lay_out, run, snapshot


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_and_changes_nothing(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    lay_out(tmp_path, case)
    before = snapshot(tmp_path)
    result = run(tmp_path, case, {"X_BEARER_TOKEN": "a-token-for-the-input-checks"}, capsys, monkeypatch)
    lines = error_lines(result.err)
    assert result.code == case.code, result
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err + result.out
    for needle in case.needles:
        assert needle in lines[0], (needle, lines[0])
    assert changed(before, snapshot(tmp_path)) == [], "nothing may be created, queued or changed"


def test_unprivileged_runs_really_lack_the_override(tmp_path: Path) -> None:
    """The permission cases mean something only if the child cannot read a mode-000 file."""
    import subprocess
    import sys

    from inputcases import _drop_dac_override

    secret = tmp_path / "f"
    secret.write_text("x")
    secret.chmod(0o000)
    proc = subprocess.run([sys.executable, "-c", f"open({str(secret)!r}).read()"], capture_output=True,
                          preexec_fn=_drop_dac_override if os.geteuid() == 0 else None, check=False)
    assert proc.returncode != 0 and b"PermissionError" in proc.stderr


def test_a_good_state_is_still_opened(tmp_path: Path) -> None:
    """The read-only look lets harvester's own state through, and leaves no -wal/-shm of its own."""
    import asyncio

    from harvester.store.sqlite import SqliteStore, inspect_state

    path = tmp_path / "h.db"

    async def cycle() -> None:
        store = SqliteStore(path)
        await store.open()
        await store.close()

    asyncio.run(cycle())
    files = sorted(p.name for p in tmp_path.iterdir())
    inspect_state(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == files == ["h.db"]
    asyncio.run(cycle())  # and it opens again


def _has_wal(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


def test_a_state_in_use_is_inspected_through_its_wal(tmp_path: Path) -> None:
    """While a writer holds the state (its -wal present), the look reads the log too."""
    import asyncio

    from harvester.core.model import NewTask
    from harvester.store.sqlite import SqliteStore, inspect_state

    path = tmp_path / "h.db"

    async def scenario() -> None:
        store = SqliteStore(path)
        await store.open()
        try:
            await store.enqueue([NewTask(job="j", key="k", endpoint="/2/tweets", path_params={}, params={},
                                         priority=0, not_before=0.0, auth="app", write=True)])
            assert _has_wal(path)
            inspect_state(path)
        finally:
            await store.close()

    asyncio.run(scenario())
