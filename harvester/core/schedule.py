"""Job schedules, and the task keys of scheduled and redefined runs. Pure: no I/O, no clock.

Theory of operation
-------------------
A job file's ``schedule`` is either ``"every <duration>"`` (``every 30s``, ``every 1.5m``,
``every 2h``, ``every 1d``, ``every 1h30m``: the job files' duration grammar,
:mod:`harvester.core.duration`) or a cron expression (5 fields, or 6 with seconds
last, as croniter reads them; ``@hourly`` and friends too), always in UTC. ``every N`` slots are
aligned to the epoch: ``every 15m`` runs at :00, :15, :30 and :45, ``every 1d`` at midnight UTC.

Rule 1: at most one run is due at a time. :func:`due_runs` answers with the latest slot at or
before ``now`` if it is later than the last run, so a daemon that was down for a day runs a
``every 15m`` job once when it starts, not 96 times. A job that never ran is due at once.

Rule 2: every run gets fresh task keys. The store keeps the first of each (job, key), which is
what makes re-planning idempotent; a scheduled run therefore suffixes each planned key with
``@<slot>`` (the slot's epoch seconds, with milliseconds when it has a fraction: see
:func:`slot_text`), and re-planning the *same* slot stays idempotent.

Rule 3: a changed job definition gets a new *generation*. :class:`JobState` (saved by the daemon
under ``schedule:<job>``) holds a digest of what the job harvests (every field but its file and
its timing keys); when the digest changes the generation goes up by one, the new generation's
keys carry ``~g<n>``, and the daemon retires the older generations' unfinished tasks. Generation
0 has no suffix, so an unscheduled job's first generation has exactly the keys ``harvester run``
gives it, and a daemon continues a run's state rather than redoing it.

Polling (``mode = "poll"``) is another issue's; until it lands, a poll job without a schedule is
run as ``every <min_interval>`` (default :data:`DEFAULT_POLL_INTERVAL`): :func:`job_schedule` is
the one place to change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from croniter import croniter

from harvester.core.duration import DurationError, parse_duration
from harvester.core.model import JobSpec, NewTask
from harvester.core.plan import Inputs, iter_plan

DEFAULT_POLL_INTERVAL = 900
SLOT_MARK = "@"
GEN_MARK = "~g"
TIMING_KEYS = frozenset({"mode", "schedule", "min_interval", "max_interval", "poll_budget"})

_KEY = re.compile(r"^(?P<base>[^@~]*)(?:@(?P<slot>-?\d+(?:\.\d+)?))?(?:~g(?P<gen>\d+))?$")


class ScheduleError(ValueError):
    """A schedule string that is neither ``every <duration>`` nor a cron expression."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """When a job runs.

    Attributes:
        text: the schedule as written.
        every: the interval in seconds for ``every ...`` (fractions allowed); None for cron.
        cron: the cron expression; None for ``every ...``.
    """

    text: str
    every: float | None = None
    cron: str | None = None

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``every 15m`` or a cron expression; :class:`ScheduleError` otherwise."""
        if not isinstance(text, str) or not text.strip():
            raise ScheduleError(f"schedule must be 'every <duration>' or a cron expression, got {text!r}")
        clean = " ".join(text.split())
        lowered = clean.lower()
        if lowered.startswith("every"):
            # The duration grammar is the job files' one (harvester.core.duration): units,
            # fractions and compound parts mean the same in a schedule as in min_interval.
            rest = lowered[len("every"):]
            try:
                if not rest[:1].isspace():
                    raise DurationError("no duration")
                seconds = parse_duration(rest.strip())
            except DurationError as exc:
                detail = f" ({exc.detail})" if exc.detail else ""
                raise ScheduleError(
                    f"{text!r}: expected 'every <duration>' like 'every 30s', 'every 1.5m', 'every 2h'{detail}"
                ) from None
            return cls(text=text, every=seconds)
        if not croniter.is_valid(clean):
            raise ScheduleError(f"{text!r}: not a valid cron expression (nor 'every <duration>')")
        return cls(text=text, cron=clean)

    def next_after(self, t: float) -> float:
        """The first slot strictly after ``t`` (epoch seconds, UTC)."""
        if self.every is not None:
            return float((math.floor(t / self.every) + 1) * self.every)
        assert self.cron is not None
        return float(croniter(self.cron, _utc(t)).get_next(float))

    def latest_at_or_before(self, t: float) -> float:
        """The last slot at or before ``t``."""
        if self.every is not None:
            return float(math.floor(t / self.every) * self.every)
        assert self.cron is not None
        prev = float(croniter(self.cron, _utc(t)).get_prev(float))
        following = self.next_after(prev)
        return following if following <= t else prev

    def __str__(self) -> str:
        return self.text


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def due_runs(schedule: Schedule, last_run: float | None, now: float) -> list[float]:
    """The run due at ``now``, if any: at most ONE slot, however many were missed."""
    slot = schedule.latest_at_or_before(now)
    if last_run is None or slot > last_run:
        return [slot]
    return []


