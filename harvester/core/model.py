"""Values that cross module boundaries: job specs, queued tasks, pages.

A *job* is what the user wrote in a job file (one ``[[job]]`` table). The planner
(``core.plan``) turns a job into *tasks*: one task per paginated stream of pages (a search, one
user's timeline, one 100-id lookup chunk). The queue stores tasks; a worker claims a task, fetches
its next page, and commits the page together with the task's new cursor. A task is done when its
pagination ends.

All values are frozen, slotted, keyword-only dataclasses: they are safe to share between workers
and cheap to compare in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

KINDS = (
    "search",
    "timeline",
    "mentions",
    "followers",
    "following",
    "lookup_tweets",
    "lookup_users",
    # issue 16
    "liking_users",
    "liked_tweets",
    "retweeted_by",
    "quote_tweets",
    "conversation",
    "list_tweets",
    "list_members",
    "list_followers",
    "owned_lists",
    "followed_lists",
    "list_memberships",
    "pinned_lists",
    "bookmarks",
    "blocking",
    "muting",
    "counts",
    "stream",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """One harvest job, as validated from a job file.

    Attributes:
        name: unique across all job files; safe as a file name (``[A-Za-z0-9_.-]``).
        kind: one of :data:`KINDS`.
        source: the job file it came from (for error messages).
        query: search query (``search``).
        archive: ``search`` over the full archive (``/2/tweets/search/all``) instead of recent.
        start_time, end_time: ISO-8601 ``YYYY-MM-DDTHH:MM:SSZ`` bounds (search, timeline, mentions).
        since_id, until_id: id bounds (search, timeline, mentions).
        user_ids, usernames: the users of a user-scoped job (timeline, mentions, followers,
            following, lookup_users).
        tweet_ids: the posts of ``lookup_tweets``.
        tweet_fields, post_fields, user_fields, media_fields, place_fields, poll_fields,
            list_fields, expansions: sent comma-joined, each as the parameter
            ``core.endpoints.FIELD_KEYS`` names (``tweet_fields`` as ``tweet.fields``,
            ``post_fields`` as ``post.fields``: the same Post fields under X's 2.166 and 2.167
            parameter names; a job sets at most one of the two). Values are as the job wrote
            them, 2.166 or 2.167 names.
        max_results: page size; ``None`` means the endpoint's maximum.
        priority: higher first.
        auth: name of the auth context (or pool) to send through; ``"app"`` is the bearer token.
        list_ids: the lists of a list-scoped job (list_tweets, list_members, list_followers).
        user_ids_file, usernames_file, tweet_ids_file: files of ids or usernames (absolute paths;
            read by :mod:`harvester.inputs`, streamed into the queue), in addition to the inline
            lists. ``ids_column`` picks a CSV file's column.
        from_job: another job whose output gives this job its inputs (fan-out), queued as that
            job's pages commit.
        limit: stop the job after this many items (None: no limit).
        granularity: ``counts``: ``minute``, ``hour`` or ``day`` (None: the endpoint's default).
        extra: job keys that later features read (mode, schedule, intervals, ...).
    """

    name: str
    kind: str
    source: str = "<memory>"
    query: str | None = None
    archive: bool = False
    start_time: str | None = None
    end_time: str | None = None
    since_id: str | None = None
    until_id: str | None = None
    user_ids: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()
    tweet_ids: tuple[str, ...] = ()
    tweet_fields: tuple[str, ...] = ()
    post_fields: tuple[str, ...] = ()
    user_fields: tuple[str, ...] = ()
    media_fields: tuple[str, ...] = ()
    place_fields: tuple[str, ...] = ()
    poll_fields: tuple[str, ...] = ()
    list_fields: tuple[str, ...] = ()
    expansions: tuple[str, ...] = ()
    max_results: int | None = None
    priority: int = 0
    auth: str = "app"
    list_ids: tuple[str, ...] = ()
    user_ids_file: str | None = None
    usernames_file: str | None = None
    tweet_ids_file: str | None = None
    ids_column: str | None = None
    from_job: str | None = None
    limit: int | None = None
    granularity: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class TaskState(StrEnum):
    """Where a task is in its life."""

    PENDING = "pending"  # waiting to be claimed (maybe not before ``not_before``)
    CLAIMED = "claimed"  # a worker holds it until ``lease_until``
    DONE = "done"  # pagination ended
    FAILED = "failed"  # gave up; ``last_error`` says why and ``Failure`` decides what puts it back
    SUPERSEDED = "superseded"  # an older generation's unfinished task: not a failure, never claimed


class Failure(StrEnum):
    """Why a task failed, stored with it so that what a rerun does is a decision on data.

    A rerun (``harvester run``, the daemon's start) puts back by itself the failures a rerun can
    fix (:attr:`rerun_fixes`); the others stay failed until the job's definition changes (a new
    generation starts afresh) or ``harvester retry`` is asked.
    """

    AUTH = "auth"  # the credentials were refused: a fixed token fixes it
    TRANSPORT = "transport"  # no usable response (timeouts, dropped connections) max_attempts times
    SERVER = "server"  # 5xx max_attempts times
    RESPONSE = "response"  # malformed answers max_attempts times
    RATE_LIMIT = "rate_limit"  # 429s
    INVALID = "invalid"  # a 400 on the job's own parameters: cannot succeed unchanged
    REFUSED = "refused"  # another 4xx (403, 404): the server will not serve the job as written
    SUPERSEDED = "superseded"  # the job's definition changed (the task's state is SUPERSEDED)

    @property
    def rerun_fixes(self) -> bool:
        """Whether running again, unchanged, may succeed (so a rerun puts the task back)."""
        return self in RERUN_FIXES


RERUN_FIXES = frozenset({Failure.AUTH, Failure.TRANSPORT, Failure.SERVER, Failure.RESPONSE, Failure.RATE_LIMIT})


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTask:
    """A task to enqueue.

    Attributes:
        job: the job's name.
        key: unique within the job (``"search"``, ``"user:12"``, ``"ids:0003"``); enqueueing the
            same (job, key) twice keeps the first, so re-planning a job is idempotent.
        endpoint: the route template, e.g. ``"/2/users/:id/tweets"`` (the rate-limit bucket).
        path_params: values for the template's ``:name`` parts.
        params: fixed query parameters (the cursor is added per page).
        priority: higher first.
        not_before: epoch seconds before which the task is not claimed.
        auth: auth context (or pool) name.
        write: whether its pages go to the job's output file (resolve steps do not).
        deadline: epoch seconds by which it must be claimed, whatever its priority (a polled
            source's ``max_interval``: the starvation guard); claims take tasks past their
            deadline first, earliest first. None: no deadline.
    """

    job: str
    key: str
    endpoint: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    priority: int = 0
    not_before: float = 0.0
    auth: str = "app"
    write: bool = True
    deadline: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """A queued task as claimed from the store."""

    id: int
    job: str
    key: str
    endpoint: str
    path_params: Mapping[str, str]
    params: Mapping[str, str]
    priority: int
    auth: str
    write: bool
    cursor: str | None  # the next page's token; None before the first page
    pages: int  # pages committed so far
    items: int  # items (``data`` entries) committed so far
    attempts: int  # failed attempts since the last committed page
    state: TaskState = TaskState.CLAIMED
    last_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PageCommit:
    """Everything a page changes, committed in one transaction.

    Attributes:
        task_id: the claimed task.
        next_cursor: the token for the following page, or None when pagination ended.
        items: ``data`` entries on this page.
        output_job: the job whose output file got the page (None if nothing was written).
        output_offset: that file's length after the page was appended and flushed.
        spawn: tasks this page creates (e.g. per-user tasks after resolving usernames).
        ledger: the page's settled charges (``core.budget.LedgerEntry.to_dict()``), persisted in
            the same transaction so money spent and pages kept can never disagree.
        holds: shared-budget holds (``store.coordination``) the page ends.
        cache: objects to remember, ``(kind, shape, id, fetched_at, json body)`` rows.
        state: engine documents to save with the page (the source's newest id, its poll state),
            so a crash between them cannot lose what the page taught.
    """

    task_id: int
    next_cursor: str | None
    items: int
    output_job: str | None = None
    output_offset: int | None = None
    spawn: tuple[NewTask, ...] = ()
    ledger: tuple[Mapping[str, Any], ...] = ()
    holds: tuple[int, ...] = ()
    cache: tuple[tuple[str, str, str, float, str], ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamCommit:
    """Streamed Posts written, committed in one transaction.

    Attributes:
        outputs: each written job's output key and its file's new length.
        items: Posts written per job.
        ledger: the Posts' charges (``LedgerEntry.to_dict()``).
        spawn: fill tasks for a gap the stream could not backfill.
        state: documents to save with them (the stream's position).
    """

    outputs: Mapping[str, int] = field(default_factory=dict)
    items: Mapping[str, int] = field(default_factory=dict)
    ledger: tuple[Mapping[str, Any], ...] = ()
    spawn: tuple[NewTask, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStats:
    """Per-job progress as ``harvester status`` shows it.

    ``superseded`` tasks (an older generation's unfinished work) are counted in ``tasks`` but are
    no failure: they never make a job ``failed``. ``generation`` is None for a job's figures
    summed over its generations (``Store.job_stats``), else the one generation they are of
    (``Store.generation_stats``).
    """

    job: str
    tasks: int
    pending: int
    claimed: int
    done: int
    failed: int
    pages: int
    items: int
    last_error: str | None
    superseded: int = 0
    generation: int | None = None

    @property
    def state(self) -> str:
        if self.failed and not (self.pending or self.claimed):
            return "failed"
        if self.pending or self.claimed:
            return "running" if self.pages else "queued"
        if self.superseded and not (self.done or self.failed):
            return "superseded"
        return "done"
