"""Sandbox configuration: one frozen value that fixes the whole simulated world and its server.

Everything that can differ between two sandbox runs lives here, so a test or a benchmark can
state exactly which world and which failure modes it wants, and the same config + seed always
gives the same responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harvester.sandbox import quirks as Q
from harvester.sandbox.openapi import VERSIONS

DEFAULT_CAPPED_ROUTES: frozenset[str] = frozenset(
    {
        "/2/tweets/search/recent",
        "/2/tweets/search/all",
        "/2/tweets",
        "/2/tweets/:id",
        "/2/users/:id/tweets",
        "/2/users/:id/mentions",
        "/2/users/:id/liked_tweets",
        "/2/tweets/:id/quote_tweets",
        "/2/lists/:id/tweets",
        "/2/users/:id/bookmarks",
        "/2/tweets/search/stream",
    }
)


@dataclass(frozen=True)
class StreamFault:
    """A forced end of the filtered stream's connection, and how the next connects are answered.

    ``after`` simulated seconds after the sandbox started, the open connection ends by ``end``:
    ``drop`` (the TCP connection is cut), ``stall`` (the server goes silent: no data, no
    keep-alive, until the client gives up) or ``disconnect`` (a disconnect message of type
    ``disconnect_type`` in the stream, then the end). The next ``times`` connect attempts are then
    answered by ``then``: ``refuse`` (the connection is cut before any answer), ``503`` or
    ``429`` (the TooManyConnections body); "" answers them normally. A fault due with no
    connection open waits for the next one.
    """

    after: float
    end: str = "drop"
    then: str = ""
    times: int = 0
    disconnect_type: str = "OperationalDisconnect"


@dataclass(frozen=True)
class WindowChange:
    """A change of the server's rate limits at a point of the run (a server that reconfigures).

    From ``after`` simulated seconds after the sandbox started, windows last ``window_seconds``
    (None: unchanged) and the routes in ``limits`` allow (per app, per user) requests per window
    (as ``limit_overrides``). A window open at that moment is cut short to the new length (it
    ends at once if it has already lasted longer) and takes the new limit at once, so the very
    next answer's headers follow the change.
    """

    after: float
    window_seconds: float | None = None
    limits: Mapping[str, tuple[int | None, int | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class SandboxConfig:
    """Knobs of the simulated X API. Every field has a default; zero rates mean "no faults".

    Times are epoch seconds of the *simulated* clock. ``epoch`` anchors the world: posts exist
    from ``epoch - history_days * 86400`` and keep appearing as the clock moves on.

    ``api_version`` picks the parameter, field and expansion names requests are validated
    against (:mod:`.openapi`): ``"2.167"`` is X's current document as published, ``"2.166"``
    the names before X's rename. The default is 2.166 because X's 2.167 document lists no
    ``author_id`` (nor ``in_reply_to_user_id``, ``referenced_tweets``) among the Post fields, so a
    2.167 server refuses the README's own example jobs; a test that wants the new names says
    ``api_version="2.167"``. ``quirks`` switches on behaviours of other X-like servers
    (:data:`harvester.sandbox.quirks.QUIRKS`).
    """

    api_version: str = "2.166"
    quirks: frozenset[str] = frozenset()

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
    # Limits that change mid-run: a schedule, and buckets that change their mind after a 429
    # (route → (limit, window seconds) for both auth kinds from the bucket's first 429 on).
    window_changes: tuple[WindowChange, ...] = ()
    mind_changes: Mapping[str, tuple[int, float]] = field(default_factory=dict)
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
    # Filtered stream: keep-alive period (X: at least every 20 s) and forced disconnects.
    stream_keepalive_seconds: float = 20.0
    stream_faults: tuple[StreamFault, ...] = ()
    # Auth.
    oauth_timestamp_skew: float | None = 300.0

    def __post_init__(self) -> None:
        if self.api_version not in VERSIONS:
            raise ValueError(f"api_version must be one of {', '.join(VERSIONS)}, not {self.api_version!r}")
        object.__setattr__(self, "quirks", Q.check(self.quirks))
