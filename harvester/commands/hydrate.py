"""``harvester hydrate FILE --kind tweets|users``: a file of ids in, their full objects out.

A one-line shortcut for the most common research chore (twarc2's ``hydrate``): it writes an
ordinary job file (``<jobs>/hydrate-<file stem>.toml``, a ``lookup_tweets`` or ``lookup_users``
job reading the file through ``tweet_ids_file`` / ``user_ids_file`` / ``usernames_file``) and runs
that job alone. The job file stays, so ``harvester run`` resumes an interrupted hydration and
``harvester status``/``export`` know it by name. The ids stream from the file into the queue
(``harvester/inputs.py``): a file of millions is never held in memory.
"""

from __future__ import annotations

import re
from pathlib import Path

from harvester.config import Config
from harvester.errors import UserError
from harvester.inputs import InputFileError, check_file
from harvester.jobspec import load_jobs

FIELDS = {
    "tweets": ("tweet_fields", ["created_at", "author_id", "conversation_id", "lang", "public_metrics"]),
    "users": ("user_fields", ["created_at", "description", "location", "public_metrics", "verified"]),
}


def hydrate_job(file: Path, kind: str, jobs_dir: Path, name: str | None = None) -> Path:
    """Write the job file that hydrates ``file``; returns its path. UserError names a bad file."""
    if kind not in FIELDS:
        raise UserError(f"--kind: must be tweets or users, got {kind!r}")
    source = file.resolve()
    key = "tweet_ids_file" if kind == "tweets" else "user_ids_file"
    what = "tweet_ids" if kind == "tweets" else "user_ids"
    try:
        check_file(source, what)
    except InputFileError as e:
        if kind != "users":
            raise UserError(f"{file}: {e.problem}" + (f" (line {e.line})" if e.line else "")) from None
        try:  # a users file of handles rather than ids
            check_file(source, "usernames")
        except InputFileError:
            raise UserError(f"{file}: {e.problem}" + (f" (line {e.line})" if e.line else "")) from None
        key = "usernames_file"
    job = name or "hydrate-" + (re.sub(r"[^A-Za-z0-9_.-]", "-", file.stem).strip(".-") or "ids")
    fields_key, fields = FIELDS[kind]
    jobs_dir.mkdir(parents=True, exist_ok=True)
    path = jobs_dir / f"{job}.toml"
    text = (f'# written by: harvester hydrate {file} --kind {kind}\n[[job]]\nname = "{job[:64]}"\n'
            f'kind = "lookup_{kind}"\n{key} = {_toml_str(str(source))}\n'
            f"{fields_key} = [{', '.join(_toml_str(f) for f in fields)}]\n")  # fmt: skip
    path.write_text(text)
    return path


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hydrate_command(config: Config, file: Path, kind: str, jobs_dir: Path, name: str | None = None) -> int:
    """Write the hydration job and run it alone; the exit code is ``harvester run``'s."""
    from harvester.commands.run import run_command

    path = hydrate_job(file, kind, jobs_dir, name)
    specs = load_jobs([path], config=config)
    print(f"hydrating {file} with job {specs[0].name} ({path})")
    return run_command(config, specs)


__all__ = ["hydrate_command", "hydrate_job"]
