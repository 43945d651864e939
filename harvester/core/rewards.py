"""Free xAI API credits earned by buying X API credits: the tier a billing cycle reaches.

Theory of operation
-------------------
X's pay-per-use pricing page ("Free xAI API Credits", x-api-pay-per-use-pricing.txt) pays a
reward on the credits bought within one billing cycle: the cycle's *cumulative* purchases set
the rate (0 % below $200, 10 % from $200, 15 % from $500, 20 % from $1,000), the rate applies
to the whole cumulative total, and each purchase is credited only the delta: what the total is
now owed minus what was credited before. Crossing a tier therefore also pays the higher rate
on everything bought earlier in the cycle. A new cycle starts again at $0.

Everything here is integer micro-dollars and pure: the shell (``harvester report``) gathers
the cycle's purchases (the configured ``balance_usd`` and the auto-recharges the ledger models)
and asks :func:`cycle_rewards` what they earned and what the next tier would add.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

USD = 1_000_000  # micro-dollars per dollar

TIERS: tuple[tuple[int, int], ...] = (
    (0, 0),
    (200 * USD, 10),
    (500 * USD, 15),
    (1_000 * USD, 20),
)
"""``(cumulative purchases from, reward percent)``, ascending: the pricing page's table."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Purchase:
    """Credits bought: ``micros`` at ``at`` (epoch seconds); ``source`` says which record."""

    at: float
    micros: int
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditedPurchase:
    """One purchase and what it earned (a row of the pricing page's example table).

    Attributes:
        purchase: the purchase.
        total: cumulative purchases of the cycle, this one included.
        percent: the rate that total reaches.
        owed: ``total`` x ``percent``: everything the cycle has earned so far.
        credited_before: what earlier purchases of the cycle were already credited.
        received: ``owed - credited_before``: what this purchase newly earns.
    """

    purchase: Purchase
    total: int
    percent: int
    owed: int
    credited_before: int
    received: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NextTier:
    """The next tier up: how far away it is and what crossing it pays.

    Attributes:
        at: cumulative purchases where it starts.
        percent: its rate.
        to_go: purchases still needed to reach it.
        earns: what buying exactly ``to_go`` more would newly credit (the higher rate on the
            whole new total, less what is already credited).
    """

    at: int
    percent: int
    to_go: int
    earns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleRewards:
    """The billing cycle's purchases and the free credits they reach.

    Attributes:
        purchases: each purchase with what it earned, oldest first.
        total: cumulative purchases this cycle.
        percent: the tier's rate for ``total``.
        credited: free xAI credits earned this cycle (``total`` x ``percent``).
        next_tier: the next tier up, None at the top one.
    """

    purchases: tuple[CreditedPurchase, ...]
    total: int
    percent: int
    credited: int
    next_tier: NextTier | None


def tier_percent(total: int) -> int:
    """The reward rate (percent) that cumulative purchases of ``total`` micro-dollars reach."""
    percent = 0
    for start, rate in TIERS:
        if total >= start:
            percent = rate
    return percent


def owed(total: int) -> int:
    """Free credits due on a cycle's cumulative ``total``: the rate applies to all of it.

    Rounded down to the micro-dollar (never promise more than X pays).
    """
    return total * tier_percent(total) // 100


def cycle_rewards(purchases: Iterable[Purchase]) -> CycleRewards:
    """What ``purchases`` (one billing cycle's, any order) earn, purchase by purchase."""
    rows: list[CreditedPurchase] = []
    total = credited = 0
    for p in sorted(purchases, key=lambda p: p.at):
        if p.micros < 0:
            raise ValueError(f"a purchase cannot be negative: {p}")
        total += p.micros
        due = owed(total)
        rows.append(CreditedPurchase(purchase=p, total=total, percent=tier_percent(total), owed=due,
                                     credited_before=credited, received=due - credited))  # fmt: skip
        credited = due
    nxt = next(((start, rate) for start, rate in TIERS if start > total), None)
    next_tier = None
    if nxt is not None:
        start, rate = nxt
        next_tier = NextTier(at=start, percent=rate, to_go=start - total, earns=owed(start) - credited)
    return CycleRewards(purchases=tuple(rows), total=total, percent=tier_percent(total), credited=credited,
                        next_tier=next_tier)  # fmt: skip