def collapsed_slots(schedule: Schedule, last_run: float | None, slot: float, *, limit: int = 10) -> tuple[int, list[float]]:
    """The slots strictly between ``last_run`` and ``slot`` that get no run of their own (rule 1:
    a run that outlasts its schedule, or a daemon that was down, makes one run of them all).

    Returns their count and the first ``limit`` of them. A job that never ran collapsed nothing.
    """
    if last_run is None or slot <= last_run:
        return 0, []
    if schedule.every is not None:
        first = schedule.next_after(last_run)
        count = max(0, math.ceil((slot - first) / schedule.every - 1e-9))
        return count, [first + i * schedule.every for i in range(min(count, limit))]
    found: list[float] = []
    count = 0
    t = schedule.next_after(last_run)
    while t < slot and count < _COLLAPSE_SCAN:
        if len(found) < limit:
            found.append(t)
        count += 1
        t = schedule.next_after(t)
    return count, found


_COLLAPSE_SCAN = 100_000  # cron slots counted one by one; a longer gap is reported as this many


def job_schedule(spec: JobSpec) -> Schedule | None:
    """The job's schedule; None for a job that runs once.

    Raises:
        ScheduleError: the job's ``schedule`` does not parse.
    """
    text = spec.extra.get("schedule")
    if text is not None:
        return Schedule.parse(str(text))
    # A poll job without a schedule runs once here; after that each of its sources schedules its
    # own next poll from the adaptive policy (harvester.runtime.polling).
    return None


# --------------------------------------------------------------------------- keys


def run_key(key: str, *, slot: float | None, generation: int) -> str:
    """A planned key made unique to one run: ``search`` -> ``search@1795132800~g1``."""
    out = key
    if slot is not None:
        out += f"{SLOT_MARK}{slot_text(slot)}"
    if generation:
        out += f"{GEN_MARK}{generation}"
    return out


def slot_text(slot: float) -> str:
    """A slot as a key writes it: whole seconds (``1795132800``), or milliseconds when the slot
    has a fraction (``1795132800.25``).

    Whole seconds keep every key written before sub-second durations existed; the fraction
    keeps two polls of one source that are due within the same second (a ``min_interval``
    under a second) from sharing a key, which would make the store drop the second one.
    """
    text = f"{slot:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def split_key(key: str) -> tuple[str, float | None, int]:
    """``(base key, slot or None, generation)`` of a task key made by :func:`run_key`."""
    m = _KEY.match(key)
    if m is None:
        return key, None, 0
    text = m["slot"]
    slot: float | None = None if text is None else (float(text) if "." in text else int(text))
    return m["base"], slot, int(m["gen"] or 0)


def key_suffix(key: str) -> str:
    """The run part of a key (``@slot~gN``), which tasks a page spawns must carry too."""
    cut = [i for i in (key.find(SLOT_MARK), key.find(GEN_MARK)) if i >= 0]
    return key[min(cut):] if cut else ""


def with_suffix(task: NewTask, suffix: str) -> NewTask:
    """``task`` with the run ``suffix`` appended to its key (unless it already has one)."""
    if not suffix or key_suffix(task.key):
        return task
    return replace(task, key=task.key + suffix)


