"""Pricing: charges per resource, dedup per UTC day, owned reads, includes, worst cases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from harvester.core.endpoints import Resource
from harvester.core.pricing import (
    DEFAULT_PRICES,
    Prices,
    charge,
    format_usd,
    micros_to_usd,
    next_utc_midnight,
    quote,
    resources_of,
    shrink_to_fit,
    usd_to_micros,
    utc_day,
    worst_case,
)

SEARCH = "/2/tweets/search/recent"
TIMELINE = "/2/users/:id/tweets"
FOLLOWERS = "/2/users/:id/followers"
USERS = "/2/users"
TWEETS = "/2/tweets"


def ts(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> float:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp()


NOON = ts(2026, 3, 1, 12, 0, 0)


def posts(*ids: int, authors: tuple[int, ...] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "data": [{"id": str(i), "text": "t"} for i in ids],
        "meta": {"result_count": len(ids)},
    }
    if authors:
        body["includes"] = {"users": [{"id": str(a)} for a in authors]}
    return body


# --- money ---


def test_usd_to_micros_is_exact() -> None:
    assert usd_to_micros(0.005) == 5_000
    assert usd_to_micros(0.001) == 1_000
    assert usd_to_micros("12.34") == 12_340_000
    assert usd_to_micros(Decimal("0.0000005")) == 0  # half-even
    assert usd_to_micros(3) == 3_000_000
    assert micros_to_usd(500_000) == 0.5


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc"])
def test_usd_to_micros_rejects_non_amounts(bad: Any) -> None:
    with pytest.raises(ValueError):
        usd_to_micros(bad)


def test_format_usd() -> None:
    assert format_usd(500_000) == "$0.50"
    assert format_usd(5_000) == "$0.005"
    assert format_usd(-1_250_000) == "-$1.25"
    assert format_usd(1_234_000_000) == "$1,234.00"


def test_prices_from_config() -> None:
    p = Prices.from_config({"post": 0.004, "bill_includes": False})
    assert p.post == 4_000 and p.user == 10_000 and not p.bill_includes
    with pytest.raises(ValueError, match="unknown price 'posts'"):
        Prices.from_config({"posts": 0.004})
    with pytest.raises(ValueError):
        Prices.from_config({"bill_includes": "yes"})


# --- days ---


def test_utc_day_and_midnight() -> None:
    assert utc_day(ts(2026, 12, 31, 23, 59, 59)) == "2026-12-31"
    assert utc_day(ts(2027, 1, 1, 0, 0, 0)) == "2027-01-01"
    assert next_utc_midnight(ts(2026, 12, 31, 23, 59, 59)) == ts(2027, 1, 1)
    assert next_utc_midnight(ts(2027, 1, 1)) == ts(2027, 1, 2)


# --- what is billed ---


def test_resources_of_tweet_route_with_includes() -> None:
    body = posts(1, 2, authors=(7,))
    body["includes"]["tweets"] = [{"id": "3"}]
    body["includes"]["media"] = [{"media_key": "3_1"}]  # not priced
    body["includes"]["places"] = [{"id": "p1"}]
    assert resources_of(SEARCH, body) == [
        (Resource.POST, "1"),
        (Resource.POST, "2"),
        (Resource.USER, "7"),
        (Resource.POST, "3"),
    ]
    assert resources_of(SEARCH, body, bill_includes=False) == [(Resource.POST, "1"), (Resource.POST, "2")]


def test_resources_of_by_route_class() -> None:
    users = {"data": [{"id": "5", "username": "a"}]}
    assert resources_of(USERS, users) == [(Resource.USER, "5")]
    assert resources_of(FOLLOWERS, users) == [(Resource.FOLLOW, "5")]  # a follower is a Follow read


@pytest.mark.parametrize(
    "body",
    [
        {"meta": {"result_count": 0}},
        {"errors": [{"resource_id": "1", "title": "Not Found Error"}]},
        {"errors": [{"resource_id": "1"}], "includes": {"users": [{"id": "7"}]}},
        {"data": []},
    ],
)
def test_empty_and_errors_only_bodies_cost_nothing(body: dict[str, Any]) -> None:
    assert resources_of(TWEETS, body) == []
    assert charge(TWEETS, body, now=NOON).micros == 0


def test_non_200_costs_nothing() -> None:
    assert charge(SEARCH, posts(1, 2), now=NOON, status=429).micros == 0


def test_partial_errors_bill_only_the_data() -> None:
    body = posts(20)
    body["errors"] = [{"resource_id": "1276230436478386177"}]
    c = charge(TWEETS, body, now=NOON)
    assert c.micros == 5_000 and c.charged == {"post": 1}


def test_a_100_post_page_costs_fifty_cents() -> None:
    c = charge(SEARCH, posts(*range(100)), now=NOON)
    assert c.micros == 500_000
    assert c.items == 100 and len(c.keys) == 100 and c.day == "2026-03-01"


def test_usage_endpoint_is_free() -> None:
    body = {"data": {"cap_reset_day": 18, "project_cap": "3000000", "project_usage": "0"}}
    assert charge("/2/usage/tweets", body, now=NOON).micros == 0
    assert worst_case("/2/usage/tweets", None) == 0


def test_counts_are_per_request() -> None:
    body = {"data": [{"start": "a", "end": "b", "tweet_count": 5}] * 7}
    assert charge("/2/tweets/counts/recent", body, now=NOON).micros == 5_000
    assert charge("/2/tweets/counts/all", body, now=NOON).micros == 10_000
    assert worst_case("/2/tweets/counts/all", None) == 10_000


# --- dedup ---


def test_dedup_within_a_page_and_a_day() -> None:
    first = charge(SEARCH, posts(1, 2, 2, 3), now=NOON)
    assert first.micros == 15_000 and first.deduplicated == {"post": 1}
    seen = set(first.keys)
    again = charge(SEARCH, posts(2, 3, 4), now=NOON + 3600, seen=seen)
    assert again.micros == 5_000
    assert again.charged == {"post": 1} and again.deduplicated == {"post": 2}
    assert again.keys == ((Resource.POST, "4"),)


def test_dedup_resets_at_midnight_utc() -> None:
    """23:59:59 charges; 00:00:00 is a new day, so the caller's seen set for it is empty."""
    before = ts(2026, 3, 1, 23, 59, 59)
    after = ts(2026, 3, 2, 0, 0, 0)
    days: dict[str, set[Any]] = {}
    c1 = charge(SEARCH, posts(1, 2), now=before, seen=days.setdefault(utc_day(before), set()))
    days[c1.day].update(c1.keys)
    c2 = charge(SEARCH, posts(1, 2), now=before + 0.5, seen=days.setdefault(utc_day(before + 0.5), set()))
    c3 = charge(SEARCH, posts(1, 2), now=after, seen=days.setdefault(utc_day(after), set()))
    assert (c1.micros, c2.micros, c3.micros) == (10_000, 0, 10_000)
    assert (c1.day, c3.day) == ("2026-03-01", "2026-03-02")


