"""Counters of one run, for the summary table, progress display and ``/metrics``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RunStats:
    """What this process did in this run (the store holds the totals across runs)."""

    requests: int = 0
    pages: int = 0
    items: int = 0
    retries: int = 0
    cache_hits: int = 0  # objects answered from the cache
    requests_saved: int = 0  # lookups that needed no request at all
    claims_lost: int = 0  # pages another worker took over when this one's lease ran out
    by_status: Counter[tuple[str, int]] = field(default_factory=Counter)

    def count_status(self, route: str, status: int) -> None:
        self.by_status[(route, status)] += 1

    @property
    def too_many(self) -> int:
        """429 responses seen."""
        return sum(n for (_, status), n in self.by_status.items() if status == 429)
