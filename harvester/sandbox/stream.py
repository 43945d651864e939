"""The filtered stream and its rules, as X serves them (x-api-spec.md §5), with a ground truth.

``GET /2/tweets/search/stream`` holds one connection per app: a second one is answered 429
``TooManyConnections``; with no rules the answer is 409. The open connection writes each Post
matching an active rule as it is created (``{"data", "includes", "matching_rules"}``, one JSON
object per ``\\r\\n``-ended line) and a bare ``\\r\\n`` keep-alive every
``stream_keepalive_seconds``. ``backfill_minutes`` (0-5) starts the connection that many minutes
back: those Posts come again, oldest first, not deduplicated (as on X).

Every delivered Post is billed like a Post read (deduplicated per UTC day) and counted toward the
monthly cap; once the cap is reached the stream ends with a usage-capped disconnect message and
connects are answered 429 usage-capped.

Faults (``SandboxConfig.stream_faults``) end the open connection by a drop, a stall or a
disconnect message, and answer the next connects by a cut connection, a 503 or a 429.

For tests, :class:`StreamServer` records every connect attempt (its time, answer, end and bytes
written), every rules request, every delivery, and gives the ground truth :meth:`matched`:
the Posts created in a time range that a rule active at their creation matches.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any, cast

from aiohttp import web

from harvester.clock import Clock
from harvester.sandbox import render as R
from harvester.sandbox.billing import Ledger, usage_capped_body
from harvester.sandbox.config import SandboxConfig, StreamFault
from harvester.sandbox.query import Query, QueryError, parse
from harvester.sandbox.world import Tweet, World

STREAM = "/2/tweets/search/stream"
RULES = "/2/tweets/search/stream/rules"
RULE_MAX_LEN = 1024  # pay-per-use rule length (x-api-spec.md §5)
MAX_RULES = 1000
PROBLEMS = "https://api.twitter.com/2/problems/"
TOO_MANY_CONNECTIONS = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": PROBLEMS + "streaming-connection",
}
NO_RULES = {"title": "ConnectionException", "detail": "This stream has no rules.",
            "connection_issue": "RuleConfigurationIssue", "type": PROBLEMS + "streaming-connection"}  # fmt: skip
SERVICE_UNAVAILABLE = {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank",
                       "status": 503}  # fmt: skip


def iso_now(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Rule:
    """A rule as the server keeps it: added at ``added``, deleted at ``deleted`` (None: active)."""

    id: str
    value: str
    tag: str | None
    added: float
    query: Query
    deleted: float | None = None

    def active(self, at: float) -> bool:
        return self.added <= at and (self.deleted is None or at < self.deleted)


@dataclass
class Attempt:
    """One connect attempt: when, how it was answered (HTTP status, or 0 for a cut connection),
    when and how it ended, and the bytes written on it."""

    at: float
    status: int
    backfill_minutes: int = 0
    ended: float | None = None
    end: str = ""
    bytes: int = 0
    posts: int = 0


@dataclass(frozen=True)
class RuleRequest:
    """One rules request: ``GET`` or ``POST``, ``dry_run``, the body sent and the status given."""

    at: float
    method: str
    dry_run: bool
    body: dict[str, Any]
    status: int


@dataclass(frozen=True)
class Delivery:
    at: float
    id: str
    tags: tuple[str, ...]


@dataclass
class _Conn:
    attempt: Attempt
    request: web.Request
    stalled: bool = False
    closed: bool = False


@dataclass
class StreamServer:
    """The stream and rules routes of one sandbox (one app)."""

    cfg: SandboxConfig
    clock: Clock
    world: World
    ledger: Ledger
    started: float
    rules: list[Rule] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    rule_requests: list[RuleRequest] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _conn: _Conn | None = None
    _faults: list[StreamFault] = field(default_factory=list)
    _answers: list[str] = field(default_factory=list)
    _next_id: int = 1_900_000_000_000_000_000

    def __post_init__(self) -> None:
        self._faults = sorted(self.cfg.stream_faults, key=lambda f: f.after)

    # -- ground truth --------------------------------------------------------------------

    def active_rules(self, at: float) -> list[Rule]:
        return [r for r in self.rules if r.active(at)]

    def matching(self, t: Tweet, at: float) -> list[Rule]:
        return [r for r in self.active_rules(at) if r.query.match(t)]

    def matched(self, start: float, end: float) -> dict[str, tuple[str, ...]]:
        """Posts created in ``[start, end)`` that a rule active at their creation matches:
        id -> the matching rules' tags."""
        out: dict[str, tuple[str, ...]] = {}
        for t in self._posts(int(start * 1000) - 1, int(end * 1000) - 1):
            rules = self.matching(t, t.created_ms / 1000)
            if rules:
                out[str(t.id)] = tuple(r.tag or "" for r in rules)
        return out

    def _posts(self, after_ms: int, upto_ms: int) -> Iterator[Tweet]:
        """Posts created in ``(after_ms, upto_ms]``, oldest first."""
        return reversed(list(self.world.scan(after_ms + 1, upto_ms + 1)))

    # -- rules -----------------------------------------------------------------------------

    async def rules_get(self, request: web.Request, respond: Callable[..., web.Response]) -> web.Response:
        now = self.clock.now()
        active = self.active_rules(now)
        body: dict[str, Any] = {"meta": {"sent": iso_now(now), "result_count": len(active)}}
        if active:
            body["data"] = [_rule_json(r) for r in active]
        self.rule_requests.append(RuleRequest(now, "GET", False, {}, 200))
        return respond(200, body)

    async def rules_post(self, request: web.Request, respond: Callable[..., web.Response]) -> web.Response:
        now = self.clock.now()
        dry_run = request.query.get("dry_run", "false").lower() == "true"
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            body = None
        status, answer = self._apply(body, now, dry_run)
        self.rule_requests.append(RuleRequest(now, "POST", dry_run, body if isinstance(body, dict) else {}, status))
        return respond(status, answer)

    def _apply(self, body: object, now: float, dry_run: bool) -> tuple[int, dict[str, Any]]:
        meta: dict[str, Any] = {"sent": iso_now(now)}
        if not isinstance(body, dict) or ("add" in body) == ("delete" in body):
            return 400, {"errors": [{"message": "Request must contain exactly one of add or delete"}],
                         "title": "Invalid Request", "type": PROBLEMS + "invalid-request"}  # fmt: skip
        if "delete" in body:
            ids = body["delete"].get("ids", []) if isinstance(body["delete"], dict) else []
            active = {r.id: r for r in self.active_rules(now)}
            gone = [active[i] for i in ids if i in active]
            if not dry_run:
                for r in gone:
                    r.deleted = now
            meta["summary"] = {"deleted": len(gone), "not_deleted": len(ids) - len(gone)}
            return 200, {"meta": meta}
        adds = body["add"] if isinstance(body["add"], list) else []
        active_values = {r.value: r for r in self.active_rules(now)}
        errors: list[dict[str, Any]] = []
        made: list[Rule] = []
        for item in adds:
            value, tag = str(item.get("value", "")), item.get("tag")
            if value in active_values:
                errors.append({"value": value, "id": active_values[value].id, "title": "DuplicateRule",
                               "type": PROBLEMS + "duplicate-rules"})  # fmt: skip
                continue
            problem = None
            if len(value) > RULE_MAX_LEN:
                problem = f"Rule is longer than {RULE_MAX_LEN} characters"
            else:
                try:
                    query = parse(value, self.world)
                except QueryError as e:
                    problem = str(e)
            if problem is not None:
                errors.append({"value": value, "details": [problem], "title": "UnprocessableEntity",
                               "type": PROBLEMS + "invalid-rules"})  # fmt: skip
                continue
            self._next_id += 1
            made.append(Rule(str(self._next_id), value, None if tag is None else str(tag), now, query))
        invalid = sum(1 for e in errors if e["title"] == "UnprocessableEntity")
        if len(self.active_rules(now)) + len(made) > MAX_RULES:
            return 400, {"errors": [{"title": "RuleCapExceeded", "type": PROBLEMS + "rule-cap"}], "meta": meta}
        meta["summary"] = {"created": 0 if invalid or dry_run else len(made), "not_created": len(adds) - len(made),
                           "valid": len(made), "invalid": invalid}  # fmt: skip
        if invalid:  # X creates nothing when a rule of the request is invalid
            return 400, {"errors": errors, "meta": meta}
        if not dry_run:
            self.rules.extend(made)
        out: dict[str, Any] = {"meta": meta}
        if made:
            out["data"] = [_rule_json(r) for r in made]
        if errors:
            out["errors"] = errors
        return 200, out

    # -- the stream --------------------------------------------------------------------------

    def _due_fault(self, now: float) -> StreamFault | None:
        if self._faults and self.started + self._faults[0].after <= now:
            return self._faults.pop(0)
        return None

    def _next_fault_at(self) -> float | None:
        return self.started + self._faults[0].after if self._faults else None

    async def connect(self, request: web.Request, respond: Callable[..., web.Response],
                      headers: dict[str, str]) -> web.StreamResponse:  # fmt: skip
        """Answer a connect (after authentication) and serve the connection until it ends."""
        now = self.clock.now()
        try:
            backfill = int(request.query.get("backfill_minutes", "0"))
        except ValueError:
            backfill = -1
        attempt = Attempt(at=now, status=0, backfill_minutes=max(backfill, 0))
        self.attempts.append(attempt)
        if self._conn is not None and (self._conn.request.transport is None or self._conn.request.transport.is_closing()):
            self._close(self._conn, "client closed")
        answer = self._answers.pop(0) if self._answers else ""
        if answer == "refuse":
            attempt.end, attempt.ended = "refused", now
            if request.transport is not None:
                request.transport.abort()
            return respond(503, SERVICE_UNAVAILABLE)  # never reaches the client
        status, body = 200, cast(dict[str, Any] | None, None)
        if answer == "503":
            status, body = 503, SERVICE_UNAVAILABLE
        elif answer == "429" or self._conn is not None:
            status, body = 429, TOO_MANY_CONNECTIONS
        elif not 0 <= backfill <= 5:
            status, body = 400, {"errors": [{"parameters": {"backfill_minutes": [request.query["backfill_minutes"]]},
                                             "message": "The `backfill_minutes` query parameter value is not between 0 and 5"}],
                                 "title": "Invalid Request", "type": PROBLEMS + "invalid-request"}  # fmt: skip
        elif self.ledger.capped(STREAM, now):
            status, body = 429, usage_capped_body(self.cfg.account_id)
        elif not self.active_rules(now):
            status, body = 409, NO_RULES
        attempt.status = status
        if body is not None:
            attempt.end, attempt.ended = "answered", now
            return respond(status, body, headers)
        resp = web.StreamResponse(status=200, headers={**headers, "Date": formatdate(now, usegmt=True)})
        resp.content_type = "application/json"
        await resp.prepare(request)
        conn = self._conn = _Conn(attempt, request)
        try:
            await self._serve(conn, resp, int(now * 1000) - backfill * 60_000)
        except (ConnectionError, RuntimeError):  # the client went away mid-write
            self._close(conn, "client closed")
        finally:
            self._close(conn, "client closed")
        return resp

    def _close(self, conn: _Conn, why: str) -> None:
        if not conn.closed:
            conn.closed = True
            conn.attempt.end, conn.attempt.ended = why, self.clock.now()
        if self._conn is conn:
            self._conn = None

    async def _write(self, conn: _Conn, resp: web.StreamResponse, data: bytes) -> None:
        await resp.write(data)
        conn.attempt.bytes += len(data)

    async def _serve(self, conn: _Conn, resp: web.StreamResponse, pos_ms: int) -> None:
        keepalive = self.cfg.stream_keepalive_seconds
        next_ka = self.clock.now()
        while not conn.closed:
            now = self.clock.now()
            transport = conn.request.transport
            if transport is None or transport.is_closing():
                self._close(conn, "client closed")
                return
            fault = self._due_fault(now)
            if fault is not None:
                self._answers = [fault.then] * fault.times if fault.then else []
                if fault.end == "drop":
                    transport.abort()
                    self._close(conn, "dropped")
                    return
                if fault.end == "disconnect":
                    await self._write(conn, resp, _disconnect(fault.disconnect_type))
                    self._close(conn, f"disconnect {fault.disconnect_type}")
                    return
                conn.stalled = True
            if not conn.stalled:
                now_ms = int(now * 1000)
                for t in self._posts(pos_ms, now_ms):
                    rules = self.matching(t, now)
                    if not rules:
                        continue
                    if self.ledger.capped(STREAM, now):
                        await self._write(conn, resp, _capped(self.cfg.account_id))
                        self._close(conn, "usage capped")
                        return
                    await self._write(conn, resp, self._post_line(t, rules))
                    self.ledger.charge(STREAM, now, [("post", str(t.id))], False)
                    self.ledger.count_posts(STREAM, now, 1)
                    self.deliveries.append(Delivery(now, str(t.id), tuple(r.tag or "" for r in rules)))
                    conn.attempt.posts += 1
                pos_ms = now_ms
                if now >= next_ka:
                    await self._write(conn, resp, b"\r\n")
                    next_ka = now + keepalive
            wake = [next_ka] if not conn.stalled else [now + keepalive]
            fault_at = self._next_fault_at()
            if fault_at is not None:
                wake.append(fault_at)
            if not conn.stalled:
                upto = pos_ms + int(keepalive * 1000)
                nxt = next((t for t in self._posts(pos_ms, upto) if self.matching(t, t.created_ms / 1000)), None)
                if nxt is not None:
                    wake.append(nxt.created_ms / 1000)
            await asyncio.sleep(max(0.0, min(wake) - self.clock.now()))

    def _post_line(self, t: Tweet, rules: list[Rule]) -> bytes:
        body: dict[str, Any] = {"data": R.tweet_json(self.world, t, frozenset({"author_id", "created_at"})),
                                "matching_rules": [{"id": r.id, "tag": r.tag or ""} for r in rules]}  # fmt: skip
        return json.dumps(body).encode() + b"\r\n"


def _rule_json(r: Rule) -> dict[str, str]:
    out = {"id": r.id, "value": r.value}
    if r.tag is not None:
        out["tag"] = r.tag
    return out


def _disconnect(kind: str) -> bytes:
    body = {"errors": [{"title": "operational-disconnect", "disconnect_type": kind,
                        "detail": "This stream has been disconnected upstream for operational reasons.",
                        "type": "https://api.x.com/2/problems/operational-disconnect"}]}  # fmt: skip
    return json.dumps(body).encode() + b"\r\n"


def _capped(account_id: str) -> bytes:
    return json.dumps({"errors": [usage_capped_body(account_id)]}).encode() + b"\r\n"
