"""Check everything a run will touch before anything is queued, bought or written.

``run``, ``demo`` and ``daemon`` call :func:`check` right after the config and the jobs are
loaded (and so validated), before the state is opened for writing. What the loaders cannot see
is the file system as it is *now*: an ``output_dir`` that is a file or read-only used to surface
after the jobs were queued and the first page was billed (a traceback), and a state path that is
a folder or unreadable got SQLite's "unable to open database file". Here each gets one line
naming the config key and the path, exit 2, and nothing on disk has changed: the checks only
look (``stat``, ``access``, a read-only look inside an existing state file).

What is checked:

- ``[harvest] output_dir``: a writable folder, or creatable (its nearest existing ancestor is a
  writable folder); each job's ``<job>.jsonl`` in it, if present, a regular file this process
  may read and write (it is appended to and cut back to its committed length);
- ``[harvest] state`` (SQLite): a regular file this process may read and write, in a writable
  folder (for ``-wal``/``-shm`` and the ``.lock``), or creatable; an existing file must be an
  empty or harvester state of a known schema version, looked at read-only
  (:func:`harvester.store.sqlite.inspect_state`; a foreign or newer database raises
  :class:`~harvester.errors.StoreError`, exit 1, as a corrupt state does, and is left
  byte-identical). A PostgreSQL state is checked when it is connected to (its errors are one
  line too, with the password redacted).

The ``demo`` deletes and re-creates its ``--out`` folder, so :func:`check_demo_out` refuses one
that holds anything the demo did not write.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from harvester.config import Config
from harvester.core.model import JobSpec
from harvester.errors import ConfigError, FlagError, StoreError
from harvester.paths import folder_problem, os_words, writable_file_problem
from harvester.store import is_shared_state

DEMO_FILES = frozenset({"state.db", "state.db-wal", "state.db-shm", "state.db-journal", "state.db.lock", "output"})


def check(config: Config, specs: Sequence[JobSpec]) -> None:
    """Refuse the run, in one line, if its state or output cannot be used as configured.

    Raises:
        ConfigError: the output folder, an output file or the state path cannot be used
            (exit 2); nothing was created or changed.
        StoreError: the state file exists but is not a harvester state this version can use
            (exit 1); the file is untouched.
    """
    _check_state(config)
    _check_output(config, specs)


def _check_state(config: Config) -> None:
    state = config.harvest.state
    if is_shared_state(state):
        return
    from harvester.store.sqlite import inspect_state, state_path_problem

    path = Path(state)
    problem = state_path_problem(path)
    if problem is not None:
        raise ConfigError(config.file, "harvest.state", f"{path} {problem}")
    lock = Path(f"{state}.lock")
    problem = writable_file_problem(lock)
    if problem is not None:
        raise ConfigError(config.file, "harvest.state", f"its lock file {lock} {problem}")
    inspect_state(path)


def _check_output(config: Config, specs: Sequence[JobSpec]) -> None:
    out = Path(config.harvest.output_dir)
    problem = folder_problem(out)
    if problem is not None:
        raise ConfigError(config.file, "harvest.output_dir", f"{out} {problem}")
    if is_shared_state(config.harvest.state):
        return  # each process writes under its own <output_dir>/<host>-<n>/, made on start
    for spec in specs:
        path = out / f"{spec.name}.jsonl"
        problem = writable_file_problem(path)
        if problem is not None:
            raise ConfigError(
                config.file, "harvest.output_dir", f"{path} (job {spec.name!r}'s output) {problem}"
            )


def require_state(config: Config) -> None:
    """Refuse to read a SQLite state that does not exist, rather than create an empty one.

    ``report`` only reads; opening the store would create ``state/harvester.db`` (and its
    folder) wherever it was run from, and then report nothing.

    Raises:
        StoreError: no state file at the configured path (exit 1, as ``status`` does).
    """
    state = config.harvest.state
    if is_shared_state(state) or os.path.lexists(state):
        return
    raise StoreError(f"{state}: no state store here yet (nothing has been run with this config)")


def check_demo_out(out: Path) -> None:
    """Refuse a ``demo --out`` folder the demo could not, or should not, delete and re-create.

    The demo starts from nothing each time (``rmtree`` then ``mkdir``), so ``--out`` pointed at
    a folder of the user's own by mistake would be wiped: a folder holding anything but what
    the demo writes (``state.db*``, ``output/``) is refused, as is a file, a symlink or a folder
    that cannot be written.

    Raises:
        FlagError: naming ``--out``; nothing was deleted or created.
    """
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        problem = folder_problem(out)
        if problem is not None:
            raise FlagError("--out", f"{out} {problem}") from None
        return
    except OSError as exc:
        raise FlagError("--out", f"{out} {os_words(exc)}") from None
    if stat.S_ISLNK(st.st_mode):
        raise FlagError("--out", f"{out} is a symlink; give the demo a folder of its own")
    if not stat.S_ISDIR(st.st_mode):
        raise FlagError("--out", f"{out} is a file, not a folder")
    try:
        names = sorted(os.listdir(out))
    except OSError as exc:
        raise FlagError("--out", f"{out} {os_words(exc)}") from None
    foreign = [n for n in names if n not in DEMO_FILES]
    if foreign:
        raise FlagError(
            "--out",
            f"{out} holds files the demo did not write ({', '.join(repr(n) for n in foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); the demo deletes its folder before each run, "
            "so give it an empty or new one",
        )
    for folder in (out, out.parent):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise FlagError("--out", f"{folder} is not writable")