def test_dedup_key_includes_the_kind() -> None:
    """User 5 read as a user and as a follower are two reads (unknown whether X merges them)."""
    users = {"data": [{"id": "5"}]}
    c = charge(USERS, users, now=NOON)
    assert charge(FOLLOWERS, users, now=NOON, seen=set(c.keys)).micros == 10_000


def test_included_objects_dedup_against_data() -> None:
    body = posts(1, 2)
    body["includes"] = {"tweets": [{"id": "2"}, {"id": "9"}], "users": [{"id": "7"}]}
    c = charge(SEARCH, body, now=NOON)
    assert c.charged == {"post": 3, "user": 1} and c.deduplicated == {"post": 1}
    assert c.micros == 3 * 5_000 + 10_000
    assert c.by_kind == {"post": 15_000, "user": 10_000}


# --- owned reads and includes ---


def test_owned_read_price_applies_to_data_on_eligible_routes() -> None:
    body = posts(1, 2, 3, authors=(7,))
    owned = charge(TIMELINE, body, now=NOON, owned=True)
    assert owned.micros == 3 * 1_000 + 10_000  # includes stay at the user price
    assert owned.owned
    assert charge(TIMELINE, body, now=NOON).micros == 3 * 5_000 + 10_000
    # search is not owned-eligible: the flag changes nothing
    assert charge(SEARCH, body, now=NOON, owned=True).micros == 3 * 5_000 + 10_000
    followers = {"data": [{"id": "1"}, {"id": "2"}]}
    assert charge(FOLLOWERS, followers, now=NOON, owned=True).micros == 2_000
    assert charge(FOLLOWERS, followers, now=NOON).micros == 20_000


