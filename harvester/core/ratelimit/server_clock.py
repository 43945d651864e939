"""The server's clock as seen through ``Date`` headers (see the package docstring, *Skew*)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

_SKEW_SAMPLES = 16


class ServerClock:
    """The server's clock as seen from ours, from ``Date`` headers.

    Each sample is ``local receive time - Date``. The server stamps ``Date`` (rounded down to
    the second) after the request arrived and before we receive the answer, so every sample is
    at least the true offset; the smallest of the last few samples is the estimate. Hence
    :meth:`to_server` never runs ahead of the server and :meth:`to_local` never places a server
    instant too early. Only recent samples are kept so that a stepped local clock is followed.
    """

    __slots__ = ("_samples",)

    def __init__(self, samples: Iterable[float] = ()) -> None:
        self._samples: deque[float] = deque(samples, maxlen=_SKEW_SAMPLES)

    def observe(self, now: float, date: float) -> None:
        """Record a response received at local ``now`` with server ``Date`` ``date``."""
        self._samples.append(now - date)

    @property
    def known(self) -> bool:
        """Whether any ``Date`` was seen."""
        return bool(self._samples)

    @property
    def skew(self) -> float:
        """Estimated ``local - server`` seconds (0 when unknown)."""
        return min(self._samples) if self._samples else 0.0

    def to_local(self, server_t: float) -> float:
        """A server instant in local time (never early)."""
        return server_t + self.skew

    def to_server(self, now: float) -> float:
        """Local ``now`` in server time (never ahead)."""
        return now - self.skew

    def samples(self) -> list[float]:
        """The kept samples, oldest first (for persistence)."""
        return list(self._samples)

    def load(self, samples: Iterable[float]) -> None:
        """Replace the samples (restoring persisted state)."""
        self._samples = deque(samples, maxlen=_SKEW_SAMPLES)

    def __repr__(self) -> str:
        return f"<ServerClock skew={self.skew:+.3f}s samples={len(self._samples)}>"
