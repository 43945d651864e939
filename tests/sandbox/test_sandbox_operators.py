"""Search operators: every harvest equals the truth, and every result means what its operator says.

The truth matches queries with the server's parser, so agreement alone would not catch a wrong
operator: each query's results are also checked against the objects the server renders
(``referenced_tweets``, ``entities``, ``attachments``, ``includes.users``…), and an operator and
its negation must split their base query's results in two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sbhelp import Client, drive

from harvester.sandbox import Sandbox, SandboxConfig

SEARCH = "/2/tweets/search/recent"
FIELDS = {
    "tweet.fields": "author_id,referenced_tweets,in_reply_to_user_id,conversation_id,entities,attachments,lang",
    "expansions": "author_id,referenced_tweets.id",
    "user.fields": "verified",
    "max_results": "100",
}
Post = dict[str, Any]
Check = Callable[[Post, dict[str, Post]], bool]


def _kind(p: Post) -> str:
    return p.get("referenced_tweets", [{}])[0].get("type", "")


def _ref(p: Post, inc: dict[str, Post]) -> Post:
    """The post ``p`` references, from the page's ``includes.tweets``."""
    return inc[f"tweet:{p['referenced_tweets'][0]['id']}"]


def _urls(p: Post) -> list[str]:
    return [u["expanded_url"] for u in p.get("entities", {}).get("urls", [])]


def _base_word(sb: Sandbox) -> str:
    """A word with a few hundred posts this week: enough of every kind, few pages."""
    return next(w for w in sb.world.vocab[3:] if 300 <= len(sb.truth.search(w)) <= 1500)


async def _harvest(c: Client, query: str) -> tuple[list[str], list[Post], dict[str, Post]]:
    ids, bodies = await c.pages(SEARCH, {"query": query, **FIELDS}, "next_token")
    posts = [d for b in bodies for d in b.get("data", [])]
    users = {u["id"]: u for b in bodies for u in b.get("includes", {}).get("users", [])}
    users.update({f"tweet:{t['id']}": t for b in bodies for t in b.get("includes", {}).get("tweets", [])})
    return ids, posts, users


def test_each_operator_equals_the_truth_and_means_what_it_says() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        w = _base_word(sb)
        base = set(sb.truth.search(w))
        verified = next(u for u in sb.world.users if u.verified and u.rate > 2)
        # A replied-to user, a conversation with replies, a retweeted user, a linked domain.
        sample = [sb.world.get_tweet(int(i)) for i in sb.truth.search(w)]
        reply = next(t for t in sample if t is not None and t.kind == "replied_to" and t.reply_to != t.author)
        to_user = sb.world.users[reply.reply_to]
        rt = next(t for t in sample if t is not None and t.kind == "retweeted")
        rt_of = sb.world.users[rt.ref & ((1 << 22) - 1)]
        author = sb.world.users[sample[0].author]  # type: ignore[union-attr]
        popular = max(sb.world.users, key=lambda u: u.popularity)
        checks: list[tuple[str, Check]] = [
            (f"{w} is:retweet", lambda p, _: _kind(p) == "retweeted" and p["text"].startswith("RT @")),
            (f"{w} is:reply", lambda p, _: _kind(p) == "replied_to" and "in_reply_to_user_id" in p),
            (f"{w} is:quote", lambda p, _: _kind(p) == "quoted"),
            (f"{w} is:verified", lambda p, inc: inc[p["author_id"]]["verified"] is True),
            (f"{w} has:media", lambda p, _: bool(p.get("attachments", {}).get("media_keys"))),
            (f"{w} has:images", lambda p, _: p["attachments"]["media_keys"][0].startswith("3_")),
            (f"{w} has:links", lambda p, _: bool(_urls(p)) and "https://t.co/" in p["text"]),
            (f"{w} has:mentions", lambda p, _: bool(p.get("entities", {}).get("mentions"))),
            (f"{w} lang:ja", lambda p, _: p["lang"] == "ja"),
            (f"from:{author.username}", lambda p, _: p["author_id"] == author.id),
            (f"from:{verified.id} is:verified", lambda p, _: p["author_id"] == verified.id),
            (f"to:{to_user.username}", lambda p, _: p["in_reply_to_user_id"] == to_user.id and _kind(p) == "replied_to"),
            (f"@{popular.username} {w}",
             lambda p, _: popular.username in [m["username"] for m in p["entities"]["mentions"]]),
            (f"conversation_id:{reply.conversation}", lambda p, _: p["conversation_id"] == str(reply.conversation)),
            (f"retweets_of:{rt_of.username}",
             lambda p, inc: _kind(p) == "retweeted" and _ref(p, inc)["author_id"] == rt_of.id),
            ('url:"github.com"', lambda p, _: any("//github.com/" in u for u in _urls(p))),
            (f"{w} url:x", lambda p, _: any(u.startswith("https://x.com/") for u in _urls(p))),
            (f'"{w}" (is:reply OR is:quote) -has:links',
             lambda p, _: _kind(p) in ("replied_to", "quoted") and not _urls(p)),
            (f"{w} -(is:retweet OR lang:en)", lambda p, _: _kind(p) != "retweeted" and p["lang"] != "en"),
        ]
        for query, check in checks:
            await c.clock.sleep(1)
            ids, posts, inc = await _harvest(c, query)
            assert ids == sb.truth.search(query), query
            assert posts, f"{query}: nothing to check"
            bad = [p["id"] for p in posts if not check(p, inc)]
            assert not bad, (query, bad[:3])
            if query.startswith(f"{w} ") and query.count(" ") == 1 and ":" in query:
                op = query.split(" ", 1)[1]
                neg, _, _ = await _harvest(c, f"{w} -{op}")
                assert set(ids) | set(neg) == base and not set(ids) & set(neg), query

    drive(SandboxConfig(), body)


