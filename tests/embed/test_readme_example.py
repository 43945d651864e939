"""The README's Python example, run as a reader would run it: its own process, the sandbox as the API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from harvester.testing import APP_TOKEN, data_ids, read_pages, sandbox_thread

ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- tests/embed/test_readme_example.py runs this block[^>]*-->\n```python\n(.*?)```",
                        text, flags=re.DOTALL)
    assert len(blocks) == 1, "the README's marked Python example is gone"
    return str(blocks[0])


def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(readme_example())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVESTER_", "X_"))}
    with sandbox_thread() as url:
        env |= {"X_BEARER_TOKEN": APP_TOKEN, "X_API_BASE_URL": url,
                "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])}
        proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "expected cost: None"
    outcome, pages, _, spent = lines[1].split()
    written = read_pages(tmp_path / "out" / "rare-word.jsonl")
    assert outcome == "complete" and int(pages) == len(written) > 0 and spent.startswith("$")
    ids = data_ids(written)
    printed = [line.split()[0] for line in lines[2:-1]]
    assert printed == ids and len(ids) > 5
    users = {u["id"]: u["username"] for page in written for u in page["includes"]["users"]}
    first = next(p for p in written if p["data"])["data"][0]
    assert lines[2] == f"{first['id']} {first['created_at']} @{users[first['author_id']]}"
    assert lines[-1].startswith(f"done {len(ids)} posts; ") and lines[-1].endswith("of 3000000 cap used")
    assert json.loads(json.dumps(written[0]))["__harvester"]["job"] == "rare-word"
