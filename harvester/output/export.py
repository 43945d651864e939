"""``harvester export``: a job's JSONL output as one flat table (CSV, Parquet or JSONL rows).

Theory of operation
-------------------
A job's output is one JSONL file, or on a shared PostgreSQL state one per process slot; each
line is an API page. The export streams it: pages are read newest first (``reader``), each
object of the page becomes a row with its page's expansions joined (``rows``), rows are filtered
by ``--since``/``--until``, deduplicated, projected to ``--fields``, and handed to the writer
(``writers``) in batches of :attr:`ExportOptions.batch_rows`. Nothing grows with the input but
the set of ids already written, so memory stays flat however large the files are.

Deduplication keeps the most recently retrieved version of each object: reading newest first,
that is the first one met, and later (older) copies are dropped. The key is the object's id and,
for objects reached through a relation (``/2/users/<id>/followers``), that relation's id too, so
a user following two tracked accounts stays two rows and no edge is lost. Rows therefore come
out newest retrieval first: the exact reverse of the file order, so a search's posts come out
oldest first.

Whether a job makes post, user, list or count rows is read from its objects (posts carry ``text``,
users ``username``, count buckets ``start`` and ``tweet_count``, lists ``name``), so kinds added
later export without a change here; for a job whose output holds no object yet, from the page
path or the job's kind. A count bucket has no id: its ``start`` and ``end`` deduplicate it.

The output file is written beside its final name and renamed into place when complete, so an
interrupted export never leaves a file that looks finished.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from harvester.errors import HarvesterError, UserError
from harvester.output import reader
from harvester.output.columns import COLUMNS, KIND_ROWS, Column, RowKind, select
from harvester.output.rows import (
    NO_REQUEST,
    Value,
    count_request,
    count_row,
    dedup_key,
    kind_of_object,
    kind_of_path,
    list_row,
    page_context,
    post_row,
    text,
    time_ms,
    user_row,
)
from harvester.output.writers import Format, RowWriter, open_writer, pyarrow_modules

log = structlog.get_logger(__name__)

EXPORT_DIR = "export"
"""Default destination: ``<output_dir>/export/<job>.<format>`` (not a slot: never read back)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportOptions:
    """What to export and how.

    Attributes:
        format: ``csv``, ``parquet`` or ``jsonl``.
        fields: the columns to write, in this order (None: every column of the row kind).
        since, until: epoch seconds; ``since <= t < until`` where ``t`` is a post's ``created_at``,
            a count bucket's ``start``, or a user or list row's retrieval time. A post without
            ``created_at`` is left out when either bound is set (it cannot be shown to lie inside).
        batch_rows: rows handed to the writer at once (the unit of memory).
    """

    format: Format = "csv"
    fields: tuple[str, ...] | None = None
    since: float | None = None
    until: float | None = None
    batch_rows: int = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class JobExport:
    """What exporting one job did.

    Attributes:
        job: the job's name.
        kind: ``post``, ``user``, ``list`` or ``count`` rows.
        out: the file written (shared by the jobs of a combined export).
        files: JSONL files read (the job's file and its slots' files).
        pages: lines read that are pages.
        skipped_lines: lines that are not pages (torn, garbage), skipped with a warning.
        rows: rows written.
        duplicates: objects dropped because a newer copy (same id and relation) was written.
        outside: objects outside ``since``/``until``, or undated while a bound is set.
        other_objects: objects that are not of the job's row kind, or have no id.
    """

    job: str
    kind: RowKind
    out: Path
    files: int
    pages: int
    skipped_lines: int
    rows: int
    duplicates: int
    outside: int
    other_objects: int


@dataclass(frozen=True, slots=True)
class Target:
    """One output file and the jobs written into it, in order."""

    path: Path
    jobs: tuple[str, ...]


@dataclass(slots=True)
class _Tally:
    rows: int = 0
    duplicates: int = 0
    outside: int = 0
    other: int = 0
    read: reader.ReadCounts = field(default_factory=reader.ReadCounts)


def targets(output_dir: Path, jobs: Sequence[str], fmt: Format, out: str | None) -> list[Target]:
    """Where each job goes.

    No ``out``: ``<output_dir>/export/<job>.<fmt>`` each. ``out`` an existing directory (or given
    with a trailing slash): ``<out>/<job>.<fmt>`` each. Otherwise ``out`` is a file: the one job's,
    or one combined file holding several jobs one after the other (rows carry their ``job``).
    """
    if out is None:
        return [Target(output_dir / EXPORT_DIR / f"{j}.{fmt}", (j,)) for j in jobs]
    path = Path(out)
    if path.is_dir() or out.endswith(("/", os.sep)):
        return [Target(path / f"{j}.{fmt}", (j,)) for j in jobs]
    return [Target(path, tuple(jobs))]


