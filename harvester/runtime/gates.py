"""Gates: the core's decisions applied to one request, in the one order that is safe.

Before a request: the monthly cap (may this route read Posts now?), then the rate-limit bucket
(may this auth context send now? which user of a pool?), then the budget (does the worst case
fit every money limit? maybe at a smaller ``max_results``?). A later gate saying no hands back
what an earlier one granted. After the response: the bucket observes the headers, the response
is classified, and the reservation is settled (the page's charge) or cancelled.

This module holds no policy of its own: every rule lives in ``harvester.core`` (ratelimit,
classify, pricing, budget, cap). It only keeps the engines, the auth contexts and the small
amount of bookkeeping that ties a request to its tickets.

Unknown billing. A request that failed in transit (timeout, connection dropped mid-body) or
whose 200 body was malformed may have been billed by X; nothing documents it. The ledger counts
such a request at its worst case (the safe side: the budget stops early, never late).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, assert_never

import structlog

from harvester.api.auth import AuthContext, BearerAuth, OAuth1UserAuth
from harvester.api.client import Response
from harvester.clock import Clock
from harvester.config import Config
from harvester.core import budget as money
from harvester.core import cap as capmod
from harvester.core import classify as cls
from harvester.core import pricing, ratelimit
from harvester.core.endpoints import ENDPOINTS
from harvester.core.model import JobSpec, Task
from harvester.core.plan import PageRequest
from harvester.errors import ConfigError
from harvester.log import register_secret
from harvester.store.base import Store
from harvester.store.coordination import Coordinator, LocalCoordinator, SharedView

log = structlog.get_logger(__name__)

STATE_LIMITS = "ratelimits"
STATE_CAP = "cap"


@dataclass(frozen=True, slots=True, kw_only=True)
class Permit:
    """A request cleared to go: what to send, through which context, and its tickets."""

    request: PageRequest
    route: str
    job: str
    auth: AuthContext
    rate: ratelimit.Ticket
    money: money.Ticket | None
    owned: bool
    posts: int = 0  # cap-counted Posts held for this request (``CapTracker.hold``)
    hold: int | None = None  # its shared-store hold, ended with its page (store/coordination.py)

    @property
    def holds(self) -> tuple[int, ...]:
        return () if self.hold is None else (self.hold,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Go:
    """Send ``permit`` now."""

    permit: Permit


@dataclass(frozen=True, slots=True, kw_only=True)
class Park:
    """Not now: give the task back until ``until`` (a bucket window, the cap, a recharge)."""

    until: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """A money limit is reached: stop the run cleanly (an expected end)."""

    reason: str


Admission = Go | Park | Stop


class Verdict(StrEnum):
    """What the worker does with a response."""

    OK = "ok"  # interpret, write, commit
    RETRY = "retry"  # transient: back off and try again
    WAIT = "wait"  # rate-limited or capped: requeue until ``until``
    FAIL = "fail"  # this task cannot succeed
    STOP = "stop"  # the run must stop (credits depleted)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction:
    """A classified response: the verdict, a one-line reason, and until when to wait."""

    verdict: Verdict
    reason: str = ""
    until: float = 0.0


@dataclass
class AuthRegistry:
    """Auth contexts by name, and pools of user contexts."""

    contexts: dict[str, AuthContext]
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def members(self, name: str) -> tuple[str, ...]:
        return self.pools.get(name, (name,))

    def kind(self, name: str) -> cls.AuthKind:
        return self.contexts[self.members(name)[0]].kind


def build_auth(config: Config, bearer: str | None = None) -> AuthRegistry:
    """Auth contexts from config; secrets from the environment (never from files)."""
    token = bearer if bearer is not None else config.bearer_token()
    register_secret(token)
    contexts: dict[str, AuthContext] = {"app": BearerAuth(token)}
    for name in config.auth.users:
        creds = config.user_credentials(name, os.environ)
        for secret in (creds.consumer_secret, creds.token, creds.token_secret):
            register_secret(secret)
        contexts[name] = OAuth1UserAuth(
            name=name, consumer_key=creds.consumer_key, consumer_secret=creds.consumer_secret,
            token=creds.token, token_secret=creds.token_secret, user_id=creds.user_id,
        )
    return AuthRegistry(contexts=contexts, pools={k: tuple(v) for k, v in config.auth.pools.items()})


class Gates:
    """The rate-limit, budget and cap engines, applied per request."""

    def __init__(
        self,
        *,
        auth: AuthRegistry,
        limits: ratelimit.RateLimits,
        ledger: money.Ledger,
        cap: capmod.CapTracker,
        prices: pricing.Prices,
        specs: Mapping[str, JobSpec],
        margin: float = 1.0,
    ) -> None:
        self.auth = auth
        self.limits = limits
        self.ledger = ledger
        self.cap = cap
        self.prices = prices
        self.specs = specs
        self.margin = margin
        self._buckets_seen: set[tuple[str, str]] = set()
        self.run_spent = 0
        self.pending_entries: list[dict[str, Any]] = []

    # -- before a request -----------------------------------------------------------------

    def closed_buckets(self, now: float) -> frozenset[tuple[str, str]]:
        """(endpoint, auth) pairs that cannot send now: claims skip their tasks."""
        return frozenset(k for k in self._buckets_seen if self._reopen(k, now) > now)

    def next_reopen(self, now: float) -> float | None:
        """The earliest time a closed bucket opens again, if any is closed."""
        times = [t for k in self._buckets_seen if (t := self._reopen(k, now)) > now]
        return min(times) if times else None

    def _reopen(self, key: tuple[str, str], now: float) -> float:
        route, name = key
        if self.cap.counts(route) and not self.cap.allows(route, now, 1):
            return self.cap.resets_at(now)
        kind = self.auth.kind(name)
        return min(self.limits.bucket(route, m, kind).next_send(now)[0] for m in self.auth.members(name))

    def before_send(self, task: Task, request: PageRequest, now: float) -> Admission:
        """Cap, then rate limit, then money; each later refusal hands back earlier grants."""
        route = task.endpoint
        self._buckets_seen.add((route, task.auth))
        spec = self.specs[task.job]
        size = _size(route, request.params)
        if self.cap.counts(route) and not self.cap.allows(route, now, size or 1):
            return Park(until=self.cap.resets_at(now), reason="monthly post cap reached")
        members = self.auth.members(task.auth)
        kind = self.auth.kind(task.auth)
        decision = (
            self.limits.choose(route, members, now, kind)
            if len(members) > 1
            else self.limits.reserve(route, members[0], kind, now)
        )
        match decision:
            case ratelimit.WaitUntil(t=t, reason=why, detail=detail):
                return Park(until=t, reason=f"{why}: {detail}")
            case ratelimit.Send(ticket=rate):
                pass
            case _:
                assert_never(decision)
        auth = self.auth.contexts[rate.auth]
        owned = bool(auth.user_id) and task.path_params.get("id") == auth.user_id
        q = pricing.quote(route, size, expansions=spec.expansions, owned=owned, prices=self.prices)
        verdict = self.ledger.reserve(now, task.job, q)
        match verdict:
            case money.Proceed(ticket=ticket):
                pass
            case money.Shrink(ticket=ticket, max_results=n):
                request = PageRequest(path=request.path, params={**request.params, "max_results": str(n)})
                log.info("request_shrunk", job=task.job, max_results=n, was=size)
            case money.Wait(until=until, reason=wait_reason):
                self.limits.cancel(rate)
                return Park(until=until if until is not None else now + 1.0, reason=wait_reason)
            case money.Stop(reason=stop_reason):
                self.limits.cancel(rate)
                return Stop(reason=stop_reason)
            case _:
                assert_never(verdict)
        posts = self.cap.hold(route, ticket.size)  # the worst case the money was held for
        permit = Permit(request=request, route=route, job=task.job, auth=auth, rate=rate,
                        money=ticket, owned=owned, posts=posts)
        return Go(permit=permit)

    # -- other processes sharing the store ---------------------------------------------------

    def absorb(self, view: SharedView) -> None:
        """Fold in what other processes settled and hold (``store.coordination``)."""
        entries = [money.LedgerEntry.from_dict(e) for e in view.entries]
        self.ledger.absorb(entries, view.held_micros)
        for e in entries:
            self.cap.record(e.at, e.route, e.posts)
        self.cap.set_held_elsewhere(view.held_posts)

    def withdraw(self, permit: Permit, until: float, reason: str) -> Park:
        """The shared grant log refused ``permit``: hand everything back, close the bucket."""
        self.limits.cancel(permit.rate)
        self._cancel(permit)
        kind = self.auth.kind(permit.rate.auth)
        self.limits.hold(permit.route, permit.rate.auth, kind, until, reason)
        return Park(until=until, reason=reason)

    # -- after a request ------------------------------------------------------------------

    def transport_failed(self, permit: Permit, now: float) -> None:
        """No (complete) response: the request may have reached the server, and been billed."""
        self.limits.observe(permit.rate, now, None, None)
        self._settle_unknown(permit, now)

    def after_response(self, permit: Permit, resp: Response, now: float) -> Reaction:
        """Observe the headers, classify the response, and settle or cancel the money."""
        self.limits.observe(permit.rate, now, resp.headers, resp.status)
        outcome = cls.classify(resp.status, resp.headers, resp.body, permit.route, now)
        match outcome:
            case cls.Ok():
                if resp.parse_error is not None or not isinstance(resp.body, dict):
                    self._settle_unknown(permit, now)
                    return Reaction(verdict=Verdict.RETRY, reason=resp.parse_error or "not a JSON object")
                return Reaction(verdict=Verdict.OK)
            case cls.WindowLimited() | cls.PerSecondLimited() | cls.DailyLimited():
                self._cancel(permit)
                until = self._reopen((permit.route, permit.rate.auth), now)
                return Reaction(verdict=Verdict.WAIT, reason=type(outcome).__name__, until=until)
            case cls.UsageCapped(period=period, detail=detail):
                self._cancel(permit)
                self.cap.on_usage_capped(now, period)
                log.warning("usage_capped", route=permit.route, period=period, detail=detail,
                            until=self.cap.resets_at(now))
                return Reaction(verdict=Verdict.WAIT, reason=f"usage cap: {detail}",
                                until=self.cap.resets_at(now))
            case cls.CreditsDepleted(detail=detail):
                self._cancel(permit)
                self.ledger.credits_depleted(now, detail)
                return Reaction(verdict=Verdict.STOP, reason=f"credits depleted (HTTP 402): {detail}")
            case cls.Retryable(reason=reason, status=status):
                self._cancel(permit)
                return Reaction(verdict=Verdict.RETRY, reason=f"HTTP {status}: {reason}")
            case cls.Fatal(problem_text=text, status=status):
                self._cancel(permit)
                return Reaction(verdict=Verdict.FAIL, reason=f"HTTP {status}: {text}")
            case _:
                assert_never(outcome)

    def charge(self, permit: Permit, body: Mapping[str, Any], now: float) -> dict[str, Any] | None:
        """Settle the page's charge; returns the ledger row to commit with the page."""
        self.cap.unhold(permit.posts)
        posts = 0
        if self.cap.counts(permit.route):
            data = body.get("data")
            posts = len(data) if isinstance(data, list) else 0
            self.cap.record(now, permit.route, posts)
        if permit.money is None:
            return None
        c = pricing.charge(permit.route, body, now=now, owned=permit.owned,
                           seen=self.ledger.seen(now), prices=self.prices)
        entry = self.ledger.settle(permit.money, now, c, posts=posts)
        self.run_spent += entry.micros
        self._warn(now)
        return entry.to_dict()

    def abandon(self, permit: Permit, now: float) -> None:
        """A 200 whose body could not be used: it may still have been billed."""
        self._settle_unknown(permit, now)

    def _cancel(self, permit: Permit) -> None:
        self.cap.unhold(permit.posts)
        if permit.money is not None:
            self.ledger.cancel(permit.money)

    def _settle_unknown(self, permit: Permit, now: float) -> None:
        # Unknown billing counts at the worst case, for money and for the cap alike.
        self.cap.unhold(permit.posts)
        self.cap.record(now, permit.route, permit.posts)
        if permit.money is None:
            return
        c = pricing.Charge(route=permit.route, day=pricing.utc_day(now), micros=permit.money.micros)
        entry = self.ledger.settle(permit.money, now, c, posts=permit.posts)
        self.run_spent += entry.micros
        self.pending_entries.append(entry.to_dict())
        self._warn(now)

    def _warn(self, now: float) -> None:
        for w in self.ledger.warnings(now):
            log.warning("budget_warning", limit=w.limit, message=w.message)

    def take_pending_entries(self) -> list[dict[str, Any]]:
        """Ledger rows settled outside a page commit (unknown billing), to persist."""
        rows, self.pending_entries = self.pending_entries, []
        return rows

    # -- figures --------------------------------------------------------------------------

    def spent_this_run_usd(self) -> float:
        return pricing.micros_to_usd(self.run_spent)

    def export(self) -> dict[str, Any]:
        return {STATE_LIMITS: self.limits.export_state(), STATE_CAP: self.cap.export_state()}


