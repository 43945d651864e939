"""What a disconnect missed, and how to get it back without a hole or a duplicate.

The stream delivers Posts roughly in creation order, and a Post id is a snowflake: its top bits
are its creation time (ms since X's epoch), so "every Post created before ``t``" is "every id
below :func:`snowflake_at(t) <snowflake_at>`". :class:`StreamTracker` keeps a high-water id: a
streamed Post is written only if its id is above it, and it then becomes the high-water mark.

On reconnect, the gap runs from the last line the old connection delivered (data or keep-alive:
until then, nothing was missed) to now, plus a margin for latency and clocks. A gap of up to
five minutes is asked back with ``backfill_minutes`` (X re-sends those minutes, duplicates
included: the high-water mark drops them). A longer gap gets a recent-search fill over the id
range ``(high-water, snowflake(now - 5 min + margin))``, and the reconnect backfills five
minutes, which overlap the fill's end; the high-water mark jumps to the fill's upper bound, so
the stream leaves that range to the fill. Either way the union has no hole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TWEPOCH_MS = 1_288_834_974_657
MAX_BACKFILL_MINUTES = 5
MARGIN_SECONDS = 30.0


def snowflake_at(t: float) -> int:
    """The smallest Post id created at epoch seconds ``t`` (ms resolution)."""
    return max(0, (int(t * 1000) - TWEPOCH_MS) << 22)


def created_at(post_id: int) -> float:
    return ((post_id >> 22) + TWEPOCH_MS) / 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Recovery:
    """How to reconnect: ``backfill_minutes`` to ask, and an id range to fill by recent search
    (``since_id``, ``until_id``: both exclusive, as search reads them), or None."""

    backfill_minutes: int
    fill: tuple[int, int] | None = None
    gap: float = 0.0


class StreamTracker:
    """The high-water id and the last time the stream was known alive; saved with each commit."""

    def __init__(self, now: float, saved: Mapping[str, Any] | None = None) -> None:
        self.fresh = not saved  # a new stream: nothing before now is wanted, nothing to ask back
        if saved:
            self.high = int(saved["high"])
            self.alive = float(saved["alive"])
        else:
            self.high = snowflake_at(now) - 1
            self.alive = now
        self.gaps_filled = 0
        self.filled_seconds = 0.0
        self.duplicates = 0

    def to_json(self) -> dict[str, Any]:
        return {"high": str(self.high), "alive": self.alive}

    def heard(self, now: float) -> None:
        """A line (Post or keep-alive) arrived: the stream is alive up to ``now``."""
        self.alive = max(self.alive, now)

    def keep(self, post_id: str) -> bool:
        """Whether a streamed Post is new (above the high-water mark); if so it becomes it."""
        try:
            n = int(post_id)
        except ValueError:
            return False
        if n <= self.high:
            self.duplicates += 1
            return False
        self.high = n
        return True

    def reconnect(self, now: float, *, fill: bool = True) -> Recovery:
        """What to ask for on a connect at ``now`` (the first one included)."""
        if self.fresh:
            self.fresh = False
            return Recovery(backfill_minutes=0)
        gap = max(0.0, now - self.alive) + MARGIN_SECONDS
        minutes = math.ceil(gap / 60)
        if minutes <= MAX_BACKFILL_MINUTES:
            return Recovery(backfill_minutes=minutes, gap=gap)
        if not fill:
            return Recovery(backfill_minutes=MAX_BACKFILL_MINUTES, gap=gap)
        until = snowflake_at(now - MAX_BACKFILL_MINUTES * 60 + MARGIN_SECONDS)
        since = self.high
        self.high = max(self.high, until - 1)
        self.gaps_filled += 1
        self.filled_seconds += gap
        return Recovery(backfill_minutes=MAX_BACKFILL_MINUTES, fill=(since, until), gap=gap)
