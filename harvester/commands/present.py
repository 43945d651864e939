"""Tables for people and JSON for scripts: the run summary and ``harvester status``."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from harvester.core.endpoints import ENDPOINTS, KIND_ENDPOINT, Resource
from harvester.core.model import JobSpec, JobStats
from harvester.core.pricing import PER_REQUEST

USER_KINDS = frozenset(k for k, route in KIND_ENDPOINT.items()
                       if ENDPOINTS[route].resource in (Resource.USER, Resource.FOLLOW))
# Kinds whose items are neither posts nor users (lists, counts' time buckets): pages only.
OTHER_KINDS = frozenset(k for k, route in KIND_ENDPOINT.items()
                        if ENDPOINTS[route].resource is Resource.LIST or route in PER_REQUEST)


def _console() -> Console:
    return Console(file=sys.stdout, width=120, highlight=False)


def summary_rows(jobs: Sequence[JobStats], specs: Mapping[str, JobSpec]) -> list[dict[str, Any]]:
    """One row per job: state, pages, tweets, users, last error."""
    rows = []
    for j in jobs:
        kind = specs[j.job].kind if j.job in specs else "?"
        users = j.items if kind in USER_KINDS else 0
        tweets = 0 if kind in OTHER_KINDS else j.items - users
        rows.append({
            "job": j.job, "kind": kind, "state": j.state, "tasks": j.tasks, "done": j.done,
            "failed": j.failed, "pages": j.pages, "tweets": tweets, "users": users,
            "last_error": j.last_error,
        })
    return rows


def print_summary(
    rows: Sequence[dict[str, Any]], *, requests: int, spend_usd: float | None, too_many: int, title: str,
    spend_label: str = "spend",
) -> None:
    """The table a run (or the demo) ends with."""
    table = Table(title=title)
    for col in ("job", "kind", "state", "pages", "tweets", "users", "last error"):
        table.add_column(col, justify="right" if col in ("pages", "tweets", "users") else "left",
                         overflow="fold" if col == "last error" else "ellipsis")
    for r in rows:  # the whole error, wrapped (``harvester status --json`` has it on one line)
        table.add_row(r["job"], r["kind"], r["state"], str(r["pages"]), str(r["tweets"]),
                      str(r["users"]), r["last_error"] or "")
    table.add_section()
    table.add_row("total", "", "", str(sum(r["pages"] for r in rows)),
                  str(sum(r["tweets"] for r in rows)), str(sum(r["users"] for r in rows)), "")
    con = _console()
    con.print(table)
    spend = "n/a" if spend_usd is None else f"${spend_usd:,.3f}"
    con.print(f"requests: {requests}   429s: {too_many}   {spend_label}: {spend}")
