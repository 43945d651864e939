"""Endpoint logic as pure functions of (route, path, query, now) → :class:`Result`.

Handlers never touch rate limits, billing or faults; the server applies those around them.
That split is what lets a faulted request leave no trace: the result is computed, then
thrown away without being charged.

Every request is first checked against X's OpenAPI document for the configured API version
(:func:`params.validate`); the handlers then check what the document cannot say (time order,
page tokens, the query language, pay-per-use limits) and apply the response quirks
(:mod:`.quirks`): ``no_newest_id``, ``empty_newest_id``, ``random_order``, ``ignore_next_token``
and ``drop_unknown_ids``.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from harvester.sandbox import params as P
from harvester.sandbox import quirks as Q
from harvester.sandbox import render as R
from harvester.sandbox import tables as T
from harvester.sandbox.billing import Ledger
from harvester.sandbox.openapi import tables
from harvester.sandbox.paging import PageToken, PostRange, decode, encode, page_posts, request_key, stream
from harvester.sandbox.query import Matcher, Query, QueryError, parse
from harvester.sandbox.social import Social, XList
from harvester.sandbox.world import REPLIED_TO, RETWEETED, Tweet, User, World, tweet_ms

DAY = 86400


@dataclass(frozen=True)
class Result:
    """A handler's answer: body plus what it would bill (resource type, id) and posts returned."""

    body: dict[str, Any]
    billable: tuple[tuple[str, str], ...] = ()
    include_users: tuple[str, ...] = ()
    posts: int = 0
    status: int = 200
    path_user: str | None = field(default=None)


