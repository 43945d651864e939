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

from harvester.core.budget.ledger import Ledger
from harvester.core.budget.values import (
    AutoRecharge,
    Budget,
    BudgetStatus,
    BudgetWarning,
    Decision,
    LedgerEntry,
    LimitStatus,
    Proceed,
    Shrink,
    Stop,
    Ticket,
    Wait,
    cycle_bounds,
)

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
