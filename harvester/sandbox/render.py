"""JSON shapes of posts, users and per-item errors, with sparse fields as on X.

Only requested fields appear (plus the defaults ``id``, ``text``, ``edit_history_tweet_ids`` /
``id``, ``name``, ``username``); a requested field the world has no value for is left out,
which is what X does for ``entities`` and friends. Objects look the same whichever API version
validated the request (2.167 cannot ask for ``referenced_tweets``; what it can ask for renders
as it does under 2.166).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from harvester.sandbox.params import PROBLEM
from harvester.sandbox.world import Tweet, User, World

Json = dict[str, Any]


def iso_ms(ms: int) -> str:
    """Epoch ms as X's ``created_at``: ``2021-01-06T18:40:40.000Z``."""
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _mix(x: int) -> int:
    x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 29)


def tweet_json(world: World, t: Tweet, tf: frozenset[str]) -> Json:
    sid = str(t.id)
    out: Json = {"id": sid, "text": t.text, "edit_history_tweet_ids": [sid]}
    if "author_id" in tf:
        out["author_id"] = world.users[t.author].id
    if "created_at" in tf:
        out["created_at"] = iso_ms(t.created_ms)
    if "conversation_id" in tf:
        out["conversation_id"] = str(t.conversation or t.id)
    if "referenced_tweets" in tf and t.kind:
        out["referenced_tweets"] = [{"type": t.kind, "id": str(t.ref)}]
    if "in_reply_to_user_id" in tf and t.reply_to >= 0:
        out["in_reply_to_user_id"] = world.users[t.reply_to].id
    if "attachments" in tf and t.media:
        out["attachments"] = {"media_keys": [t.media_key]}
    if "lang" in tf:
        out["lang"] = t.lang
    if "possibly_sensitive" in tf:
        out["possibly_sensitive"] = False
    if "reply_settings" in tf:
        out["reply_settings"] = "everyone"
    if "public_metrics" in tf:
        h, pop = _mix(t.id), world.users[t.author].popularity
        likes = int((h % 1000) / 1000 * pop * 20)
        out["public_metrics"] = {
            "retweet_count": likes // 7, "reply_count": likes // 11, "like_count": likes,
            "quote_count": likes // 29, "bookmark_count": likes // 13, "impression_count": likes * 40 + h % 97,
        }  # fmt: skip
    if "entities" in tf and (t.mentions or t.links):
        entities: Json = {}
        if t.mentions:
            entities["mentions"] = _mention_entities(world, t)
        if t.links:
            entities["urls"] = _url_entities(t)
        out["entities"] = entities
    return out


def _url_entities(t: Tweet) -> list[Json]:
    found = []
    for link in t.links:
        start = t.text.find(link.tco)
        item: Json = {"start": start, "end": start + len(link.tco), "url": link.tco, "expanded_url": link.expanded,
                      "display_url": link.expanded.split("://", 1)[1][:26]}  # fmt: skip
        if link.expanded.startswith("https://x.com/") and t.media:
            item["media_key"] = t.media_key
        found.append(item)
    return found


def _mention_entities(world: World, t: Tweet) -> list[Json]:
    found = []
    for m in t.mentions:
        u = world.users[m]
        start = t.text.find("@" + u.username)
        found.append({"start": start, "end": start + len(u.username) + 1, "username": u.username, "id": u.id})
    return found


def user_json(world: World, u: User, uf: frozenset[str]) -> Json:
    out: Json = {"id": u.id, "name": u.name, "username": u.username}
    if "created_at" in uf:
        out["created_at"] = iso_ms(int(u.created_at * 1000))
    if "description" in uf:
        out["description"] = u.description
    if "location" in uf and u.location:
        out["location"] = u.location
    if "protected" in uf:
        out["protected"] = False
    if "verified" in uf:
        out["verified"] = u.verified
    if "verified_type" in uf:
        out["verified_type"] = "blue" if u.verified else "none"
    if "profile_image_url" in uf:
        out["profile_image_url"] = f"https://pbs.twimg.com/profile_images/{u.id}/normal.jpg"
    if "url" in uf:
        out["url"] = ""
    if "public_metrics" in uf:
        days = max(1.0, (world.start_ms / 1000 - u.created_at) / 86400 + world.cfg.history_days)
        out["public_metrics"] = {
            "followers_count": len(world.followers[u.idx]), "following_count": len(world.following[u.idx]),
            "tweet_count": int(u.rate * days), "listed_count": int(u.popularity), "like_count": int(u.rate * 3),
        }  # fmt: skip
    return out


def media_json(t: Tweet, mf: frozenset[str]) -> Json:
    """The media attached to ``t`` (``includes.media``), with the requested media fields."""
    out: Json = {"media_key": t.media_key, "type": t.media}
    if "url" in mf and t.media == "photo":
        out["url"] = f"https://pbs.twimg.com/media/{t.id}.jpg"
    if "preview_image_url" in mf and t.media != "photo":
        out["preview_image_url"] = f"https://pbs.twimg.com/ext_tw_video_thumb/{t.id}/pu/img/preview.jpg"
    if "width" in mf:
        out["width"] = 1200
    if "height" in mf:
        out["height"] = 675
    if "duration_ms" in mf and t.media == "video":
        out["duration_ms"] = 1000 * (5 + _mix(t.id) % 120)
    return out


def tweet_includes(world: World, tweets: list[Tweet], ex: frozenset[str], uf: frozenset[str],
                   tf: frozenset[str] = frozenset(), mf: frozenset[str] = frozenset()) -> Json:  # fmt: skip
    """``includes`` for the expansions the sandbox models (users, referenced posts, media); each
    object once per page. The 2.167 names arrive here as the 2.166 ones (:func:`params.fields`)."""
    order: dict[int, None] = {}
    refs: dict[int, Tweet] = {}
    media: dict[str, Tweet] = {}
    for t in tweets:
        if "author_id" in ex:
            order[t.author] = None
        if "entities.mentions.username" in ex:
            for m in t.mentions:
                order[m] = None
        if "in_reply_to_user_id" in ex and t.reply_to >= 0:
            order[t.reply_to] = None
        ref = world.get_tweet(t.ref) if t.ref and ("referenced_tweets.id" in ex or
                                                    "referenced_tweets.id.author_id" in ex) else None  # fmt: skip
        if ref is not None:
            if "referenced_tweets.id" in ex:
                refs.setdefault(ref.id, ref)
            if "referenced_tweets.id.author_id" in ex:
                order[ref.author] = None
        if "attachments.media_keys" in ex and t.media:
            media.setdefault(t.media_key, t)
    out: Json = {}
    if order:
        out["users"] = [user_json(world, world.users[i], uf) for i in order]
    if refs:
        out["tweets"] = [tweet_json(world, r, tf) for r in refs.values()]
    if media:
        out["media"] = [media_json(t, mf) for t in media.values()]
    return out


def not_found(kind: str, param: str, value: str, plural: bool) -> Json:
    """Per-item resource-not-found error as in §2.2 (``ids``: "with ids: [x]")."""
    label = param if plural else param.rstrip("s")
    return {
        "value": value,
        "detail": f"Could not find {kind} with {label}: [{value}].",
        "title": "Not Found Error",
        "resource_type": kind,
        "parameter": param,
        "resource_id": value,
        "type": PROBLEM + "resource-not-found",
    }
