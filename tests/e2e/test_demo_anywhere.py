"""``harvester demo`` from any folder (issue 19), and ``harvester report`` on what it bought.

The demo's example config and jobs ship inside the package (``harvester/examples``); the
repository's top-level ``config.toml`` and ``jobs/`` are the copies users read, kept identical.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harvester import examples

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_examples_are_the_top_level_copies() -> None:
    assert examples.config_file().read_bytes() == (ROOT / "config.toml").read_bytes()
    packaged = sorted(str(p.relative_to(examples.jobs_dir())) for p in examples.jobs_dir().glob("**/*.toml"))
    assert packaged == sorted(str(p.relative_to(ROOT / "jobs")) for p in (ROOT / "jobs").glob("**/*.toml"))
    assert packaged
    for name in packaged:
        assert (examples.jobs_dir() / name).read_bytes() == (ROOT / "jobs" / name).read_bytes(), name


def test_examples_are_package_data() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["harvester"]
    assert "examples/*.toml" in globs and "examples/jobs/*.toml" in globs


def _pages(out: Path) -> dict[str, int]:
    return {p.name: len(p.read_bytes().splitlines()) for p in (out / "output").glob("*.jsonl")}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVESTER_")}
    env.pop("X_BEARER_TOKEN", None)  # the demo needs no token: it uses the sandbox's
    return env


@pytest.mark.slow
def test_demo_runs_from_an_empty_folder_and_report_reads_it(tmp_path: Path) -> None:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "harvester", "demo", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    files = _pages(out)
    from harvester.jobspec import load_jobs

    jobs = load_jobs([examples.jobs_dir()]) + load_jobs([examples.jobs_dir() / "user-context"])
    # one file per example job, each with pages: every kind, the user-context ones as the sandbox's owner
    assert set(files) == {f"{j.name}.jsonl" for j in jobs} and all(pages > 0 for pages in files.values()), files
    read_kinds = {"search", "timeline", "mentions", "followers", "following", "lookup_tweets", "lookup_users",
                  "liking_users", "liked_tweets", "retweeted_by", "quote_tweets", "conversation", "list_tweets",
                  "list_members", "list_followers", "owned_lists", "followed_lists", "list_memberships",
                  "pinned_lists", "bookmarks", "blocking", "muting", "counts"}  # fmt: skip
    assert {j.kind for j in jobs} >= read_kinds, "an example of every read kind, each harvested"
    assert "total" in proc.stdout and "simulated spend: $" in proc.stdout
    assert list(cwd.iterdir()) == [], "the demo writes only under --out"

    # Again into the same folder: it starts afresh (the folder holds only what the demo wrote).
    again = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=240, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _pages(out) == files  # the same pages (a deterministic world), not appended to the old ones

    config = tmp_path / "report.toml"
    config.write_text(f'[harvest]\nstate = "{out / "state.db"}"\n')
    report = subprocess.run([sys.executable, "-m", "harvester", "report", "--config", str(config)], cwd=cwd,
                            env=_env(), capture_output=True, text=True, timeout=60, check=False)
    assert report.returncode == 0, report.stderr
    text = report.stdout
    assert text.count("usage by UTC day, endpoint and job") == 1
    assert text.count("top endpoints by spend") == 1 and "top endpoint:" not in text
    amounts = re.findall(r"\$[\d,]+(?:\.(\d+))?", text)
    assert len(amounts) > 5 and len({len(decimals) for decimals in amounts}) == 1, amounts
