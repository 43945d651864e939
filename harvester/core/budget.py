"""The money ledger and the stop rule: a request is sent only if its worst case fits every limit.

Theory of operation
-------------------
Rule 1, reserve the worst case, settle the actual. Before a request the shell asks
:meth:`Ledger.reserve` with a :class:`~harvester.core.pricing.Quote` (the most the request can
cost). The ledger answers :class:`Proceed` (reserved), :class:`Shrink` (reserved at a smaller
``max_results`` that fits), :class:`Wait` (it would fit once other requests settle, or once an
auto-recharge lands) or :class:`Stop` (a limit is reached: an expected end, with the reason in
words). After the response the shell prices it with :func:`~harvester.core.pricing.charge`
against :meth:`Ledger.seen` and calls :meth:`Ledger.settle`, which records the charge, frees the
reservation and returns the :class:`LedgerEntry` the store persists. A failed request is
:meth:`Ledger.cancel`-ed (failed requests are not billed, x-api-spec.md §6.1).

Rule 2, every limit at once. A quote fits when, after subtracting settled spend and every
other in-flight reservation, it fits under *each* configured limit:

- the run budget (``max_usd_per_run``; spend of this run id only),
- the spending limit per billing cycle (cycles start at 00:00 UTC on ``cycle_start_day``),
- the projected prepaid balance, which must stay **strictly above 0**: X pauses auto-recharge at
  a balance <= 0 and then blocks every request with 402 (§6.1, §2.3).

Because an actual charge never exceeds its reservation (the quote is a worst case), settled
spend can never pass a limit. If a response is billed above its quote (an X-side surprise such
as more mentions than ``Prices.max_mentions``), the overrun is recorded and shown in
:meth:`Ledger.status`.

Rule 3, the balance is projected, never polled. The balance starts from config
(``balance_usd`` as of ``balance_at``) or :meth:`Ledger.observe_balance`. Each settled charge
lowers it. Auto-recharge is modelled as X and xAI describe it: when the balance falls below the
threshold a recharge of ``amount_usd`` lands ``delay_seconds`` later, at most once per
``min_interval_seconds`` (X: once per 5 minutes), at most ``max_per_day`` in any rolling 24 h
(xAI: 5), at most ``max_per_month_usd`` per billing cycle, and never once the balance is <= 0
(X pauses it). A recharge counts only from the moment the model says it landed; before that the
ledger answers :class:`Wait` with the landing time.

Rule 4, days and cycles are UTC. Dedup keys and "spend today" reset at midnight UTC; cycle spend,
per-endpoint and per-job figures and the recharge monthly total reset at the cycle boundary.
Every method taking ``now`` first advances the ledger to ``now`` (time never runs backwards
inside it: an earlier ``now`` is treated as the latest seen).

Rule 5, state is rebuilt from charges. The shell persists each :class:`LedgerEntry`;
:meth:`Ledger.replay` rebuilds the same ledger from them (recharges follow deterministically).
:meth:`Ledger.export_state` / :meth:`Ledger.load_state` snapshot the whole state as plain JSON
values, including the credits-depleted flag and reservations still in flight, which a reload
counts as spent at their worst case (the request may have been billed before a crash).

Rule 6, 402 is final. After ``CreditsDepleted`` (``core.classify``) the shell calls
:meth:`Ledger.credits_depleted`; every later reservation is a :class:`Stop` until someone tops up
and the shell calls :meth:`Ledger.observe_balance`. It is never retried.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from harvester.core.endpoints import Resource
from harvester.core.pricing import (
    Charge,
    Key,
    Quote,
    format_usd,
    micros_to_usd,
    usd_to_micros,
    utc_day,
)

DAY_SECONDS = 86_400.0

Limit = Literal["run", "cycle", "balance", "credits"]


# --- calendar ------------------------------------------------------------------------------


def _month_start(year: int, month: int, day: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, day, tzinfo=UTC)


def cycle_bounds(now: float, cycle_start_day: int) -> tuple[float, float]:
    """The billing cycle holding ``now``: ``[start, end)`` in epoch seconds.

    A cycle starts at 00:00 UTC on ``cycle_start_day`` (1..28, so every month has it) and ends
    where the next starts. With day 15, 2026-03-10 lies in [Feb 15, Mar 15).
    """
    if not 1 <= cycle_start_day <= 28:
        raise ValueError(f"cycle_start_day must be 1..28, got {cycle_start_day}")
    dt = datetime.fromtimestamp(now, tz=UTC)
    month = dt.month if dt.day >= cycle_start_day else dt.month - 1
    start = _month_start(dt.year, month, cycle_start_day)
    end = _month_start(dt.year, month + 1, cycle_start_day)
    return start.timestamp(), end.timestamp()


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoRecharge:
    """The account's auto-recharge settings, as configured in the developer console.

    Attributes:
        threshold_usd: a recharge triggers when the balance falls below this.
        amount_usd: added per recharge (xAI's console requires at least $25; not enforced here,
            since X's pricing page names no minimum).
        max_per_day: recharges in any rolling 24 h (xAI: 5).
        max_per_month_usd: total recharged per billing cycle (None: no maximum). Neither X nor
            xAI says which month; the billing cycle is used, which is the calendar month when
            ``cycle_start_day`` is 1.
        min_interval_seconds: spacing between recharges (X: at most once per 5 minutes).
        delay_seconds: how long after the trigger the money is assumed to be there; X documents
            no figure, so the model waits a minute rather than assume an instant top-up.
    """

    threshold_usd: float
    amount_usd: float
    max_per_day: int = 5
    max_per_month_usd: float | None = None
    min_interval_seconds: float = 300.0
    delay_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.amount_usd <= 0 or self.threshold_usd < 0:
            raise ValueError("auto_recharge: amount must be > 0 and threshold >= 0")
        if self.max_per_day < 1 or self.min_interval_seconds < 0 or self.delay_seconds < 0:
            raise ValueError("auto_recharge: max_per_day >= 1, intervals >= 0")
        if self.max_per_month_usd is not None and self.max_per_month_usd < self.amount_usd:
            raise ValueError("auto_recharge: max_per_month_usd is below one recharge")


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """Money limits, from config (USD floats; the ledger converts to micro-dollars).

    Attributes:
        max_usd_per_run: spend allowed for one run id (None: no run budget).
        spending_limit_usd: the account's spending limit per billing cycle (None: none set).
        cycle_start_day: day of month (1..28) at 00:00 UTC when a billing cycle starts.
        balance_usd: prepaid balance (None: not tracked), as of ``balance_at``.
        balance_at: epoch seconds the balance was read; charges settled before it are already
            reflected in it (None: it predates every charge the ledger sees).
        warn_at: fractions of each limit at which a warning is due, each reported once.
        auto_recharge: the account's auto-recharge settings (None: off).
    """

    max_usd_per_run: float | None = None
    spending_limit_usd: float | None = None
    cycle_start_day: int = 1
    balance_usd: float | None = None
    balance_at: float | None = None
    warn_at: tuple[float, ...] = (0.8,)
    auto_recharge: AutoRecharge | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.cycle_start_day <= 28:
            raise ValueError(f"cycle_start_day must be 1..28, got {self.cycle_start_day}")
        for name in ("max_usd_per_run", "spending_limit_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if any(not 0 < f <= 1 for f in self.warn_at):
            raise ValueError(f"warn_at fractions must be in (0, 1], got {self.warn_at}")


# --- decisions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    """A reservation in flight: ``micros`` is held until settled or cancelled."""

    id: int
    job: str
    route: str
    micros: int
    size: int
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Proceed:
    """Send the request as quoted; settle or cancel ``ticket`` afterwards."""

    ticket: Ticket


@dataclass(frozen=True, slots=True, kw_only=True)
class Shrink:
    """Send with ``max_results`` (or that many ids) instead; it is reserved under ``ticket``."""

    ticket: Ticket
    max_results: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait:
    """Not now: try again after another request settles (``until`` None) or at ``until``."""

    reason: str
    until: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """A limit is reached; nothing is reserved. An expected end, not an error.

    ``resumes_at`` is when the limit lifts by itself (a new billing cycle), None if never.
    """

    reason: str
    limit: Limit
    resumes_at: float | None = None


Decision: TypeAlias = Proceed | Shrink | Wait | Stop


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetWarning:
    """A threshold crossed, reported once.

    Attributes:
        key: stable identity (``run:0.8``, ``cycle:2026-03-01:0.8``, ``recharge_month:…``,
            ``recharge_day:<epoch>``); a key is never reported twice.
        limit: ``run``, ``cycle``, ``recharge_month`` or ``recharge_day``.
        message: one line for the log and ``harvester status``.
        at: when it became due.
    """

    key: str
    limit: str
    message: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One settled charge, as persisted (one row of the store's ledger table).

    Attributes:
        at: settle time (epoch seconds). run, job, route: who spent it.
        day: the UTC day of the charge (its dedup window).
        micros: actual cost. reserved: the worst case held for it (0 if unknown).
        keys: resources newly charged that day, ``(kind, id)``.
        posts: Posts the response returned on a route that counts toward the monthly cap, so
            that hosts sharing one store can rebuild each other's cap use from the ledger.
    """

    at: float
    run: str
    job: str
    route: str
    day: str
    micros: int
    reserved: int = 0
    keys: tuple[Key, ...] = ()
    posts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "run": self.run,
            "job": self.job,
            "route": self.route,
            "day": self.day,
            "micros": self.micros,
            "reserved": self.reserved,
            "keys": [[str(k), i] for k, i in self.keys],
            "posts": self.posts,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LedgerEntry:
        return cls(
            at=float(d["at"]),
            run=str(d["run"]),
            job=str(d["job"]),
            route=str(d["route"]),
            day=str(d["day"]),
            micros=int(d["micros"]),
            reserved=int(d.get("reserved", 0)),
            keys=tuple((Resource(k), str(i)) for k, i in d.get("keys", ())),
            posts=int(d.get("posts", 0)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitStatus:
    """One limit's figures in micro-dollars (``remaining`` excludes in-flight reservations)."""

    limit: int
    spent: int
    remaining: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetStatus:
    """A snapshot for ``harvester status --json`` (:meth:`to_json` gives USD floats)."""

    now: float
    run: str
    day: str
    cycle_start: float
    cycle_end: float
    spent_run: int
    spent_today: int
    spent_cycle: int
    in_flight: int
    in_flight_count: int
    run_limit: LimitStatus | None
    cycle_limit: LimitStatus | None
    balance: int | None
    recharges_24h: int
    recharged_cycle: int
    next_recharge_at: float | None
    by_endpoint: Mapping[str, int]
    by_job: Mapping[str, int]
    overruns: int
    credits_depleted: str | None
    warnings: tuple[BudgetWarning, ...]

    def to_json(self) -> dict[str, Any]:
        def lim(s: LimitStatus | None) -> dict[str, float] | None:
            if s is None:
                return None
            return {
                "limit_usd": micros_to_usd(s.limit),
                "spent_usd": micros_to_usd(s.spent),
                "remaining_usd": micros_to_usd(s.remaining),
            }

        return {
            "run": self.run,
            "day": self.day,
            "cycle_start": self.cycle_start,
            "cycle_end": self.cycle_end,
            "spent_run_usd": micros_to_usd(self.spent_run),
            "spent_today_usd": micros_to_usd(self.spent_today),
            "spent_cycle_usd": micros_to_usd(self.spent_cycle),
            "in_flight_usd": micros_to_usd(self.in_flight),
            "in_flight_requests": self.in_flight_count,
            "run_budget": lim(self.run_limit),
            "spending_limit": lim(self.cycle_limit),
            "balance_usd": None if self.balance is None else micros_to_usd(self.balance),
            "recharges_24h": self.recharges_24h,
            "recharged_cycle_usd": micros_to_usd(self.recharged_cycle),
            "next_recharge_at": self.next_recharge_at,
            "by_endpoint_usd": {k: micros_to_usd(v) for k, v in sorted(self.by_endpoint.items())},
            "by_job_usd": {k: micros_to_usd(v) for k, v in sorted(self.by_job.items())},
            "overruns": self.overruns,
            "credits_depleted": self.credits_depleted,
            "warnings": [
                {"key": w.key, "limit": w.limit, "message": w.message, "at": w.at} for w in self.warnings
            ],
        }


# --- the ledger ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Recharge:
    at: float
    micros: int


@dataclass(slots=True)
class _Limits:
    run: int | None
    cycle: int | None


class Ledger:
    """Spend, reservations, dedup keys and the projected balance for one run id.

    ``run`` names this run; settled entries from other runs (replayed history) count toward the
    day, the cycle and the balance but not toward the run budget. Not thread-safe: the shell
    calls it from one task (or under one lock).
    """

    def __init__(self, budget: Budget, *, run: str = "run") -> None:
        self.budget = budget
        self.run = run
        self._limits = _Limits(
            run=None if budget.max_usd_per_run is None else usd_to_micros(budget.max_usd_per_run),
            cycle=None if budget.spending_limit_usd is None else usd_to_micros(budget.spending_limit_usd),
        )
        ar = budget.auto_recharge
        self._ar_threshold = 0 if ar is None else usd_to_micros(ar.threshold_usd)
        self._ar_amount = 0 if ar is None else usd_to_micros(ar.amount_usd)
        self._ar_month = (
            None if ar is None or ar.max_per_month_usd is None else usd_to_micros(ar.max_per_month_usd)
        )
        self._now = float("-inf")
        self._day = ""
        self._seen: set[Key] = set()
        self._spent_today = 0
        self._cycle: tuple[float, float] = (float("-inf"), float("-inf"))
        self._spent_cycle = 0
        self._spent_run = 0
        self._by_endpoint: dict[str, int] = {}
        self._by_job: dict[str, int] = {}
        self._balance: int | None = None if budget.balance_usd is None else usd_to_micros(budget.balance_usd)
        self._balance_at = float("-inf") if budget.balance_at is None else budget.balance_at
        self._below_since: float | None = None
        self._recharges: list[_Recharge] = []
        self._inflight: dict[int, Ticket] = {}
        self._ids = itertools.count(1)
        self._warned: dict[str, BudgetWarning] = {}
        self._depleted: str | None = None
        self._overruns = 0
        self._held_elsewhere = 0

    # -- reading --

    def seen(self, now: float) -> AbstractSet[Key]:
        """The ``(kind, id)`` keys charged in ``now``'s UTC day: pass to ``pricing.charge``.

        A live read-only view (no copy per page); it changes at the next settle or midnight.
        """
        self._advance(now)
        return self._seen

    @property
    def in_flight(self) -> int:
        """Micro-dollars held by this process's reservations not yet settled or cancelled."""
        return sum(t.micros for t in self._inflight.values())

    # -- other processes sharing the budget --

    def absorb(self, entries: Iterable[LedgerEntry], held_elsewhere: int) -> None:
        """Fold in what other processes sharing this budget did since the last call.

        ``entries``: charges they settled (entries of this ledger's own run are skipped: they
        were recorded at :meth:`settle`). ``held_elsewhere``: micro-dollars their requests in
        flight hold right now; :meth:`reserve` treats it like its own reservations, so N
        processes together never commit past a limit.
        """
        for entry in sorted(entries, key=lambda e: e.at):
            if entry.run != self.run:
                self._record(entry)
        self._held_elsewhere = max(0, held_elsewhere)

    @property
    def depleted_reason(self) -> str | None:
        """Why credits are known to be depleted (after a 402), or None."""
        return self._depleted

    # -- the decision --

    def reserve(self, now: float, job: str, quote: Quote) -> Decision:
        """Hold ``quote``'s worst case if it fits every limit after other reservations.

        Proceed if the whole quote fits; else Shrink to the largest size that fits (never below
        ``quote.min_size``); else Wait if it would fit once in-flight requests settle or a
        projected recharge lands; else Stop naming the limit, what was spent, and what the next
        request needs.
        """
        self._advance(now)
        if self._depleted is not None:
            return Stop(reason=f"credits depleted: {self._depleted}", limit="credits")
        held = self.in_flight + self._held_elsewhere
        room = self._room(held)
        fit = min(r for _, r in room) if room else None
        if fit is None or quote.micros <= fit:
            return Proceed(ticket=self._hold(now, job, quote))
        size = quote.largest_within(fit)
        if size is not None:
            return Shrink(ticket=self._hold(now, job, quote.at(size)), max_results=size)
        need = quote.at(quote.min_size).micros
        blocked = [(name, r) for name, r in self._room(0) if need > r]
        if not blocked:
            elsewhere = f" (other hosts hold {format_usd(self._held_elsewhere)})" if self._held_elsewhere else ""
            return Wait(
                reason=f"{len(self._inflight)} in-flight requests hold {format_usd(self.in_flight)}{elsewhere}; "
                f"the next request needs up to {format_usd(need)}"
            )
        name, _ = blocked[0]
        if name == "run":
            assert self._limits.run is not None
            return Stop(
                limit="run",
                reason=f"run budget {format_usd(self._limits.run)} reached: spent "
                f"{format_usd(self._spent_run)}, next request needs up to {format_usd(need)}",
            )
        if name == "cycle":
            assert self._limits.cycle is not None
            return Stop(
                limit="cycle",
                resumes_at=self._cycle[1],
                reason=f"spending limit {format_usd(self._limits.cycle)} for the billing cycle reached: "
                f"spent {format_usd(self._spent_cycle)}, next request needs up to {format_usd(need)}",
            )
        assert self._balance is not None
        landing, why = self._next_recharge()
        bal = f"projected balance {format_usd(self._balance)} must stay above $0.00 after up to {format_usd(need)}"
        if landing is not None and not why:
            return Wait(until=landing, reason=f"{bal}; auto-recharge of {format_usd(self._ar_amount)} due")
        return Stop(limit="balance", reason=f"{bal}; {why}", resumes_at=landing)

    def settle(self, ticket: Ticket, now: float, charge: Charge, *, posts: int = 0) -> LedgerEntry:
        """Record what the response behind ``ticket`` cost and free its reservation.

        ``posts``: the cap-counted Posts the response returned (kept on the entry).

        Returns the entry to persist. KeyError if the ticket is not in flight.
        """
        if ticket.id not in self._inflight:
            raise KeyError(f"ticket {ticket.id} is not in flight (settled or cancelled already?)")
        del self._inflight[ticket.id]
        entry = LedgerEntry(
            at=now,
            run=self.run,
            job=ticket.job,
            route=ticket.route,
            day=charge.day,
            micros=charge.micros,
            reserved=ticket.micros,
            keys=charge.keys,
            posts=posts,
        )
        self._record(entry)
        return entry

    def cancel(self, ticket: Ticket) -> None:
        """Free a reservation whose request failed or was never sent (idempotent)."""
        self._inflight.pop(ticket.id, None)

    # -- events from the outside --

    def credits_depleted(self, now: float, reason: str = "HTTP 402 CreditsDepleted") -> None:
        """Remember a 402: every later reservation stops. The balance is 0 for the projection."""
        self._advance(now)
        self._depleted = reason
        if self._balance is not None:
            self._balance = min(self._balance, 0)

    def observe_balance(self, now: float, usd: float) -> None:
        """A fresh balance figure (console, ``/2/usage/credits``): rebase the projection on it.

        A positive balance also clears the credits-depleted flag: someone topped up.
        """
        self._advance(now)
        self._balance = usd_to_micros(usd)
        self._balance_at = now
        self._below_since = None
        self._note_balance(now)
        if self._balance > 0:
            self._depleted = None

    # -- reporting --

    def warnings(self, now: float) -> list[BudgetWarning]:
        """Warnings that became due since the last call, each key once."""
        self._advance(now)
        due: list[BudgetWarning] = []

        def add(key: str, limit: str, message: str) -> None:
            if key not in self._warned:
                w = BudgetWarning(key=key, limit=limit, message=message, at=now)
                self._warned[key] = w
                due.append(w)

        for frac in sorted(self.budget.warn_at):
            pct = f"{frac:.0%}"
            run_lim, cyc_lim = self._limits.run, self._limits.cycle
            if run_lim is not None and self._spent_run >= frac * run_lim:
                add(
                    f"run:{frac}",
                    "run",
                    f"{pct} of the run budget {format_usd(run_lim)} spent ({format_usd(self._spent_run)})",
                )
            cycle = utc_day(self._cycle[0])
            if cyc_lim is not None and self._spent_cycle >= frac * cyc_lim:
                add(
                    f"cycle:{cycle}:{frac}",
                    "cycle",
                    f"{pct} of the spending limit {format_usd(cyc_lim)} "
                    f"for the cycle from {cycle} spent ({format_usd(self._spent_cycle)})",
                )
            if self._ar_month is not None and self._recharged_in_cycle(now) >= frac * self._ar_month:
                add(
                    f"recharge_month:{cycle}:{frac}",
                    "recharge_month",
                    f"{pct} of the auto-recharge monthly maximum {format_usd(self._ar_month)} used "
                    f"({format_usd(self._recharged_in_cycle(now))})",
                )
        ar = self.budget.auto_recharge
        if ar is not None and ar.max_per_day > 1:
            window = self._recharges_in_window(now)
            if len(window) == ar.max_per_day - 1:
                add(
                    f"recharge_day:{window[-1].at}",
                    "recharge_day",
                    f"1 of {ar.max_per_day} auto-recharges per 24 h left",
                )
        return due

    def status(self, now: float) -> BudgetStatus:
        """A frozen snapshot of every figure (advances the ledger to ``now``)."""
        self._advance(now)
        ar = self.budget.auto_recharge

        def lim(limit: int | None, spent: int) -> LimitStatus | None:
            return None if limit is None else LimitStatus(limit=limit, spent=spent, remaining=limit - spent)

        return BudgetStatus(
            now=now,
            run=self.run,
            day=self._day,
            cycle_start=self._cycle[0],
            cycle_end=self._cycle[1],
            spent_run=self._spent_run,
            spent_today=self._spent_today,
            spent_cycle=self._spent_cycle,
            in_flight=self.in_flight,
            in_flight_count=len(self._inflight),
            run_limit=lim(self._limits.run, self._spent_run),
            cycle_limit=lim(self._limits.cycle, self._spent_cycle),
            balance=self._balance,
            recharges_24h=len(self._recharges_in_window(now)) if ar else 0,
            recharged_cycle=self._recharged_in_cycle(now),
            next_recharge_at=self._next_recharge()[0],
            by_endpoint=dict(self._by_endpoint),
            by_job=dict(self._by_job),
            overruns=self._overruns,
            credits_depleted=self._depleted,
            warnings=tuple(self._warned.values()),
        )

    def __repr__(self) -> str:
        def of(spent: int, limit: int | None) -> str:
            return format_usd(spent) + ("" if limit is None else "/" + format_usd(limit))

        bal = "untracked" if self._balance is None else format_usd(self._balance)
        dep = f" depleted={self._depleted!r}" if self._depleted else ""
        return (
            f"<Ledger run={self.run!r} spent_run={of(self._spent_run, self._limits.run)} "
            f"cycle={of(self._spent_cycle, self._limits.cycle)} today={format_usd(self._spent_today)} "
            f"balance={bal} in_flight={len(self._inflight)}({format_usd(self.in_flight)}) "
            f"seen_today={len(self._seen)} recharges={len(self._recharges)}{dep}>"
        )

    # -- persistence --

    @classmethod
    def replay(cls, budget: Budget, entries: Iterable[LedgerEntry], *, run: str = "run") -> Ledger:
        """Rebuild a ledger from persisted entries (any order; applied by time)."""
        ledger = cls(budget, run=run)
        for entry in sorted(entries, key=lambda e: e.at):
            ledger._record(entry)
        return ledger

    def export_state(self) -> dict[str, Any]:
        """Everything, as plain JSON values (version 1)."""
        return {
            "version": 1,
            "run": self.run,
            "now": self._now if self._now != float("-inf") else None,
            "day": self._day,
            "seen": sorted([str(k), i] for k, i in self._seen),
            "spent_today": self._spent_today,
            "cycle_start": self._cycle[0] if self._cycle[0] != float("-inf") else None,
            "spent_cycle": self._spent_cycle,
            "spent_run": self._spent_run,
            "by_endpoint": dict(self._by_endpoint),
            "by_job": dict(self._by_job),
            "balance": self._balance,
            "balance_at": self._balance_at if self._balance_at != float("-inf") else None,
            "below_since": self._below_since,
            "recharges": [[r.at, r.micros] for r in self._recharges],
            "in_flight": [
                {"job": t.job, "route": t.route, "micros": t.micros, "size": t.size, "at": t.at}
                for t in self._inflight.values()
            ],
            "warned": [
                {"key": w.key, "limit": w.limit, "message": w.message, "at": w.at}
                for w in self._warned.values()
            ],
            "depleted": self._depleted,
            "overruns": self._overruns,
        }

    @classmethod
    def load_state(cls, budget: Budget, state: Mapping[str, Any], *, run: str | None = None) -> Ledger:
        """Restore :meth:`export_state` output. Reservations that were in flight are settled at
        their worst case: the request may have been billed before the process died.

        ``run`` (default: the exported run id) names the run that continues; a new run id
        keeps history but starts the run budget from zero.
        """
        if state.get("version") != 1:
            raise ValueError(f"unknown ledger state version {state.get('version')!r}")
        old_run = str(state["run"])
        ledger = cls(budget, run=old_run)
        if state["now"] is not None:
            ledger._now = float(state["now"])
            ledger._day = str(state["day"])
            ledger._cycle = cycle_bounds(ledger._now, budget.cycle_start_day)
            if state["cycle_start"] is not None and float(state["cycle_start"]) != ledger._cycle[0]:
                raise ValueError("ledger state was saved with another cycle_start_day")
        ledger._seen = {(Resource(k), str(i)) for k, i in state["seen"]}
        ledger._spent_today = int(state["spent_today"])
        ledger._spent_cycle = int(state["spent_cycle"])
        ledger._spent_run = int(state["spent_run"])
        ledger._by_endpoint = {str(k): int(v) for k, v in state["by_endpoint"].items()}
        ledger._by_job = {str(k): int(v) for k, v in state["by_job"].items()}
        ledger._balance = None if state["balance"] is None else int(state["balance"])
        ledger._balance_at = float("-inf") if state["balance_at"] is None else float(state["balance_at"])
        ledger._below_since = None if state["below_since"] is None else float(state["below_since"])
        ledger._recharges = [_Recharge(at=float(a), micros=int(m)) for a, m in state["recharges"]]
        ledger._warned = {
            str(w["key"]): BudgetWarning(
                key=str(w["key"]), limit=str(w["limit"]), message=str(w["message"]), at=float(w["at"])
            )
            for w in state["warned"]
        }
        ledger._depleted = state["depleted"]
        ledger._overruns = int(state["overruns"])
        for t in state["in_flight"]:
            at = max(float(t["at"]), ledger._now)
            ledger._record(
                LedgerEntry(
                    at=at,
                    run=old_run,
                    job=str(t["job"]),
                    route=str(t["route"]),
                    day=utc_day(at),
                    micros=int(t["micros"]),
                    reserved=int(t["micros"]),
                )
            )
        if run is not None and run != old_run:
            ledger.run = run
            ledger._spent_run = 0
            ledger._warned = {k: w for k, w in ledger._warned.items() if w.limit != "run"}
        return ledger

    # -- internals --

    def _hold(self, now: float, job: str, quote: Quote) -> Ticket:
        ticket = Ticket(
            id=next(self._ids), job=job, route=quote.route, micros=quote.micros, size=quote.size, at=now
        )
        self._inflight[ticket.id] = ticket
        return ticket

    def _room(self, held: int) -> list[tuple[Limit, int]]:
        """What each configured limit leaves for one more request, after ``held`` in flight."""
        room: list[tuple[Limit, int]] = []
        if self._limits.run is not None:
            room.append(("run", self._limits.run - self._spent_run - held))
        if self._limits.cycle is not None:
            room.append(("cycle", self._limits.cycle - self._spent_cycle - held))
        if self._balance is not None:
            room.append(("balance", self._balance - held - 1))  # must stay > 0 after the charge
        return room

    def _record(self, entry: LedgerEntry) -> None:
        # A settle stamped slightly before the ledger's latest ``now`` still counts in the
        # current cycle: its reservation was held against this cycle's limit.
        self._advance(entry.at)
        if entry.day == self._day:
            self._seen.update(entry.keys)
            self._spent_today += entry.micros
        self._spent_cycle += entry.micros
        self._by_endpoint[entry.route] = self._by_endpoint.get(entry.route, 0) + entry.micros
        self._by_job[entry.job] = self._by_job.get(entry.job, 0) + entry.micros
        if entry.run == self.run:
            self._spent_run += entry.micros
        if entry.reserved and entry.micros > entry.reserved:
            self._overruns += 1
        if self._balance is not None and entry.at >= self._balance_at:
            self._balance -= entry.micros
            self._note_balance(entry.at)

    def _note_balance(self, at: float) -> None:
        """Start the recharge clock when the balance is first seen below the threshold."""
        if self.budget.auto_recharge is None or self._balance is None:
            return
        if self._balance >= self._ar_threshold:
            self._below_since = None
        elif self._below_since is None:
            self._below_since = max(at, self._balance_at)

    def _advance(self, now: float) -> None:
        now = max(now, self._now)
        self._note_balance(now)  # a balance first seen below the threshold starts the clock now
        self._apply_recharges(now)
        self._now = now
        day = utc_day(now)
        if day != self._day:
            self._day = day
            self._seen.clear()
            self._spent_today = 0
        if not self._cycle[0] <= now < self._cycle[1]:
            self._cycle = cycle_bounds(now, self.budget.cycle_start_day)
            self._spent_cycle = 0
            self._by_endpoint.clear()
            self._by_job.clear()
        horizon = min(now - DAY_SECONDS, self._cycle[0])
        self._recharges = [r for r in self._recharges if r.at >= horizon]
        self._note_balance(now)

    def _next_recharge(self) -> tuple[float | None, str]:
        """When the next projected recharge lands, and why not sooner.

        ``(t, "")``: it lands at ``t``. ``(t, why)``: the monthly maximum holds it until the next
        cycle at ``t``. ``(None, why)``: none is coming.
        """
        ar = self.budget.auto_recharge
        if ar is None or self._balance is None:
            return None, "auto-recharge is off"
        if self._balance <= 0:
            return None, "auto-recharge is paused at a balance <= $0 (X pauses it)"
        if self._below_since is None:
            return (
                None,
                f"the balance is not below the auto-recharge threshold {format_usd(self._ar_threshold)}",
            )
        t = self._below_since + ar.delay_seconds
        if self._recharges:
            t = max(t, self._recharges[-1].at + ar.min_interval_seconds)
        why = ""
        while True:  # each pass moves t forward past a rule, or returns
            window = [r for r in self._recharges if r.at > t - DAY_SECONDS]
            if len(window) >= ar.max_per_day:
                t = window[-ar.max_per_day].at + DAY_SECONDS
                continue
            if self._ar_month is not None:
                start, end = cycle_bounds(t, self.budget.cycle_start_day)
                done = sum(r.micros for r in self._recharges if start <= r.at < end)
                if done + self._ar_amount > self._ar_month:
                    why = why or (
                        f"auto-recharge monthly maximum {format_usd(self._ar_month)} reached "
                        f"({format_usd(done)} recharged this cycle)"
                    )
                    t = end
                    continue
            return t, why

    def _apply_recharges(self, now: float) -> None:
        while True:
            t, _ = self._next_recharge()
            if t is None or t > now or self._balance is None:
                return
            self._recharges.append(_Recharge(at=t, micros=self._ar_amount))
            self._balance += self._ar_amount
            if self._balance >= self._ar_threshold:
                self._below_since = None

    def _recharges_in_window(self, now: float) -> list[_Recharge]:
        return [r for r in self._recharges if r.at > now - DAY_SECONDS]

    def _recharged_in_cycle(self, now: float) -> int:
        return sum(r.micros for r in self._recharges if r.at >= self._cycle[0])


__all__ = [
    "AutoRecharge",
    "Budget",
    "BudgetStatus",
    "BudgetWarning",
    "Decision",
    "Ledger",
    "LedgerEntry",
    "LimitStatus",
    "Proceed",
    "Shrink",
    "Stop",
    "Ticket",
    "Wait",
    "cycle_bounds",
]
