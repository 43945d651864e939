"""JSONL output: one file per job, one API response page per line (the layout twarc2 writes).

Theory of operation
-------------------
A page's bytes and its cursor advance must commit together. Files cannot join a database
transaction, so the order is fixed: append the line, flush and fsync it, then commit the new
file length in the store (with the cursor). On start, :meth:`OutputFiles.prepare` cuts every
job file back to its committed length: bytes whose commit never happened disappear and their
page is fetched again. A crash at any instant therefore loses nothing and duplicates nothing.

One job's file is shared by its tasks (one per user, per id chunk), so appends to one file are
serialized *through the commit*: :meth:`OutputFiles.locked` holds the job's lock while the
caller appends and commits. Otherwise a later page's commit could cover an earlier page's
uncommitted bytes, and that page would be written twice after a crash.

Several processes sharing one store each write their own files: a process given a ``node``
writes under ``<directory>/<node>/`` and records lengths under ``<node>/<job>`` keys
(:meth:`OutputFiles.key`), so its truncation on start touches only files it wrote itself.

Each line is the API's response object as received (``data``, ``includes``, ``meta``,
``errors``) plus one ``__harvester`` key (task, page, url path, retrieval time), so
twarc-csv and similar tools read the files unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO

import structlog

from harvester.errors import OutputError

log = structlog.get_logger(__name__)


def encode_page(body: Mapping[str, Any], meta: Mapping[str, Any], twarc: Mapping[str, Any] | None = None) -> bytes:
    """One JSONL line: the response object unaltered, plus ``__harvester`` (and twarc's
    ``__twarc``: ``url``, ``version``, ``retrieved_at``, which twarc-csv reads for its
    provenance columns)."""
    obj = dict(body)
    obj["__harvester"] = dict(meta)
    if twarc is not None:
        obj["__twarc"] = dict(twarc)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class OutputFiles:
    """The per-job JSONL files under ``directory`` (under ``directory/node`` given a node)."""

    def __init__(self, directory: Path, *, fsync: bool = True, node: str = "") -> None:
        self.directory = directory / node if node else directory
        self.node = node
        self.fsync = fsync
        self._files: dict[str, BinaryIO] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, job: str) -> Path:
        return self.directory / f"{job}.jsonl"

    def key(self, job: str) -> str:
        """The store's name for ``job``'s file (``PageCommit.output_job``)."""
        return f"{self.node}/{job}" if self.node else job

    def prepare(self, offsets: Mapping[str, int], known_jobs: set[str]) -> dict[str, int]:
        """Cut each known job's file back to its committed length; returns bytes cut per job.

        ``offsets`` are the store's committed lengths by :meth:`key` (other nodes' are ignored).
        A file for a job the store has never heard of (state deleted, or another state file) is
        not truncated: it is moved aside to ``<job>.jsonl.orphaned-N`` so nothing is lost.
        """
        if self.node:
            prefix = f"{self.node}/"
            offsets = {k[len(prefix):]: v for k, v in offsets.items() if k.startswith(prefix)}
        self.directory.mkdir(parents=True, exist_ok=True)
        cut: dict[str, int] = {}
        for job in sorted(known_jobs | set(offsets)):
            path = self.path(job)
            if not path.exists():
                continue
            committed = offsets.get(job, 0)
            size = path.stat().st_size
            if size > committed:
                with path.open("r+b") as f:
                    f.truncate(committed)
                    f.flush()
                    os.fsync(f.fileno())
                cut[job] = size - committed
            elif size < committed:
                # The store says more was committed than the file holds: the file was edited or
                # truncated by someone else. Keep what is there; later pages append after it.
                log.warning("output_shorter_than_committed", job=job, size=size, committed=committed)
        for path in self.directory.glob("*.jsonl"):
            job = path.stem
            if job not in known_jobs and job not in offsets and path.stat().st_size > 0:
                n = 1
                while (aside := path.with_name(f"{path.name}.orphaned-{n}")).exists():
                    n += 1
                path.rename(aside)
                log.warning("output_moved_aside", job=job, to=str(aside))
        return cut

    @asynccontextmanager
    async def locked(self, job: str) -> AsyncIterator[None]:
        """Hold ``job``'s file for one append-and-commit."""
        lock = self._locks.setdefault(job, asyncio.Lock())
        async with lock:
            yield

    def append(self, job: str, data: bytes) -> int:
        """Append ``data`` (whole lines) durably (write + fsync); returns the file's new length.

        Call inside :meth:`locked` and commit the returned length before leaving it. On any OS
        error (disk full, I/O error) the file is cut back to where it was, so no torn line is
        left, and :class:`~harvester.errors.OutputError` names the file and the error.
        """
        path = self.path(job)
        f = self._files.get(job)
        try:
            if f is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                f = path.open("ab", buffering=0)  # unbuffered: nothing left to flush after an error
                self._files[job] = f
            start = f.seek(0, os.SEEK_END)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        try:
            view = memoryview(data)
            while view:
                written = f.write(view)
                if not written:
                    raise OSError(errno.EIO, "write wrote nothing")
                view = view[written:]
            if self.fsync:
                os.fsync(f.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                self.cut(job, start)
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        return start + len(data)

    def cut(self, job: str, length: int) -> None:
        """Take back what was appended after ``length`` (its commit was refused).

        Call inside the same :meth:`locked` as the append: nothing else was appended since.
        """
        f = self._files.get(job)
        if f is None:
            return
        f.truncate(length)
        f.seek(length)
        if self.fsync:
            os.fsync(f.fileno())

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
