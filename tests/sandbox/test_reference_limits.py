"""The sandbox's own tables agree with the reference spec, re-read from disk at test time."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from harvester.sandbox import tables as T
from harvester.sandbox.openapi import VERSIONS, tables


def _spec() -> str:
    here = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
    ref = Path(os.environ.get("HARVESTER_REFERENCE_DIR", here))
    path = ref / "x-api-spec.md"
    if not path.exists():
        path = here / "x-api-spec.md"
    if not path.exists():
        pytest.skip(f"reference spec not found at {path}")
    return path.read_text()


def _section(text: str, title: str) -> str:
    start = text.index(title)
    nxt = text.find("\n### ", start + len(title))
    return text[start : nxt if nxt > 0 else None]


def _num(cell: str) -> int | None:
    m = re.search(r"(\d[\d,]*)(?!/s)", cell.replace("1/s and ", ""))
    return None if cell.strip() in ("—", "1/s") or m is None else int(m.group(1).replace(",", ""))


def _rate_table() -> dict[str, tuple[int | None, int | None]]:
    rows: dict[str, tuple[int | None, int | None]] = {}
    for line in _section(_spec(), "### 6.2").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("GET "):
            continue
        for path in re.split(r",\s*", cells[0][4:]):
            rows[path.strip()] = (_num(cells[1]), _num(cells[2]))
    return rows


ALIASES = {
    T.TWEET: "/2/tweets/:id",
    T.USERS: "/2/users",
    T.USER: "/2/users/:id",
    T.USERS_BY: "/2/users/by",
    T.USER_BY_USERNAME: "/2/users/by/username/:u",
    T.FOLLOWERS: "/2/users/:id/followers",
    T.FOLLOWING: "/following",
    T.COUNTS_ALL: "/counts/all",
    T.RETWEETED_BY: "/retweeted_by",
    T.QUOTE_TWEETS: "/quote_tweets",
}


@pytest.mark.parametrize("route", T.ROUTES)
def test_rate_limits_match_spec(route: str) -> None:
    table = _rate_table()
    key = ALIASES.get(route, route)
    if route in T.UNSOURCED_LIMITS:  # priors from X's older pages; the day the spec lists them, they must agree
        assert key not in table, f"{route} is in the reference now: use its figures"
        return
    assert key in table, (key, sorted(table))
    app, user = table[key]
    ours = T.RATE_LIMITS[route]
    if route in T.USER_ONLY:  # §7: the app's token cannot call it, whatever its §6.2 per-app figure
        assert ours[0] is None and ours[1] == user
        return
    assert ours[0] == app
    if route != T.SEARCH_ALL:  # "1/s" per user: no 15-minute user bucket
        assert ours[1] == user


def test_full_archive_one_per_second() -> None:
    assert re.search(r"GET /2/tweets/search/all \| 1/s and 300 \| 1/s", _spec())


def test_prices_match_spec() -> None:
    sec = _section(_spec(), "### 6.1")

    def price(label: str) -> int:
        m = re.search(re.escape(label) + r"\**\s*\$(\d+\.\d+)", sec)
        assert m, label
        return round(float(m.group(1)) * 1_000_000)

    assert price("Posts") == T.PRICE_POST
    assert price("User") == T.PRICE_USER
    assert price("Following/Followers") == T.PRICE_FOLLOW
    assert price("Owned Reads") == T.PRICE_OWNED
    owned = re.search(r"Applies to\s+`([^.]*)`\.", sec)
    assert owned
    for route in T.OWNED_READ_ROUTES:
        assert route.replace(":id", "{id}") in owned.group(1).replace("\n", " ") or \
            route.rsplit("/", 1)[1] in owned.group(1)


@pytest.mark.parametrize("version", VERSIONS)
def test_page_bounds_match_spec(version: str) -> None:
    """The bounds the sandbox reads from X's document agree with the spec's §1 table."""
    sec = _section(_spec(), "## 1. Endpoints")
    expect = {T.SEARCH_RECENT: "10–100, default 10", T.SEARCH_ALL: "10–500, default 10",
              T.USER_TWEETS: "5–100", T.FOLLOWERS: "1–1000"}  # fmt: skip
    api = tables(version)
    for route, phrase in expect.items():
        assert phrase in sec
        b = api.route(route).params["max_results"]
        assert f"{b.minimum}–{b.maximum}" in phrase
        if "default" in phrase:
            assert f"default {b.default}" in phrase
    assert T.DEFAULT_MAX_RESULTS[T.USER_TWEETS] == 10 and "(default 10 [D-TL])" in sec
    ids = api.route(T.TWEETS).params["ids"]
    assert "`ids` **1–100**" in sec and (ids.min_items, ids.max_items) == (1, 100)
    assert "**512 chars** PPU" in sec and T.QUERY_MAX_LEN[T.SEARCH_RECENT] == 512
    assert "1024-char query" in sec and T.QUERY_MAX_LEN[T.SEARCH_ALL] == 1024
