"""Rate-limit windows, headers, per-app vs per-user buckets, 1 rps, 24h buckets, denylist."""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime

from sbhelp import Client, Reply, drive

from harvester.sandbox import Sandbox, SandboxConfig

USERS = "/2/users/by/username/"


def test_window_429_and_reset() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        t0 = c.clock.now()
        for i in range(5):
            r = await c.get(USERS + name)
            assert r.status == 200
            assert r.headers["x-rate-limit-limit"] == "5"
            assert r.headers["x-rate-limit-remaining"] == str(4 - i)
            assert r.headers["x-rate-limit-reset"] == str(math.ceil(t0 + 900))
            assert abs(parsedate_to_datetime(r.headers["Date"]).timestamp() - c.clock.now()) < 1.5
        r = await c.get(USERS + name)
        assert r.status == 429
        assert r.body == {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                          "status": 429}
        assert r.headers["x-rate-limit-remaining"] == "0" and "Date" in r.headers
        await c.clock.sleep_until(int(r.headers["x-rate-limit-reset"]))
        r = await c.get(USERS + name)
        assert r.status == 200 and r.headers["x-rate-limit-remaining"] == "4"
        key = "/2/users/by/username/:username app"
        assert sb.stats.max_allowed(key) == 5
        assert [(w.allowed, w.rejected) for w in sb.stats.windows[key]] == [(5, 1), (1, 0)]
        assert sb.stats.too_many[key] == 1
        assert sb.stats.requests[("/2/users/by/username/{username}", 429)] == 1

    drive(SandboxConfig(limit_overrides={"/2/users/by/username/:username": (5, 2)}), body)


def test_app_and_user_buckets_are_separate() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        for _ in range(2):
            assert (await c.get(USERS + name, token="u1")).status == 200
        assert (await c.get(USERS + name, token="u1")).status == 429
        r = await c.get(USERS + name, token="u2")
        assert r.status == 200 and r.headers["x-rate-limit-limit"] == "2"
        r = await c.get(USERS + name)
        assert r.status == 200 and r.headers["x-rate-limit-limit"] == "5"
        assert r.headers["x-rate-limit-remaining"] == "4"
        # Another route has its own bucket.
        assert (await c.get("/2/users/by", {"usernames": name}, token="u1")).headers["x-rate-limit-limit"] == "900"

    def setup(sb: Sandbox) -> None:
        uid = sb.truth.users_list()[0].id
        sb.add_oauth2_user_token("u1", uid)
        sb.add_oauth2_user_token("u2", uid)

    drive(SandboxConfig(limit_overrides={"/2/users/by/username/:username": (5, 2)}), body, setup)


def test_full_archive_one_per_second() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        p = {"query": sb.truth.sample_queries().rare}
        assert (await c.get("/2/tweets/search/all", p)).status == 200
        r = await c.get("/2/tweets/search/all", p)
        assert r.status == 429 and int(r.headers["x-rate-limit-remaining"]) > 0
        await c.clock.sleep(1.0)
        assert (await c.get("/2/tweets/search/all", p)).status == 200

    drive(SandboxConfig(), body)


def test_daily_bucket_headers() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        r = await c.get(USERS + name)
        assert r.headers["x-app-limit-24hour-limit"] == "2"
        assert r.headers["x-app-limit-24hour-remaining"] == "1"
        await c.get(USERS + name)
        r = await c.get(USERS + name)
        assert r.status == 429 and int(r.headers["x-rate-limit-remaining"]) > 0
        assert r.headers["x-app-limit-24hour-remaining"] == "0"

    drive(SandboxConfig(daily_limits={"/2/users/by/username/:username": (2, 1)}), body)


def test_denylist() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        name = sb.truth.users_list()[0].username
        statuses = [(await c.get(USERS + name)).status for _ in range(5)]
        assert statuses == [200, 429, 429, 403, 403]
        assert (await c.get("/2/users/by", {"usernames": name})).status == 403

    drive(SandboxConfig(limit_overrides={"/2/users/by/username/:username": (1, 1)}, denylist_after=2), body)


def test_report_gives_the_ground_truth_of_requests_windows_and_money() -> None:
    """``/_sandbox/report``: what tests of separate processes compare against."""

    async def body(sb: Sandbox, c: Client) -> Reply:
        name = sb.truth.users_list()[0].username
        for _ in range(3):
            await c.get(USERS + name)
        return await c.get("/_sandbox/report", token=None)

    r = drive(SandboxConfig(limit_overrides={"/2/users/by/username/:username": (2, 1)}), body)
    assert r.status == 200
    assert r.body["too_many"] == 1
    assert r.body["buckets"]["/2/users/by/username/:username app"] == {
        "max_allowed": 2, "limit": 2, "windows": 1, "rejected": 1}
    assert r.body["requests"] == {"/2/users/by/username/{username} 200": 2,
                                  "/2/users/by/username/{username} 429": 1}
    assert r.body["spent_micros"] == 10_000  # one user at $0.010: read twice in one UTC day
