"""Reading one X API response: its rate-limit headers, and what its status and body mean.

Theory of operation
-------------------
Two pure readers live here; the rate-limit engine (``core.ratelimit``) and the worker use both.

:func:`parse_rate_headers` turns a response's headers into :class:`RateHeaders`: the window
bucket (``x-rate-limit-limit|-remaining|-reset``), the 24-hour buckets
(``x-app-limit-24hour-*``, ``x-user-limit-24hour-*``) and the server's ``Date`` (RFC 7231, whole
seconds) as epoch seconds. Keys are matched case-insensitively; a figure that is absent or not a
number counts as absent, and a bucket is present only when both ``remaining`` and ``reset`` are
(x-api-spec.md §3.1).

:func:`classify` decides what a whole response means for the *job*, by status, body and headers,
before anyone sleeps (x-api-spec.md §2.3, §3.1, §8 "Harvester"):

- Problem types are matched on the part after ``/2/problems/``, so ``api.twitter.com`` and
  ``api.x.com`` URIs read the same (§0).
- 402, a ``credits*`` type or the title ``CreditsDepleted`` → :class:`CreditsDepleted` (fatal).
- 429 is always a wait, never a failure (x-api-spec.md §2.3: "treat any 429 whose body has no
  ``usage-capped`` type as a rate limit"), read in this order: ``usage-capped`` →
  :class:`UsageCapped` (never retried; a cap 429 comes with remaining > 0); a 24-hour
  ``remaining`` of 0 → :class:`DailyLimited`; window ``remaining`` 0, or no window headers at all
  → :class:`WindowLimited` (``about:blank``, code 88 or any other body; ``reset`` None when the
  headers are missing); ``remaining`` > 0 on any route → :class:`PerSecondLimited` (a hidden
  per-second limiter: documented on full-archive search, seen elsewhere on X-like servers).
- 5xx → :class:`Retryable`. 401 → :class:`Unauthorized` (the credentials, not the job: nothing
  else will succeed either). 403 and other 4xx → :class:`Fatal` with the problem's text.
- 2xx → :class:`Ok`, carrying the texts of any partial ``errors[]`` (§2.2).

The bucket bookkeeping for the same response is the engine's: the shell passes the headers and
status to ``RateLimits.observe`` as well. Nothing here reads a clock; ``now`` is an argument.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from harvester.core.endpoints import ENDPOINTS

PROBLEMS = "/2/problems/"
DAY_SECONDS = 86_400.0

AuthKind = Literal["app", "user"]


# --- headers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Quota:
    """One bucket's figures as a single response reports them.

    Attributes:
        limit: the ceiling (None when the response left it out).
        remaining: requests left in the bucket's current window.
        reset: when that window ends, server epoch seconds.
    """

    limit: int | None
    remaining: int
    reset: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RateHeaders:
    """The rate-limit facts in one response's headers.

    Attributes:
        window: the ``x-rate-limit-*`` bucket (15-minute windows on most endpoints).
        app_daily, user_daily: the ``x-app-limit-24hour-*`` / ``x-user-limit-24hour-*`` buckets.
        date: the server's ``Date`` header as epoch seconds (whole seconds, rounded down).
    """

    window: Quota | None = None
    app_daily: Quota | None = None
    user_daily: Quota | None = None
    date: float | None = None

    def daily(self, kind: AuthKind) -> Quota | None:
        """The 24-hour bucket of ``kind``."""
        return self.app_daily if kind == "app" else self.user_daily

    @property
    def any_daily_exhausted(self) -> bool:
        """A 24-hour bucket reports 0 remaining."""
        return any(q is not None and q.remaining <= 0 for q in (self.app_daily, self.user_daily))


NO_HEADERS = RateHeaders()


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with lower-case names (HTTP names are case-insensitive)."""
    return {k.lower(): v for k, v in headers.items()}


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _quota(h: Mapping[str, str], prefix: str) -> Quota | None:
    remaining = _number(h.get(prefix + "-remaining"))
    reset = _number(h.get(prefix + "-reset"))
    if remaining is None or reset is None:
        return None
    limit = _number(h.get(prefix + "-limit"))
    return Quota(
        limit=int(limit) if limit is not None and limit > 0 else None,
        remaining=max(0, int(remaining)),
        reset=reset,
    )


