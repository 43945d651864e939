"""One daemon per state store: an exclusive ``flock`` on ``<state>.lock``.

The lock is taken before anything touches the store or the output files (a second daemon
would otherwise cut back the first one's output files on start). The kernel drops a ``flock``
when its process dies, SIGKILL included, so there is never a stale lock to clean up; the file
itself is left in place (deleting a lock file races with the next taker) and holds the pid of
the last holder, for the refusal message.

A ``postgresql://`` state is shared by design: several daemons on several hosts use it at once
(claims, leases and admissions coordinate them in the database), so it takes no state lock
(:class:`NoLock`). What each process still owns alone is its output files: it takes a *node
slot* (:func:`node_slot`), an exclusive ``flock`` on ``<output_dir>/.<host>-<n>.lock`` for the
smallest free ``n``, and writes under ``<output_dir>/<host>-<n>/``. A restarted process takes a
free slot again, usually its old one, and so cuts back exactly the files whose committed lengths
that slot recorded; two processes never write or truncate one file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path
from typing import Protocol

from harvester.errors import HarvesterError
from harvester.store import is_shared_state


class AlreadyRunning(HarvesterError):
    """Another harvester process (a run or the daemon) is using this state store."""


class StateLock(Protocol):
    """Held for the daemon's life."""

    def acquire(self) -> None:
        """Take the lock, or raise :class:`AlreadyRunning` at once (never waits)."""
        ...

    def release(self) -> None:
        ...


class FileLock:
    """An exclusive, non-blocking ``flock`` on one file."""

    def __init__(self, path: Path, state: str) -> None:
        self.path = path
        self.state = state
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(
                f"another harvester process (pid {holder}) is using the state {self.state} "
                f"(lock {self.path}); stop it first"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __repr__(self) -> str:
        return f"<FileLock {self.path} held={self._fd is not None}>"


class NoLock:
    """The lock of a PostgreSQL state: none, several processes share it by design."""

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        return "<NoLock>"


def state_lock(state: str) -> StateLock:
    """The lock for a ``[harvest] state`` location: ``<file>.lock`` for SQLite, none for PostgreSQL."""
    if is_shared_state(state):
        return NoLock()
    path = state.removeprefix("sqlite:///")
    return FileLock(Path(path + ".lock"), state)


def _host() -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "host"


def node_slot(output_dir: Path, max_slots: int = 1024) -> tuple[str, FileLock]:
    """Take the first free output slot of this host: its name and its held lock."""
    host = _host()
    for n in range(1, max_slots + 1):
        name = f"{host}-{n}"
        lock = FileLock(output_dir / f".{name}.lock", name)
        try:
            lock.acquire()
        except AlreadyRunning:
            continue
        return name, lock
    raise AlreadyRunning(f"{output_dir}: all {max_slots} output slots of this host are in use")


def idle_slots(output_dir: Path) -> list[tuple[str, FileLock]]:
    """This host's other slots that no live process holds, each locked for the caller.

    A process that died (SIGKILL, power loss) may have left a page written but not committed at
    the end of its slot's files; whoever finds the slot idle cuts them back (and releases it).
    """
    taken: list[tuple[str, FileLock]] = []
    for path in sorted(output_dir.glob(f".{_host()}-*.lock")):
        name = path.name[1 : -len(".lock")]
        lock = FileLock(path, name)
        try:
            lock.acquire()
        except AlreadyRunning:
            continue
        taken.append((name, lock))
    return taken