# --------------------------------------------------------------------------- job state


def definition_digest(spec: JobSpec) -> str:
    """A digest of *what* the job harvests: every field but its file and its timing keys."""
    doc = asdict(spec)
    doc.pop("source", None)
    # Keys added after a digest was first saved leave it unchanged while unset, so an upgrade
    # does not make every daemon job look changed (a new generation harvests it all again).
    for key in ("post_fields", "media_fields", "place_fields", "poll_fields", "list_fields", "list_ids",
                "user_ids_file", "usernames_file", "tweet_ids_file", "ids_column", "from_job", "limit",
                "granularity"):
        if not doc.get(key):
            doc.pop(key, None)
    doc["extra"] = {k: v for k, v in spec.extra.items() if k not in TIMING_KEYS}
    text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobState:
    """A job's schedule state, saved under ``schedule:<job>``.

    Attributes:
        digest: :func:`definition_digest` of the definition the generation harvests.
        generation: bumped each time the definition changes (0 first).
        last_slot: the slot of the last run started (None: never ran on a schedule).
    """

    digest: str
    generation: int = 0
    last_slot: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "generation": self.generation, "last_slot": self.last_slot}

    @classmethod
    def from_json(cls, doc: object) -> JobState | None:
        """The saved state, or None if ``doc`` is missing or not one of ours."""
        if not isinstance(doc, Mapping) or not isinstance(doc.get("digest"), str):
            return None
        gen = doc.get("generation", 0)
        slot = doc.get("last_slot")
        return cls(
            digest=doc["digest"],
            generation=gen if isinstance(gen, int) and gen >= 0 else 0,
            last_slot=float(slot) if isinstance(slot, int | float) else None,
        )


def reconcile(spec: JobSpec, saved: JobState | None) -> tuple[JobState, bool]:
    """The job's state for ``spec`` given what was saved; True when the definition changed."""
    digest = definition_digest(spec)
    if saved is None:
        return JobState(digest=digest), False
    if saved.digest == digest:
        return saved, False
    return JobState(digest=digest, generation=saved.generation + 1, last_slot=None), True


INCREMENTAL = frozenset({"/2/tweets/search/recent", "/2/tweets/search/all", "/2/users/:id/tweets",
                         "/2/users/:id/mentions"})


def newest_key(job: str, base_key: str, generation: int) -> str:
    """Where the store keeps the newest id a source has returned (for the next run's since_id).

    Per generation: a redefined job starts afresh.
    """
    return f"newest:{job}:{base_key}{GEN_MARK}{generation}"


def incremental(task: NewTask, since_id: str | None) -> NewTask:
    """Ask only for what is newer than ``since_id`` (a later run of a recurring job).

    ``since_id`` replaces ``start_time``: the API takes at most one of the two on search
    (x-api-spec.md §1), and on timelines the id takes precedence anyway.
    """
    if since_id is None or task.endpoint not in INCREMENTAL:
        return task
    params = {k: v for k, v in task.params.items() if k != "start_time"}
    params["since_id"] = since_id
    return replace(task, params=params)


def run_tasks(
    spec: JobSpec, state: JobState, slot: float | None, newest: Mapping[str, str] | None = None,
    inputs: Inputs | None = None,
) -> list[NewTask]:
    """The tasks of one run of ``spec``: planned afresh, keys made unique to the run.

    ``newest`` maps a planned key to the newest id its source returned in earlier runs: those
    tasks fetch only newer posts, so a recurring search or timeline never pages through what it
    already has. ``inputs``: the values of the job's files (:func:`harvester.inputs.job_inputs`).
    """
    return list(iter_run_tasks(spec, state, slot, newest, inputs))


def iter_run_tasks(
    spec: JobSpec, state: JobState, slot: float | None, newest: Mapping[str, str] | None = None,
    inputs: Inputs | None = None,
) -> Iterator[NewTask]:
    """:func:`run_tasks` one at a time: a job of a million file ids queues in constant memory."""
    newest = newest or {}
    for t in iter_plan(spec, inputs):
        yield replace(incremental(t, newest.get(t.key)), key=run_key(t.key, slot=slot, generation=state.generation))
