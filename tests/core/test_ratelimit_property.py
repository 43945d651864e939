"""Property: against a fixed-window server, the engine never grants a request the server rejects.

Model (what the test assumes, and what the engine is allowed to rely on):

- One client (our engine) uses the bucket; the engine's prior limit equals the server's ``L``
  and its ``window`` equals the server's ``W``.
- The server keeps fixed windows: a window opens at the first request *arriving* after the
  previous one ended and lasts ``W`` seconds; it accepts ``L`` requests per window and answers
  429 to any more (the test fails on the first 429).
- Server time = local time - ``offset``, with a constant ``offset`` in [-30, 30] s (no drift).
- A granted request reaches the server ``latency`` seconds after its grant (local time), with
  0 <= latency <= ``max_latency``, the bound the engine is configured with. A request the test
  cancels never reaches the server (it is cancelled before its arrival time).
- Each answer, when it has rate headers, carries ``x-rate-limit-limit/-remaining/-reset`` with
  ``reset`` = the window's end *rounded down* to a whole second (the worst case; the engine's
  ``reset_margin`` is 2 s), and independently a ``Date`` = the server time at arrival rounded
  down. Answers are observed in any order, at any local time after the request arrived, with
  or without headers (hypothesis chooses, including "never any headers").
- Local times passed to the engine never decrease. Workers are modelled by many requests in
  flight at once; which worker holds a ticket does not matter to the engine.

Checked: no server window ever receives more than ``L`` requests; and every ``WaitUntil(t)`` is
exact enough to sleep on: reserving at ``t``, with nothing else happening, grants.
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvester.core.ratelimit import Pacing, RateLimits, Send, Ticket, WaitUntil

ROUTE = "/sim/bucket"


@dataclass
class Request:
    ticket: Ticket
    arrive_local: float
    arrived: bool = False
    headers: dict[str, str] | None = None
    status: int | None = None


@dataclass
class Server:
    limit: int
    window: float
    offset: float  # local - server
    window_start: float | None = None
    count: int = 0
    per_window: dict[float, int] = field(default_factory=dict)

    def arrive(self, server_t: float) -> tuple[int, int, float]:
        if self.window_start is None or server_t >= self.window_start + self.window:
            self.window_start, self.count = server_t, 0
        self.per_window[self.window_start] = self.per_window.get(self.window_start, 0) + 1
        if self.count >= self.limit:
            return 429, 0, self.window_start + self.window
        self.count += 1
        return 200, self.limit - self.count, self.window_start + self.window


def check_guard_index(bucket: Any, now: float, window: float) -> None:
    """The sliding guard's grouped index answers what a scan of the log does (issue 19)."""
    for t in (now, now + 1.0, now + window / 2, now + window, now + 2 * window):
        counted = bucket._counted(t)
        assert bucket._count(t) == len(counted), (t, counted)
        for k in {1, len(counted) // 2, len(counted)} - {0} if counted else ():
            assert bucket._kth_newest(t, k) == counted[len(counted) - k]


class Sim:
    def __init__(self, data: st.DataObject, *, limit: int, window: float, max_latency: float,
                 offset: float, mode: Pacing) -> None:
        self.data = data
        self.t = 1_000_000.0 + data.draw(st.floats(0, 10), label="start")
        self.max_latency = max_latency
        self.server = Server(limit=limit, window=window, offset=offset)
        self.engine = RateLimits({ROUTE: (limit, None)}, window=window, mode=mode,
                                 reset_margin=2.0, max_latency=max_latency)
        self.pending: list[Request] = []  # granted, not yet arrived
        self.ready: list[Request] = []  # arrived, answer not yet observed
        self.rejected = 0

    def advance_to(self, t: float) -> None:
        assert t >= self.t
        due = sorted((r for r in self.pending if r.arrive_local <= t), key=lambda r: r.arrive_local)
        for r in due:
            self.pending.remove(r)
            server_t = r.arrive_local - self.server.offset
            status, remaining, end = self.server.arrive(server_t)
            self.rejected += status == 429
            headers: dict[str, str] = {}
            if self.data.draw(st.booleans(), label="rate headers"):
                headers |= {"x-rate-limit-limit": str(self.server.limit),
                            "x-rate-limit-remaining": str(remaining),
                            "x-rate-limit-reset": str(math.floor(end))}
            if self.data.draw(st.booleans(), label="date header"):
                headers["Date"] = email.utils.formatdate(math.floor(server_t), usegmt=True)
            r.arrived, r.headers, r.status = True, headers, status
            self.ready.append(r)
        self.t = t

    def reserve(self) -> None:
        d = self.engine.reserve(ROUTE, "app", "app", self.t)
        if isinstance(d, WaitUntil):
            assert d.t > self.t
            if self.data.draw(st.booleans(), label="sleep until t"):
                self.advance_to(d.t)
                again = self.engine.reserve(ROUTE, "app", "app", self.t)
                assert isinstance(again, Send), (d, again, self.engine.bucket(ROUTE, "app", "app"))
                self.grant(again)
            return
        self.grant(d)

    def grant(self, d: Send) -> None:
        latency = self.data.draw(st.floats(0, self.max_latency), label="latency")
        self.pending.append(Request(ticket=d.ticket, arrive_local=self.t + latency))

    def step(self) -> None:
        op = self.data.draw(st.sampled_from(["reserve", "reserve", "advance", "observe", "observe",
                                             "cancel"]), label="op")
        if op == "reserve":
            self.reserve()
        elif op == "advance":
            scale = self.server.window
            dt = self.data.draw(st.one_of(st.floats(0, 2.0), st.floats(0, scale / 4),
                                          st.floats(scale * 0.9, scale * 1.1)), label="dt")
            self.advance_to(self.t + dt)
        elif op == "observe" and self.ready:
            r = self.ready.pop(self.data.draw(st.integers(0, len(self.ready) - 1), label="which"))
            self.engine.observe(r.ticket, self.t, r.headers, "window" if r.status == 429 else None)
        elif op == "cancel" and self.pending:
            r = self.pending.pop(self.data.draw(st.integers(0, len(self.pending) - 1), label="which"))
            self.engine.cancel(r.ticket)
        check_guard_index(self.engine.bucket(ROUTE, "app", "app"), self.t, self.server.window)

    def finish(self) -> None:
        self.advance_to(self.t + self.max_latency + 1)
        for r in self.ready:
            self.engine.observe(r.ticket, self.t, r.headers, "window" if r.status == 429 else None)
        self.ready.clear()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # each step also checks the index against a full scan
@given(
    data=st.data(),
    limit=st.integers(1, 6),
    window=st.sampled_from([10.0, 60.0, 900.0]),
    max_latency=st.sampled_from([0.0, 0.5, 3.0]),
    offset=st.one_of(st.sampled_from([-30.0, -5.0, 0.0, 5.0, 30.0]), st.floats(-30, 30)),
    mode=st.sampled_from(["spread", "burst"]),
    steps=st.integers(10, 160),
)
def test_no_interleaving_overfills_a_server_window(
    data: st.DataObject, limit: int, window: float, max_latency: float, offset: float,
    mode: Pacing, steps: int,
) -> None:
    sim = Sim(data, limit=limit, window=window, max_latency=max_latency, offset=offset, mode=mode)
    for _ in range(steps):
        sim.step()
    sim.finish()
    assert sim.rejected == 0, sim.server.per_window
    assert max(sim.server.per_window.values(), default=0) <= limit
