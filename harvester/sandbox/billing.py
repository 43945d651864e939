"""Pay-per-use billing: per-resource charges deduplicated per UTC day, balance, and post cap.

Amounts are integer micro-dollars so that sums are exact; ``*_usd`` accessors convert.
Only 200 responses that return data are charged (the server calls :meth:`Ledger.charge`
after a successful, un-faulted response), and a (resource type, id) pair is charged at most
once per UTC day of the *simulated* clock, resetting at midnight UTC (§6.1).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from harvester.sandbox import tables as T
from harvester.sandbox.config import SandboxConfig

PRICES = {"post": T.PRICE_POST, "user": T.PRICE_USER, "follow": T.PRICE_FOLLOW, "list": T.PRICE_LIST,
          "counts_request": T.PRICE_COUNTS_RECENT, "counts_all_request": T.PRICE_COUNTS_ALL}  # fmt: skip


@dataclass(frozen=True)
class Charge:
    """One billed resource."""

    at: float
    day: str
    route: str
    resource: str
    id: str
    micro_usd: int
    owned: bool


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")


class Ledger:
    """Charges, balance and the monthly post cap for the one simulated app."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.charges: list[Charge] = []
        self._seen: set[tuple[str, str, str]] = set()
        self.spent_micro = 0
        self.posts_by_day: Counter[str] = Counter()

    # -- money ---------------------------------------------------------------------------

    @property
    def total_usd(self) -> float:
        return self.spent_micro / 1e6

    @property
    def balance_usd(self) -> float | None:
        if self.cfg.balance_usd is None:
            return None
        return (round(self.cfg.balance_usd * 1e6) - self.spent_micro) / 1e6

    def depleted(self) -> bool:
        """True once the balance is at or below zero: requests then get 402."""
        bal = self.balance_usd
        return bal is not None and bal <= 0

    def charge(self, route: str, now: float, items: list[tuple[str, str]], owned: bool) -> list[Charge]:
        """Charge each (resource type, id) not yet charged today; returns the new charges."""
        day, new = utc_day(now), []
        for resource, rid in items:
            key = (day, resource, rid)
            if key in self._seen:
                continue
            self._seen.add(key)
            price = T.PRICE_OWNED if owned else PRICES[resource]
            new.append(Charge(now, day, route, resource, rid, price, owned))
            self.spent_micro += price
        self.charges.extend(new)
        return new

    def by_day(self) -> dict[str, float]:
        out: Counter[str] = Counter()
        for c in self.charges:
            out[c.day] += c.micro_usd
        return {k: v / 1e6 for k, v in sorted(out.items())}

    def by_route(self) -> dict[str, float]:
        out: Counter[str] = Counter()
        for c in self.charges:
            out[c.route] += c.micro_usd
        return {k: v / 1e6 for k, v in sorted(out.items())}

    def count(self, resource: str) -> int:
        return sum(1 for c in self.charges if c.resource == resource)

    # -- post cap ------------------------------------------------------------------------

    def _cycle_start(self, now: float) -> datetime:
        d = datetime.fromtimestamp(now, tz=UTC)
        day = min(max(1, self.cfg.cap_reset_day), 28)
        start = d.replace(day=day, hour=0, minute=0, second=0, microsecond=0)
        if d.day < day:
            prev = start - timedelta(days=28)
            start = prev.replace(day=day)
        return start

    def cycle_usage(self, now: float) -> int:
        """Posts returned by capped routes since the current billing cycle began."""
        start = self._cycle_start(now).strftime("%Y-%m-%d")
        return sum(n for day, n in self.posts_by_day.items() if day >= start)

    def capped(self, route: str, now: float) -> bool:
        cap = self.cfg.monthly_cap
        return cap is not None and route in self.cfg.capped_routes and self.cycle_usage(now) >= cap

    def count_posts(self, route: str, now: float, n: int) -> None:
        if route in self.cfg.capped_routes and n:
            self.posts_by_day[utc_day(now)] += n

    def usage_body(self, now: float, fields: frozenset[str], days: int) -> dict[str, Any]:
        """``GET /2/usage/tweets`` body; counts are strings, as observed (x-api-spec.md §4).

        ``project_usage`` counts the Posts returned by ``capped_routes`` only (what the server
        says counts toward the cap, whatever the client assumes); ``project_cap`` is
        ``monthly_cap`` (X's pay-per-use 3,000,000 when unset)."""
        cap = self.cfg.monthly_cap if self.cfg.monthly_cap is not None else 3_000_000
        full: dict[str, Any] = {
            "cap_reset_day": self.cfg.cap_reset_day,
            "project_cap": str(cap),
            "project_id": self.cfg.project_id,
            "project_usage": str(self.cycle_usage(now)),
        }
        if not fields:
            return {"data": full}
        data = {k: v for k, v in full.items() if k in fields}
        if "daily_project_usage" in fields:
            today = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            usage = []
            for back in range(days - 1, -1, -1):
                d = today - timedelta(days=back)
                usage.append({"date": d.strftime("%Y-%m-%dT00:00:00.000Z"),
                              "usage": str(self.posts_by_day.get(d.strftime("%Y-%m-%d"), 0))})  # fmt: skip
            data["daily_project_usage"] = {"project_id": self.cfg.project_id, "usage": usage}
        if "daily_client_app_usage" in fields:
            data["daily_client_app_usage"] = []
        return {"data": data}


def credits_body(account_id: str) -> dict[str, Any]:
    return {
        "title": "CreditsDepleted",
        "detail": f"Your enrolled account [{account_id}] does not have any credits to fulfill this request.",
        "type": "https://api.twitter.com/2/problems/credits",
    }


def usage_capped_body(account_id: str) -> dict[str, Any]:
    """The monthly-cap 429 body, exactly as observed (x-api-spec.md §2.3 "429 usage cap", xdk#25:
    ``product_name`` was ``standard-basic`` even on a pay-per-use account)."""
    return {
        "account_id": account_id,
        "product_name": "standard-basic",
        "title": "UsageCapExceeded",
        "period": "Monthly",
        "scope": "Product",
        "detail": "Usage cap exceeded: Monthly product cap",
        "type": "https://api.twitter.com/2/problems/usage-capped",
    }