def _size(route: str, params: Mapping[str, str]) -> int | None:
    """The request's size for the money quote: ``max_results``, or the number of lookup ids."""
    if "max_results" in params:
        return int(params["max_results"])
    ep = ENDPOINTS.get(route)
    if ep is not None and ep.ids_param and ep.ids_param in params:
        return len(params[ep.ids_param].split(","))
    return None


async def build_gates(
    config: Config,
    store: Store,
    clock: Clock,
    specs: Mapping[str, JobSpec],
    *,
    max_usd: float | None = None,
    bearer: str | None = None,
    run: str = "run",
    coordinator: Coordinator | None = None,
) -> Gates:
    """Engines from config, restored from the store (buckets, cap, and the ledger's charges).

    The ledger's history comes through ``coordinator`` (default: the store's own), so that a
    shared store's later admissions show exactly the rows this history did not include.
    """
    now = clock.now()
    b = config.budget
    ar = b.auto_recharge
    try:
        budget = money.Budget(
            max_usd_per_run=max_usd if max_usd is not None else b.max_usd_per_run,
            spending_limit_usd=b.spending_limit_usd, cycle_start_day=b.cycle_start_day,
            balance_usd=b.balance_usd, warn_at=b.warn_at,
            auto_recharge=(
                money.AutoRecharge(threshold_usd=ar.threshold_usd, amount_usd=ar.amount_usd,
                                   max_per_day=ar.max_per_day, max_per_month_usd=ar.max_per_month_usd,
                                   min_interval_seconds=ar.min_interval_seconds)
                if ar.threshold_usd is not None and ar.amount_usd is not None else None
            ),
        )
    except ValueError as exc:
        raise ConfigError(config.file, "budget", str(exc)) from exc
    since = money.cycle_bounds(now, b.cycle_start_day)[0] - 86_400.0
    coordinator = coordinator if coordinator is not None else LocalCoordinator(store)
    entries = [money.LedgerEntry.from_dict(e) for e in await coordinator.history(since)]
    ledger = money.Ledger.replay(budget, entries, run=run)
    limits = ratelimit.RateLimits(
        {route: (e.app, e.user) for route, e in config.limits.endpoints.items()},
        window=config.limits.window_seconds,
        mode=config.harvest.pacing,
        reset_margin=config.limits.margin_429_seconds,
        max_latency=config.limits.max_latency_seconds,
    )
    saved = await store.get_state(STATE_LIMITS)
    if saved:
        limits.load_state(saved)
    cap_cfg = capmod.CapConfig(limit=config.cap.monthly_posts, routes=frozenset(config.cap.capped_endpoints),
                               cycle_start_day=b.cycle_start_day)
    saved_cap = await store.get_state(STATE_CAP)
    cap = capmod.CapTracker.load_state(cap_cfg, saved_cap) if saved_cap else capmod.CapTracker(cap_cfg)
    # The ledger holds every process's reads; the saved state only this one's last view of them.
    period_start = money.cycle_bounds(now, b.cycle_start_day)[0]
    cap.at_least(now, sum(e.posts for e in entries if e.at >= period_start and cap.counts(e.route)))
    prices = pricing.Prices.from_config({
        "post": config.pricing.post, "user": config.pricing.user, "follow": config.pricing.follow,
        "owned_read": config.pricing.owned_read, "counts_recent": config.pricing.counts_recent,
        "counts_all": config.pricing.counts_all, "bill_includes": config.pricing.bill_includes,
    })
    gates = Gates(auth=build_auth(config, bearer), limits=limits, ledger=ledger, cap=cap, prices=prices,
                  specs=specs, margin=config.limits.margin_429_seconds)
    return gates
