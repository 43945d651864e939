"""The stream's figures for ``harvester status``, ``/status``, ``/metrics`` and the run summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StreamStatus:
    """What the stream runner did; one per process, updated in place by the shell."""

    state: str = "idle"  # idle, connecting, connected, waiting, stopped
    connected_since: float | None = None
    last_keepalive: float | None = None
    last_post: float | None = None
    posts: dict[str, int] = field(default_factory=dict)  # per job, written
    posts_total: int = 0
    duplicates: int = 0
    connects: int = 0
    reconnects: dict[str, int] = field(default_factory=dict)  # by class
    disconnects: dict[str, int] = field(default_factory=dict)  # disconnect messages by type
    gaps_backfilled: int = 0  # outages recovered by backfill_minutes alone
    stalls: int = 0  # connections ended by silence
    gaps_filled: int = 0
    fill_tasks: int = 0
    started: float | None = None
    stopped_at: float | None = None
    stop: str | None = None

    def rate(self, now: float) -> float:
        """Posts per minute since the runner started."""
        if self.started is None or now <= self.started:
            return 0.0
        return self.posts_total / ((now - self.started) / 60)

    def to_json(self, now: float) -> dict[str, Any]:
        return {"state": self.state, "at": now, "posts": dict(self.posts), "posts_total": self.posts_total,
                "posts_per_minute": round(self.rate(now), 3), "last_keepalive": self.last_keepalive,
                "last_post": self.last_post, "connects": self.connects, "reconnects": dict(self.reconnects),
                "disconnect_messages": dict(self.disconnects), "stalls": self.stalls, "duplicates_dropped": self.duplicates,
                "gaps_backfilled": self.gaps_backfilled, "gaps_filled": self.gaps_filled,
                "fill_tasks": self.fill_tasks, "stop": self.stop}  # fmt: skip
