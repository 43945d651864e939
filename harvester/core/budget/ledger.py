"""The ledger: spend, reservations, dedup keys and the projected balance, and the decision.

The rules are in the package docstring (``harvester.core.budget``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from harvester.core.budget.values import (
    DAY_SECONDS,
    Budget,
    BudgetStatus,
    BudgetWarning,
    Decision,
    LedgerEntry,
    Limit,
    LimitStatus,
    Proceed,
    Shrink,
    Stop,
    Ticket,
    Wait,
    cycle_bounds,
)
from harvester.core.endpoints import Resource
from harvester.core.pricing import (
    Charge,
    Key,
    Quote,
    format_usd,
    usd_to_micros,
    utc_day,
)


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

    def recharges(self, now: float) -> tuple[tuple[float, int], ...]:
        """The auto-recharges the model has landed in ``now``'s billing cycle, ``(at, micros)``,
        oldest first: the purchases ``core.rewards`` counts (with the configured balance)."""
        self._advance(now)
        return tuple((r.at, r.micros) for r in self._recharges if r.at >= self._cycle[0])

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
