"""Limits that change mid-run: a schedule, the shrinking_windows preset, a server that changes its mind.

The headers must follow each change on the very next answer, since that is all a client can
learn it from.
"""

from __future__ import annotations

import math

from sbhelp import Client, Reply, drive

from harvester.sandbox import Sandbox, SandboxConfig
from harvester.sandbox.config import WindowChange

BY_NAME = "/2/users/by/username/"
ROUTE = BY_NAME + ":username"


def _h(r: Reply) -> tuple[int, int, int, int]:
    return (r.status, int(r.headers["x-rate-limit-limit"]), int(r.headers["x-rate-limit-remaining"]),
            int(r.headers["x-rate-limit-reset"]))  # fmt: skip


def _near(reset: int, t: float) -> bool:
    return math.ceil(t) <= reset <= math.ceil(t) + 1


def test_scheduled_change_of_window_and_limit() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        t0 = c.clock.now()
        status, limit, remaining, reset = _h(await c.get(BY_NAME + name))
        assert (status, limit, remaining) == (200, 5, 4) and _near(reset, t0 + 900)
        await c.clock.sleep_until(t0 + 12)  # the window shrinks at t0 + 10: it now ends at t0 + 30
        status, limit, remaining, reset = _h(await c.get(BY_NAME + name))
        assert (status, limit, remaining) == (200, 5, 3) and _near(reset, t0 + 30)
        await c.clock.sleep_until(t0 + 101)  # limit 2 from t0 + 100; the window of t0 + 30 has ended
        now = c.clock.now()
        assert [_h(await c.get(BY_NAME + name))[:3] for _ in range(3)] == [(200, 2, 1), (200, 2, 0), (429, 2, 0)]
        assert _near(_h(await c.get(BY_NAME + name))[3], now + 30)
        windows = [(round(w.start - t0), round(w.reset - t0), w.limit, w.allowed) for w in sb.stats.windows[f"{ROUTE} app"]]
        assert windows[:2] == [(0, 30, 5, 2), (101, 131, 2, 2)]

    changes = (WindowChange(10, window_seconds=30.0), WindowChange(100, limits={ROUTE: (2, 2)}))
    drive(SandboxConfig(limit_overrides={ROUTE: (5, 5)}, window_changes=changes), body)


def test_shrinking_windows_quirk() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        t0 = c.clock.now()
        assert _near(_h(await c.get(BY_NAME + name))[3], t0 + 900)
        await c.clock.sleep_until(t0 + 59)
        assert _near(_h(await c.get(BY_NAME + name))[3], t0 + 900)  # not yet
        await c.clock.sleep_until(t0 + 61)
        status, _, remaining, reset = _h(await c.get(BY_NAME + name))
        assert status == 200 and remaining == 297 and _near(reset, t0 + 300)  # a third of 900, same window
        await c.clock.sleep_until(t0 + 301)
        now = c.clock.now()
        status, _, remaining, reset = _h(await c.get(BY_NAME + name))
        assert remaining == 299 and _near(reset, now + 300)

    drive(SandboxConfig(quirks=frozenset({"shrinking_windows"})), body)


def test_a_server_that_changes_its_mind() -> None:
    """Limit 15 / reset +900 s on the first 429, then limit 3 / reset +30 s windows."""

    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        t0 = c.clock.now()
        assert [(await c.get(BY_NAME + name)).status for _ in range(15)] == [200] * 15
        status, limit, remaining, reset = _h(await c.get(BY_NAME + name))
        assert (status, limit, remaining) == (429, 15, 0) and _near(reset, t0 + 900)
        status, limit, remaining, reset = _h(await c.get(BY_NAME + name))
        assert (status, limit, remaining) == (429, 3, 0) and _near(reset, t0 + 30)  # smaller, earlier
        await c.clock.sleep_until(reset)
        for _ in range(3):
            now = c.clock.now()
            assert [_h(await c.get(BY_NAME + name))[:3] for _ in range(4)] == [
                (200, 3, 2), (200, 3, 1), (200, 3, 0), (429, 3, 0)]
            await c.clock.sleep_until(now + 30.5)
        assert sb.stats.max_allowed(f"{ROUTE} app") == 15
        assert [w.allowed for w in sb.stats.windows[f"{ROUTE} app"][1:]] == [3, 3, 3]

    drive(SandboxConfig(limit_overrides={ROUTE: (15, 15)}, mind_changes={ROUTE: (3, 30.0)}), body)
