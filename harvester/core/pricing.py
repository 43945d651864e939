"""What a request may cost before it is sent, and what a response did cost after it came back.

Theory of operation
-------------------
X's pay-per-use plan bills **per resource returned**, not per request (``shared/reference/
x-api-spec.md`` §6.1; ``shared/reference/x-api-pay-per-use-pricing.txt``). A 100-post page costs
$0.50, so money binds long before rate limits do. This module owns three rules:

Rule 1, money is integer micro-dollars. Every amount inside harvester is an ``int`` of
millionths of a dollar ($0.005 = 5_000). Floats cannot represent $0.005 exactly, and summing a
million of them drifts; ``Decimal`` would work but leaks into every signature and JSON file.
The smallest price is $0.001, so micro-dollars are exact with room to spare. Config speaks USD
floats; :func:`usd_to_micros` and :func:`micros_to_usd` are the only crossings.

Rule 2, a response is billed for what it returned, once per UTC day. Only a 200 that carries
``data`` is billed; an errors-only body, an empty page (``{"meta":{"result_count":0}}``) and every
non-200 cost nothing (§6.1 "Only successful responses that return data are billed"). Each
``data`` item is billed by its endpoint's resource class (:class:`~harvester.core.endpoints.Resource`:
a follower is a user object billed as a Following/Followers read). A resource already charged
in the same UTC day (keyed ``(kind, id)``) is free again; the window resets at midnight UTC,
not over a rolling 24 h as X's playground does (§6.1 "Deduplication"). Owned reads (an
``owned_eligible`` route whose ``:id`` is the app owner) cost $0.001 per ``data`` item.

Rule 3, the worst case bounds every charge. :func:`quote` prices the most a request can cost:
``max_results`` (or the number of ids) times the unit price, plus, when expanded objects are
billed, the most ``includes`` each item can drag in (:data:`INCLUDES_PER_ITEM`). The budget
reserves this amount before sending, so a limit can never be overrun by a response that is
billed within the bound. Dedup only ever lowers a charge, so the worst case ignores it.

What this module does not know: limits, balances, clocks. :mod:`harvester.core.budget` decides
whether a quote fits; the shell passes ``now`` (epoch seconds, UTC) where the day matters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from harvester.core.endpoints import Endpoint, Resource, endpoint

MICROS_PER_USD = 1_000_000

ResourceKind = Resource
"""What a billed object is: ``post``, ``user`` or ``follow`` (the endpoints table's enum)."""

Key = tuple[Resource, str]
"""A dedup key: ``(kind, id)``. Charged once per UTC day."""


# --- money ---------------------------------------------------------------------------------


def usd_to_micros(usd: float | str | Decimal) -> int:
    """Dollars (as config spells them) to integer micro-dollars, rounded half-even.

    Goes through ``str`` so that ``0.005`` becomes exactly 5_000, not 4_999.
    Raises ValueError for NaN, infinities and non-numbers, TypeError for a bool.
    """
    if isinstance(usd, bool):
        raise TypeError(f"not an amount of USD: {usd!r}")
    try:
        d = Decimal(str(usd))
    except InvalidOperation:
        raise ValueError(f"not an amount of USD: {usd!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite amount of USD: {usd!r}")
    return int((d * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def micros_to_usd(micros: int) -> float:
    """Micro-dollars to a float of dollars, for JSON output and display only."""
    return micros / MICROS_PER_USD


def format_usd(micros: int) -> str:
    """``$0.50``, ``$0.005``, ``-$1.25``: at least cents, more digits only when they are not 0."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole:,}.{digits}"


def usd_digits(amounts: Iterable[int]) -> int:
    """The decimals a column of amounts needs so that every one is exact (at least 2, cents).

    A table printed with one precision lines up and never shows ``$0.02`` above ``$3.065``; the
    precision is the finest any amount needs, so none is rounded.
    """
    digits = 2
    for micros in amounts:
        frac = f"{abs(micros) % MICROS_PER_USD:06d}".rstrip("0")
        digits = max(digits, len(frac))
    return digits


def format_usd_at(micros: int, digits: int) -> str:
    """``micros`` as ``$1,234.500`` with exactly ``digits`` decimals (0-6), rounded half-even."""
    if not 0 <= digits <= 6:
        raise ValueError(f"digits must be 0-6, got {digits}")
    step = 10 ** (6 - digits)
    q, r = divmod(abs(micros), step)
    if r * 2 > step or (r * 2 == step and q % 2):
        q += 1
    whole, frac = divmod(q, 10**digits)
    sign = "-" if micros < 0 and q else ""
    return f"{sign}${whole:,}" + (f".{frac:0{digits}d}" if digits else "")


# --- time ----------------------------------------------------------------------------------


def utc_day(now: float) -> str:
    """The UTC calendar day of epoch seconds ``now``, as ``YYYY-MM-DD`` (the dedup window)."""
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")


def next_utc_midnight(now: float) -> float:
    """Epoch seconds of the first midnight UTC strictly after ``now`` (when dedup resets)."""
    day = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (day + timedelta(days=1)).timestamp()


# --- the price table -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Prices:
    """Unit prices in micro-dollars (§6.1, pay-per-use, 2026-08 snapshot).

    Attributes:
        post: Posts: Read, per resource ($0.005).
        user: User: Read, per resource ($0.010).
        follow: Following/Followers: Read, per resource ($0.010).
        list: List: Read, per resource ($0.005).
        owned_read: Owned Reads, per resource ($0.001), for ``data`` items of an owned request.
        counts_recent: Counts: Recent, per request ($0.005).
        counts_all: Counts: All, per request ($0.010).
        bill_includes: whether expanded ``includes`` objects are billed like ``data``. X does not
            document it; one observation (§6.1 [obs], "50 search results with 47 unique cost
            $0.23") suggests they are not, and §9 lists it as a main uncertainty. True errs on
            the safe side: worst cases and charges may overstate spend, never understate it.
        max_mentions: the most users one post's mention expansions can add (see
            :data:`INCLUDES_PER_ITEM`); X documents no bound.

    Override from config with :meth:`from_config` (USD floats), never by editing this table.
    """

    post: int = 5_000
    user: int = 10_000
    follow: int = 10_000
    list: int = 5_000
    owned_read: int = 1_000
    counts_recent: int = 5_000
    counts_all: int = 10_000
    bill_includes: bool = True
    max_mentions: int = 50

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "bill_includes" and (not isinstance(value, int) or value < 0):
                raise ValueError(f"price {f.name} must be a non-negative int, got {value!r}")

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Prices:
        """Build from a config table: prices in USD (``post = 0.005``), ``bill_includes`` a bool,
        ``max_mentions`` an int. Unknown keys raise ValueError naming the key."""
        known = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise ValueError(f"unknown price {key!r}; known: {', '.join(sorted(known))}")
            if key == "bill_includes":
                if not isinstance(value, bool):
                    raise ValueError(f"bill_includes must be true or false, got {value!r}")
                kw[key] = value
            elif key == "max_mentions":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"max_mentions must be an integer, got {value!r}")
                kw[key] = value
            else:
                kw[key] = usd_to_micros(value)
        return cls(**kw)

    def unit_request(self, route: str) -> int:
        """Price of one request of a per-request route (counts); 0 for any other route."""
        name = PER_REQUEST.get(route)
        return int(getattr(self, name)) if name is not None else 0

    def unit(self, kind: Resource, *, owned: bool = False) -> int:
        """Price of one resource of ``kind``; ``owned`` selects the owned-read price."""
        if owned:
            return self.owned_read
        match kind:
            case Resource.POST:
                return self.post
            case Resource.USER:
                return self.user
            case Resource.FOLLOW:
                return self.follow
            case Resource.LIST:
                return self.list
        raise ValueError(f"no price for resource kind {kind!r}")  # pragma: no cover


DEFAULT_PRICES = Prices()

# Routes billed per request, not per resource (§6.1 per-request items): the ``counts`` kind.
PER_REQUEST: dict[str, str] = {
    "/2/tweets/counts/recent": "counts_recent",
    "/2/tweets/counts/all": "counts_all",
}

# Routes that return no billable resource. ``/2/usage/tweets`` answers with the project's usage
# figures (§4), which the pricing page lists nowhere.
FREE_ROUTES: frozenset[str] = frozenset({"/2/usage/tweets"})

MAX_REFERENCED = 2  # a post replies to one post and quotes one (a retweet references one only)
MAX_MEDIA = 4  # a post carries at most 4 media, each with at most one source post
MAX_EDIT_VERSIONS = 6  # an original plus up to 5 edits

# The most billable ``includes`` objects each ``data`` item can add, per expansion (§1 "Fields
# and expansions"). Users may appear once per page in ``includes`` (§2.1), so a page never holds
# more than the sum of these bounds times its item count; that sum is the bound we reserve.
# Expansions absent here add only media, places, polls or topics, which the price table does not
# price (x-api-pay-per-use-pricing.txt lists "Media: Read" only for media endpoints; places and
# polls have no row), so they are ignored. ``0`` stands for ``Prices.max_mentions``.
INCLUDES_PER_ITEM: dict[str, tuple[Resource, int]] = {
    # tweet expansions
    "author_id": (Resource.USER, 1),
    "in_reply_to_user_id": (Resource.USER, 1),
    "referenced_tweets.id.author_id": (Resource.USER, MAX_REFERENCED),
    "entities.mentions.username": (Resource.USER, 0),
    "entities.note.mentions.username": (Resource.USER, 0),
    "referenced_tweets.id": (Resource.POST, MAX_REFERENCED),
    "attachments.media_source_tweet": (Resource.POST, MAX_MEDIA),
    "edit_history_tweet_ids": (Resource.POST, MAX_EDIT_VERSIONS),
    # user expansions (user lookups, followers, following)
    "pinned_tweet_id": (Resource.POST, 1),
    "most_recent_tweet_id": (Resource.POST, 1),
    "affiliation.user_id": (Resource.USER, 1),
    # list expansion (owned, followed, pinned lists and memberships)
    "owner_id": (Resource.USER, 1),
    # the same under OpenAPI 2.167's names (core.renames), so either spelling reserves alike
    "referenced_posts": (Resource.POST, MAX_REFERENCED),
    "edit_history_post_ids": (Resource.POST, MAX_EDIT_VERSIONS),
    "pinned_post_id": (Resource.POST, 1),
    "most_recent_post_id": (Resource.POST, 1),
    "affiliation": (Resource.USER, 1),
    # 2.167's post expansion ``username`` is undocumented: reserve it like mentioned users
    "username": (Resource.USER, 0),
}

# ``includes`` sections that are billed, and as what. ``media``, ``places``, ``polls`` and
# ``topics`` are not priced reads in the reference and are skipped.
_BILLED_INCLUDES: dict[str, Resource] = {"users": Resource.USER, "tweets": Resource.POST}


# --- what a response returned --------------------------------------------------------------


def _items(value: object) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def _billable(route: str, body: Mapping[str, Any], *, bill_includes: bool) -> list[tuple[Key, bool]]:
    """Each billable object with whether it came from ``data`` (owned pricing applies there)."""
    if route in FREE_ROUTES or route in PER_REQUEST:
        return []
    kind = endpoint(route).resource
    data = _items(body.get("data"))
    if not data:  # errors-only and empty bodies are not billed, includes or not
        return []
    out: list[tuple[Key, bool]] = [((kind, str(item.get("id", ""))), True) for item in data]
    if bill_includes:
        includes = body.get("includes")
        if isinstance(includes, Mapping):
            for section, inc_kind in _BILLED_INCLUDES.items():
                out += [((inc_kind, str(i.get("id", ""))), False) for i in _items(includes.get(section))]
    return out


def resources_of(route: str, body: Mapping[str, Any], *, bill_includes: bool = True) -> list[Key]:
    """The billable objects in a 200 response body, in order, duplicates kept.

    ``data`` items are billed by the route's resource class; with ``bill_includes``,
    ``includes.users`` as users and ``includes.tweets`` as posts. An object without an ``id``
    gets the key ``(kind, "")``: it is billed but never deduplicated.
    """
    return [key for key, _ in _billable(route, body, bill_includes=bill_includes)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge:
    """What one response cost.

    Attributes:
        route: the route template.
        day: the UTC day the charge falls in (its dedup window), ``YYYY-MM-DD``.
        micros: total cost.
        charged: objects billed, by kind.
        deduplicated: objects returned but free (already charged this day, or twice on the page).
        by_kind: micro-dollars by kind (per-request routes count under ``"request"``).
        keys: the keys newly charged, for the day's seen set; id-less objects are not listed.
        owned: whether the owned-read price applied to ``data`` items.
    """

    route: str
    day: str
    micros: int
    charged: Mapping[str, int] = field(default_factory=dict)
    deduplicated: Mapping[str, int] = field(default_factory=dict)
    by_kind: Mapping[str, int] = field(default_factory=dict)
    keys: tuple[Key, ...] = ()
    owned: bool = False

    @property
    def items(self) -> int:
        """Objects billed."""
        return sum(self.charged.values())


def charge(
    route: str,
    body: Mapping[str, Any],
    *,
    now: float,
    owned: bool = False,
    seen: Container[Key] = frozenset(),
    prices: Prices = DEFAULT_PRICES,
    status: int = 200,
) -> Charge:
    """Price a response: each billable object not in ``seen`` (today's charged keys), once.

    ``owned`` is the shell's knowledge that ``:id`` is the app owner's user; it only matters on
    an ``owned_eligible`` route and only for ``data`` items. ``status`` other than 200 is free.
    """
    day = utc_day(now)
    if status != 200 or not _items(body.get("data")):
        return Charge(route=route, day=day, micros=0)
    if route in PER_REQUEST:
        price: int = getattr(prices, PER_REQUEST[route])
        return Charge(route=route, day=day, micros=price, charged={"request": 1}, by_kind={"request": price})
    owned_here = owned and endpoint(route).owned_eligible
    new: set[Key] = set()
    keys: list[Key] = []
    charged: Counter[str] = Counter()
    dedup: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    for key, from_data in _billable(route, body, bill_includes=prices.bill_includes):
        kind, ident = key
        if ident and (key in new or key in seen):
            dedup[kind] += 1
            continue
        if ident:
            new.add(key)
            keys.append(key)
        charged[kind] += 1
        by_kind[kind] += prices.unit(kind, owned=owned_here and from_data)
    return Charge(
        route=route,
        day=day,
        micros=sum(by_kind.values()),
        charged=dict(charged),
        deduplicated=dict(dedup),
        by_kind=dict(by_kind),
        keys=tuple(keys),
        owned=owned_here,
    )


# --- what a request may cost ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """The worst-case cost of one request, and how it scales with the page size.

    ``micros = per_request + size * per_item``. ``size`` is ``max_results`` for a paginated
    route and the number of ids for a lookup; ``min_size`` is the smallest size the request may
    shrink to (the endpoint's ``min_results``; a lookup's own size, since its ids are a planned
    chunk, unless the caller says otherwise).
    """

    route: str
    size: int
    min_size: int
    per_item: int
    per_request: int = 0

    @property
    def micros(self) -> int:
        return self.per_request + self.size * self.per_item

    def at(self, size: int) -> Quote:
        """The same request with ``size`` items (not checked against ``min_size``)."""
        return replace(self, size=size)

    def largest_within(self, micros: int) -> int | None:
        """The largest size in ``[min_size, size]`` whose worst case is at most ``micros``."""
        if micros < self.per_request + self.min_size * self.per_item:
            return None
        if self.per_item == 0:
            return self.size
        return min(self.size, (micros - self.per_request) // self.per_item)


def includes_per_item(expansions: Iterable[str], prices: Prices = DEFAULT_PRICES) -> int:
    """Micro-dollars of ``includes`` each ``data`` item can add at most (0 unless billed)."""
    if not prices.bill_includes:
        return 0
    total = 0
    for name in set(expansions):
        if name in INCLUDES_PER_ITEM:
            kind, n = INCLUDES_PER_ITEM[name]
            total += (n or prices.max_mentions) * prices.unit(kind)
    return total


def _size_bounds(ep: Endpoint) -> tuple[int, int]:
    if ep.max_results is not None:
        return ep.min_results or 1, ep.max_results
    return 1, ep.max_ids or 1


def quote(
    route: str,
    size: int | None = None,
    *,
    expansions: Iterable[str] = (),
    owned: bool = False,
    prices: Prices = DEFAULT_PRICES,
    min_size: int | None = None,
) -> Quote:
    """The worst case of one request on ``route``.

    ``size`` is ``max_results`` (default: the endpoint's maximum) or the number of lookup ids
    (default: ``max_ids``). ``owned`` applies the owned-read price to ``data`` items where the
    route allows it; included objects are always priced at their full unit price.
    """
    if route in PER_REQUEST:
        price: int = getattr(prices, PER_REQUEST[route])
        return Quote(
            route=route, size=size or 1, min_size=min_size or size or 1, per_item=0, per_request=price
        )
    if route in FREE_ROUTES:
        return Quote(route=route, size=size or 1, min_size=min_size or size or 1, per_item=0)
    ep = endpoint(route)
    lo, hi = _size_bounds(ep)
    n = hi if size is None else size
    if n < 1:
        raise ValueError(f"{route}: size must be at least 1, got {n}")
    unit = prices.unit(ep.resource, owned=owned and ep.owned_eligible)
    floor = min_size if min_size is not None else (lo if ep.max_results is not None else n)
    return Quote(
        route=route,
        size=n,
        min_size=min(max(floor, 1), n),
        per_item=unit + includes_per_item(expansions, prices),
    )


def worst_case(
    route: str,
    max_results: int | None,
    expansions: Iterable[str] = (),
    prices: Prices = DEFAULT_PRICES,
    owned: bool = False,
) -> int:
    """The most one request can cost, in micro-dollars (see :func:`quote`).

    With ``bill_includes``, each item adds its expansions' bound from :data:`INCLUDES_PER_ITEM`,
    e.g. ``author_id`` on a 100-post search adds up to 100 users: $0.50 + $1.00 = $1.50.
    """
    return quote(route, max_results, expansions=expansions, owned=owned, prices=prices).micros


def shrink_to_fit(
    route: str,
    remaining_micros: int,
    *,
    min_results: int | None = None,
    max_results: int | None = None,
    expansions: Iterable[str] = (),
    prices: Prices = DEFAULT_PRICES,
    owned: bool = False,
) -> int | None:
    """The largest ``max_results`` whose worst case fits in ``remaining_micros``.

    Bounds default to the endpoint's (a lookup's to 1..``max_ids``). Never returns less than
    the minimum: None when even a minimum-size request does not fit.
    """
    ep_lo, ep_hi = (1, 1) if route in PER_REQUEST or route in FREE_ROUTES else _size_bounds(endpoint(route))
    lo = ep_lo if min_results is None else min_results
    hi = ep_hi if max_results is None else max_results
    if hi < lo:
        raise ValueError(f"{route}: max_results {hi} is below the minimum {lo}")
    q = quote(route, hi, expansions=expansions, owned=owned, prices=prices, min_size=lo)
    return q.largest_within(remaining_micros)


__all__ = [
    "DEFAULT_PRICES",
    "FREE_ROUTES",
    "INCLUDES_PER_ITEM",
    "MICROS_PER_USD",
    "PER_REQUEST",
    "Charge",
    "Key",
    "Prices",
    "Quote",
    "ResourceKind",
    "charge",
    "format_usd",
    "includes_per_item",
    "micros_to_usd",
    "next_utc_midnight",
    "quote",
    "resources_of",
    "shrink_to_fit",
    "usd_to_micros",
    "utc_day",
    "worst_case",
]
