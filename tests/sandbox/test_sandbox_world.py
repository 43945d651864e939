"""The world is deterministic, order-independent and shaped like X."""

from __future__ import annotations

import re

from harvester.sandbox import SandboxConfig
from harvester.sandbox.world import World


def test_deterministic_and_order_independent() -> None:
    a, b = World(SandboxConfig(seed=3)), World(SandboxConfig(seed=3))
    hours = range(a.start_ms // 3_600_000, a.start_ms // 3_600_000 + 30)
    forward = [t.id for h in hours for t in a.hour(h).tweets]
    backward = [t.id for h in reversed(hours) for t in b.hour(h).tweets]
    assert sorted(forward) == sorted(backward) and forward
    assert World(SandboxConfig(seed=4)).users[0].id != a.users[0].id or forward != [
        t.id for h in hours for t in World(SandboxConfig(seed=4)).hour(h).tweets]
    t = a.get_tweet(forward[0])
    assert t is not None and t.id == forward[0]


def test_shapes_and_heavy_tails() -> None:
    w = World(SandboxConfig(users=1000))
    assert all(re.fullmatch(r"[0-9]{1,19}", u.id) for u in w.users)
    assert all(re.fullmatch(r"[A-Za-z0-9_]{1,15}", u.username) for u in w.users)
    rates = sorted(u.rate for u in w.users)
    assert rates[len(rates) // 2] < 1.0 and rates[-1] > 100
    follows = sorted(len(f) for f in w.followers)
    assert follows[-1] > 10 * max(1, follows[len(follows) // 2])
    ids = [t.id for t in w.hour(w.start_ms // 3_600_000 + 5).tweets]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
