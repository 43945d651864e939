"""``harvester export JOB… --format csv|parquet|jsonl``: options checked, export run, one line per job.

Every option is checked before any file is read or written, so a typo costs nothing and leaves
nothing behind; each problem is one line naming the flag (exit 2 through the CLI).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import structlog

from harvester.config import Config
from harvester.errors import JobSpecError, UserError
from harvester.output.export import ExportOptions, JobExport, export_jobs
from harvester.output.writers import FORMATS, Format

log = structlog.get_logger(__name__)


def parse_time(flag: str, value: str | None) -> float | None:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO-8601 time with its zone (``…Z``), as epoch seconds."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
        t = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag} {value!r}: not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM:SSZ)") from None
    if t.tzinfo is None:
        raise UserError(f"{flag} {value!r}: say the time zone, e.g. {value}Z for UTC")
    return t.timestamp()


def parse_fields(value: str | None) -> tuple[str, ...] | None:
    """``a,b,c`` -> ``("a", "b", "c")``; the names are checked against the row kind's columns later."""
    if value is None:
        return None
    fields = tuple(f.strip() for f in value.split(","))
    if not all(fields):
        raise UserError(f"--fields {value!r}: an empty column name; give names separated by commas")
    return fields


def output_format(given: str | None, out: str | None) -> Format:
    """``--format``, else the suffix of ``--out`` when it is one of the formats, else CSV."""
    wanted = given or (Path(out).suffix.lstrip(".") if out else "")
    for fmt in FORMATS:
        if fmt == wanted:
            return fmt
    return "csv"


def job_kinds(config: Config, paths: Sequence[Path], explicit: bool) -> dict[str, str]:
    """Job name -> kind from the job files (a hint for jobs whose output holds no object yet).

    Job files named with ``--jobs``/``HARVESTER_JOBS`` must load; the default ``./jobs`` is only
    consulted when present and valid: exporting what was harvested must not depend on it.
    """
    from harvester.jobspec import load_jobs

    if not explicit and not all(p.exists() for p in paths):
        return {}
    try:
        return {s.name: s.kind for s in load_jobs(paths, config=config)}
    except JobSpecError as exc:
        if explicit:
            raise
        log.debug("export_jobs_unreadable", error=str(exc))
        return {}


def export_command(config: Config, args: argparse.Namespace, paths: Sequence[Path]) -> int:
    """Run ``harvester export`` with parsed ``args``; prints one line per job."""
    since = parse_time("--since", args.since)
    until = parse_time("--until", args.until)
    if since is not None and until is not None and since >= until:
        raise UserError(f"--until {args.until!r}: not after --since {args.since!r}")
    options = ExportOptions(
        format=output_format(args.format, args.out), fields=parse_fields(args.fields), since=since, until=until
    )
    explicit = bool(args.jobs) or bool(os.environ.get("HARVESTER_JOBS"))
    kinds = job_kinds(config, paths, explicit)
    results = export_jobs(Path(config.harvest.output_dir), args.job, options, out=args.out, kinds=kinds)
    for r in results:
        print(summary(r))
    return 0


def summary(r: JobExport) -> str:
    """One line: rows written where, and what was dropped or skipped on the way."""
    notes = [f"{r.pages} pages in {r.files} file{'s' if r.files != 1 else ''}",
             f"{r.duplicates} duplicates dropped"]  # fmt: skip
    if r.outside:
        notes.append(f"{r.outside} outside --since/--until")
    if r.other_objects:
        notes.append(f"{r.other_objects} objects not {r.kind}s")
    if r.skipped_lines:
        notes.append(f"{r.skipped_lines} lines skipped (not pages)")
    return f"{r.job}: {r.rows} {r.kind} rows -> {r.out} ({'; '.join(notes)})"
