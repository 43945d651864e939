"""Disk full and I/O errors at run time (issue 14): one line naming the file and the OS error,
exit 1, the page uncommitted, the state's task untouched, nothing torn left behind; the next start
finds no torn line and finishes the harvest equal to the truth.

Two ways to make a write fail: in-process, the disk "fills up" at an fsync (ENOSPC, as a
filesystem with delayed allocation reports it); and a real ``harvester run`` process whose
``RLIMIT_FSIZE`` ends its output file where it stands (EFBIG, the write torn after one byte).
"""

from __future__ import annotations

import errno
import io
import os
import resource
import sqlite3
import subprocess
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from e2ehelp import EPOCH, FixedClock, env, harvester_cmd

from harvester.commands.run import EXIT, report
from harvester.core.request import Cause
from harvester.embed.harvester import report_of
from harvester.jobspec import load_jobs
from harvester.runtime.harvest import RunResult
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.testing import data_ids, harvest_sandbox, make_config, read_pages, run_virtual

START, END = "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"
JOB = f"""[[job]]
name = "s"
kind = "search"
query = "bumife"
start_time = "{START}"
end_time = "{END}"
max_results = 50
tweet_fields = ["created_at", "author_id", "public_metrics", "lang"]
expansions = ["author_id"]
user_fields = ["username", "created_at", "description"]
"""


def task_row(state: Path) -> tuple[Any, ...]:
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT state, cursor, pages, items, attempts, failure FROM tasks").fetchone()
        length = conn.execute("SELECT length FROM outputs WHERE job = 's'").fetchone()
    finally:
        conn.close()
    return (*row, length[0] if length else 0)


def assert_whole_and_true(out: Path, truth: set[str]) -> None:
    data = out.read_bytes()
    assert data.endswith(b"\n"), "no torn last line"
    pages = read_pages(out)
    ids = data_ids(pages)
    assert len(ids) == len(set(ids)) and set(ids) == truth
    per_page = Counter(p["__harvester"]["page"] for p in pages)
    assert sorted(per_page) == list(range(1, len(pages) + 1)) and max(per_page.values()) == 1


def test_a_full_disk_stops_the_run_with_one_line_and_the_next_start_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "jobs.toml").write_text(JOB)
    specs = load_jobs([tmp_path / "jobs.toml"])
    config = make_config(tmp_path, workers=1)
    output = tmp_path / "out" / "s.jsonl"
    real_fsync = os.fsync
    calls = [0]

    def fsync(fd: int) -> None:  # the 4th page's bytes are written, then the disk is full
        if os.readlink(f"/proc/self/fd/{fd}") == str(output):
            calls[0] += 1
            if calls[0] == 4:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    async def run(hour: int) -> tuple[RunResult, dict[str, Any], set[str]]:
        result, sb = await harvest_sandbox(config, specs, sandbox=SandboxConfig(epoch=EPOCH),
                                           epoch=EPOCH + 3600.0 * hour)  # fmt: skip
        return result, sb.report(), set(sb.truth.search("bumife", START, END))

    with monkeypatch.context() as m:
        m.setattr("harvester.output.files.os.fsync", fsync)
        result, served, truth = run_virtual(lambda: run(0))
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        report(report_of(result), specs, title="harvester run", spend_label="spend")
    assert EXIT[result.outcome] == 1
    assert result.stop is not None and result.stop.cause is Cause.OUTPUT and result.stop.failure
    assert err.getvalue().splitlines() == [
        (f"stopped (output): job s: {output}: cannot write: No space left on device; the page was not kept: "
         "make room and run again to continue")]
    assert served["requests"]["/2/tweets/search/recent 200"] == 4  # then the run stopped: no more requests
    # The 4th page is not in the file, not committed; the task is pending at the 3rd page's cursor.
    state, cursor, pages, _items, attempts, failure, length = task_row(tmp_path / "state.db")
    assert (state, pages, attempts, failure, length) == ("pending", 3, 0, None, output.stat().st_size)
    assert cursor and len(read_pages(output)) == 3 and output.read_bytes().endswith(b"\n")
    # The 4th request was billed by the server (the page was delivered), so its charge is kept.
    conn = sqlite3.connect(tmp_path / "state.db")
    try:
        assert conn.execute("SELECT count(*) FROM ledger").fetchone() == (4,)
    finally:
        conn.close()

    again, served, truth = run_virtual(lambda: run(1))
    assert EXIT[again.outcome] == 0 and again.truncated == {}  # nothing torn was left to cut
    assert served["requests"]["/2/tweets/search/recent 200"] == 13 - 3  # from the 4th page on
    assert_whole_and_true(output, truth)


@pytest.mark.slow
def test_a_real_run_whose_file_cannot_grow_exits_1_with_one_line(tmp_path: Path, sandbox_server: str) -> None:
    """A file size limit (RLIMIT_FSIZE) stops the output file where it is: the next write is cut
    after what fits, then fails with EFBIG. The state's files stay under the limit: its main file
    is only read, and the WAL a short run writes is far smaller than the output."""
    (tmp_path / "jobs.toml").write_text(JOB)
    (tmp_path / "config.toml").write_text(
        f'[api]\nbase_url = "{sandbox_server}"\n[harvest]\noutput_dir = "out"\nstate = "state.db"\npacing = "burst"\n')
    argv = harvester_cmd("run", "--config", "config.toml", "--jobs", "jobs.toml")

    def run(*extra: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
        def limited() -> None:  # pragma: no cover - runs in the child
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run([*argv, *extra], cwd=tmp_path, env=env(), capture_output=True, text=True,
                              timeout=120, preexec_fn=limited, check=False)  # fmt: skip

    first = run("--max-usd", "3")  # part of the harvest, stopped by its budget
    assert first.returncode == 3, first.stderr[-2000:]
    output = tmp_path / "out" / "s.jsonl"
    before, row = output.read_bytes(), task_row(tmp_path / "state.db")
    assert len(before) > 150_000

    full = run(limit=len(before) + 1)  # one more byte fits, the rest of the next page does not
    assert full.returncode == 1, full.stderr[-2000:]
    assert "Traceback" not in full.stderr + full.stdout
    lines = [line for line in full.stderr.splitlines() if not line.startswith("{")]  # log lines are JSON
    assert lines == [(f"stopped (output): job s: {output}: cannot write: File too large; the page was not kept: "
                      "make room and run again to continue")]
    assert output.read_bytes() == before  # the torn byte was cut back
    assert task_row(tmp_path / "state.db") == row  # the task and the committed length are as they were

    last = run()
    assert last.returncode == 0, last.stderr[-2000:]
    assert "output_truncated_to_commit" not in last.stderr  # the next start found nothing torn
    sb = Sandbox(SandboxConfig(seed=7, epoch=EPOCH), FixedClock(EPOCH + 3600))
    assert_whole_and_true(output, set(sb.truth.search("bumife", START, END)))
