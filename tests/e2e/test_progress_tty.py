"""The live progress view, as a person at a terminal sees it: an ETA, and why the run waits."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

from conftest import sandbox_process
from e2ehelp import env, harvester_cmd

JOBS = """
[[job]]
name = "timelines"
kind = "timeline"
user_ids = ["94399023"]
end_time = "2026-11-19T00:00:00Z"
max_results = 20
"""


def test_the_live_view_shows_the_eta_and_the_bucket_the_run_waits_for(tmp_path: Path) -> None:
    with sandbox_process(tmp_path, "--window", "2", "--limit", "/2/users/:id/tweets=3") as url:
        (tmp_path / "config.toml").write_text(f'[api]\nbase_url = "{url}"\n\n[harvest]\nworkers = 2\n'
                                              f'output_dir = "{tmp_path / "out"}"\nstate = "{tmp_path / "s.db"}"\n')
        (tmp_path / "jobs.toml").write_text(JOBS)
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            harvester_cmd("run", "--config", str(tmp_path / "config.toml"), "--jobs", str(tmp_path / "jobs.toml")),
            stdin=slave, stdout=slave, stderr=slave, env={**env(), "TERM": "xterm", "COLUMNS": "200"},
        )  # fmt: skip
        os.close(slave)
        out = bytearray()
        deadline = time.monotonic() + 90  # 9 pages at 3 per 2 s window: about 6 s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        proc.wait(10)
        os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace"))
    assert proc.returncode == 0, text[-3000:]
    assert re.search(r"ETA (at least )?(under a second|\d+s|\d+ min)", text), text[-3000:]
    assert re.search(r"waiting for /2/users/:id/tweets \(app\): .*until \d\d:\d\d:\d\d UTC", text), text[-3000:]
    assert re.search(r"timelines .*\d+/[≤?\d]", text), "pages against the pages expected"
