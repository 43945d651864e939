"""The money and the cap of streamed Posts, decided before each Post arrives.

X bills every Post it delivers (per Post, deduplicated per UTC day) and counts it toward the
monthly cap, so the decision cannot wait for the Post: while connected, the shell holds one
Post's price in the ledger and one Post in the cap. When a Post arrives it is settled (free if
already charged today) and the next one is held; when the next one cannot be held, the shell
disconnects: the budget or the cap stops the stream cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harvester.core import cap as capmod
from harvester.core.budget import values as money
from harvester.core.budget.ledger import Ledger
from harvester.core.pricing import Charge, Prices, Quote, charge
from harvester.core.request.values import Cause, StopCause, money_cause

STREAM_ROUTE = "/2/tweets/search/stream"


@dataclass(frozen=True, slots=True, kw_only=True)
class Held:
    """The next Post's hold: the ledger ticket and the cap posts held."""

    ticket: money.Ticket
    posts: int


def hold_next(ledger: Ledger, cap: capmod.CapTracker, prices: Prices, job: str, now: float) -> Held | StopCause:
    """Hold the price and the cap room of one more Post, or say why the stream must stop."""
    decision = cap.admit(STREAM_ROUTE, 1, 1, now)
    if isinstance(decision, capmod.Hold) and decision.final:
        return StopCause(cause=Cause.CAP, message=f"monthly Post cap: {decision.reason}", resumes_at=decision.until)
    quote = Quote(route=STREAM_ROUTE, size=1, min_size=1, per_item=prices.post)
    verdict = ledger.reserve(now, job, quote)
    match verdict:
        case money.Proceed(ticket=ticket) | money.Shrink(ticket=ticket):
            return Held(ticket=ticket, posts=cap.hold(STREAM_ROUTE, 1))
        case money.Stop(reason=why, limit=limit, resumes_at=resumes):
            return StopCause(cause=money_cause(limit), message=why, figures=ledger.status(now).to_json(),
                             resumes_at=resumes)  # fmt: skip
        case money.Wait(reason=why, until=until):
            return StopCause(cause=Cause.BALANCE, message=why, resumes_at=until)
    raise AssertionError(verdict)  # pragma: no cover


def release(ledger: Ledger, cap: capmod.CapTracker, held: Held) -> None:
    ledger.cancel(held.ticket)
    cap.unhold(held.posts)


def settle_post(ledger: Ledger, cap: capmod.CapTracker, prices: Prices, held: Held, message: Mapping[str, Any],
                now: float) -> money.LedgerEntry:  # fmt: skip
    """Book one delivered Post against its hold: its price unless already charged today."""
    bill: Charge = charge(STREAM_ROUTE, {"data": [message["data"]]}, now=now, seen=ledger.seen(now), prices=prices)
    cap.unhold(held.posts)
    cap.record(now, STREAM_ROUTE, 1)
    return ledger.settle(held.ticket, now, bill, posts=1)