def test_the_readme_query_and_counts_use_the_same_engine() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        r = await c.get(SEARCH, {"query": "climate -is:retweet"})
        assert r.status == 200 and r.body == {"meta": {"result_count": 0}}
        w = _base_word(sb)
        for query in (f"{w} -is:retweet", f"({w} OR {sb.truth.sample_queries().rare}) has:links -lang:en"):
            r = await c.get("/2/tweets/counts/recent", {"query": query, "granularity": "day"})
            assert r.status == 200
            truth = sb.truth.search(query)
            assert r.body["meta"]["total_tweet_count"] == len(truth) > 0
            assert sum(d["tweet_count"] for d in r.body["data"]) == len(truth)

    drive(SandboxConfig(), body)


@pytest.mark.parametrize(("query", "message"), [
    ("bumife foo:bar", ("Reference to invalid operator 'foo'. Operator is not available in current product or "
                        "product packaging. Please refer to complete available operator list at "
                        "http://t.co/operators. (at position 8)")),
    ("bumife -is:nullcast", "Reference to invalid operator 'is:nullcast'."),
    ("bumife has:hashtags", "Reference to invalid operator 'has:hashtags'."),
    ("#bumife", "Reference to invalid operator '#'."),
    ("bumife OR $tag", "Reference to invalid operator '$'."),
    ("bumife place_country:US", "Reference to invalid operator 'place_country'."),
    ("is:retweet", "is/has/lang cannot be used as a standalone operator (at position 1)"),
    ("lang:en has:links", "is/has/lang cannot be used as a standalone operator (at position 1)"),
    ("bumife OR has:media", "is/has/lang cannot be used as a standalone operator (at position 11)"),
    ("-bumife -is:reply", "Rules must contain a non-negation term"),
    ("conversation_id:abc bumife", "Invalid conversation_id 'abc'"),
])  # fmt: skip
def test_unmodelled_operators_are_refused_as_x_refuses_them(query: str, message: str) -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        for path in (SEARCH, "/2/tweets/counts/recent"):
            r = await c.get(path, {"query": query})
            assert r.status == 400
            assert r.body["type"] == "https://api.twitter.com/2/problems/invalid-request"
            assert r.body["title"] == "Invalid Request"
            [err] = r.body["errors"]
            assert err["parameters"] == {"query": [query]}
            assert err["message"].startswith("There were errors processing your request: ")
            assert message in err["message"]

    drive(SandboxConfig(), body)
