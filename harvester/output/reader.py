"""Reading a job's JSONL output for export: every slot's file, newest page first, one line at a time.

Why newest first: the export keeps the most recently retrieved version of each object. Reading
the pages from the newest backwards, the first time an id is met is that version, so one set of
ids seen is all the state deduplication needs; no row is ever held back, and a 10 GB file reads
in the memory of one page plus that set. Within one file the later line is the newer (lines are
appended in commit order); across files (one per PostgreSQL process slot) pages are merged by
their ``retrieved_at``.

Lines that are not pages are skipped and counted, never fatal: the torn last line of a process
that died mid-append (or one being appended while we read), a line of garbage, a JSON value that
is not an object with any of the page keys.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

BLOCK = 1 << 20
"""Bytes read per step backwards; a longer line is assembled from several blocks."""

PAGE_KEYS = frozenset({"data", "includes", "meta", "errors", "__harvester", "__twarc"})
SLOT_DIR = re.compile(r"^[A-Za-z0-9_-]+-[0-9]+$")
"""``<host>-<n>``: a PostgreSQL process's output slot (``runtime.lock.node_slot``)."""

WARN_PER_FILE = 5


@dataclass(slots=True)
class ReadCounts:
    """What reading a job's files met (mutable while reading; the export freezes it)."""

    files: int = 0
    pages: int = 0
    skipped_lines: int = 0
    warned: dict[Path, int] = field(default_factory=dict)

    def skip(self, path: Path, offset: int, why: str) -> None:
        self.skipped_lines += 1
        n = self.warned.get(path, 0) + 1
        self.warned[path] = n
        if n < WARN_PER_FILE:
            log.warning("export_line_skipped", file=str(path), byte_offset=offset, reason=why)
        elif n == WARN_PER_FILE:
            log.warning("export_line_skipped", file=str(path), byte_offset=offset, reason=why,
                        more="further skips in this file are counted, not logged")


@dataclass(frozen=True, slots=True)
class Page:
    """One parsed line: the response object and when it was retrieved (0.0 when unknown)."""

    retrieved_at: float
    body: dict[str, Any]


def job_files(output_dir: Path, job: str) -> list[Path]:
    """``<output_dir>/<job>.jsonl`` and every slot's ``<output_dir>/<host>-<n>/<job>.jsonl`` that exists."""
    found = [output_dir / f"{job}.jsonl"]
    if output_dir.is_dir():
        found += sorted(d / f"{job}.jsonl" for d in output_dir.iterdir() if d.is_dir() and SLOT_DIR.match(d.name))
    return [p for p in found if p.is_file()]


def lines_backwards(path: Path, block: int = BLOCK) -> Iterator[tuple[int, bytes]]:
    """``(byte offset, line)`` from the last line to the first, newline stripped, empty lines left out.

    The size is taken once at the start: what another process appends meanwhile is not read.
    """
    with path.open("rb") as f:
        pos = f.seek(0, 2)
        tail = b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step) + tail
            parts = chunk.split(b"\n")
            end = pos + len(chunk)
            for line in reversed(parts[1:]):
                start = end - len(line)
                if line:
                    yield start, line
                end = start - 1  # the newline before it
            tail = parts[0]  # its start may lie in the block before
        if tail:
            yield 0, tail


def retrieved_at(body: dict[str, Any]) -> float:
    """Epoch seconds of retrieval: ``__harvester.retrieved_at``, else ``__twarc.retrieved_at`` (ISO)."""
    h = body.get("__harvester")
    if isinstance(h, dict):
        t = h.get("retrieved_at")
        if isinstance(t, int | float) and not isinstance(t, bool):
            return float(t)
    tw = body.get("__twarc")
    if isinstance(tw, dict) and isinstance(tw.get("retrieved_at"), str):
        try:
            dt = datetime.fromisoformat(tw["retrieved_at"])
        except ValueError:
            return 0.0
        if dt.tzinfo is not None:
            return dt.timestamp()
    return 0.0


def pages_backwards(path: Path, counts: ReadCounts) -> Iterator[Page]:
    """The pages of one file, last line first; other lines skipped and counted."""
    counts.files += 1
    for offset, line in lines_backwards(path):
        try:
            body = json.loads(line)
        except ValueError:  # UnicodeDecodeError is one too
            counts.skip(path, offset, "not JSON (a torn or partly written line)")
            continue
        if not isinstance(body, dict) or not PAGE_KEYS.intersection(body):
            counts.skip(path, offset, "not an API page")
            continue
        data = body.get("data", [])
        if not isinstance(data, list):
            # a single-object response (``/2/users/:id``) is a page of one
            body = {**body, "data": [data] if isinstance(data, dict) else []}
        counts.pages += 1
        yield Page(retrieved_at(body), body)


def newest_first(paths: list[Path], counts: ReadCounts) -> Iterator[Page]:
    """Every page of ``paths``, newest first: each file backwards, merged by retrieval time."""
    if len(paths) == 1:
        return pages_backwards(paths[0], counts)
    streams = [pages_backwards(p, counts) for p in paths]
    return heapq.merge(*streams, key=lambda page: page.retrieved_at, reverse=True)


def sample_objects(paths: list[Path]) -> tuple[list[dict[str, Any]], str]:
    """The first ``data`` objects and ``__harvester.path`` found reading forwards (to tell the row kind).

    Reads only until a page with objects turns up, usually the first line.
    """
    path_seen = ""
    for p in paths:
        with p.open("rb") as f:
            for line in f:
                try:
                    body = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(body, dict):
                    continue
                h = body.get("__harvester")
                if not path_seen and isinstance(h, dict) and isinstance(h.get("path"), str):
                    path_seen = h["path"]
                data = body.get("data")
                objects = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
                objects = [o for o in objects if isinstance(o, dict)]
                if objects:
                    return objects, path_seen
    return [], path_seen
