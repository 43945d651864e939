"""A job's committed pages, oldest first, from its output file(s).

Only committed bytes are read: each file up to the length the store recorded with its last page
(``Store.output_offsets``). Bytes past it belong to a page whose commit never happened (a crash,
or a page being written right now); the next run cuts them off and fetches that page again, so
reading them would show a page twice. On a PostgreSQL state a job has one file per process slot
(``<output_dir>/<host>-<n>/<job>.jsonl``); their pages are merged by retrieval time.

A line that is not a page (garbage someone appended, an edited file) is skipped, as the export
skips it.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harvester.embed.values import Page
from harvester.output import reader


def committed_files(output_dir: Path, job: str, offsets: Mapping[str, int]) -> list[tuple[Path, int]]:
    """The job's files and their committed lengths (a file the store has no length for: none)."""
    found = []
    for path in reader.job_files(output_dir, job):
        key = job if path.parent == output_dir else f"{path.parent.name}/{job}"
        length = offsets.get(key, 0)
        if length > 0:
            found.append((path, length))
    return found


def page_of(job: str, body: dict[str, Any]) -> Page | None:
    """The :class:`Page` a parsed line holds, None if it is not a page."""
    if not reader.PAGE_KEYS.intersection(body):
        return None
    data = body.get("data", [])
    objects = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
    meta_h = body.get("__harvester")
    h = meta_h if isinstance(meta_h, dict) else {}
    includes, meta, errors = body.get("includes"), body.get("meta"), body.get("errors")
    number = h.get("page")
    return Page(
        job=str(h.get("job") or job),
        data=tuple(o for o in objects if isinstance(o, dict)),
        includes=includes if isinstance(includes, dict) else {},
        meta=meta if isinstance(meta, dict) else {},
        errors=tuple(e for e in errors if isinstance(e, dict)) if isinstance(errors, list) else (),
        task=str(h["task"]) if h.get("task") is not None else None,
        number=number if isinstance(number, int) and not isinstance(number, bool) else None,
        path=str(h["path"]) if h.get("path") is not None else None,
        retrieved_at=reader.retrieved_at(body),
        from_cache=h.get("from_cache") is True,
        body=body,
    )


def file_pages(path: Path, length: int, job: str) -> Iterator[Page]:
    """The pages in the first ``length`` bytes of ``path``, in file order."""
    with path.open("rb") as f:
        pos = 0
        for line in f:
            pos += len(line)
            if pos > length:  # a partly committed line cannot be: the store commits whole lines
                return
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if isinstance(body, dict) and (page := page_of(job, body)) is not None:
                yield page


def committed_pages(output_dir: Path, job: str, offsets: Mapping[str, int]) -> Iterator[Page]:
    """Every committed page of ``job``, oldest first (several slots merged by retrieval time)."""
    streams = [file_pages(path, length, job) for path, length in committed_files(output_dir, job, offsets)]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda p: p.retrieved_at)
