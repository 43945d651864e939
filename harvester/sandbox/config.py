"""Sandbox configuration: one frozen value that fixes the whole simulated world and its server.

Everything that can differ between two sandbox runs lives here, so a test or a benchmark can
state exactly which world and which failure modes it wants, and the same config + seed always
gives the same responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_CAPPED_ROUTES: frozenset[str] = frozenset(
    {
        "/2/tweets/search/recent",
        "/2/tweets/search/all",
        "/2/tweets",
        "/2/tweets/:id",
        "/2/users/:id/tweets",
        "/2/users/:id/mentions",
    }
)


@dataclass(frozen=True)
class SandboxConfig:
    """Knobs of the simulated X API. Every field has a default; zero rates mean "no faults".

    Times are epoch seconds of the *simulated* clock. ``epoch`` anchors the world: posts exist
    from ``epoch - history_days * 86400`` and keep appearing as the clock moves on.
    """

    seed: int = 7
    users: int = 300
    epoch: float = 1_790_000_000.0
    history_days: int = 8
    mean_posts_per_day: float = 2.0  # of the lognormal bulk; firehose accounts come on top
    firehose_fraction: float = 0.01
    max_posts_per_day: float = 500.0
    mention_probability: float = 0.15
    # Rate limits.
    window_seconds: float = 900.0
    limit_overrides: Mapping[str, tuple[int | None, int | None]] = field(default_factory=dict)
    per_second_routes: frozenset[str] = frozenset({"/2/tweets/search/all"})
    per_second_interval: float = 1.0
    daily_limits: Mapping[str, tuple[int | None, int | None]] = field(default_factory=dict)
    denylist_after: int | None = None
    # Faults: probability per request, drawn from a seeded RNG.
    fault_5xx_rate: float = 0.0
    fault_drop_rate: float = 0.0
    fault_slow_rate: float = 0.0
    fault_slow_seconds: float = 5.0
    fault_no_headers_rate: float = 0.0
    fault_malformed_rate: float = 0.0
    latency_seconds: float = 0.0
    # Billing.
    balance_usd: float | None = None
    bill_includes: bool = False
    monthly_cap: int | None = None
    capped_routes: frozenset[str] = DEFAULT_CAPPED_ROUTES
    cap_reset_day: int = 1
    project_id: str = "1790000000000000001"
    account_id: str = "2059529979700846592"
    app_owner_user_id: str | None = None
    # Auth.
    oauth_timestamp_skew: float | None = 300.0