def parse_http_date(raw: str | None) -> float | None:
    """An RFC 7231 ``Date`` value as epoch seconds, or None if it does not parse."""
    if not raw:
        return None
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return float(email.utils.mktime_tz(parsed))


def parse_rate_headers(headers: Mapping[str, str] | None) -> RateHeaders:
    """Read the window, 24-hour and ``Date`` headers of one response."""
    if not headers:
        return NO_HEADERS
    h = lower_keys(headers)
    return RateHeaders(
        window=_quota(h, "x-rate-limit"),
        app_daily=_quota(h, "x-app-limit-24hour"),
        user_daily=_quota(h, "x-user-limit-24hour"),
        date=parse_http_date(h.get("date")),
    )


# --- outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Ok:
    """A 2xx. ``errors`` holds the texts of partial per-item errors (HTTP 200 with ``errors[]``)."""

    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowLimited:
    """429 with ``remaining`` 0 (or no rate-limit headers at all): the window is spent.

    ``reset`` is server epoch seconds, or None when the 429 carried no headers (the engine then
    holds the bucket for a back-off, or until a reset it already knows).

    The request counted against the bucket; the engine now answers ``WaitUntil`` until the reset
    (plus margin), so the shell just reserves again.
    """

    reset: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PerSecondLimited:
    """429 with ``remaining`` > 0 and no cap body: a hidden per-second limiter.

    ``retry_at`` is the documented gap on routes that have one (full-archive search: 1 s),
    else one second; the rate-limit engine widens the gap if the limiter keeps refusing.
    """

    retry_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyLimited:
    """429 with a 24-hour bucket at 0. ``reset`` is that bucket's reset (server epoch seconds)."""

    reset: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageCapped:
    """429 ``usage-capped``: the Post read cap. Never retried; stop the job family.

    Attributes:
        period: ``"Daily"`` or ``"Monthly"`` (as the body says; ``"Monthly"`` if it says nothing).
        scope: ``"Account"`` / ``"Product"`` or None.
        detail: the problem's detail text.
        until: for a daily cap, the next UTC midnight after ``now``; None for a monthly cap
            (the billing cycle's reset day is not in the response).
    """

    period: str
    scope: str | None
    detail: str
    until: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unauthorized:
    """401: the credentials were refused. Every request with them will fail the same way, so
    the run stops after the first one and leaves its tasks pending (fix the token, run again)."""

    problem_text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditsDepleted:
    """402 / ``credits*`` / ``CreditsDepleted``: the prepaid balance is gone. Fatal, save state."""

    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Retryable:
    """A transient failure (5xx): retry after a backoff delay."""

    reason: str
    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Fatal:
    """The job cannot succeed by retrying (403, other 4xx, unexpected statuses).

    Attributes:
        reason: a stable token: ``possibly_denylisted`` (403 with the generic
            ``about:blank`` Forbidden body), a problem slug such as ``invalid-request`` or
            ``unsupported-authentication``, or ``http_<status>``.
        problem_text: the problem's title and detail, then every ``errors[].message`` (or
            ``detail``) text, joined with `` | ``.
        status: the HTTP status.
    """

    reason: str
    problem_text: str
    status: int


Outcome = (
    Ok | WindowLimited | PerSecondLimited | DailyLimited | UsageCapped | CreditsDepleted | Unauthorized
    | Retryable | Fatal
)
RateLimited = WindowLimited | PerSecondLimited | DailyLimited


def problem_slug(uri: object) -> str | None:
    """The part of a problem ``type`` after ``/2/problems/`` (either host); ``about:blank`` as is."""
    if not isinstance(uri, str):
        return None
    if uri == "about:blank":
        return uri
    i = uri.find(PROBLEMS)
    if i < 0:
        return None
    return uri[i + len(PROBLEMS) :].strip("/") or None