def export_jobs(
    output_dir: Path,
    jobs: Sequence[str],
    options: ExportOptions,
    *,
    out: str | None = None,
    kinds: Mapping[str, str] | None = None,
) -> list[JobExport]:
    """Export each of ``jobs`` from ``output_dir``; returns what was done, job by job.

    Args:
        output_dir: the config's ``[harvest] output_dir``.
        jobs: job names; each must have output (its file, or a slot's).
        options: format, columns, time window, batch size.
        out: destination (see :func:`targets`).
        kinds: job name -> job kind (from the job files), used only for a job whose output holds
            no object yet.

    Raises:
        UserError: a job without output, a bad name or column, pyarrow missing for Parquet, an
            ``out`` that would overwrite harvest output, jobs of two row kinds in one file.
    """
    if options.format == "parquet":
        pyarrow_modules()  # fail before reading anything
    sources: dict[str, list[Path]] = {}
    for job in jobs:
        if not job or "/" in job or job.startswith(".") or os.sep in job:
            raise UserError(f"job {job!r}: not a job name")
        files = reader.job_files(output_dir, job)
        if not files:
            raise UserError(f"job {job!r}: no output under {output_dir} "
                            f"(no {job}.jsonl there nor in any <host>-<n>/ slot)")  # fmt: skip
        sources[job] = files
    row_kinds = {job: _row_kind(files, (kinds or {}).get(job)) for job, files in sources.items()}
    plan = targets(output_dir, list(sources), options.format, out)
    for t in plan:
        _refuse_harvest_output(output_dir, t.path)
        found = list(dict.fromkeys(row_kinds[j] for j in t.jobs))
        if len(found) > 1:
            by_kind = ", ".join(f"{j} ({row_kinds[j]})" for j in t.jobs)
            kinds_said = " and ".join(f"{k} rows" for k in found)
            raise UserError(f"--out {t.path}: one file cannot hold {kinds_said} ({by_kind}); "
                            "give a directory to write one file per job")  # fmt: skip
        select(row_kinds[t.jobs[0]], options.fields)  # an unknown column fails before any work
    results: list[JobExport] = []
    for t in plan:
        kind = row_kinds[t.jobs[0]]
        results += _write_target(t, kind, {j: sources[j] for j in t.jobs}, options)
    return results


def _row_kind(files: list[Path], job_kind: str | None) -> RowKind:
    """Objects decide; then the page path; then the job's kind; posts when nothing tells."""
    objects, path = reader.sample_objects(files)
    for o in objects:
        if (k := kind_of_object(o)) is not None:
            return k
    return kind_of_path(path) or KIND_ROWS.get(job_kind or "", "post")


def _refuse_harvest_output(output_dir: Path, path: Path) -> None:
    """An export must never replace a job's JSONL (its own or another's, in any slot)."""
    if path.suffix != ".jsonl":
        return
    parent = path.resolve().parent
    top = output_dir.resolve()
    if parent == top or (parent.parent == top and reader.SLOT_DIR.match(parent.name)):
        raise UserError(f"--out {path}: would overwrite harvest output in {output_dir}; "
                        f"write the export elsewhere (default {output_dir / EXPORT_DIR})")  # fmt: skip


def _write_target(target: Target, kind: RowKind, sources: Mapping[str, list[Path]],
                  options: ExportOptions) -> list[JobExport]:  # fmt: skip
    columns = select(kind, options.fields)
    partial = target.path.with_name(target.path.name + ".partial")
    try:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        writer = open_writer(options.format, partial, columns)
    except OSError as exc:
        raise UserError(f"--out {target.path}: cannot write: {exc.strerror or exc}") from exc
    done: list[JobExport] = []
    try:
        for job, files in sources.items():
            tally = _Tally()
            _export_job(job, files, kind, columns, options, writer, tally)
            done.append(JobExport(
                job=job, kind=kind, out=target.path, files=tally.read.files, pages=tally.read.pages,
                skipped_lines=tally.read.skipped_lines, rows=tally.rows, duplicates=tally.duplicates,
                outside=tally.outside, other_objects=tally.other,
            ))  # fmt: skip
            log.debug("export_job_done", job=job, rows=tally.rows, duplicates=tally.duplicates,
                     skipped_lines=tally.read.skipped_lines, out=str(target.path))
        writer.close()
        os.replace(partial, target.path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise HarvesterError(f"export to {target.path} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return done


def _export_job(job: str, files: list[Path], kind: RowKind, columns: tuple[Column, ...],
                options: ExportOptions, writer: RowWriter, tally: _Tally) -> None:  # fmt: skip
    """Stream one job's pages into ``writer``; the hot loop of the export."""
    all_names = [c.name for c in COLUMNS[kind]]
    pick = None if [c.name for c in columns] == all_names else [all_names.index(c.name) for c in columns]
    since_ms = None if options.since is None else round(options.since * 1000)
    until_ms = None if options.until is None else round(options.until * 1000)
    bounded = since_ms is not None or until_ms is not None
    seen: set[int | str] = set()
    batch: list[list[Value]] = []
    posts, counts = kind == "post", kind == "count"
    for page in reader.newest_first(files, tally.read):
        data = page.body.get("data") or []
        if not data:
            continue
        ctx = page_context(page.body, job, page.retrieved_at, includes=posts)
        request = count_request(page.body) if counts else NO_REQUEST
        for obj in reversed(data):
            if not isinstance(obj, dict) or kind_of_object(obj) != kind:
                tally.other += 1
                continue
            # A bucket has no id: its start (and end: a run's first bucket is a partial one) is its identity.
            oid = text(obj.get("start")) if counts else text(obj.get("id"))
            if oid is None:
                tally.other += 1
                continue
            created = time_ms(obj.get("start" if counts else "created_at")) if posts or counts else None
            if bounded:
                t = created if posts or counts else ctx.retrieved_ms
                if t is None or (since_ms is not None and t < since_ms) or (until_ms is not None and t >= until_ms):
                    tally.outside += 1
                    continue
            key = f"{oid}/{text(obj.get('end'))}" if counts else dedup_key(oid, ctx.relation_of)
            if key in seen:
                tally.duplicates += 1
                continue
            seen.add(key)
            if posts:
                row = post_row(obj, ctx, created)
            elif counts:
                row = count_row(obj, ctx, request, created)
            else:
                row = list_row(obj, ctx) if kind == "list" else user_row(obj, ctx)
            batch.append(row if pick is None else [row[i] for i in pick])
            if len(batch) >= options.batch_rows:
                writer.write(batch)
                tally.rows += len(batch)
                batch = []
    if batch:
        writer.write(batch)
        tally.rows += len(batch)
