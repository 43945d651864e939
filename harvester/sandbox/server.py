"""The aiohttp app: auth, rate limits, billing and faults wrapped around the handlers.

Order of checks for a known route: 401 (credentials) → 403 (user context on an app-only
route, or denylisted) → 429 (rate limit; consumes nothing else) → 402 (no credits) → 429
usage-capped (not counted against the window, so it comes with remaining > 0) → 400 (validation
against X's OpenAPI document, :mod:`.params`) → faults → 200, billed. Every response carries a
``Date`` from the simulated clock and ``api-version`` (the configured one); every response past
authentication carries the bucket's headers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from email.utils import formatdate
from itertools import count
from typing import Any

from aiohttp import web

from harvester.clock import Clock, LoopClock
from harvester.sandbox import tables as T
from harvester.sandbox.auth import AuthRegistry, Principal, UserCredentials
from harvester.sandbox.billing import Ledger, credits_body, usage_capped_body
from harvester.sandbox.config import SandboxConfig
from harvester.sandbox.faults import FaultPlan, Faults, server_error_body
from harvester.sandbox.handlers import Api, Result
from harvester.sandbox.limits import RateLimiter, Stats
from harvester.sandbox.params import PROBLEM, InvalidRequest, check_duplicates
from harvester.sandbox.stream import RULES, STREAM, StreamServer
from harvester.sandbox.truth import Truth
from harvester.sandbox.world import World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
FORBIDDEN = {"detail": "You are not permitted to perform this action.", "type": "about:blank",
             "title": "Forbidden", "status": 403}  # fmt: skip
APP_AUTH_UNSUPPORTED = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "type": PROBLEM + "unsupported-authentication",
    "status": 403,
}
UNSUPPORTED_AUTH = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 1.0a User Context is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 2.0 Application-Only].",
    "type": PROBLEM + "unsupported-authentication",
    "status": 403,
}
REPORT_PATH = "/_sandbox/report"  # not an X API path: the sandbox's ground truth, for tests
NOT_FOUND = {"title": "Not Found Error", "detail": "The requested resource could not be found.",
             "type": "about:blank", "status": 404}  # fmt: skip


class Sandbox:
    """A fake X API v2 over a deterministic world, on a simulated clock."""

    def __init__(self, cfg: SandboxConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        self.world = World(cfg)
        self.stats = Stats()
        self.limiter = RateLimiter(cfg, self.stats, start=clock.now())
        self.ledger = Ledger(cfg)
        self.auth = AuthRegistry(cfg.oauth_timestamp_skew)
        self.faults = Faults(cfg)
        self.api = Api(self.world, self.ledger)
        self.truth = Truth(self.world, clock)
        self._txn = count(1)
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._frame])
        for route in T.ROUTES:
            self.app.router.add_get(route.replace(":id", "{id}").replace(":username", "{username}"),
                                    self._make_handler(route))  # fmt: skip
        self.app.router.add_get(REPORT_PATH, self._report)
        self.stream = StreamServer(cfg, clock, self.world, self.ledger, started=clock.now())
        self.app.router.add_get(STREAM, self._stream_route(self.stream.connect, with_headers=True))
        self.app.router.add_get(RULES, self._stream_route(self.stream.rules_get))
        self.app.router.add_post(RULES, self._stream_route(self.stream.rules_post))

    # -- tokens --------------------------------------------------------------------------

    def add_app_token(self, token: str) -> None:
        """Register an app-only Bearer token (all share the one app's buckets and ledger)."""
        self.auth.add_app_token(token)

    def add_user_token(self, consumer_key: str, consumer_secret: str, access_token: str,
                       access_token_secret: str, user_id: str) -> None:  # fmt: skip
        """Register OAuth 1.0a keys of a world user; requests get that user's buckets."""
        self.auth.add_user(UserCredentials(consumer_key, consumer_secret, access_token, access_token_secret, user_id))

    def accept_any_bearer(self) -> None:
        """Take any Bearer token that is not a registered user token as the app's (OAuth 1.0a
        requests are still verified against the registered users)."""
        self.auth.any_bearer = True

    def add_oauth2_user_token(self, token: str, user_id: str) -> None:
        """Register an OAuth 2.0 user-context Bearer token for a world user."""
        self.auth.add_bearer_user(token, user_id)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port); returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        return f"http://{host}:{bound}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- ground truth for tests run against a sandbox process -----------------------------

    def report(self) -> dict[str, Any]:
        """What the sandbox served and billed: requests by status, 429s, the fullest window of
        each bucket against its limit, and the money charged (micro-dollars)."""
        served = {f"{route} {status}": n for (route, status), n in sorted(self.stats.requests.items())
                  if not route.startswith(REPORT_PATH)}  # fmt: skip
        windows = {b: {"max_allowed": max(w.allowed for w in ws), "limit": ws[-1].limit,
                       "windows": len(ws), "rejected": sum(w.rejected for w in ws)}
                   for b, ws in sorted(self.stats.windows.items()) if ws}  # fmt: skip
        return {"requests": served, "too_many": sum(self.stats.too_many.values()),
                "buckets": windows, "spent_micros": self.ledger.spent_micro,
                "spent_usd": self.ledger.total_usd}  # fmt: skip

    async def _report(self, request: web.Request) -> web.StreamResponse:
        return self._json(200, self.report())

    # -- request pipeline ----------------------------------------------------------------

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
        h = {"api-version": self.cfg.api_version, "x-access-level": "read",
             "x-transaction-id": f"{next(self._txn):016x}"}  # fmt: skip
        h.update(headers or {})
        return web.Response(status=status, body=json.dumps(body).encode(), headers=h,
                            content_type="application/json", charset="utf-8")  # fmt: skip

    @web.middleware
    async def _frame(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Unknown routes get a JSON 404; every response gets a simulated ``Date``."""
        try:
            resp = await handler(request)
        except web.HTTPNotFound:
            resp = self._json(404, NOT_FOUND)
        except web.HTTPMethodNotAllowed:
            resp = self._json(405, {**NOT_FOUND, "title": "Method Not Allowed", "status": 405})
        if not resp.prepared:
            resp.headers["Date"] = formatdate(self.clock.now(), usegmt=True)
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "?"
        self.stats.requests[(route, resp.status)] += 1
        return resp

    def _stream_route(self, serve: Callable[..., Awaitable[web.StreamResponse]], with_headers: bool = False) -> Handler:
        """The stream routes: app-only Bearer auth, then :class:`StreamServer` (its own rules)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            principal = self.auth.authenticate(request.headers.get("Authorization"), request.method,
                                               str(request.url), self.clock.now())  # fmt: skip
            if principal is None:
                return self._json(401, UNAUTHORIZED)
            if principal.user_id is not None:
                return self._json(403, UNSUPPORTED_AUTH)
            if with_headers:
                return await serve(request, self._json, {})
            return await serve(request, self._json)

        return handler

    def _make_handler(self, route: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, route)

        return handler

    async def _handle(self, request: web.Request, route: str) -> web.StreamResponse:
        now = self.clock.now()
        principal = self.auth.authenticate(request.headers.get("Authorization"), request.method,
                                           str(request.url), now)  # fmt: skip
        if principal is None:
            return self._json(401, UNAUTHORIZED)
        if principal.user_id is not None and route in T.APP_ONLY:
            return self._json(403, UNSUPPORTED_AUTH)
        if principal.user_id is None and route in T.USER_ONLY:
            return self._json(403, APP_AUTH_UNSUPPORTED)
        if route in T.SELF_ONLY and request.match_info.get("id") != principal.user_id:
            return self._json(403, FORBIDDEN)
        if self.limiter.denied:
            return self._json(403, FORBIDDEN)
        depleted = self.ledger.depleted()
        # A capped request is not counted against its window, so the cap 429 comes with
        # x-rate-limit-remaining > 0, as observed (x-api-spec.md §2.3).
        capped = not depleted and self.ledger.capped(route, now)
        decision = self.limiter.check(route, principal.bucket_token, now, consume=not capped)
        headers = dict(decision.headers)
        if not decision.allowed:
            return self._json(429, TOO_MANY, headers)
        if depleted:
            return self._json(402, credits_body(self.cfg.account_id), headers)
        if capped:
            return self._json(429, usage_capped_body(self.cfg.account_id), headers)
        plan = self.faults.draw()
        try:
            check_duplicates({k: request.query.getall(k) for k in set(request.query.keys())})
            query = dict(request.query.items())
            result = self.api.dispatch(route, request.match_info, query, now)
        except InvalidRequest as e:
            return self._json(400, e.body(), headers)
        delay = plan.slow_seconds + self.cfg.latency_seconds
        if delay > 0:
            await self.clock.sleep(delay)
        if plan.no_headers:
            headers = {}
        if plan.spoils_body:
            return await self._spoil(request, plan, result, headers)
        self._bill(route, principal, result, now)
        return self._json(result.status, result.body, headers)

    def _bill(self, route: str, principal: Principal, result: Result, now: float) -> None:
        if result.status != 200 or "data" not in result.body:
            return
        owner = self.cfg.app_owner_user_id
        owned = (route in T.OWNED_READ_ROUTES and owner is not None and principal.user_id == owner
                 and result.path_user == owner)  # fmt: skip
        items = list(result.billable)
        if self.cfg.bill_includes:
            items += [("user", uid) for uid in result.include_users]
        self.ledger.charge(route, now, items, owned)
        self.ledger.count_posts(route, now, result.posts)

    async def _spoil(self, request: web.Request, plan: FaultPlan, result: Result,
                     headers: dict[str, str]) -> web.StreamResponse:  # fmt: skip
        if plan.error_status is not None:
            return self._json(plan.error_status, server_error_body(plan.error_status), headers)
        body = json.dumps(result.body).encode()
        if plan.malformed:
            return self._json_raw(body[: max(1, len(body) // 2)], headers)
        resp = web.StreamResponse(status=200, headers=headers)
        resp.content_type = "application/json"
        resp.content_length = len(body)
        resp.headers["Date"] = formatdate(self.clock.now(), usegmt=True)
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.abort()
        return resp

    def _json_raw(self, body: bytes, headers: dict[str, str]) -> web.Response:
        return web.Response(status=200, body=body, headers=headers, content_type="application/json", charset="utf-8")


async def serve(cfg: SandboxConfig, host: str, port: int, tokens: Iterable[str | UserCredentials],
                clock: Clock | None = None, any_bearer: bool = False) -> None:  # fmt: skip
    """Run a sandbox until cancelled (for the ``harvester sandbox`` CLI).

    ``tokens``: strings are app Bearer tokens; :class:`UserCredentials` are OAuth 1.0a users.
    ``any_bearer``: every other Bearer token is taken as the app's too.
    Without ``clock`` the simulated time starts at ``cfg.epoch`` and runs with the loop.
    """
    sb = Sandbox(cfg, clock or LoopClock(epoch=cfg.epoch))
    if any_bearer:
        sb.accept_any_bearer()
    for tok in tokens:
        if isinstance(tok, str):
            sb.add_app_token(tok)
        else:
            sb.add_user_token(tok.consumer_key, tok.consumer_secret, tok.access_token,
                              tok.access_token_secret, tok.user_id)  # fmt: skip
    await sb.start(host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await sb.stop()
