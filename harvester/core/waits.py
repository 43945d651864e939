"""Why a job is not moving right now, in one line, for the status page and ``/status``.

A job's tasks sit in the queue for one of a few reasons, and an operator needs the one that
applies: the run was stopped (a budget, the cap, a signal), its bucket is out of requests until
a reset, a retry's backoff has not passed, every worker is busy elsewhere, or nothing is due
until the job's next scheduled run. The figures come from the store (the job's counters and its
earliest due task), the engines (buckets, the last long wait the machine named per bucket) and
the scheduler; this module only picks, in that order of precedence, the first that holds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from harvester.core.model import JobStats
from harvester.core.ratelimit import BucketFigures
from harvester.core.request import StopCause

WaitState = Literal["fetching", "waiting", "queued", "stopped", "scheduled", "done", "failed", "idle"]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobWait:
    """What a job is doing and, when it is not fetching, why.

    Attributes:
        state: ``fetching`` (a worker holds a task), ``waiting`` (a limit or a backoff),
            ``queued`` (due, waiting for a worker), ``stopped`` (the run stopped), ``scheduled``
            (done until its next run), ``done``, ``failed``, ``idle`` (no tasks yet).
        reason: one line for people ("" when there is nothing to explain).
        until: when the wait ends by itself (epoch seconds), None if unknown or never.
    """

    state: WaitState
    reason: str
    until: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"state": self.state, "reason": self.reason, "until": self.until}


def at(t: float) -> str:
    """``2026-11-20 00:15:00 UTC``."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def job_wait(
    *,
    now: float,
    stats: JobStats | None,
    next_run: float | None,
    buckets: Sequence[BucketFigures],
    keys: Collection[tuple[str, str]],
    waits: Mapping[tuple[str, str], StopCause],
    next_due: float | None,
    stop: StopCause | None,
) -> JobWait:
    """The job's :class:`JobWait`.

    Args:
        now: the snapshot's time.
        stats: the job's counters (None: the store has no task of it yet).
        next_run: when its next scheduled run is due (None: not scheduled).
        buckets: every bucket's figures at ``now``.
        keys: the ``(route, auth)`` buckets its tasks use; for a job sending through a pool,
            both the pool's name (tasks carry it) and each member's (buckets are per member).
        waits: the last long wait the machine named per ``(route, auth)`` (``Runtime.waiting``).
        next_due: the earliest ``not_before`` among the job's pending tasks.
        stop: why the run is stopping, if it is.
    """
    unfinished = stats is not None and (stats.pending or stats.claimed)
    if stats is None or not unfinished:
        if next_run is not None:
            due = "due now; it starts when a worker is free" if next_run <= now else f"next run at {at(next_run)}"
            return JobWait(state="scheduled", reason=due, until=max(next_run, now))
        if stats is None:
            return JobWait(state="idle", reason="no tasks yet")
        if stats.failed and not stats.done:
            return JobWait(state="failed", reason=stats.last_error or "every task failed")
        return JobWait(state="done", reason="")
    if stop is not None:
        return JobWait(state="stopped", reason=f"run stopped ({stop.cause.value}): {stop.message}",
                       until=stop.resumes_at)  # fmt: skip
    if stats.claimed:
        return JobWait(state="fetching", reason=f"{stats.claimed} task{'s' if stats.claimed != 1 else ''} in flight")
    named = [waits[k] for k in keys if k in waits]
    if named:
        cause = min(named, key=lambda c: c.resumes_at or float("inf"))
        return JobWait(state="waiting", reason=f"{cause.cause.value}: {cause.message}", until=cause.resumes_at)
    mine: dict[str, list[BucketFigures]] = {}
    for b in buckets:
        if (b.route, b.auth) in keys:
            mine.setdefault(b.route, []).append(b)
    # A route is closed when every bucket the job could send it through is (a pool's members).
    closed = [b for group in mine.values() if all(_closed(x, now) for x in group) for b in group]
    if closed:
        ends = [_reopens(b, now) for b in closed]
        b, end = min(zip(closed, ends, strict=True), key=lambda x: x[1] or float("inf"))
        if b.stopped_until is not None and b.stopped_until > now:
            why = f"held after a 429 or by the denylist guard until {at(b.stopped_until)}"
        else:
            why = f"has 0 of {b.limit} left" + ("" if end is None else f"; resets at {at(end)}")
        return JobWait(state="waiting", reason=f"rate limit: {b.route} ({b.auth}) {why}", until=end)
    if next_due is not None and next_due > now:
        return JobWait(state="waiting", reason=f"next task due at {at(next_due)} (a retry's backoff, or pacing)",
                       until=next_due)
    return JobWait(state="queued", reason="due; waiting for a free worker")


def _closed(b: BucketFigures, now: float) -> bool:
    return b.available <= 0 or (b.stopped_until is not None and b.stopped_until > now)


def _reopens(b: BucketFigures, now: float) -> float | None:
    ends = [t for t in (b.stopped_until, b.reset) if t is not None and t > now]
    return max(ends) if ends else None
