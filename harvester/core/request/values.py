"""What the request machine takes and returns: permits, admissions, outcomes, settlements.

Every value is frozen; the shell carries them out and never decides anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harvester.core import budget as money
from harvester.core import ratelimit
from harvester.core.classify import AuthKind
from harvester.core.model import Failure
from harvester.core.page import Page
from harvester.core.plan import PageRequest, PageResult

# --- who sends --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthInfo:
    """One auth context, as the machine knows it: no secret, only what decisions need.

    Attributes:
        name: ``"app"`` (the bearer token) or a user context's name.
        kind: ``"app"`` or ``"user"`` (which bucket kind it draws on).
        user_id: the user's id, for owned-read pricing (None: never owned).
        env: the environment variable(s) holding its secret, named in messages (never the value).
    """

    name: str
    kind: AuthKind
    user_id: str | None = None
    env: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Permit:
    """A request cleared to go: what to send, through which context, and what it holds.

    Attributes:
        request: path and parameters, after shrinking and known renames.
        route: the route template (the bucket).
        job: the job it is for.
        auth: the auth context name to sign with.
        rate: the bucket's ticket.
        money: the budget's reservation (None on a free route).
        owned: billed at the owned-read price.
        posts: cap-counted Posts held for it.
        hold: its shared-store hold id, ended with its page (``store.coordination``).
        items: items held against its job's ``limit`` until it settles (0: the job has none).
    """

    request: PageRequest
    route: str
    job: str
    auth: str
    rate: ratelimit.Ticket
    money: money.Ticket | None
    owned: bool = False
    posts: int = 0
    hold: int | None = None
    items: int = 0

    @property
    def holds(self) -> tuple[int, ...]:
        return () if self.hold is None else (self.hold,)


# --- why a run stops or work waits ------------------------------------------------------------


class Cause(StrEnum):
    """Why a run stopped with work left, or why work waits (stable names for logs, status, exit)."""

    RUN_BUDGET = "run_budget"  # [budget] max_usd_per_run / --max-usd
    SPENDING_LIMIT = "spending_limit"  # the billing cycle's spending limit
    BALANCE = "balance"  # the projected prepaid balance
    CREDITS = "credits"  # HTTP 402: credits depleted
    CAP = "cap"  # the monthly Post cap
    RATE_LIMIT = "rate_limit"  # a bucket (24-hour, denylist guard) closed past the run's horizon
    AUTH = "auth"  # HTTP 401: the credentials were refused
    SIGNAL = "signal"  # stopped by SIGINT/SIGTERM
    OUTPUT = "output"  # an output file could not be written (disk full, I/O error)
    DURATION = "duration"  # ``run --for`` ran its time
    REFUSED = "refused"  # the server refused the job as written (a stream rule)


_MONEY_CAUSE: dict[str, Cause] = {
    "run": Cause.RUN_BUDGET, "cycle": Cause.SPENDING_LIMIT, "balance": Cause.BALANCE, "credits": Cause.CREDITS,
}  # fmt: skip


def money_cause(limit: str) -> Cause:
    return _MONEY_CAUSE[limit]


@dataclass(frozen=True, slots=True, kw_only=True)
class StopCause:
    """Why work stopped: the cause, one line, the figures that decided it, when it can go on.

    Attributes:
        cause: the stable name.
        message: one line for people.
        figures: the counts that decided it (local and server), JSON-safe.
        resumes_at: when the work can continue by itself (epoch seconds), None if only by a
            change (a new budget, a fixed token).
        failure: an error (exit 1), not a stop on purpose (exit 3).
    """

    cause: Cause
    message: str
    figures: Mapping[str, Any] = field(default_factory=dict)
    resumes_at: float | None = None
    failure: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"cause": self.cause.value, "message": self.message, "figures": dict(self.figures),
                "resumes_at": self.resumes_at, "failure": self.failure}  # fmt: skip


# --- admissions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Go:
    """Send ``permit`` now."""

    permit: Permit


@dataclass(frozen=True, slots=True, kw_only=True)
class Park:
    """Not now: give the task back until ``until``. ``cause`` is set when the wait is a limit
    the run may end on (the cap, a 24-hour bucket), for the stop line.

    ``by_bucket``: the wait is the bucket's (its window, the cap). The task is then given back
    due at once and claims skip the bucket while it is closed (``closed_buckets``), so a bucket
    that reopens sooner than it said (a server that changed its mind) is followed at once.
    """

    until: float
    reason: str
    cause: StopCause | None = None
    by_bucket: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """A limit is reached: stop the run cleanly (an expected end), the task stays pending."""

    cause: StopCause


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckUsage:
    """Read ``GET /2/usage/tweets`` first (the cap estimate wants the server's word), then ask
    again."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reject:
    """The task cannot succeed as its job is written (the server refused the job's own
    parameters earlier in this run): fail it without sending."""

    reason: str
    failure: Failure = Failure.INVALID


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    """The task's job has all the items it asked for (``limit``): end the task without a page."""

    reason: str


Admission = Go | Park | Stop | CheckUsage | Reject | Finish


# --- outcomes of a send -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A complete HTTP response.

    Attributes:
        status: HTTP status.
        headers: header names lower-cased.
        body: the decoded JSON, or None when it was not JSON (see ``parse_error``).
        parse_error: why the body could not be decoded, if it could not.
    """

    status: int
    headers: Mapping[str, str]
    body: Any
    parse_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lost:
    """No complete response (timeout, connection dropped): the request may have landed."""

    reason: str


Outcome = Answer | Lost


# --- settlements ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """Write the page and commit it (with ``Settlement.ledger``)."""

    page: Page
    result: PageResult


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """A transient failure: retry at ``until`` (an attempt counts toward ``max_attempts``)."""

    until: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait:
    """Rate-limited or capped: release the task until ``until`` without spending an attempt
    (``by_bucket`` as for :class:`Park`)."""

    until: float
    reason: str
    cause: StopCause | None = None
    by_bucket: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Fail:
    """The task cannot succeed now: mark it failed with ``reason``; ``failure`` (stored with the
    task) says whether a rerun puts it back by itself."""

    reason: str
    failure: Failure = Failure.REFUSED


@dataclass(frozen=True, slots=True, kw_only=True)
class Halt:
    """Stop the run (credits depleted, credentials refused); the task stays pending."""

    cause: StopCause


@dataclass(frozen=True, slots=True, kw_only=True)
class Resend:
    """The server refused a name it knows by another: admit ``request`` instead (a 400 is not
    billed; the rename is remembered for the route)."""

    request: PageRequest
    note: str


Verdict = Commit | Retry | Wait | Fail | Halt | Resend


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something to log: a stable name, a level, and its fields."""

    name: str
    level: str = "info"
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """What a response means, with every effect it has as values.

    Attributes:
        verdict: what to do with the task.
        ledger: charges to persist (with the page for :class:`Commit`, else on their own).
        holds: shared holds that end with them.
        events: log lines.
    """

    verdict: Verdict
    ledger: tuple[Mapping[str, Any], ...] = ()
    holds: tuple[int, ...] = ()
    events: tuple[Event, ...] = ()


__all__ = [
    "Admission", "Answer", "AuthInfo", "Cause", "CheckUsage", "Commit", "Event", "Fail", "Go", "Halt",
    "Lost", "Outcome", "Park", "Permit", "Reject", "Resend", "Retry", "Settlement", "Stop", "StopCause",
    "Verdict", "Wait", "money_cause",
]  # fmt: skip
