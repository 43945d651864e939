"""Rules for several processes (hosts) that share one quota, one budget and one cap.

Theory of operation
-------------------
Each process keeps its own engines (``ratelimit``, ``budget``, ``cap``): they read headers,
price pages and decide. What they cannot see is what the *other* processes have in flight or
settled since they started. A shared store (PostgreSQL) closes that gap with three records, all
read and written inside one transaction under one lock, so two admissions never interleave:

1. *Grants.* Every request any process sends is logged per bucket (route, auth context). A new
   grant is refused while ``limit`` grants already fall within the last ``window + max_latency``
   seconds: :func:`grant_release` says until when. This is the sliding guard of
   ``core.ratelimit`` made global, and it is safe for the same reason: a server window is
   ``window`` long and a request reaches the server within ``max_latency`` of its grant, so all
   requests landing in one server window were granted within one such span. It needs no
   headers, so it holds before any response, across restarts, and for every host at once. A
   route with a per-second limiter (full-archive search) also keeps its minimum gap after the
   newest grant of any host.
   (Hosts compare times, so their clocks must agree: NTP. A host running ``d`` seconds behind
   sees the others' grants ``d`` seconds late: keep ``max_latency`` above clock error.)
2. *Holds.* A request in flight holds its worst-case cost and its largest Post count until its
   page commits (the hold is deleted in the page's own statement) or it ends otherwise. Every
   admission counts the others' holds as if they were its own reservations.
3. *Settled charges* are the ledger rows the processes already write with their pages; each
   admission folds in the rows it has not seen (``Ledger.absorb``), including their Posts for
   the cap.

A hold whose owner died can never be settled by it. Whether its request reached X is unknown,
so when it expires it becomes a ledger entry at its worst case (:func:`expired_hold_entry`), the
same rule a restarted single process applies to its own unsettled reservations: the budget
stops early, never late.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harvester.core.budget import LedgerEntry
from harvester.core.pricing import utc_day


def grant_release(
    grants: Iterable[float], now: float, limit: int, span: float, min_gap: float = 0.0
) -> float:
    """The earliest time >= ``now`` at which a new grant keeps at most ``limit`` in any ``span``
    and comes at least ``min_gap`` after the newest grant (a per-second limiter).

    ``grants`` are the grant times of one bucket, any order; those at or before ``now - span``
    no longer count toward the limit. Returns ``now`` when a grant fits at once.
    """
    if limit < 1 or span <= 0 or min_gap < 0:
        raise ValueError("need limit >= 1, span > 0 and min_gap >= 0")
    live = sorted(g for g in grants if g + span > now)
    release = now
    if len(live) >= limit:
        release = live[len(live) - limit] + span
    if live and min_gap:
        release = max(release, live[-1] + min_gap)
    return max(now, release)


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedView:
    """What other processes did that this one has not folded in yet.

    Attributes:
        entries: ledger rows (``LedgerEntry.to_dict`` shape) they settled since the last view.
        held_micros: the worst-case cost their requests in flight hold now.
        held_posts: the most Posts their requests in flight may still return.
    """

    entries: tuple[Mapping[str, Any], ...] = ()
    held_micros: int = 0
    held_posts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    """One request in flight, as other processes see it."""

    run: str
    job: str
    route: str
    micros: int
    posts: int
    at: float
    expires: float


def expired_hold_entry(hold: Hold, now: float) -> LedgerEntry:
    """The charge an orphaned hold becomes: its worst case, stamped when it is found expired."""
    return LedgerEntry(at=now, run=hold.run, job=hold.job, route=hold.route, day=utc_day(hold.at),
                       micros=hold.micros, reserved=hold.micros, posts=hold.posts)


__all__ = ["Hold", "SharedView", "expired_hold_entry", "grant_release"]