def test_includes_switch() -> None:
    body = posts(1, 2, authors=(7, 8))
    off = Prices(bill_includes=False)
    assert charge(SEARCH, body, now=NOON).micros == 2 * 5_000 + 2 * 10_000
    assert charge(SEARCH, body, now=NOON, prices=off).micros == 2 * 5_000
    assert worst_case(SEARCH, 100, ("author_id",)) == 100 * (5_000 + 10_000)
    assert worst_case(SEARCH, 100, ("author_id",), off) == 100 * 5_000


# --- worst case and shrink ---


def test_worst_case_table() -> None:
    assert worst_case(SEARCH, 100) == 500_000
    assert worst_case(SEARCH, None) == 500_000  # default: the endpoint's maximum
    assert worst_case("/2/tweets/search/all", None) == 2_500_000
    assert worst_case(FOLLOWERS, 1000) == 10_000_000
    assert worst_case(FOLLOWERS, 1000, owned=True) == 1_000_000
    assert worst_case(TIMELINE, 100, owned=True) == 100_000
    assert worst_case(SEARCH, 100, owned=True) == 500_000  # not owned-eligible
    assert worst_case(USERS, 37) == 370_000  # a lookup: ids x unit
    # media, places and polls add nothing; mentions add up to max_mentions users per post
    assert (
        worst_case(SEARCH, 10, ("attachments.media_keys", "geo.place_id", "attachments.poll_ids")) == 50_000
    )
    assert worst_case(SEARCH, 10, ("entities.mentions.username",)) == 10 * (5_000 + 50 * 10_000)
    mentions_5 = Prices(max_mentions=5)
    assert worst_case(SEARCH, 10, ("entities.mentions.username",), mentions_5) == 10 * (5_000 + 5 * 10_000)
    # user routes: a pinned post per user
    assert worst_case(USERS, 100, ("pinned_tweet_id",)) == 100 * (10_000 + 5_000)


def test_quote_shapes() -> None:
    q = quote(SEARCH, 100)
    assert (q.size, q.min_size, q.per_item, q.micros) == (100, 10, 5_000, 500_000)
    assert q.at(10).micros == 50_000
    lookup = quote(USERS, 40)
    assert lookup.min_size == 40  # a planned id chunk is not shrunk unless the caller allows it
    assert quote(USERS, 40, min_size=1).largest_within(100_000) == 10


def test_shrink_fits_exactly() -> None:
    assert shrink_to_fit(SEARCH, 500_000) == 100
    assert shrink_to_fit(SEARCH, 250_000) == 50
    assert shrink_to_fit(SEARCH, 10 * 5_000) == 10


def test_shrink_one_micro_short() -> None:
    assert shrink_to_fit(SEARCH, 250_000 - 1) == 49
    assert shrink_to_fit(SEARCH, 10 * 5_000 - 1) is None  # below the endpoint minimum of 10


def test_shrink_below_minimum_is_none() -> None:
    assert shrink_to_fit(TIMELINE, 4 * 5_000) is None  # min 5
    assert shrink_to_fit(TIMELINE, 5 * 5_000) == 5
    assert shrink_to_fit(FOLLOWERS, 9_999) is None  # min 1 at $0.01
    assert shrink_to_fit(FOLLOWERS, 9_999, owned=True) == 9


def test_shrink_honours_given_bounds_and_expansions() -> None:
    assert shrink_to_fit(SEARCH, 10_000_000, max_results=20) == 20
    assert shrink_to_fit(SEARCH, 150_000, expansions=("author_id",)) == 10
    assert shrink_to_fit(SEARCH, 150_000 - 1, expansions=("author_id",)) is None
    assert shrink_to_fit(USERS, 55_000) == 5
    with pytest.raises(ValueError):
        shrink_to_fit(SEARCH, 1, min_results=50, max_results=20)


def test_default_prices_match_the_reference() -> None:
    p = DEFAULT_PRICES
    assert (p.post, p.user, p.follow, p.owned_read, p.counts_recent, p.counts_all) == (
        usd_to_micros(0.005),
        usd_to_micros(0.010),
        usd_to_micros(0.010),
        usd_to_micros(0.001),
        usd_to_micros(0.005),
        usd_to_micros(0.010),
    )
    assert p.bill_includes
