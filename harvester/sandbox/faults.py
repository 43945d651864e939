"""Fault injection: each kind fires independently at its configured rate, from a seeded RNG.

Faults exist so a harvester's retry, timeout and parsing paths get exercised. A request that
ends in a 5xx, a dropped connection or a malformed body is never billed or counted against
the post cap, so retrying it later returns the same data at no extra cost.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from harvester.sandbox.config import SandboxConfig


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong with one response (all fields off = a normal response)."""

    error_status: int | None = None  # 500 or 503 with a problem body
    drop: bool = False  # headers and part of the body, then the connection is aborted
    malformed: bool = False  # 200 with the JSON body cut short
    slow_seconds: float = 0.0  # extra delay before answering
    no_headers: bool = False  # rate-limit headers left out

    @property
    def spoils_body(self) -> bool:
        """True when the client will not receive the data (so nothing may be billed)."""
        return self.error_status is not None or self.drop or self.malformed


class Faults:
    """Draws a :class:`FaultPlan` per request."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self._rng = random.Random(f"{cfg.seed}:faults")
        self.injected: list[str] = []

    def _hit(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def draw(self) -> FaultPlan:
        c = self.cfg
        error = None
        if self._hit(c.fault_5xx_rate):
            error = self._rng.choice((500, 503))
        drop = error is None and self._hit(c.fault_drop_rate)
        malformed = error is None and not drop and self._hit(c.fault_malformed_rate)
        slow = c.fault_slow_seconds if self._hit(c.fault_slow_rate) else 0.0
        plan = FaultPlan(error, drop, malformed, slow, self._hit(c.fault_no_headers_rate))
        for name, on in (("5xx", error), ("drop", drop), ("malformed", malformed), ("slow", slow),
                         ("no_headers", plan.no_headers)):  # fmt: skip
            if on:
                self.injected.append(name)
        return plan


def server_error_body(status: int) -> dict[str, Any]:
    title = "Service Unavailable" if status == 503 else "Internal Server Error"
    return {"title": title, "detail": title, "type": "about:blank", "status": status}
