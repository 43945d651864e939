"""One daemon per state store: an exclusive ``flock`` on ``<state>.lock``.

The lock is taken before anything touches the store or the output files (a second daemon
would otherwise cut back the first one's output files on start). The kernel drops a ``flock``
when its process dies, SIGKILL included, so there is never a stale lock to clean up; the file
itself is left in place (deleting a lock file races with the next taker) and holds the pid of
the last holder, for the refusal message.

A ``postgresql://`` state is shared by design; coordinating several hosts on it is another
issue, so for now its lock is a no-op (:class:`NoLock`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Protocol

from harvester.errors import HarvesterError


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
    """The lock of a PostgreSQL state: nothing yet (multi-host coordination is another issue)."""

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        return "<NoLock>"


def state_lock(state: str) -> StateLock:
    """The lock for a ``[harvest] state`` location: ``<file>.lock`` for SQLite, none for PostgreSQL."""
    if state.startswith(("postgresql://", "postgres://")):
        return NoLock()
    path = state.removeprefix("sqlite:///")
    return FileLock(Path(path + ".lock"), state)
