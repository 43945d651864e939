"""Endpoint logic as pure functions of (route, path, query, now) → :class:`Result`.

Handlers never touch rate limits, billing or faults; the server applies those around them.
That split is what lets a faulted request leave no trace: the result is computed, then
thrown away without being charged.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from harvester.sandbox import params as P
from harvester.sandbox import render as R
from harvester.sandbox import tables as T
from harvester.sandbox.billing import Ledger
from harvester.sandbox.paging import PageToken, PostRange, decode, encode, page_posts, request_key, stream
from harvester.sandbox.query import Query, QueryError, parse
from harvester.sandbox.world import Tweet, User, World, tweet_ms

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
    """The endpoints, over one :class:`World`."""

    def __init__(self, world: World, ledger: Ledger) -> None:
        self.world = world
        self.ledger = ledger
        self._counts_seq = 0

    def dispatch(self, route: str, path: Mapping[str, str], q: Mapping[str, str], now: float) -> Result:
        if route in (T.SEARCH_RECENT, T.SEARCH_ALL):
            return self.search(route, q, now)
        if route == T.COUNTS_RECENT:
            return self.counts(route, q, now)
        if route in (T.USER_TWEETS, T.USER_MENTIONS):
            return self.timeline(route, path["id"], q, now)
        if route in (T.FOLLOWERS, T.FOLLOWING):
            return self.follows(route, path["id"], q)
        if route == T.USAGE:
            days = P.int_in("days", q.get("days"), 1, 90, 7)
            return Result(
                self.ledger.usage_body(
                    now, P.csv("usage.fields", q.get("usage.fields"), T.USAGE_FIELDS), days
                )
            )
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

    def _tweet_page(self, route: str, items: list[Tweet], more_older: bool, more_newer: bool,
                    at_ms: int, key: str, q: Mapping[str, str], timeline: bool) -> Result:  # fmt: skip
        if not items:
            return Result({"meta": {"result_count": 0}})
        tf, uf, ex = P.fields(route, q)
        body: dict[str, Any] = {"data": [R.tweet_json(self.world, t, tf) for t in items]}
        inc = R.tweet_includes(self.world, items, ex, uf)
        if inc:
            body["includes"] = inc
        meta: dict[str, Any] = {"newest_id": str(items[0].id), "oldest_id": str(items[-1].id),
                                "result_count": len(items)}  # fmt: skip
        if more_older:
            meta["next_token"] = encode(PageToken("n", items[-1].id, at_ms, key))
        if timeline and more_newer:
            meta["previous_token"] = encode(PageToken("p", items[0].id, at_ms, key))
        body["meta"] = meta
        return Result(body, tuple(("post", str(t.id)) for t in items),
                      tuple(u["id"] for u in inc.get("users", [])), len(items))  # fmt: skip

    def _user(self, uid: str, name: str = "id") -> User | Result:
        if not P.ID_RE.match(uid):
            raise P.invalid(
                {name: uid}, f"The `{name}` query parameter value [{uid}] does not match ^[0-9]{{1,19}}$"
            )
        user = self.world.by_id.get(uid)
        return user if user is not None else Result({"errors": [R.not_found("user", name, uid, False)]})

    # -- endpoints -----------------------------------------------------------------------

    def _query(self, route: str, q: Mapping[str, str]) -> tuple[str, Query]:
        text = q.get("query")
        if not text:
            raise P.invalid({"query": []}, "The `query` query parameter can not be empty")
        limit = T.QUERY_MAX_LEN[route]
        if len(text) > limit:
            raise P.invalid(
                {"query": text}, f"The `query` query parameter value is not between 1 and {limit} characters"
            )
        try:
            return text, parse(text, self.world)
        except QueryError as e:
            raise P.invalid({"query": text}, str(e)) from None

    def _window(self, route: str, text: str, q: Mapping[str, str], now: float,
                check: Callable[[], None], key_extra: tuple[object, ...] = ()
                ) -> tuple[PostRange, PageToken | None, str]:  # fmt: skip
        """The posts a search (or count) covers, the page token given, and the request key."""
        archive = route == T.SEARCH_ALL
        start, end = (
            P.time_param("start_time", q.get("start_time")),
            P.time_param("end_time", q.get("end_time")),
        )
        since, until = P.id_param("since_id", q.get("since_id")), P.id_param("until_id", q.get("until_id"))
        for a, b_, x, y in (("start_time", "since_id", start, since), ("end_time", "until_id", end, until)):
            if x is not None and y is not None:
                raise P.invalid({a: q[a], b_: q[b_]}, f"At most one of `{a}`, `{b_}` may be provided")
        check()
        key = request_key(route, text, start, end, since, until, *key_extra)
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
        tf, _, _ = P.fields(route, q)
        b = T.MAX_RESULTS[route]
        high = 100 if archive and "context_annotations" in tf else b.high
        n = P.int_in("max_results", q.get("max_results"), b.low, high, b.default)

        def sort_order() -> None:
            if q.get("sort_order", "recency") not in ("recency", "relevancy"):
                raise P.invalid(
                    {"sort_order": q["sort_order"]},
                    "The `sort_order` query parameter value is not one of [recency,relevancy]",
                )

        rng, token, key = self._window(route, text, q, now, sort_order)
        page = page_posts(
            stream(self.world, replace(rng, match=query.match, index=query.candidates)), n, token
        )
        return self._tweet_page(
            route, page.items, page.more_older, page.more_newer, rng.vis_ms, key, q, False
        )

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
        gran = q.get("granularity", "hour")

        def check_granularity() -> None:
            if gran not in T.GRANULARITY_SECONDS:
                raise P.invalid({"granularity": gran},
                                f"The `granularity` query parameter value [{gran}] is not one of [day,hour,minute]")  # fmt: skip

        rng, _, _ = self._window(route, text, q, now, check_granularity, (gran,))
        step = T.GRANULARITY_SECONDS[gran] * 1000
        lo, hi = rng.lo_ms, max(rng.lo_ms, min(rng.hi_ms, rng.vis_ms + 1))
        edges = [lo, *range((lo // step + 1) * step, hi, step), hi]
        counts = [0] * (len(edges) - 1)
        for t in stream(self.world, replace(rng, match=query.match, index=query.candidates)):
            counts[bisect_right(edges, t.created_ms) - 1] += 1
        data = [{"end": R.iso_ms(edges[i + 1]), "start": R.iso_ms(edges[i]), "tweet_count": n}
                for i, n in enumerate(counts)]  # fmt: skip
        self._counts_seq += 1
        return Result({"data": data, "meta": {"total_tweet_count": sum(counts)}},
                      (("counts_request", f"{int(now * 1000)}-{self._counts_seq}"),))  # fmt: skip

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
        user = self._user(uid)
        b = T.MAX_RESULTS[route]
        n = P.int_in("max_results", q.get("max_results"), b.low, b.high, b.default)
        exclude = P.csv("exclude", q.get("exclude"), frozenset({"replies", "retweets"}))
        start, end = (
            P.time_param("start_time", q.get("start_time")),
            P.time_param("end_time", q.get("end_time")),
        )
        since, until = P.id_param("since_id", q.get("since_id")), P.id_param("until_id", q.get("until_id"))
        P.fields(route, q)
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
            pr = replace(rng, author=user.idx, cap=cap)
        else:
            pr = replace(rng, mention=user.idx, cap=T.MENTIONS_CAP)
        page = page_posts(stream(self.world, pr), n, token)
        res = self._tweet_page(route, page.items, page.more_older, page.more_newer, at_ms, key, q, True)
        return Result(res.body, res.billable, res.include_users, res.posts, 200, uid)

    def follows(self, route: str, uid: str, q: Mapping[str, str]) -> Result:
        user = self._user(uid)
        b = T.MAX_RESULTS[route]
        n = P.int_in("max_results", q.get("max_results"), b.low, b.high, b.default)
        _, uf, _ = P.fields(route, q)
        if isinstance(user, Result):
            return user
        key = request_key(route, uid)
        token = self._token(q, ("pagination_token",), key)
        ids = (self.world.followers if route == T.FOLLOWERS else self.world.following)[user.idx]
        off = token.pos if token else 0
        chunk = ids[off : off + n]
        if not chunk:
            return Result({"meta": {"result_count": 0}}, path_user=uid)
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if off + n < len(ids):
            meta["next_token"] = encode(PageToken("n", off + n, 0, key))
        if off > 0:
            meta["previous_token"] = encode(PageToken("n", max(0, off - n), 0, key))
        data = [R.user_json(self.world, self.world.users[i], uf) for i in chunk]
        return Result({"data": data, "meta": meta}, tuple(("follow", d["id"]) for d in data), path_user=uid)

    def lookup(self, route: str, path: Mapping[str, str], q: Mapping[str, str], now: float) -> Result:
        tf, uf, ex = P.fields(route, q)
        now_ms = int(now * 1000)
        if route in (T.TWEETS, T.TWEET):
            single = route == T.TWEET
            ids = [path["id"]] if single else P.id_list("ids", q.get("ids"), P.ID_RE, "^[0-9]{1,19}$")
            if single:
                P.id_param("id", path["id"])
            found: list[Tweet] = []
            errors = []
            for sid in ids:
                t = self.world.get_tweet(int(sid))
                if t is not None and t.created_ms <= now_ms and str(t.id) == sid:
                    found.append(t)
                else:
                    errors.append(R.not_found("tweet", "id" if single else "ids", sid, not single))
            body: dict[str, Any] = {}
            if found:
                data = [R.tweet_json(self.world, t, tf) for t in found]
                body["data"] = data[0] if single else data
                inc = R.tweet_includes(self.world, found, ex, uf)
                if inc:
                    body["includes"] = inc
            if errors:
                body["errors"] = errors
            inc_users = tuple(u["id"] for u in body.get("includes", {}).get("users", []))
            return Result(body, tuple(("post", str(t.id)) for t in found), inc_users, len(found))
        users: list[User] = []
        errs = []
        if route in (T.USERS, T.USER):
            single = route == T.USER
            ids = [path["id"]] if single else P.id_list("ids", q.get("ids"), P.ID_RE, "^[0-9]{1,19}$")
            if single:
                P.id_param("id", path["id"])
            for sid in ids:
                u = self.world.by_id.get(sid)
                users.append(u) if u else errs.append(
                    R.not_found("user", "id" if single else "ids", sid, not single)
                )
        else:
            single = route == T.USER_BY_USERNAME
            pat, shape = P.USERNAME_RE, "^[A-Za-z0-9_]{1,15}$"
            if single and not pat.match(path["username"]):
                raise P.invalid({"username": path["username"]},
                                f"The `username` query parameter value [{path['username']}] does not match {shape}")  # fmt: skip
            names = [path["username"]] if single else P.id_list("usernames", q.get("usernames"), pat, shape)
            for name in names:
                u = self.world.by_username.get(name.lower())
                param = "username" if single else "usernames"
                users.append(u) if u else errs.append(R.not_found("user", param, name, not single))
        body = {}
        if users:
            data = [R.user_json(self.world, u, uf) for u in users]
            body["data"] = data[0] if single else data
        if errs:
            body["errors"] = errs
        return Result(body, tuple(("user", u.id) for u in users))