def _problems(body: object) -> list[Mapping[str, object]]:
    """The top-level problem (if the body is one) followed by the ``errors[]`` items."""
    if not isinstance(body, Mapping):
        return []
    found: list[Mapping[str, object]] = []
    if "type" in body or "title" in body:
        found.append(body)
    errors = body.get("errors")
    if isinstance(errors, list):
        found.extend(e for e in errors if isinstance(e, Mapping))
    return found


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def problem_text(body: object) -> str:
    """Title and detail of the problem, then the ``errors[]`` messages, joined with `` | ``."""
    parts: list[str] = []
    if isinstance(body, Mapping):
        head = ": ".join(t for t in (_text(body.get("title")), _text(body.get("detail"))) if t)
        if head:
            parts.append(head)
        errors = body.get("errors")
        if isinstance(errors, list):
            for e in errors:
                if isinstance(e, Mapping):
                    msg = _text(e.get("message")) or _text(e.get("detail")) or _text(e.get("title"))
                    if msg:
                        parts.append(msg)
    elif isinstance(body, str) and body.strip():
        parts.append(body.strip()[:500])
    return " | ".join(parts)


def _next_utc_midnight(now: float) -> float:
    return (math.floor(now / DAY_SECONDS) + 1) * DAY_SECONDS


def _is_credits(status: int, problems: list[Mapping[str, object]]) -> bool:
    if status == 402:
        return True
    for p in problems:
        slug = problem_slug(p.get("type"))
        if (slug is not None and slug.startswith("credits")) or _text(p.get("title")) == "CreditsDepleted":
            return True
    return False


def _classify_429(
    headers: RateHeaders, problems: list[Mapping[str, object]], route: str, now: float
) -> Outcome:
    for p in problems:
        if problem_slug(p.get("type")) == "usage-capped":
            period = _text(p.get("period")) or "Monthly"
            scope = _text(p.get("scope")) or None
            until = _next_utc_midnight(now) if period == "Daily" else None
            return UsageCapped(period=period, scope=scope, detail=_text(p.get("detail")), until=until)
    daily = [q for q in (headers.app_daily, headers.user_daily) if q is not None and q.remaining <= 0]
    if daily:
        return DailyLimited(reset=max(q.reset for q in daily))
    window = headers.window
    if window is None or window.remaining <= 0:
        return WindowLimited(reset=None if window is None else window.reset)
    row = ENDPOINTS.get(route)
    gap = 1.0 / row.per_second if row is not None and row.per_second else 1.0
    return PerSecondLimited(retry_at=now + gap)


def classify(
    status: int, headers: Mapping[str, str], body: object | None, route: str, now: float
) -> Outcome:
    """What one response means for the job that sent it.

    Args:
        status: the HTTP status.
        headers: the response headers (any case).
        body: the parsed JSON body (None if empty or not JSON; a string is used as text).
        route: the route template the request went to (``/2/tweets/search/all``), for the
            per-second limiter in ``core.endpoints``.
        now: current time, epoch seconds (only used to place retry times).
    """
    problems = _problems(body)
    if 200 <= status < 300:
        texts = tuple(problem_text({"errors": [p]}) for p in problems if p is not body)
        return Ok(errors=tuple(t for t in texts if t))
    if _is_credits(status, problems):
        detail = next((_text(p.get("detail")) for p in problems if _text(p.get("detail"))), "")
        return CreditsDepleted(detail=detail or problem_text(body) or "credits depleted")
    if status == 429:
        return _classify_429(parse_rate_headers(headers), problems, route, now)
    if status >= 500:
        return Retryable(reason=f"server error {status}: " + (problem_text(body) or "no body"), status=status)
    text = problem_text(body) or f"HTTP {status}"
    slug = next((s for p in problems if (s := problem_slug(p.get("type"))) not in (None, "about:blank")), None)
    if status == 401:
        return Unauthorized(problem_text=text)
    if status == 403 and slug is None:
        generic = isinstance(body, Mapping) and _text(body.get("title")) == "Forbidden"
        return Fatal(reason="possibly_denylisted" if generic else "forbidden", problem_text=text, status=status)
    return Fatal(reason=slug or f"http_{status}", problem_text=text, status=status)