class Api:
    """The endpoints, over one :class:`World` (whose config gives the API version and quirks)."""

    def __init__(self, world: World, ledger: Ledger) -> None:
        self.world = world
        self.ledger = ledger
        self.tables = tables(world.cfg.api_version)
        self.quirks = world.cfg.quirks
        self._counts_seq = 0
        self._token_seq = 0
        self.social = Social(world)
        self._memo: dict[tuple[str, int, int], list[Tweet]] = {}

    def dispatch(self, route: str, path: Mapping[str, str], q: Mapping[str, str], now: float) -> Result:
        P.validate(route, q, path, self.tables, self.quirks)
        if route in (T.SEARCH_RECENT, T.SEARCH_ALL):
            return self.search(route, q, now)
        if route in (T.COUNTS_RECENT, T.COUNTS_ALL):
            return self.counts(route, q, now)
        if route in T.READS:
            return self.reads(route, path["id"], q, now)
        if route in (T.USER_TWEETS, T.USER_MENTIONS):
            return self.timeline(route, path["id"], q, now)
        if route in (T.FOLLOWERS, T.FOLLOWING):
            return self.follows(route, path["id"], q)
        if route == T.USAGE:
            days = P.int_param(route, "days", q, self.tables)
            return Result(self.ledger.usage_body(now, P.csv(q.get("usage.fields")), days))
        return self.lookup(route, path, q, now)

    # -- helpers -------------------------------------------------------------------------

    def _token(self, q: Mapping[str, str], names: tuple[str, ...], key: str) -> PageToken | None:
        given = [n for n in names if n in q]
        if len(given) > 1:
            raise P.invalid(
                {n: q[n] for n in given}, "At most one of `pagination_token`, `next_token` may be provided"
            )
        if not given:
            return None
        name = given[0]
        token = decode(q[name])
        if token is None or token.key != key:
            raise P.invalid({name: q[name]}, f"The `{name}` query parameter value [{q[name]}] is not valid")
        return token

    def _shuffled(self, items: list[Any], salt: object) -> list[Any]:
        """``items`` in a seeded random order under ``random_order`` (the same page, the same order)."""
        if Q.RANDOM_ORDER not in self.quirks or len(items) < 2:
            return items
        out = list(items)
        random.Random(f"{self.world.cfg.seed}:order:{salt}").shuffle(out)
        return out

    def _empty_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"result_count": 0}
        if Q.EMPTY_NEWEST_ID in self.quirks:
            meta["newest_id"] = ""
        return meta

    def _tweet_page(self, items: list[Tweet], more_older: bool, more_newer: bool, at_ms: int, key: str,
                    q: Mapping[str, str], timeline: bool, fresh: bool = False) -> Result:  # fmt: skip
        """One page of posts. ``fresh``: a token that differs on every answer (``ignore_next_token``)."""
        if not items:
            return Result({"meta": self._empty_meta()})
        f = P.fields(q)
        newest, oldest = max(t.id for t in items), min(t.id for t in items)
        shown = self._shuffled(items, (key, newest, oldest))
        body: dict[str, Any] = {"data": [R.tweet_json(self.world, t, f.tweet) for t in shown]}
        inc = R.tweet_includes(self.world, shown, f.expansions, f.user, f.tweet, f.media)
        if inc:
            body["includes"] = inc
        meta: dict[str, Any] = {"newest_id": str(newest), "oldest_id": str(oldest), "result_count": len(items)}
        if timeline and Q.NO_NEWEST_ID in self.quirks:
            del meta["newest_id"], meta["oldest_id"]
        if more_older:
            token_key = key
            if fresh:
                self._token_seq += 1
                token_key = f"{key}~{self._token_seq}"
            meta["next_token"] = encode(PageToken("n", oldest, at_ms, token_key))
        if timeline and more_newer:
            meta["previous_token"] = encode(PageToken("p", newest, at_ms, key))
        body["meta"] = meta
        return Result(body, tuple(("post", str(t.id)) for t in shown),
                      tuple(u["id"] for u in inc.get("users", [])), len(items))  # fmt: skip

    def _user(self, uid: str, name: str = "id") -> User | Result:
        user = self.world.by_id.get(uid)
        return user if user is not None else Result({"errors": [R.not_found("user", name, uid, False)]})

    # -- endpoints -----------------------------------------------------------------------

    def _query(self, route: str, q: Mapping[str, str]) -> tuple[str, Query]:
        text = q["query"]
        limit = T.QUERY_MAX_LEN[route]  # the pay-per-use limit, below the document's 4096
        if len(text) > limit:
            raise P.invalid(
                {"query": text}, f"The `query` query parameter value is not between 1 and {limit} characters"
            )
        try:
            return text, parse(text, self.world)
        except QueryError as e:
            raise P.invalid({"query": text}, str(e)) from None

    def _window(self, route: str, text: str, q: Mapping[str, str], now: float,
                key_extra: tuple[object, ...] = (), ignore_token: bool = False
                ) -> tuple[PostRange, PageToken | None, str]:  # fmt: skip
        """The posts a search (or count) covers, the page token given, and the request key.

        ``ignore_token``: a token given is not read (``ignore_next_token``): the first page again.
        """
        archive = route in (T.SEARCH_ALL, T.COUNTS_ALL)
        start, end = P.time_param("start_time", q.get("start_time")), P.time_param("end_time", q.get("end_time"))
        since, until = P.id_param("since_id", q.get("since_id")), P.id_param("until_id", q.get("until_id"))
        for a, b_, x, y in (("start_time", "since_id", start, since), ("end_time", "until_id", end, until)):
            if x is not None and y is not None:
                raise P.invalid({a: q[a], b_: q[b_]}, f"At most one of `{a}`, `{b_}` may be provided")
        key = request_key(route, text, start, end, since, until, *key_extra)
        if ignore_token:
            if "next_token" in q and "pagination_token" in q:
                raise P.invalid({n: q[n] for n in ("next_token", "pagination_token")},
                                "At most one of `pagination_token`, `next_token` may be provided")  # fmt: skip
            token = None
        else:
            token = self._token(q, ("next_token", "pagination_token"), key)
        at_ms = token.at_ms if token else int(now * 1000)
        at = at_ms / 1000
        floor = at - (T.ARCHIVE_DEFAULT_DAYS if archive else T.RECENT_DAYS) * DAY
        if token is None and not archive and start is not None and start < at - T.RECENT_DAYS * DAY:
            raise P.invalid({"start_time": q["start_time"]},
                            f"Invalid 'start_time':'{q['start_time']}'. 'start_time' must be on or after "
                            f"{R.iso_ms(int((at - T.RECENT_DAYS * DAY) * 1000))[:19]}Z")  # fmt: skip
        if start is not None and end is not None and start >= end:
            raise P.invalid({"start_time": q["start_time"], "end_time": q["end_time"]},
                            "Invalid 'start_time'. 'start_time' must be before 'end_time'")  # fmt: skip
        if start is not None:
            lo = int(start * 1000)
        elif since is not None:
            lo = tweet_ms(since)
        else:
            lo = int(floor * 1000)
        if not archive:
            lo = max(lo, int(floor * 1000))
        hi = int(end * 1000) if end is not None else (at_ms - 30_000 if until is None else at_ms + 1)
        return self._range(lo, hi, at_ms, since, until, token), token, key

    def search(self, route: str, q: Mapping[str, str], now: float) -> Result:
        archive = route == T.SEARCH_ALL
        text, query = self._query(route, q)
        n = P.int_param(route, "max_results", q, self.tables)
        if archive and n > 100 and "context_annotations" in P.fields(q).tweet:
            raise P.invalid({"max_results": q["max_results"]},
                            f"The `max_results` query parameter value [{n}] is not between 10 and 100")  # fmt: skip
        ignore = Q.IGNORE_NEXT_TOKEN in self.quirks
        rng, token, key = self._window(route, text, q, now, ignore_token=ignore)
        page = page_posts(stream(self.world, replace(rng, match=query.match, index=query.candidates)), n, token)
        return self._tweet_page(page.items, page.more_older, page.more_newer, rng.vis_ms, key, q, False, ignore)

    def counts(self, route: str, q: Mapping[str, str], now: float) -> Result:
        """``GET /2/tweets/counts/recent``: posts matching ``query`` per minute, hour or day.

        Same query language, window and matching as recent search, so ``total_tweet_count``
        equals the number of posts a full search of the same window returns. Buckets are aligned
        to UTC ``granularity`` boundaries, the first starting at the window's start and the last
        ending at its end. Seven days always fit one page (X pages counts by 31 days), so no
        ``next_token`` is ever issued; a token given must still be a valid one for this request.
        Billed per request (one ``counts_request`` charge), not per post.
        """
        text, query = self._query(route, q)
        gran = q.get("granularity") or str(self.tables.route(route).params["granularity"].default)
        rng, _, _ = self._window(route, text, q, now, (gran,))
        step = T.GRANULARITY_SECONDS[gran] * 1000
        lo, hi = rng.lo_ms, max(rng.lo_ms, min(rng.hi_ms, rng.vis_ms + 1))
        edges = [lo, *range((lo // step + 1) * step, hi, step), hi]
        counts = [0] * (len(edges) - 1)
        for t in stream(self.world, replace(rng, match=query.match, index=query.candidates)):
            counts[bisect_right(edges, t.created_ms) - 1] += 1
        data = [{"end": R.iso_ms(edges[i + 1]), "start": R.iso_ms(edges[i]), "tweet_count": n}
                for i, n in enumerate(counts)]  # fmt: skip
        self._counts_seq += 1
        kind = "counts_all_request" if route == T.COUNTS_ALL else "counts_request"
        return Result({"data": data, "meta": {"total_tweet_count": sum(counts)}},
                      ((kind, f"{int(now * 1000)}-{self._counts_seq}"),))  # fmt: skip

    @staticmethod
    def _range(lo: int, hi: int, at_ms: int, since: int | None, until: int | None,
               token: PageToken | None) -> PostRange:  # fmt: skip
        min_id, max_id = since or 0, until or (1 << 63)
        if token is not None and token.direction == "n":
            max_id = min(max_id, token.pos)
        elif token is not None:
            min_id = max(min_id, token.pos)
        return PostRange(lo_ms=lo, hi_ms=hi, vis_ms=at_ms, min_id=min_id, max_id=max_id)

    def timeline(self, route: str, uid: str, q: Mapping[str, str], now: float) -> Result:
        """A user's posts or mentions, newest first, within X's depth caps.

        ``exclude=replies``/``retweets`` leave those out; the cap (3,200, or 800 without replies;
        800 mentions) counts the user's most recent posts of every kind, then the exclusions
        apply (:meth:`Truth.timeline` does the same).
        """
        user = self._user(uid)
        n = P.int_param(route, "max_results", q, self.tables)
        exclude = P.csv(q.get("exclude"))
        start, end = P.time_param("start_time", q.get("start_time")), P.time_param("end_time", q.get("end_time"))
        since, until = P.id_param("since_id", q.get("since_id")), P.id_param("until_id", q.get("until_id"))
        if isinstance(user, Result):
            return user
        key = request_key(route, uid, sorted(exclude), start, end, since, until)
        token = self._token(q, ("pagination_token",), key)
        at_ms = token.at_ms if token else int(now * 1000)
        # since_id/until_id take precedence over start_time/end_time on timelines.
        lo = int(start * 1000) if start is not None and since is None else 0
        hi = int(end * 1000) if end is not None and until is None else at_ms + 1
        rng = self._range(lo, hi, at_ms, since, until, token)
        if route == T.USER_TWEETS:
            cap = T.TIMELINE_CAP_NO_REPLIES if "replies" in exclude else T.TIMELINE_CAP
            pr = replace(rng, author=user.idx, cap=cap, match=excluding(exclude))
        else:
            pr = replace(rng, mention=user.idx, cap=T.MENTIONS_CAP)
        page = page_posts(stream(self.world, pr), n, token)
        res = self._tweet_page(page.items, page.more_older, page.more_newer, at_ms, key, q, True)
        return Result(res.body, res.billable, res.include_users, res.posts, 200, uid)

    def follows(self, route: str, uid: str, q: Mapping[str, str]) -> Result:
        user = self._user(uid)
        n = P.int_param(route, "max_results", q, self.tables)
        uf = P.fields(q).user
        if isinstance(user, Result):
            return user
        key = request_key(route, uid)
        token = self._token(q, ("pagination_token",), key)
        ids = (self.world.followers if route == T.FOLLOWERS else self.world.following)[user.idx]
        off = token.pos if token else 0
        chunk = self._shuffled(list(ids[off : off + n]), (key, off))
        if not chunk:
            return Result({"meta": {"result_count": 0}}, path_user=uid)
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if off + n < len(ids):
            meta["next_token"] = encode(PageToken("n", off + n, 0, key))
        if off > 0:
            meta["previous_token"] = encode(PageToken("n", max(0, off - n), 0, key))
        data = [R.user_json(self.world, self.world.users[i], uf) for i in chunk]
        return Result({"data": data, "meta": meta}, tuple(("follow", d["id"]) for d in data), path_user=uid)

    # -- likes, reposts, quotes, lists, bookmarks, blocks, mutes ------------------------------

    def reads(self, route: str, sid: str, q: Mapping[str, str], now: float) -> Result:
        """The issue-16 reads: a post's likers, reposters and quotes; a user's likes, bookmarks,
        blocks, mutes and lists; a list's posts, members and followers. All page by offset over
        the whole answer computed at the first page's time (the token carries it)."""
        so = self.social
        w = self.world
        paged = "max_results" in self.tables.route(route).params
        n = P.int_param(route, "max_results", q, self.tables) if paged else 1 << 30
        key = request_key(route, sid)
        token = self._token(q, ("pagination_token",), key) if paged else None
        at_ms = token.at_ms if token else int(now * 1000)
        if route in (T.LIKING_USERS, T.RETWEETED_BY, T.QUOTE_TWEETS):
            t = w.get_tweet(int(sid))
            if t is None or t.created_ms > at_ms or str(t.id) != sid:
                return Result({"errors": [R.not_found("tweet", "id", sid, False)]})
            if route == T.QUOTE_TWEETS:
                return self._offset_posts(route, so.quotes(t, at_ms), n, token, at_ms, key, q, None)
            users = so.liking_users(t) if route == T.LIKING_USERS else so.retweeters(t, at_ms)
            return self._offset_users(users, n, token, at_ms, key, q, None)
        if route in (T.LIST_TWEETS, T.LIST_MEMBERS, T.LIST_FOLLOWERS):
            lst = so.by_list_id.get(sid)
            if lst is None:
                return Result({"errors": [R.not_found("list", "id", sid, False)]})
            if route == T.LIST_TWEETS:
                return self._offset_posts(route, so.list_posts(lst, at_ms, T.LIST_TWEETS_CAP), n, token, at_ms,
                                          key, q, None)  # fmt: skip
            return self._offset_users(list(lst.members if route == T.LIST_MEMBERS else lst.followers), n, token,
                                      at_ms, key, q, None)  # fmt: skip
        user = self._user(sid)
        if isinstance(user, Result):
            return user
        u = user.idx
        if route in (T.LIKED_TWEETS, T.BOOKMARKS):
            memo = (route, u, at_ms)  # every page of one answer is cut from the same list
            posts = self._memo.get(memo)
            if posts is None:
                posts = so.liked_tweets(u, at_ms) if route == T.LIKED_TWEETS else so.bookmarked(u, at_ms)
                self._memo[memo] = posts
                while len(self._memo) > 32:
                    self._memo.pop(next(iter(self._memo)))
            return self._offset_posts(route, posts, n, token, at_ms, key, q, sid)
        if route in (T.BLOCKING, T.MUTING):
            return self._offset_users(so.blocking(u) if route == T.BLOCKING else so.muting(u), n, token, at_ms,
                                      key, q, sid)  # fmt: skip
        lists = {T.OWNED_LISTS: so.owned, T.FOLLOWED_LISTS: so.followed, T.LIST_MEMBERSHIPS: so.memberships}
        chosen = so.pinned(u) if route == T.PINNED_LISTS else lists[route][u]
        return self._offset_lists(chosen, n, token, at_ms, key, q, sid)

    def _offset_meta(self, total: int, off: int, n: int, got: int, at_ms: int, key: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"result_count": got}
        if off + n < total:
            meta["next_token"] = encode(PageToken("n", off + n, at_ms, key))
        if off > 0:
            meta["previous_token"] = encode(PageToken("p", max(0, off - n), at_ms, key))
        return meta

    def _offset_posts(self, route: str, posts: list[Tweet], n: int, token: PageToken | None, at_ms: int, key: str,
                      q: Mapping[str, str], owner: str | None) -> Result:  # fmt: skip
        off = token.pos if token else 0
        chunk = posts[off : off + n]
        if not chunk:
            return Result({"meta": {"result_count": 0}}, path_user=owner)
        f = P.fields(q)
        body: dict[str, Any] = {"data": [R.tweet_json(self.world, t, f.tweet) for t in chunk]}
        inc = R.tweet_includes(self.world, chunk, f.expansions, f.user, f.tweet, f.media)
        if inc:
            body["includes"] = inc
        body["meta"] = self._offset_meta(len(posts), off, n, len(chunk), at_ms, key)
        return Result(body, tuple(("post", str(t.id)) for t in chunk),
                      tuple(u["id"] for u in inc.get("users", [])), len(chunk), 200, owner)  # fmt: skip

    def _offset_users(self, users: list[int], n: int, token: PageToken | None, at_ms: int, key: str,
                      q: Mapping[str, str], owner: str | None) -> Result:  # fmt: skip
        off = token.pos if token else 0
        chunk = users[off : off + n]
        if not chunk:
            return Result({"meta": {"result_count": 0}}, path_user=owner)
        uf = P.fields(q).user
        data = [R.user_json(self.world, self.world.users[i], uf) for i in chunk]
        meta = self._offset_meta(len(users), off, n, len(chunk), at_ms, key)
        return Result({"data": data, "meta": meta}, tuple(("user", d["id"]) for d in data), path_user=owner)

    def _offset_lists(self, lists: list[XList], n: int, token: PageToken | None, at_ms: int, key: str,
                      q: Mapping[str, str], owner: str | None) -> Result:  # fmt: skip
        off = token.pos if token else 0
        chunk = lists[off : off + n]
        if not chunk:
            return Result({"meta": {"result_count": 0}}, path_user=owner)
        lf = P.csv(q.get("list.fields"))
        expand_owner = "owner_id" in P.csv(q.get("expansions"))
        # X's list.fields enum has no owner_id: the expansion is what puts it on the object.
        data = [self._list_json(lst, lf | {"owner_id"} if expand_owner else lf) for lst in chunk]
        body: dict[str, Any] = {"data": data}
        inc_users: tuple[str, ...] = ()
        if expand_owner:
            owners = dict.fromkeys(lst.owner for lst in chunk)
            uf = P.fields(q).user
            body["includes"] = {"users": [R.user_json(self.world, self.world.users[i], uf) for i in owners]}
            inc_users = tuple(self.world.users[i].id for i in owners)
        body["meta"] = self._offset_meta(len(lists), off, n, len(chunk), at_ms, key)
        return Result(body, tuple(("list", lst.id) for lst in chunk), inc_users, path_user=owner)

    def _list_json(self, lst: XList, lf: frozenset[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": lst.id, "name": lst.name}
        extra: dict[str, Any] = {
            "created_at": R.iso_ms(lst.created_ms), "description": lst.description,
            "follower_count": len(lst.followers), "member_count": len(lst.members), "private": lst.private,
            "owner_id": self.world.users[lst.owner].id,
        }  # fmt: skip
        out.update({k: v for k, v in extra.items() if k in lf})
        return out

    def lookup(self, route: str, path: Mapping[str, str], q: Mapping[str, str], now: float) -> Result:
        """Posts or users by id or username. Unknown ones are listed in ``errors`` (HTTP 200), or
        left out silently on list lookups under ``drop_unknown_ids``."""
        f = P.fields(q)
        now_ms = int(now * 1000)
        drop = Q.DROP_UNKNOWN_IDS in self.quirks
        if route in (T.TWEETS, T.TWEET):
            single = route == T.TWEET
            ids = [path["id"]] if single else P.id_list(q.get("ids"))
            found: list[Tweet] = []
            errors = []
            for sid in ids:
                t = self.world.get_tweet(int(sid))
                if t is not None and t.created_ms <= now_ms and str(t.id) == sid:
                    found.append(t)
                else:
                    errors.append(R.not_found("tweet", "id" if single else "ids", sid, not single))
            body: dict[str, Any] = {}
            if found or (drop and not single):
                data = [R.tweet_json(self.world, t, f.tweet) for t in found]
                body["data"] = data[0] if single else data
                inc = R.tweet_includes(self.world, found, f.expansions, f.user, f.tweet, f.media)
                if inc:
                    body["includes"] = inc
            if errors and not (drop and not single):
                body["errors"] = errors
            inc_users = tuple(u["id"] for u in body.get("includes", {}).get("users", []))
            return Result(body, tuple(("post", str(t.id)) for t in found), inc_users, len(found))
        users: list[User] = []
        errs = []
        if route in (T.USERS, T.USER):
            single = route == T.USER
            ids = [path["id"]] if single else P.id_list(q.get("ids"))
            for sid in ids:
                u = self.world.by_id.get(sid)
                users.append(u) if u else errs.append(R.not_found("user", "id" if single else "ids", sid, not single))
        else:
            single = route == T.USER_BY_USERNAME
            names = [path["username"]] if single else P.id_list(q.get("usernames"))
            param = "username" if single else "usernames"
            for name in names:
                u = self.world.by_username.get(name.lower())
                users.append(u) if u else errs.append(R.not_found("user", param, name, not single))
        body = {}
        if users or (drop and not single):
            data = [R.user_json(self.world, u, f.user) for u in users]
            body["data"] = data[0] if single else data
        if errs and not (drop and not single):
            body["errors"] = errs
        return Result(body, tuple(("user", u.id) for u in users))


def excluding(exclude: frozenset[str]) -> Matcher | None:
    """The predicate of a timeline's ``exclude`` (None when nothing is excluded)."""
    if not exclude:
        return None
    replies, retweets = "replies" in exclude, "retweets" in exclude
    return lambda t: not ((replies and t.kind == REPLIED_TO) or (retweets and t.kind == RETWEETED))
