"""The 30-day charts' figures for a live process: ledger rows by day, and X's cap readings.

Reading 30 days of ledger rows on every page load would cost a busy daemon a scan of a million
rows every few seconds, so days that have ended are grouped once (again when the day changes)
and only today's rows are read per snapshot. Rows another host settles for an earlier day after
that day was grouped are missed until the next day's regrouping; the running totals are still
the ledger's.

X's own count of the monthly cap is read by ``usage_poll`` (``GET /2/usage/tweets``);
:func:`record_reading` keeps the day's last figure in the store (``cap_readings``), so the chart
shows it for past days too, across restarts and for every host sharing the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harvester.core.cap import CapStatus
from harvester.core.history import DAY_SECONDS, Day, DayTotals, daily, day_totals, first_needed
from harvester.core.pricing import utc_day
from harvester.store.base import Store

STATE_READINGS = "cap_readings"
KEEP_DAYS = 40


async def record_reading(store: Store, cap: CapStatus) -> None:
    """Keep the server's cap count of the day it was read (the day's last read wins)."""
    if cap.server_used is None or cap.server_read_at is None:
        return
    saved = await store.get_state(STATE_READINGS)
    doc = {str(k): int(v) for k, v in saved.items()} if isinstance(saved, dict) else {}
    doc[utc_day(cap.server_read_at)] = cap.server_used
    await store.put_state(STATE_READINGS, dict(sorted(doc.items())[-KEEP_DAYS:]))


class DailyHistory:
    """Per-day figures for the last ``days`` days, ended days cached (see the module docstring)."""

    def __init__(self, counts: Callable[[str], bool], cycle_start_day: int, days: int = 30) -> None:
        self.counts = counts
        self.cycle_start_day = cycle_start_day
        self.days = days
        self._closed: dict[str, DayTotals] = {}
        self._closed_until = ""  # the day whose midnight ended the cached days

    async def read(self, store: Store, now: float) -> tuple[Day, ...]:
        today = utc_day(now)
        midnight = now - now % DAY_SECONDS
        if self._closed_until != today:
            since = first_needed(now, self.days, self.cycle_start_day)
            rows = [e for e in await store.ledger_entries(since) if float(e["at"]) < midnight]
            self._closed = day_totals(rows, self.counts)
            self._closed_until = today
        recent = [e for e in await store.ledger_entries(midnight) if float(e["at"]) >= midnight]
        totals = {**self._closed, **day_totals(recent, self.counts)}
        saved: Any = await store.get_state(STATE_READINGS)
        server = {str(k): int(v) for k, v in saved.items()} if isinstance(saved, dict) else {}
        return daily(totals, server, now=now, days=self.days, cycle_start_day=self.cycle_start_day)
