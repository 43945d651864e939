"""Golden pages: the sandbox's answers for seed 7 are pinned byte for byte.

The digests were first taken before the world and paging got their indexes and caches, so any
optimisation that changes an id, a page boundary, a token or a field shows up here. Requests go
straight to :class:`Api` (no HTTP): the bodies are what the server would serialise.

Regenerated once, deliberately, when the world gained retweets, replies, quotes, links and media
for the search operators: every post kept its id, author, time and language (those come from the
hour's first RNG, untouched), but retweets and replies got their X-style text (``RT @a: …``,
``@a …``), links and media a ``t.co`` link, and ``entities`` their ``urls``, so most digests
changed. Four scenarios pin the new objects and the 2.167 names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from harvester.sandbox import SandboxConfig
from harvester.sandbox import tables as T
from harvester.sandbox.billing import Ledger
from harvester.sandbox.handlers import Api
from harvester.sandbox.world import World

EPOCH = 1_795_132_800.0  # 2026-11-20T00:00:00Z
LATER = EPOCH + 20 * 86400 + 1234.5  # three weeks on: the world has grown past its history
DAY = 86400


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _harvest(api: Api, route: str, path: Mapping[str, str], q: Mapping[str, str], now: float,
             token: str = "next_token", pages: int = 1000, follow: str = "next_token") -> list[dict[str, Any]]:  # fmt: skip
    bodies: list[dict[str, Any]] = []
    tok: str | None = None
    for _ in range(pages):
        qq = dict(q)
        if tok:
            qq[token] = tok
        body = api.dispatch(route, path, qq, now).body
        bodies.append(body)
        tok = body.get("meta", {}).get(follow)
        if not tok:
            break
    return bodies


def _ids(bodies: list[dict[str, Any]]) -> list[str]:
    return [d["id"] for b in bodies for d in b.get("data", [])]


def _digest(bodies: list[dict[str, Any]]) -> str:
    return hashlib.sha1(json.dumps(bodies, sort_keys=True).encode()).hexdigest()[:16]


def _scenarios() -> dict[str, list[dict[str, Any]]]:
    cfg = SandboxConfig(seed=7, epoch=EPOCH)
    api = Api(World(cfg), Ledger(cfg))
    fields = {"tweet.fields": "author_id,created_at,lang,entities,public_metrics", "expansions": "author_id"}
    out: dict[str, list[dict[str, Any]]] = {}
    common = {"query": "gybudu", "max_results": "100", "start_time": _iso(EPOCH - 3 * DAY), **fields}
    out["search_common_3d"] = _harvest(api, T.SEARCH_RECENT, {}, common, EPOCH, pages=10)
    out["search_rare_7d"] = _harvest(
        api, T.SEARCH_RECENT, {}, {"query": "qiqipa", "max_results": "10"}, EPOCH
    )
    for i, q in enumerate(("(qiqipa OR miqi) -from:Lodupa526", '"gybudu miqi"', "lang:ja taduri",
                           "@Neritadu595", "from:Febuha557 OR from:Kagy_383", "duha (pa OR zo) -love")):  # fmt: skip
        out[f"search_all_{i}"] = _harvest(
            api, T.SEARCH_ALL, {},
            {"query": q, "max_results": "500", "start_time": _iso(EPOCH - 6 * DAY),
             "end_time": _iso(EPOCH - 2 * DAY - 17)}, EPOCH, token="pagination_token")  # fmt: skip
    since = _ids(out["search_common_3d"])[150]
    out["search_since"] = _harvest(api, T.SEARCH_RECENT, {}, {"query": "gybudu", "since_id": since}, EPOCH)
    out["search_until"] = _harvest(
        api, T.SEARCH_RECENT, {}, {"query": "miqi", "until_id": since}, EPOCH, pages=5
    )
    for uid in ("774592", "7488461", "5647859"):
        out[f"timeline_{uid}"] = _harvest(api, T.USER_TWEETS, {"id": uid}, {"max_results": "100"}, EPOCH,
                                          token="pagination_token")  # fmt: skip
        out[f"timeline_{uid}_later"] = _harvest(api, T.USER_TWEETS, {"id": uid},
                                                {"max_results": "100", "exclude": "replies"}, LATER,
                                                token="pagination_token")  # fmt: skip
    tl = out["timeline_774592"]
    prev = tl[3]["meta"]["previous_token"]
    out["timeline_prev"] = _harvest(api, T.USER_TWEETS, {"id": "774592"},
                                    {"max_results": "100", "pagination_token": prev}, EPOCH,
                                    token="pagination_token", follow="previous_token")  # fmt: skip
    out["timeline_window"] = _harvest(api, T.USER_TWEETS, {"id": "774592"},
                                      {"max_results": "50", "start_time": _iso(EPOCH - 2 * DAY),
                                       "end_time": _iso(EPOCH - DAY)}, EPOCH, token="pagination_token")  # fmt: skip
    popular = api.world.by_username["neritadu595"].id
    out["mentions"] = _harvest(api, T.USER_MENTIONS, {"id": popular}, {"max_results": "100"}, EPOCH,
                               token="pagination_token")  # fmt: skip
    out["mentions_later"] = _harvest(api, T.USER_MENTIONS, {"id": popular}, {"max_results": "100"}, LATER,
                                     token="pagination_token")  # fmt: skip
    out["search_later"] = _harvest(api, T.SEARCH_RECENT, {}, {"query": "qiqipa OR kabumi", "max_results": "100"},
                                   LATER)  # fmt: skip
    ids = (
        _ids(out["search_rare_7d"])[:3]
        + _ids(out["timeline_774592"])[-2:]
        + ["1", str(int(LATER * 1000) << 22)]
    )
    out["lookup"] = [api.dispatch(T.TWEETS, {}, {"ids": ",".join(ids), **fields}, EPOCH).body]
    rich = {"tweet.fields": "author_id,referenced_tweets,in_reply_to_user_id,conversation_id,attachments,entities",
            "expansions": "referenced_tweets.id,attachments.media_keys,in_reply_to_user_id",
            "media.fields": "url,duration_ms,preview_image_url", "max_results": "100"}  # fmt: skip
    out["search_operators"] = _harvest(
        api, T.SEARCH_RECENT, {}, {"query": "(pafe OR miqi) (is:reply OR is:quote OR has:media) -lang:en", **rich},
        EPOCH)  # fmt: skip
    out["search_retweets_urls"] = _harvest(
        api, T.SEARCH_RECENT, {}, {"query": 'url:"github.com" OR (taduri is:retweet)', **rich}, EPOCH, pages=3
    )
    cfg167 = SandboxConfig(seed=7, epoch=EPOCH, api_version="2.167")
    api167 = Api(World(cfg167), Ledger(cfg167))
    out["search_2167_names"] = _harvest(
        api167, T.SEARCH_RECENT, {}, {"query": "qiqipa has:links", "post.fields": "created_at,conversation_id",
                                      "expansions": "referenced_posts,author_id"}, EPOCH)  # fmt: skip
    return out


GOLDEN = {
    "search_common_3d": "b5fc6d22024a1b84",
    "search_rare_7d": "5b0976253f21c52e",
    "search_all_0": "eb41120245f0e4e9",
    "search_all_1": "8f574c88f49374ff",
    "search_all_2": "dea63fb421f7f9a6",
    "search_all_3": "244b39a703cb7dce",
    "search_all_4": "4270102fe0890d00",
    "search_all_5": "7159b2f52bd0d555",
    "search_since": "8a70cfc600b4dde8",
    "search_until": "6454a38153bf6110",
    "timeline_774592": "18e2086dab65878d",
    "timeline_774592_later": "7b7458b931d7ec50",
    "timeline_7488461": "4b4a6e6c709dfffe",
    "timeline_7488461_later": "4b4a6e6c709dfffe",
    "timeline_5647859": "1b9ea9bf50413750",
    "timeline_5647859_later": "906a8d165e7c2fb4",
    "timeline_prev": "6da92450630ce094",
    "timeline_window": "b8d8dfffdc52f5f7",
    "mentions": "28befc0d7d55ba66",
    "mentions_later": "7ddcadd516fcab35",
    "search_later": "3fc28c712796ce19",
    "lookup": "5a841f39a61918d2",
    "search_operators": "86f81679ea727204",
    "search_retweets_urls": "f0df5557dabd5488",
    "search_2167_names": "c955efecffb4b7fc",
}
FIRST_IDS: dict[str, list[str]] = {
    "search_common_3d": ["2123566584952783077", "2123566561917665531", "2123566256400367867"],
    "search_rare_7d": ["2123260443802730717", "2123186401997488354", "2123158992308928611"],
    "timeline_774592": ["2123565838056292352", "2123561967997157376", "2123561199755853824"],
    "mentions": ["2123524668039102464", "2123524360093303009", "2123523434976641052"],
    "search_all_0": ["2122840897325367547", "2122840670853923041", "2122840245949956347"],
}


def test_pages_are_pinned() -> None:
    got = _scenarios()
    assert {k: _digest(v) for k, v in got.items()} == GOLDEN
    assert {k: _ids(got[k])[:3] for k in FIRST_IDS} == FIRST_IDS
    assert len(_ids(got["search_common_3d"])) == 1000 and len(got["timeline_774592"]) > 20
