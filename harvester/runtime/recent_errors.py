"""The errors this process met lately, newest first, for the status page and ``/status``.

The store keeps each job's last error, without a time; an operator looking at a daemon wants
the last few with their times and tasks. Every error a worker meets ends in a retry later or a
task given up; the worker notes both in the runtime's bounded :class:`RecentErrors`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from harvester.redact import redact

KEEP = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRecord:
    """One error: when, which job and task, what, and whether the task was given up (``final``)."""

    at: float
    job: str
    task: str
    error: str
    final: bool

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "job": self.job, "task": self.task, "error": self.error, "final": self.final}


class RecentErrors:
    """The last :data:`KEEP` errors, newest first."""

    def __init__(self, keep: int = KEEP) -> None:
        self._items: deque[ErrorRecord] = deque(maxlen=keep)

    def add(self, record: ErrorRecord) -> None:
        self._items.appendleft(record)

    def note(self, at: float, job: str, task: str, error: str, *, final: bool) -> None:
        """Note one error (its text redacted: an error may quote a URL)."""
        self.add(ErrorRecord(at=at, job=job, task=task, error=redact(error), final=final))

    def snapshot(self) -> tuple[ErrorRecord, ...]:
        return tuple(self._items)
