"""The request machine: one request's whole life, admit → send → settle, as pure decisions.

The rules are in the package docstring (``harvester.core.request``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, assert_never

from harvester.core import budget as money
from harvester.core import cap as capmod
from harvester.core import classify as cls
from harvester.core import pricing, ratelimit
from harvester.core.backoff import Backoff
from harvester.core.endpoints import ENDPOINTS, FIELD_KEYS
from harvester.core.model import Failure, JobSpec, Task
from harvester.core.page import parse_page
from harvester.core.plan import PageRequest, describe, interpret_page
from harvester.core.renames import Rename, apply_rename, parse_invalid_values, renames_for
from harvester.core.request.values import (
    Admission,
    Answer,
    AuthInfo,
    Cause,
    CheckUsage,
    Commit,
    Event,
    Fail,
    Finish,
    Go,
    Halt,
    Lost,
    Outcome,
    Park,
    Permit,
    Reject,
    Resend,
    Retry,
    Settlement,
    Stop,
    StopCause,
    Wait,
    money_cause,
)
from harvester.core.shared import SharedView
from harvester.errors import BadResponse

USAGE = "/2/usage/tweets"
USAGE_FIELDS = "cap_reset_day,project_cap,project_usage"
APP = "app"
LONG_WAIT = 3600.0  # a bucket closed longer than this is a cause a run may end on
_PARAM_KEY = {param: key for key, param in FIELD_KEYS.items()}
_LIMITED: dict[type, ratelimit.LimitKind] = {
    cls.WindowLimited: "window", cls.PerSecondLimited: "per_second", cls.DailyLimited: "daily",
    cls.UsageCapped: "cap",
}  # fmt: skip


class RequestMachine:
    """The rate-limit, budget and cap engines applied to one request at a time.

    Args:
        contexts: every auth context by name (``"app"`` and the user contexts).
        pools: pools of user contexts by name (a job's ``auth`` may name one).
        limits, ledger, cap, prices: the engines.
        specs: the jobs by name (live: the daemon replaces it on reload).
        max_attempts: failed attempts of one page before its task fails.
        backoff: retry delays (seeded in tests).
        accepted: contexts whose credentials are already known good (until an answer proves a
            context's, its requests go one at a time, so a wrong token costs a single 401).
    """

    def __init__(
        self,
        *,
        contexts: Mapping[str, AuthInfo],
        pools: Mapping[str, tuple[str, ...]] | None = None,
        limits: ratelimit.RateLimits,
        ledger: money.Ledger,
        cap: capmod.CapTracker,
        prices: pricing.Prices = pricing.DEFAULT_PRICES,
        specs: Mapping[str, JobSpec] | None = None,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        accepted: frozenset[str] = frozenset(),
    ) -> None:
        self.contexts = dict(contexts)
        self.pools = dict(pools or {})
        self.limits = limits
        self.ledger = ledger
        self.cap = cap
        self.prices = prices
        self.specs: Mapping[str, JobSpec] = specs or {}
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff(random.Random(0))
        self.cap.can_verify = APP in self.contexts
        self.run_spent = 0
        self._buckets_seen: set[tuple[str, str]] = set()
        self._renames: dict[str, list[Rename]] = {}
        self._broken: dict[str, str] = {}
        self._proven: set[str] = set(accepted)  # contexts the server answered with anything but a 401
        self._in_flight: dict[str, int] = {}  # requests out per context
        self._refused: dict[str, str] = {}  # contexts answered 401 before any answer accepted them: why
        self._demand: dict[tuple[str, str], int] = {}  # tasks queued per (route, auth name), as last told
        self.job_items: dict[str, int] = {}  # items committed per job (of its current generation)
        self._items_out: dict[str, int] = {}  # items requested and not settled, per job with a limit

    # -- auth ---------------------------------------------------------------------------------

    def members(self, name: str) -> tuple[str, ...]:
        """The contexts an auth name sends through (a pool's users, or itself)."""
        return self.pools.get(name, (name,))

    def kind(self, name: str) -> cls.AuthKind:
        return self.contexts[self.members(name)[0]].kind

    # -- before a request ---------------------------------------------------------------------

    def closed_buckets(self, now: float) -> frozenset[tuple[str, str]]:
        """(route, auth) pairs that cannot send now: claims skip their tasks."""
        return frozenset(k for k in self._buckets_seen if self._reopen(k, now) > now)

    def next_reopen(self, now: float) -> float | None:
        """The earliest time a closed bucket opens again, if any is closed."""
        times = [t for k in self._buckets_seen if (t := self._reopen(k, now)) > now]
        return min(times) if times else None

    def waits(self, now: float) -> list[tuple[str, str, float, str]]:
        """Every bucket closed now: (route, auth, until, why), soonest first (for people)."""
        out = []
        for route, name in sorted(self._buckets_seen):
            blocked = self.cap.blocked_until(route, now)
            if blocked is not None and blocked > now:
                out.append((route, name, blocked, "the monthly Post cap"))
                continue
            kind = self.kind(name)
            t, why, detail = min((self.limits.bucket(route, m, kind).next_send(now) for m in self.members(name)),
                                 key=lambda n: n[0])
            if t > now:
                out.append((route, name, t, f"{why}: {detail}" if why else "rate limit"))
        return sorted(out, key=lambda w: w[2])

    def _reopen(self, key: tuple[str, str], now: float) -> float:
        route, name = key
        blocked = self.cap.blocked_until(route, now)
        if blocked is not None:
            return blocked
        kind = self.kind(name)
        return min(self.limits.bucket(route, m, kind).next_send(now)[0] for m in self.members(name))

    def set_demand(self, demand: Mapping[tuple[str, str], int]) -> None:
        """Tasks queued per (route, auth name): auto pacing spreads a bucket only when its
        demand is more than its window has left. A pool's demand is shared among its users."""
        self._demand.update(demand)
        self._apply_demand(demand)

    def task_done(self, route: str, auth: str) -> None:
        """One task on (route, auth) ended: its bucket's demand is one less, at once.

        The store's count comes every few seconds; between two counts a bucket whose backlog has
        just come to fit its window would otherwise stay spread (and its last tasks wait for the
        next count, an idle pause at the end of every run)."""
        key = (route, auth)
        if self._demand.get(key, 0) > 0:
            self._demand[key] -= 1
            self._apply_demand({key: self._demand[key]})

    def _apply_demand(self, demand: Mapping[tuple[str, str], int]) -> None:
        for (route, name), n in demand.items():
            if name not in self.pools and name not in self.contexts:
                continue
            members = self.members(name)
            kind = self.kind(name)
            for m in members:
                try:
                    self.limits.bucket(route, m, kind).demand = -(-n // len(members))
                except (KeyError, ValueError):
                    continue  # a route or kind the table does not know: the task fails on admission

    def pace_interval(self, route: str, auth: str, now: float) -> float:
        """Seconds the shell's pacer keeps between sends on (route, auth) now (0: unpaced).

        A pool paces at the sum of its users' rates (any unpaced user: unpaced)."""
        kind = self.kind(auth)
        intervals = [self.limits.pace_interval(route, m, kind, now) for m in self.members(auth)]
        if any(i <= 0 for i in intervals):
            return 0.0
        return 1.0 / sum(1.0 / i for i in intervals)

    def absorb(self, view: SharedView) -> None:
        """Fold in what other processes sharing the store settled and hold."""
        entries = [money.LedgerEntry.from_dict(e) for e in view.entries]
        self.ledger.absorb(entries, view.held_micros)
        for e in entries:
            self.cap.record(e.at, e.route, e.posts)
        self.cap.set_held_elsewhere(view.held_posts)

    def admit(self, task: Task, request: PageRequest, now: float) -> Admission:
        """The cap, then the rate limit, then money; each later refusal hands back earlier grants.

        A request that does not fit whole is shrunk (``max_results``) by the cap or the budget
        before either parks or stops it; known renames of this route are applied first.
        """
        route = task.endpoint
        if task.job in self._broken:
            return Reject(reason=self._broken[task.job])
        members = self.members(task.auth)
        if all(m in self._refused for m in members):
            # The server refused these credentials and never accepted them: the run is halting
            # (another worker's settle said so); a worker admitting meanwhile sends no second 401.
            return Park(until=now + 0.5, reason=self._refused[members[0]])
        if not any(m in self._proven for m in members) and any(self._in_flight.get(m) for m in members):
            # Credentials no answer has accepted yet go one request at a time: a wrong token
            # costs one 401, not one per worker.
            return Park(until=now + 0.5, reason=f"waiting for the first answer to {task.auth}'s credentials")
        self._buckets_seen.add((route, task.auth))
        request = self._rewrite(route, request)
        spec = self.specs.get(task.job)
        item_limit = spec.limit if spec is not None and task.write else None
        if item_limit is not None:
            match self._limit(task, request, item_limit, now):
                case PageRequest() as request:
                    pass
                case other_limit:
                    return other_limit
        size, min_size = _size(route, request.params)
        match self.cap.admit(route, size, min_size, now):
            case capmod.Verify(reason=why):
                return CheckUsage(reason=why)
            case capmod.Hold(until=until, reason=why, final=final):
                cause = self._cap_cause(why, now, until) if final else None
                return Park(until=until, reason=f"monthly Post cap: {why}", cause=cause, by_bucket=final)
            case capmod.Allow(size=fits):
                if fits < size:
                    request = _with_size(request, fits)
                    size = fits
            case other:
                assert_never(other)
        members = self.members(task.auth)
        kind = self.kind(task.auth)
        decision = (self.limits.choose(route, members, now, kind) if len(members) > 1
                    else self.limits.reserve(route, members[0], kind, now))  # fmt: skip
        match decision:
            case ratelimit.WaitUntil(t=t, reason=why, detail=detail):
                return Park(until=t, reason=f"{why}: {detail}", cause=self._rate_cause(route, task.auth, t, why, now),
                            by_bucket=True)
            case ratelimit.Send(ticket=rate):
                pass
            case other_decision:
                assert_never(other_decision)
        auth = self.contexts[rate.auth]
        owned = bool(auth.user_id) and task.path_params.get("id") == auth.user_id
        spec = self.specs.get(task.job)
        expansions = spec.expansions if spec is not None else ()
        quote = pricing.quote(route, size, expansions=expansions, owned=owned, prices=self.prices)
        match self.ledger.reserve(now, task.job, quote):
            case money.Proceed(ticket=ticket):
                pass
            case money.Shrink(ticket=ticket, max_results=n):
                request = _with_size(request, n)
            case money.Wait(until=later, reason=why):
                self.limits.cancel(rate)
                return Park(until=later if later is not None else now + 1.0, reason=why)
            case money.Stop(reason=why, limit=limit, resumes_at=resumes):
                self.limits.cancel(rate)
                figures = self.ledger.status(now).to_json()
                return Stop(cause=StopCause(cause=money_cause(limit), message=why, figures=figures,
                                            resumes_at=resumes))  # fmt: skip
            case other_verdict:
                assert_never(other_verdict)
        posts = self.cap.hold(route, ticket.size)
        self._out(rate.auth)
        items = 0
        if item_limit is not None:
            items = _size(route, request.params)[0]
            self._items_out[task.job] = self._items_out.get(task.job, 0) + items
        return Go(permit=Permit(request=request, route=route, job=task.job, auth=rate.auth, rate=rate,
                                money=ticket, owned=owned, posts=posts, items=items))  # fmt: skip

    def _limit(self, task: Task, request: PageRequest, limit: int, now: float) -> PageRequest | Finish | Park:
        """A job's ``limit``: finish its tasks once it has the items it asked for, and shrink the
        last page to what is left (``max_results``, not below the endpoint's minimum).

        Items asked for and not yet settled count as had: workers together never ask for more
        than the limit leaves (a page may still return up to the endpoint's minimum page). A job
        whose room is all in flight waits for those pages instead of finishing early.
        """
        had = self.job_items.get(task.job, 0)
        out = self._items_out.get(task.job, 0)
        left = limit - had - out
        if left <= 0:
            if had >= limit or out == 0:
                return Finish(reason=f"job {task.job} has its {limit:,} items (limit)")
            return Park(until=now + 1.0, reason=f"job {task.job}: the pages in flight may reach its limit")
        ep = ENDPOINTS.get(task.endpoint)
        if "max_results" in request.params and ep is not None:
            size = int(request.params["max_results"])
            if size > left:
                return _with_size(request, max(left, ep.min_results or 1))
        return request

    def grant_terms(self, permit: Permit) -> tuple[str, int, float, float]:
        """The shared grant log's terms for ``permit``'s bucket: (key, limit, span, min gap)."""
        b = self.limits.bucket(permit.route, permit.auth, self.contexts[permit.auth].kind)
        return f"{permit.route} {permit.auth}", b.limit, b.guard_span, b.min_gap

    def _out(self, auth: str) -> None:
        self._in_flight[auth] = self._in_flight.get(auth, 0) + 1

    def _back(self, auth: str, outcome: Outcome | None) -> None:
        """A request of ``auth`` ended; any answer but a 401 proves its credentials."""
        self._in_flight[auth] = max(0, self._in_flight.get(auth, 0) - 1)
        if isinstance(outcome, Answer) and outcome.status != 401:
            self._proven.add(auth)

    def withdraw(self, permit: Permit, until: float, reason: str) -> Park:
        """The shared grant log refused ``permit``: hand everything back, close the bucket."""
        self._back(permit.auth, None)
        self.limits.cancel(permit.rate)
        self._cancel(permit)
        self.limits.hold(permit.route, permit.auth, self.contexts[permit.auth].kind, until, reason)
        return Park(until=until, reason=reason)

    # -- the usage endpoint ---------------------------------------------------------------------

    def usage_permit(self, now: float) -> Go | Park | None:
        """A permit for ``GET /2/usage/tweets`` (free, app token only), if one can go now."""
        if APP not in self.contexts:
            return None
        # Reads are rare and asked for when a decision waits on them: never paced.
        self.limits.bucket(USAGE, APP, "app").mode = "burst"
        match self.limits.reserve(USAGE, APP, "app", now):
            case ratelimit.WaitUntil(t=t, reason=why, detail=detail):
                return Park(until=t, reason=f"{why}: {detail}")
            case ratelimit.Send(ticket=rate):
                request = PageRequest(path=USAGE, params={"usage.fields": USAGE_FIELDS})
                self._out(APP)
                return Go(permit=Permit(request=request, route=USAGE, job="", auth=APP, rate=rate, money=None))
        raise AssertionError("unreachable")  # pragma: no cover

    def settle_usage(self, permit: Permit, outcome: Outcome, now: float) -> tuple[Event, ...]:
        """Fold a usage read into the cap; a failed read only delays the next one."""
        self._back(permit.auth, outcome)
        if isinstance(outcome, Lost):
            self.limits.observe(permit.rate, now, None)
            self.cap.usage_failed(now)
            return (Event(name="usage_poll_failed", level="warning", fields={"error": outcome.reason}),)
        verdict = cls.classify(outcome.status, outcome.headers, outcome.body, USAGE, now)
        self.limits.observe(permit.rate, now, outcome.headers, _LIMITED.get(type(verdict)))
        data = outcome.body.get("data") if isinstance(outcome.body, Mapping) else None
        if not isinstance(verdict, cls.Ok) or not isinstance(data, Mapping):
            self.cap.usage_failed(now)
            return (Event(name="usage_poll_failed", level="warning", fields={"status": outcome.status}),)
        try:
            note = self.cap.observe_usage(now, data.get("project_usage", 0), data.get("project_cap", 0),
                                          data.get("cap_reset_day"))
        except (TypeError, ValueError) as exc:
            self.cap.usage_failed(now)
            return (Event(name="usage_poll_failed", level="warning", fields={"error": f"malformed body: {exc}"}),)
        events = [Event(name="usage_read", fields={"project_usage": data.get("project_usage"),
                                                   "project_cap": data.get("project_cap"),
                                                   "cap_reset_day": data.get("cap_reset_day"),
                                                   "local_estimate": self.cap.status(now).local})]
        if note is not None:
            events.append(Event(name="cap_counts_disagree", level="warning", fields={"detail": note}))
        return tuple(events)

    # -- after a request ------------------------------------------------------------------------

    def settle(self, permit: Permit, outcome: Outcome, task: Task, now: float) -> Settlement:
        """What ``outcome`` means for ``task``, with every effect as a value."""
        self._back(permit.auth, outcome)
        if permit.items:
            self._items_out[permit.job] = max(0, self._items_out.get(permit.job, 0) - permit.items)
        if isinstance(outcome, Lost):
            self.limits.observe(permit.rate, now, None)
            rows = self._settle_unknown(permit, now)
            return self._retry(task, f"no response: {outcome.reason}", now, rows, permit, Failure.TRANSPORT)
        verdict = cls.classify(outcome.status, outcome.headers, outcome.body, permit.route, now)
        self.limits.observe(permit.rate, now, outcome.headers, _LIMITED.get(type(verdict)))
        match verdict:
            case cls.Ok():
                return self._ok(permit, outcome, task, now)
            case cls.WindowLimited() | cls.PerSecondLimited() | cls.DailyLimited():
                self._cancel(permit)
                until = self._reopen((permit.route, task.auth), now)
                why = f"HTTP 429 ({type(verdict).__name__})"
                return Settlement(verdict=Wait(until=until, reason=why,
                                               cause=self._rate_cause(permit.route, task.auth, until, why, now)),
                                  holds=permit.holds)  # fmt: skip
            case cls.UsageCapped(period=period, detail=detail):
                self._cancel(permit)
                self.cap.on_usage_capped(now, period, permit.route)
                until = self.cap.blocked_until(permit.route, now) or self.cap.resets_at(now)
                cause = self._cap_cause(f"the server answered usage-capped ({detail or period})", now, until)
                event = Event(name="usage_capped", level="warning",
                              fields={"route": permit.route, "period": period, "detail": detail, "until": until})
                return Settlement(verdict=Wait(until=until, reason=f"usage cap: {detail}", cause=cause),
                                  holds=permit.holds, events=(event,))  # fmt: skip
            case cls.CreditsDepleted(detail=detail):
                self._cancel(permit)
                self.ledger.credits_depleted(now, detail)
                cause = StopCause(cause=Cause.CREDITS, message=f"credits depleted (HTTP 402): {detail}",
                                  figures=self.ledger.status(now).to_json())
                return Settlement(verdict=Halt(cause=cause), holds=permit.holds)
            case cls.Unauthorized(problem_text=text):
                self._cancel(permit)
                info = self.contexts[permit.auth]
                where = f"the {info.env}" if info.env else f"auth context {info.name!r}"
                cause = StopCause(cause=Cause.AUTH, failure=True,
                                  message=f"the API refused the credentials in {where} environment "
                                          f"variable{'s' if ',' in info.env else ''} (HTTP 401: {text}); "
                                          "fix it and run again: every task is still pending")  # fmt: skip
                if permit.auth not in self._proven:  # never accepted: no more requests on it this run
                    self._refused[permit.auth] = cause.message
                return Settlement(verdict=Halt(cause=cause), holds=permit.holds)
            case cls.Retryable(reason=reason, status=status):
                self._cancel(permit)
                return self._retry(task, f"HTTP {status}: {reason}", now, (), permit, Failure.SERVER)
            case cls.Fatal(problem_text=text, status=status):
                self._cancel(permit)
                if status == 400:
                    return self._invalid(permit, outcome, task, text)
                return Settlement(verdict=Fail(reason=f"HTTP {status}: {text}", failure=Failure.REFUSED),
                                  holds=permit.holds)
            case other:
                assert_never(other)

    def _ok(self, permit: Permit, answer: Answer, task: Task, now: float) -> Settlement:
        if answer.parse_error is not None or not isinstance(answer.body, Mapping):
            why = answer.parse_error or "not a JSON object"
            return self._retry(task, f"bad response: {why}", now, self._settle_unknown(permit, now), permit,
                               Failure.RESPONSE)
        try:
            page = parse_page(answer.body, describe(task))
            result = interpret_page(task, page, self.specs.get(task.job))
        except BadResponse as exc:
            return self._retry(task, f"bad response: {exc}", now, self._settle_unknown(permit, now), permit,
                               Failure.RESPONSE)
        spec = self.specs.get(task.job)
        if task.write and spec is not None and spec.limit is not None:
            had = self.job_items[task.job] = self.job_items.get(task.job, 0) + result.items
            if had >= spec.limit and result.next_cursor is not None:
                result = replace(result, next_cursor=None,
                                 warning=f"job {task.job} reached its limit of {spec.limit:,} items")  # fmt: skip
        self.cap.unhold(permit.posts)
        posts = page.items if self.cap.counts(permit.route) else 0
        self.cap.record(now, permit.route, posts)
        rows: tuple[Mapping[str, Any], ...] = ()
        if permit.money is not None:
            c = pricing.charge(permit.route, page.raw, now=now, owned=permit.owned,
                               seen=self.ledger.seen(now), prices=self.prices)  # fmt: skip
            entry = self.ledger.settle(permit.money, now, c, posts=posts)
            self.run_spent += entry.micros
            rows = (entry.to_dict(),)
        events = self._warnings(now)
        if result.warning is not None:
            events += (Event(name="pagination_changed", level="warning",
                             fields={"job": task.job, "task": task.key, "detail": result.warning}),)
        return Settlement(verdict=Commit(page=page, result=result), ledger=rows, holds=permit.holds,
                          events=events)  # fmt: skip

    def _invalid(self, permit: Permit, answer: Answer, task: Task, text: str) -> Settlement:
        """A 400: resend with the known renames of what was refused, else fail the job.

        A rename is learnt once per route (and logged once); a request that was already in
        flight with the old name when it was learnt is simply resent renamed. A request whose
        renamed form the server refuses too fails: nothing is resent twice the same way.
        """
        refused = parse_invalid_values(answer.body, permit.request.params)
        renames = renames_for(refused) if refused else None
        known = self._renames.setdefault(permit.route, [])
        events: tuple[Event, ...] = ()
        if renames is not None:
            new = [r for r in renames if r not in known]
            known.extend(new)
            events = tuple(Event(name="name_rewritten", level="warning",
                                 fields={"route": permit.route, "job": task.job, "detail": r.describe()})
                           for r in new)  # fmt: skip
            request = self._rewrite(permit.route, permit.request)
            if request.params != permit.request.params:
                note = "; ".join(r.describe() for r in renames)
                return Settlement(verdict=Resend(request=request, note=note), holds=permit.holds, events=events)
        if refused:
            parts = []
            for r in refused:
                key = _PARAM_KEY.get(r.param or "", r.param or "a parameter")
                what = f"key {key}" + (f" value {r.value!r}" if r.value is not None else "")
                valid = f"; the server accepts: {', '.join(r.valid)}" if r.valid else ""
                parts.append(f"{what} refused{valid}")
            reason = f"job {task.job}: the server refused its {'; '.join(parts)} (HTTP 400: {text})"
            self._broken[task.job] = reason
            return Settlement(verdict=Fail(reason=reason, failure=Failure.INVALID), holds=permit.holds, events=events)
        return Settlement(verdict=Fail(reason=f"HTTP 400: {text}", failure=Failure.INVALID), holds=permit.holds,
                          events=events)

    def renamed(self, route: str) -> tuple[Rename, ...]:
        """The renames learnt for ``route`` in this run (each once)."""
        return tuple(self._renames.get(route, ()))

    def _retry(self, task: Task, reason: str, now: float, rows: Iterable[Mapping[str, Any]],
               permit: Permit, failure: Failure) -> Settlement:  # fmt: skip
        attempt = task.attempts + 1
        ledger = tuple(rows)
        if attempt >= self.max_attempts:
            return Settlement(verdict=Fail(reason=f"gave up after {attempt} attempts: {reason}", failure=failure),
                              ledger=ledger, holds=permit.holds)  # fmt: skip
        until = now + self.backoff.delay(attempt - 1)
        return Settlement(verdict=Retry(until=until, reason=reason), ledger=ledger, holds=permit.holds,
                          events=self._warnings(now))  # fmt: skip

    def _cancel(self, permit: Permit) -> None:
        self.cap.unhold(permit.posts)
        if permit.money is not None:
            self.ledger.cancel(permit.money)

    def _settle_unknown(self, permit: Permit, now: float) -> tuple[Mapping[str, Any], ...]:
        """A request that may have been billed without a usable answer counts at its worst
        case, for money and the cap alike (the safe side: the budget stops early, never late)."""
        self.cap.unhold(permit.posts)
        self.cap.record(now, permit.route, permit.posts)
        if permit.money is None:
            return ()
        c = pricing.Charge(route=permit.route, day=pricing.utc_day(now), micros=permit.money.micros)
        entry = self.ledger.settle(permit.money, now, c, posts=permit.posts)
        self.run_spent += entry.micros
        return (entry.to_dict(),)

    def _warnings(self, now: float) -> tuple[Event, ...]:
        return tuple(Event(name="budget_warning", level="warning", fields={"limit": w.limit, "message": w.message})
                     for w in self.ledger.warnings(now))  # fmt: skip

    # -- causes ---------------------------------------------------------------------------------

    def _cap_cause(self, why: str, now: float, until: float | None = None) -> StopCause:
        status = self.cap.status(now)
        until = until or status.resets_at
        return StopCause(cause=Cause.CAP, message=f"monthly Post cap reached: {why}; {status.describe()}",
                         figures=status.to_json(), resumes_at=until)  # fmt: skip

    def _rate_cause(self, route: str, auth: str, until: float, why: str, now: float) -> StopCause | None:
        if until - now < LONG_WAIT:
            return None
        return StopCause(cause=Cause.RATE_LIMIT, message=f"{route} ({auth}) is rate-limited: {why}",
                         figures={"route": route, "auth": auth}, resumes_at=until)  # fmt: skip

    # -- renames --------------------------------------------------------------------------------

    def _rewrite(self, route: str, request: PageRequest) -> PageRequest:
        known = self._renames.get(route)
        if not known:
            return request
        params: Mapping[str, str] = request.params
        for rename in known:
            params = apply_rename(params, rename)
        return replace(request, params=params)

    # -- figures --------------------------------------------------------------------------------

    def spent_this_run_usd(self) -> float:
        return pricing.micros_to_usd(self.run_spent)


def _size(route: str, params: Mapping[str, str]) -> tuple[int, int]:
    """The request's size (``max_results``, or the number of lookup ids) and the smallest size
    it may be cut to (the endpoint's minimum; a lookup's ids cannot be cut)."""
    ep = ENDPOINTS.get(route)
    if "max_results" in params:
        n = int(params["max_results"])
        return n, (ep.min_results or 1) if ep is not None else n
    if ep is not None and ep.ids_param and ep.ids_param in params:
        n = len(params[ep.ids_param].split(","))
        return n, n
    default = ep.default_results if ep is not None and ep.default_results else 1
    return default, default


def _with_size(request: PageRequest, size: int) -> PageRequest:
    return replace(request, params={**request.params, "max_results": str(size)})


__all__ = ["APP", "USAGE", "RequestMachine"]
