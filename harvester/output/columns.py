"""The export's columns: one fixed, ordered list per row kind, each column documented.

Why one module: the columns are a promise to researchers (scripts and notebooks select them by
name), so the README's table, the CSV header, the Parquet schema and ``--fields`` all come from
the tuples below and cannot drift apart. Add a column at the end of a list; never rename or
reorder one.

Types are the export's own, not Python's: ``string`` (X's ids stay strings: they pass 2**53
and a float would round them), ``int``, ``bool`` and ``timestamp`` (UTC, millisecond precision;
ISO-8601 ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in CSV and JSONL, a ``timestamp[ms, UTC]`` in Parquet).
A value the page does not hold is empty in CSV and null elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from harvester.errors import UserError

RowKind = Literal["post", "user", "list", "count"]
ColumnType = Literal["string", "int", "bool", "timestamp"]

SEPARATOR = " "
"""Joins list values (hashtags, mentions, urls, media URLs): none of them can hold a space."""


@dataclass(frozen=True, slots=True)
class Column:
    """One export column: its name, its type and one line saying where the value comes from."""

    name: str
    type: ColumnType
    doc: str


_PROVENANCE = (
    Column("relation", "string", "how the row was reached, from `__harvester.path` `/2/<things>/<id>/<relation>`: "
           "`followers`, `following`, `tweets`, `mentions`, `liking_users`, `members`, `owned_lists`, "
           "`list_memberships`, …; empty for searches and lookups"),
    Column("relation_of", "string", "the `<id>` of that path: the user whose followers/following/posts/mentions/"
           "lists these are, the post whose liking users, the list whose members"),
    Column("job", "string", "the harvester job (`__harvester.job`, else the job exported)"),
    Column("retrieved_at", "timestamp", "when harvester received the page (`__harvester.retrieved_at`, else "
           "`__twarc.retrieved_at`)"),
    Column("from_cache", "bool", "true when harvester answered the object from its same-day cache "
           "(`__harvester.from_cache`)"),
)

POST_COLUMNS: tuple[Column, ...] = (
    Column("id", "string", "the post's id"),
    Column("created_at", "timestamp", "when the post was created"),
    Column("author_id", "string", "the author's user id"),
    Column("author_username", "string", "the author's username, from the page's `includes.users`"),
    Column("author_name", "string", "the author's display name, from the page's `includes.users`"),
    Column("text", "string", "the full text (`note_tweet.text` for a long post, else `text`)"),
    Column("lang", "string", "the language X detected"),
    Column("conversation_id", "string", "the id of the conversation's first post"),
    Column("in_reply_to_user_id", "string", "the user replied to"),
    Column("replied_to_id", "string", "the post replied to (`referenced_tweets`/`referenced_posts` type "
           "`replied_to`)"),
    Column("quoted_id", "string", "the post quoted (type `quoted`)"),
    Column("retweeted_id", "string", "the post reposted (type `retweeted`)"),
    Column("like_count", "int", "`public_metrics.like_count`"),
    Column("retweet_count", "int", "`public_metrics.retweet_count`"),
    Column("reply_count", "int", "`public_metrics.reply_count`"),
    Column("quote_count", "int", "`public_metrics.quote_count`"),
    Column("impression_count", "int", "`public_metrics.impression_count`"),
    Column("bookmark_count", "int", "`public_metrics.bookmark_count`"),
    Column("hashtags", "string", "`entities.hashtags` tags, space-separated, without `#`"),
    Column("mentions", "string", "`entities.mentions` usernames, space-separated, without `@`"),
    Column("urls", "string", "`entities.urls` expanded URLs, space-separated"),
    Column("media_urls", "string", "`attachments.media_keys` looked up in `includes.media`: `url`, else "
           "`preview_image_url`, space-separated"),
    *_PROVENANCE,
)

USER_COLUMNS: tuple[Column, ...] = (
    Column("id", "string", "the user's id"),
    Column("username", "string", "the username (handle, without `@`)"),
    Column("name", "string", "the display name"),
    Column("created_at", "timestamp", "when the account was created"),
    Column("description", "string", "the profile's bio"),
    Column("location", "string", "the profile's free-text location"),
    Column("url", "string", "the profile's URL"),
    Column("profile_image_url", "string", "the avatar's URL"),
    Column("verified", "bool", "`verified`"),
    Column("verified_type", "string", "`verified_type` (`blue`, `business`, `government`, `none`)"),
    Column("protected", "bool", "whether the account's posts are protected"),
    Column("followers_count", "int", "`public_metrics.followers_count`"),
    Column("following_count", "int", "`public_metrics.following_count`"),
    Column("tweet_count", "int", "`public_metrics.tweet_count`"),
    Column("listed_count", "int", "`public_metrics.listed_count`"),
    Column("like_count", "int", "`public_metrics.like_count`"),
    Column("media_count", "int", "`public_metrics.media_count`"),
    *_PROVENANCE,
)

LIST_COLUMNS: tuple[Column, ...] = (
    Column("id", "string", "the list's id"),
    Column("name", "string", "the list's name"),
    Column("description", "string", "the list's description"),
    Column("created_at", "timestamp", "when the list was created"),
    Column("follower_count", "int", "`follower_count`: users following the list"),
    Column("member_count", "int", "`member_count`: users on the list"),
    Column("owner_id", "string", "the owner's user id"),
    Column("private", "bool", "whether the list is private"),
    *_PROVENANCE,
)

COUNT_COLUMNS: tuple[Column, ...] = (
    Column("job", "string", "the harvester job (`__harvester.job`, else the job exported)"),
    Column("query", "string", "the search query counted: the `query` parameter of the page's request "
           "(`__twarc.url`); empty when the page does not record it"),
    Column("start", "timestamp", "the bucket's start (inclusive)"),
    Column("end", "timestamp", "the bucket's end (exclusive)"),
    Column("tweet_count", "int", "posts matching the query in the bucket"),
    Column("granularity", "string", "`minute`, `hour` or `day`: the request's `granularity` parameter, X's "
           "default `hour` when the request was recorded without one; empty when the page does not record it"),
    Column("retrieved_at", "timestamp", "when harvester received the page (`__harvester.retrieved_at`, else "
           "`__twarc.retrieved_at`)"),
)

COLUMNS: Mapping[RowKind, tuple[Column, ...]] = {
    "post": POST_COLUMNS, "user": USER_COLUMNS, "list": LIST_COLUMNS, "count": COUNT_COLUMNS,
}  # fmt: skip

KIND_ROWS: Mapping[str, RowKind] = {
    "search": "post", "timeline": "post", "mentions": "post", "lookup_tweets": "post",
    "liked_tweets": "post", "quote_tweets": "post", "list_tweets": "post", "bookmarks": "post",
    "conversation": "post",
    "followers": "user", "following": "user", "lookup_users": "user", "liking_users": "user",
    "retweeted_by": "user", "list_members": "user", "list_followers": "user", "blocking": "user",
    "muting": "user",
    "owned_lists": "list", "followed_lists": "list", "list_memberships": "list", "pinned_lists": "list",
    "counts": "count",
}  # fmt: skip
"""A job kind's rows: only a hint for a job whose output holds no object yet (objects decide)."""


def names(kind: RowKind) -> tuple[str, ...]:
    return tuple(c.name for c in COLUMNS[kind])


def select(kind: RowKind, fields: tuple[str, ...] | None) -> tuple[Column, ...]:
    """The columns ``--fields`` names, in its order (all of them for None).

    Raises:
        UserError: a name that is not a column of ``kind`` rows, listing the valid ones.
    """
    columns = COLUMNS[kind]
    if fields is None:
        return columns
    by_name = {c.name: c for c in columns}
    unknown = [f for f in fields if f not in by_name]
    if unknown:
        raise UserError(f"--fields: unknown column {unknown[0]!r} for {kind} rows; "
                        f"valid: {','.join(by_name)}")  # fmt: skip
    seen: dict[str, None] = dict.fromkeys(fields)  # a name given twice is one column
    return tuple(by_name[f] for f in seen)


def readme_table(kind: RowKind) -> str:
    """The Markdown table of ``kind``'s columns (the README's copy is checked against it)."""
    lines = ["| column | type | value |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.type} | {c.doc} |" for c in COLUMNS[kind]]
    return "\n".join(lines)
