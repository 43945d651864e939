"""Spend and cap use by UTC day: the status page's 30-day charts, from the ledger's rows.

Each settled charge is a ledger row (``LedgerEntry``: when, route, micro-dollars, Posts
returned). Grouped by UTC day they give what was spent and read each day; summed from the start
of each day's billing cycle they give the running totals that the spending limit and the monthly
Post cap are judged against (both reset at the cycle's start, ``cycle_start_day``). The
server's own count of the cap comes from reads of ``GET /2/usage/tweets``, one figure per day
(the day's last read), where one was made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harvester.core.budget import cycle_bounds
from harvester.core.pricing import micros_to_usd, utc_day

DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DayTotals:
    """One UTC day's settled spend (micro-dollars) and Posts on the routes the cap counts."""

    spend: int = 0
    posts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Day:
    """One day of the charts.

    Attributes:
        day: ``YYYY-MM-DD`` (UTC).
        spend: micro-dollars settled that day.
        cycle_spend: settled since the day's billing cycle began, through that day.
        posts: Posts read that day on the routes the cap counts (the local count).
        cycle_posts: the local count since the cycle began, through that day.
        server_posts: X's count (``/2/usage/tweets``) as last read that day, None if not read.
    """

    day: str
    spend: int
    cycle_spend: int
    posts: int
    cycle_posts: int
    server_posts: int | None

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day, "spend_usd": micros_to_usd(self.spend),
                "cycle_spend_usd": micros_to_usd(self.cycle_spend), "posts": self.posts,
                "cycle_posts": self.cycle_posts, "server_posts": self.server_posts}  # fmt: skip


def day_totals(entries: Iterable[Mapping[str, Any]], counts: Callable[[str], bool]) -> dict[str, DayTotals]:
    """Ledger rows (``LedgerEntry.to_dict`` shape) grouped by their UTC day; ``counts(route)``
    says whether a route's Posts count toward the cap."""
    spend: dict[str, int] = {}
    posts: dict[str, int] = {}
    for e in entries:
        day = str(e["day"])
        spend[day] = spend.get(day, 0) + int(e["micros"])
        if counts(str(e["route"])):
            posts[day] = posts.get(day, 0) + int(e.get("posts", 0))
    return {d: DayTotals(spend=spend.get(d, 0), posts=posts.get(d, 0)) for d in spend.keys() | posts.keys()}


def first_needed(now: float, days: int, cycle_start_day: int) -> float:
    """The earliest time whose rows :func:`daily` needs: the window's first day, or the start of
    that day's billing cycle if earlier (its running totals begin there)."""
    first = _midnight(now) - (days - 1) * DAY_SECONDS
    return min(first, cycle_bounds(first, cycle_start_day)[0])


def daily(
    totals: Mapping[str, DayTotals],
    server: Mapping[str, int],
    *,
    now: float,
    days: int,
    cycle_start_day: int,
) -> tuple[Day, ...]:
    """The last ``days`` UTC days up to ``now``'s, oldest first.

    ``totals`` must cover every day from :func:`first_needed` on; ``server`` maps a day to X's
    count read that day.
    """
    first = _midnight(now) - (days - 1) * DAY_SECONDS
    t = first_needed(now, days, cycle_start_day)
    out: list[Day] = []
    cycle: tuple[float, float] | None = None
    run_spend = run_posts = 0
    while t <= now:
        bounds = cycle_bounds(t, cycle_start_day)
        if bounds != cycle:
            cycle, run_spend, run_posts = bounds, 0, 0
        day = utc_day(t)
        got = totals.get(day, DayTotals())
        run_spend += got.spend
        run_posts += got.posts
        if t >= first:
            out.append(Day(day=day, spend=got.spend, cycle_spend=run_spend, posts=got.posts,
                           cycle_posts=run_posts, server_posts=server.get(day)))  # fmt: skip
        t += DAY_SECONDS
    return tuple(out)


def _midnight(t: float) -> float:
    return t - t % DAY_SECONDS
