"""The rate-limit engine driven with plain numbers: no loop, no clock, no patching."""

from __future__ import annotations

import email.utils
import heapq
import json
import math

import pytest

from harvester.core.ratelimit import (
    Bucket,
    Decision,
    RateLimits,
    Send,
    ServerClock,
    Ticket,
    WaitReason,
    WaitUntil,
)

RECENT = "/2/tweets/search/recent"
ARCHIVE = "/2/tweets/search/all"


def hdr(limit: int | None, remaining: int, reset: float, *, date: float | None = None,
        **daily: float) -> dict[str, str]:
    """Response headers; ``daily`` keys like ``app_limit``, ``app_remaining``, ``app_reset``."""
    h = {"x-rate-limit-remaining": str(remaining), "x-rate-limit-reset": str(int(reset))}
    if limit is not None:
        h["x-rate-limit-limit"] = str(limit)
    if date is not None:
        h["date"] = email.utils.formatdate(date, usegmt=True)
    for key, value in daily.items():
        kind, field = key.split("_")
        h[f"x-{kind}-limit-24hour-{field}"] = str(int(value))
    return h


def send(d: Decision) -> Ticket:
    assert isinstance(d, Send), d
    return d.ticket


def wait(d: Decision) -> WaitUntil:
    assert isinstance(d, WaitUntil), d
    return d


def bucket(limit: int = 5, **kw: object) -> Bucket:
    return Bucket(route="/t", auth="app", auth_kind="app", limit=limit, window=900.0, **kw)  # type: ignore[arg-type]


# --- priors, headers, counting -----------------------------------------------------------


def test_before_any_response_the_prior_limit_is_a_fresh_window() -> None:
    b = bucket(limit=3, mode="burst")
    for _ in range(3):
        send(b.reserve(100.0))
    w = wait(b.reserve(100.0))
    # Nothing is known of the server's window: wait until the grants leave window + latency.
    assert (w.t, w.reason) == (100.0 + 900.0 + 5.0, WaitReason.SLIDING)
    assert b.figures().in_flight == 3


def test_headers_replace_the_prior_and_are_authoritative() -> None:
    rl = RateLimits(mode="burst")
    t = send(rl.reserve(RECENT, "app", "app", 0.0))
    rl.observe(t, 0.3, hdr(40, 17, 900))
    (f,) = rl.snapshot()
    assert (f.limit, f.remaining, f.reset, f.available, f.in_flight, f.sent) == (40, 17, 900, 17, 0, 1)


def test_response_without_headers_keeps_our_count_going() -> None:
    b = bucket(limit=10, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.1, hdr(10, 5, 900))
    for _ in range(3):
        b.observe(send(b.reserve(1.0)), 1.1, {})
    b.observe(send(b.reserve(2.0)), 2.1, None)  # connection dropped mid-body: it counted
    assert b.figures().remaining == 1


def test_a_lower_remaining_than_predicted_wins_and_a_late_higher_one_is_ignored() -> None:
    b = bucket(limit=10, mode="burst")
    a, c = send(b.reserve(0.0)), send(b.reserve(0.0))
    b.observe(c, 0.5, hdr(10, 3, 900))  # somebody else used this bucket too
    b.observe(a, 0.6, hdr(10, 8, 900))  # older snapshot, arrives late
    assert b.figures().remaining == 2  # min(3 - 1, 8)


def test_a_moved_reset_means_a_new_window() -> None:
    b = bucket(limit=10, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.1, hdr(10, 0, 60, date=0))
    assert wait(b.reserve(1.0)).reason == WaitReason.WINDOW
    assert wait(b.reserve(1.0)).t == 60 + 0.1 + 2.0  # reset + skew + margin
    b.observe(send(b.reserve(62.1)), 62.2, hdr(10, 9, 960, date=62))
    assert (b.figures().remaining, b.figures().reset) == (9, 960)
    # A straggler from the old window does not count against the new one.
    t2 = send(b.reserve(63.0))
    b.observe(t2, 63.1, hdr(10, 0, 60))
    assert b.figures().remaining == 9


def test_reservations_count_against_remaining_across_workers() -> None:
    b = bucket(limit=450, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.1, hdr(450, 3, 900, date=0))
    workers = [b.reserve(1.0) for _ in range(5)]
    granted = [send(d) for d in workers[:3]]
    assert all(isinstance(d, WaitUntil) and d.reason == WaitReason.WINDOW for d in workers[3:])
    b.cancel(granted[0])  # connect error: never reached the server
    send(b.reserve(1.5))
    assert wait(b.reserve(1.5)).t == 900 + 0.1 + 2.0  # reset + skew (0.1) + margin


def test_settling_twice_or_a_foreign_ticket_raises() -> None:
    b = bucket()
    t = send(b.reserve(0.0))
    b.observe(t, 1.0, {})
    with pytest.raises(ValueError, match="already settled"):
        b.cancel(t)
    other = bucket()
    with pytest.raises(ValueError):
        other.observe(send(bucket().reserve(0.0)), 1.0, {})


# --- skew --------------------------------------------------------------------------------


def test_date_header_corrects_a_fast_local_clock() -> None:
    # Local clock runs 100 s ahead of the server.
    b = bucket(limit=2, mode="burst")
    b.observe(send(b.reserve(1100.0)), 1100.5, hdr(2, 0, 1900, date=1000))
    w = wait(b.reserve(1101.0))
    assert (w.t, w.reason) == (1900 + 100.5 + 2.0, WaitReason.WINDOW)
    assert isinstance(b.reserve(w.t), Send)


def test_skew_uses_the_smallest_recent_sample() -> None:
    c = ServerClock()
    for now, date in [(105.0, 100.0), (201.2, 200.0), (300.9, 300.0)]:
        c.observe(now, date)
    assert c.skew == pytest.approx(0.9)
    assert c.to_server(1000.0) == pytest.approx(999.1)
    assert "skew=+0.900s" in repr(c)


def test_proven_old_grants_are_released_only_when_the_skew_corrected_reset_passed() -> None:
    # Local = server + 30. Server window [1000, 1060) with limit 2.
    b = bucket(limit=2, mode="burst")
    b.window = 60.0
    a, c = send(b.reserve(1030.0)), send(b.reserve(1030.0))
    b.observe(c, 1030.5, {})  # c has no headers: we cannot tell which window it landed in
    b.observe(a, 1030.6, hdr(2, 1, 1060, date=1000))  # a's snapshot predates c
    w = wait(b.reserve(1062.0))  # 1062 local is only 1032 on the server
    assert (w.t, w.reason) == (1060 + 30.6 + 2.0, WaitReason.SLIDING)
    assert isinstance(b.reserve(w.t), Send)


def test_without_any_date_proven_old_grants_stay_counted() -> None:
    b = bucket(limit=2, mode="burst")
    b.window = 60.0
    b.observe(send(b.reserve(0.0)), 0.1, hdr(2, 1, 60))
    b.observe(send(b.reserve(0.0)), 0.1, hdr(2, 0, 60))
    w = wait(b.reserve(63.0))  # the header window has ended (skew taken as 0) ...
    assert (w.t, w.reason) == (65.0, WaitReason.SLIDING)  # ... but the grants stay counted


def test_with_date_a_passed_reset_frees_the_whole_limit_at_once() -> None:
    b = bucket(limit=3, mode="burst")
    for _ in range(3):
        b.observe(send(b.reserve(0.0)), 0.1, hdr(3, 2, 900, date=0))
    assert wait(b.reserve(1.0)).t == 900 + 0.1 + 2.0
    for _ in range(3):
        send(b.reserve(902.1))


# --- pacing ------------------------------------------------------------------------------


def test_spread_mode_spaces_the_rest_of_the_window_evenly_and_exactly() -> None:
    b = bucket(limit=450)
    b.observe(send(b.reserve(0.0)), 0.0, hdr(450, 449, 900, date=0))
    w = wait(b.reserve(0.0))
    horizon = 900 + 0.0 + 2.0
    assert w.reason == WaitReason.PACING
    assert w.t == pytest.approx((449 * 0.0 + horizon) / 450)  # t - last == (horizon - t) / 449
    assert b.interval(0.0) == pytest.approx(horizon / 449)
    assert isinstance(b.reserve(w.t), Send)  # sleeping until t is enough


def test_spread_mode_spends_a_window_without_a_429_and_uses_nearly_all_of_it() -> None:
    limit, window = 30, 60.0
    sent = run_server(RateLimits({"/t": (limit, None)}, window=window), limit=limit, window=window,
                      workers=4, until=window * 10)
    assert max(sent.values()) <= limit
    assert sum(sent.values()) >= limit * 9


def test_burst_mode_sends_at_once_then_waits_for_the_reset() -> None:
    b = bucket(limit=10, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.0, hdr(10, 4, 900, date=0))
    for _ in range(4):
        send(b.reserve(0.0))
    assert wait(b.reserve(0.0)).t == 902.0
    assert b.interval(0.0) == 0.0


def test_full_archive_search_keeps_one_second_between_grants() -> None:
    rl = RateLimits(mode="burst")
    t1 = send(rl.reserve(ARCHIVE, "app", "app", 10.0))
    w = wait(rl.reserve(ARCHIVE, "app", "app", 10.2))
    assert (w.t, w.reason) == (11.1, WaitReason.PER_SECOND)
    rl.observe(t1, 10.5, hdr(300, 299, 910, date=10))
    send(rl.reserve(ARCHIVE, "app", "app", 11.1))
    assert rl.interval(ARCHIVE, "app", "app", 11.1) == pytest.approx(1.1)


def test_a_per_second_429_holds_the_bucket_about_a_second() -> None:
    rl = RateLimits(mode="burst")
    t = send(rl.reserve(ARCHIVE, "app", "app", 10.0))
    rl.observe(t, 10.4, hdr(300, 250, 910, date=10), limited="per_second")
    w = wait(rl.reserve(ARCHIVE, "app", "app", 10.4))
    assert w.reason == WaitReason.HOLD
    assert w.t == pytest.approx(11.5)


# --- 24-hour buckets, 429s, denylist guard -------------------------------------------------


def test_a_24_hour_bucket_is_tracked_once_seen() -> None:
    b = Bucket(route="/t", auth="u1", auth_kind="user", limit=100, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.0,
              hdr(100, 90, 900, date=0, user_limit=250, user_remaining=2, user_reset=50_000))
    send(b.reserve(1.0))
    b.observe(send(b.reserve(1.0)), 1.0, {})  # no headers: the daily count goes on too
    w = wait(b.reserve(2.0))
    assert (w.t, w.reason) == (50_002.0, WaitReason.DAILY)
    assert b.figures().daily_remaining == 1


def test_a_24_hour_429_waits_for_the_24_hour_reset() -> None:
    b = Bucket(route="/t", auth="u1", auth_kind="user", limit=100, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.0,
              hdr(100, 40, 900, date=0, user_limit=250, user_remaining=0, user_reset=80_000), limited="daily")
    assert wait(b.reserve(5.0)).t == 80_002.0
    assert b.figures().rejected == 1


def test_two_window_429s_in_one_window_stop_the_bucket_for_the_rest_of_it() -> None:
    b = bucket(limit=10, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.0, hdr(10, 0, 900, date=0), limited="window")
    w1 = wait(b.reserve(0.5))
    assert w1.reason in (WaitReason.WINDOW, WaitReason.HOLD)
    b.observe(send(b.reserve(w1.t)), w1.t, hdr(10, 0, 900), limited="window")  # our model was wrong
    # (the reset had "passed", yet the server still said 429: the skew or reset was off)
    w2 = wait(b.reserve(w1.t))
    assert w2.reason == WaitReason.DENYLIST
    assert w2.t >= w1.t + 60.0
    assert "429s in one window" in w2.detail


def test_a_429_without_headers_holds_an_unknown_window() -> None:
    b = bucket(limit=10, mode="burst")
    b.observe(send(b.reserve(0.0)), 1.0, {}, limited="window")
    w = wait(b.reserve(1.0))
    assert (w.t, w.reason) == (61.0, WaitReason.HOLD)


def test_a_429_without_headers_empties_a_known_window() -> None:
    b = bucket(limit=10, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.0, hdr(10, 5, 900, date=0))
    b.observe(send(b.reserve(1.0)), 1.0, {}, limited="window")
    assert wait(b.reserve(1.0)) == WaitUntil(t=902.0, reason=WaitReason.WINDOW, detail=wait(b.reserve(1.0)).detail)


# --- registry --------------------------------------------------------------------------


def test_the_registry_uses_the_table_overrides_and_auth_kinds() -> None:
    rl = RateLimits({RECENT: (5, 2)})
    assert rl.bucket(RECENT, "app", "app").limit == 5
    assert rl.bucket(RECENT, "alice", "user").limit == 2
    assert rl.bucket("/2/users/:id/tweets", "app", "app").limit == 10_000
    assert rl.bucket(ARCHIVE, "app", "app").per_second == 1.0
    with pytest.raises(ValueError, match="cannot be called with user auth"):
        rl.bucket(ARCHIVE, "bob", "user")
    with pytest.raises(ValueError, match="is app"):
        rl.bucket(RECENT, "app", "user")
    with pytest.raises(KeyError):
        rl.bucket("/2/nope", "app", "app")


def test_a_pool_of_ten_users_gives_ten_times_a_user_limit() -> None:
    rl = RateLimits({RECENT: (450, 3)}, mode="burst")
    users = [f"u{i}" for i in range(10)]
    tickets = [send(rl.choose(RECENT, users, 0.0)) for _ in range(30)]
    assert sorted({t.auth for t in tickets}) == sorted(users)
    w = wait(rl.choose(RECENT, users, 0.0))
    assert w.reason == WaitReason.SLIDING
    rl.cancel(tickets[0])
    assert send(rl.choose(RECENT, users, 0.0)).auth == tickets[0].auth


def test_choose_prefers_the_context_that_can_send_soonest() -> None:
    rl = RateLimits({RECENT: (450, 300)}, mode="burst")
    t = send(rl.reserve(RECENT, "a", "user", 0.0))
    rl.observe(t, 0.0, hdr(300, 0, 100, date=0))
    t = send(rl.reserve(RECENT, "b", "user", 0.0))
    rl.observe(t, 0.0, hdr(300, 0, 50, date=0))
    w = wait(rl.choose(RECENT, ["a", "b"], 1.0))
    assert w.t == 52.0 and w.detail.startswith("b:")
    assert send(rl.choose(RECENT, ["a", "b"], 52.0)).auth == "b"


def test_snapshot_repr_and_state_round_trip() -> None:
    rl = RateLimits(mode="burst")
    t = send(rl.reserve(RECENT, "app", "app", 0.0))
    rl.observe(t, 0.2, hdr(450, 100, 900, date=0))
    send(rl.reserve(RECENT, "app", "app", 1.0))  # still in flight at export: saved as sent
    assert "remaining=100" in repr(rl.bucket(RECENT, "app", "app")) and "in_flight=1" in repr(rl)
    state = json.loads(json.dumps(rl.export_state()))
    fresh = RateLimits(mode="burst")
    fresh.load_state(state)
    (f,) = fresh.snapshot(2.0)
    assert (f.remaining, f.reset, f.in_flight, f.sent, f.available) == (99, 900, 0, 2, 99)
    assert fresh.clock.skew == pytest.approx(0.2)
    with pytest.raises(ValueError, match="version"):
        fresh.load_state({"version": 99})


# --- a small fixed-window server, to run many windows -------------------------------------


def run_server(rl: RateLimits, *, limit: int, window: float, workers: int, until: float,
               latency: float = 0.2) -> dict[float, int]:
    """Workers reserve → send → observe against a fixed-window server; returns sends per window."""
    start: float | None = None
    count = 0
    per_window: dict[float, int] = {}
    events: list[tuple[float, int, Ticket | None]] = [(0.0, w, None) for w in range(workers)]
    heapq.heapify(events)
    while events:
        now, worker, ticket = heapq.heappop(events)
        if now > until:
            break
        if ticket is not None:  # a response arrives
            arrival = now - latency / 2
            if start is None or arrival >= start + window:
                start, count = arrival, 0
            count += 1
            per_window[start] = per_window.get(start, 0) + 1
            limited = None if count <= limit else "window"
            rl.observe(ticket, now, hdr(limit, max(0, limit - count), math.floor(start + window),
                                         date=math.floor(arrival)), limited=limited)
            heapq.heappush(events, (now, worker, None))
            continue
        d = rl.reserve("/t", "app", "app", now)
        match d:
            case Send(ticket=t):
                heapq.heappush(events, (now + latency, worker, t))
            case WaitUntil(t=t):
                heapq.heappush(events, (t, worker, None))
    return per_window


def test_many_windows_in_burst_mode_never_429() -> None:
    sent = run_server(RateLimits({"/t": (20, None)}, window=30.0, mode="burst"), limit=20, window=30.0,
                      workers=7, until=30.0 * 20)
    assert max(sent.values()) == 20
    assert len(sent) >= 18


# --- what the server says wins: learned windows, newer headers, every 429 a wait ------------


def test_the_window_length_is_learned_from_the_headers_not_assumed() -> None:
    # Prior 900 s; the server's windows are 10 s and open at the first request.
    b = bucket(limit=3, mode="burst")
    assert b.figures().window == 900.0 and not b.figures().window_learned
    b.observe(send(b.reserve(0.0)), 0.2, hdr(3, 2, 10, date=0))
    f = b.figures()
    # reset - grant (in server time: the answer came 0.2 s after its Date) + a rounding second
    assert f.window_learned and f.window == pytest.approx(11.2)
    b.observe(send(b.reserve(0.3)), 0.4, hdr(3, 1, 10, date=0))
    b.observe(send(b.reserve(0.5)), 0.6, hdr(3, 0, 10, date=0))
    # The window is spent: the next request waits for the reset (+ skew + the 2 s margin) ...
    assert wait(b.reserve(0.7)).t == pytest.approx(12.2)
    # ... and then, with the new window's reset not yet known, spread pacing spaces requests by
    # the learned window, never by the prior's (900 + 5) / 3 s.
    b.mode = "spread"
    t = send(b.reserve(12.2))
    nxt = wait(b.reserve(12.2))
    assert nxt.reason == WaitReason.PACING and nxt.t - 12.2 == pytest.approx((11.2 + 5.0) / 3)
    b.observe(t, 12.3, hdr(3, 2, 22, date=12))
    assert b.figures().window == pytest.approx(11.0, abs=0.3)


def test_a_shortened_window_is_followed_at_the_next_window() -> None:
    b = bucket(limit=5, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.1, hdr(5, 4, 30, date=0))
    assert b.figures().window == pytest.approx(31.0, abs=0.2)
    b.observe(send(b.reserve(32.5)), 32.6, hdr(5, 4, 42, date=32))  # the server now has 10 s windows
    assert b.figures().window == pytest.approx(10.5, abs=0.2)


def test_a_newer_answer_with_an_earlier_reset_and_smaller_limit_replaces_the_claim() -> None:
    # A 429 announced limit 15 / reset +900; every later answer says limit 3 / reset +30.
    b = bucket(limit=15, mode="burst")
    first, second = send(b.reserve(0.0)), send(b.reserve(0.0))
    b.observe(first, 0.1, hdr(15, 0, 900, date=0), limited="window")
    assert wait(b.reserve(0.2)).t > 800
    b.observe(second, 1.1, hdr(3, 2, 31, date=1))  # stamped a second later: newer news
    f = b.figures()
    assert (f.limit, f.remaining, f.reset) == (3, 2, 31)
    # The 2 left go now (after the 429's one-second hold), not one per ~5 minutes until +900.
    assert isinstance(b.reserve(1.2), Send)


def test_a_late_answer_from_an_earlier_second_never_overrides_a_newer_claim() -> None:
    b = bucket(limit=10, mode="burst")
    t1 = send(b.reserve(0.0))
    b.observe(send(b.reserve(0.0)), 5.0, hdr(10, 8, 60, date=5))
    b.observe(t1, 6.0, hdr(10, 9, 40, date=2))  # older news of an older window
    assert (b.figures().remaining, b.figures().reset) == (8, 60)


def test_a_per_second_429_on_any_route_teaches_a_gap_that_doubles_while_it_keeps_refusing() -> None:
    b = bucket(limit=100, mode="burst")
    b.observe(send(b.reserve(0.0)), 0.1, hdr(100, 99, 900, date=0))
    b.observe(send(b.reserve(0.2)), 0.3, hdr(100, 98, 900, date=0), limited="per_second")
    assert b.figures().min_gap == pytest.approx(1.1)
    w = wait(b.reserve(0.4))
    assert w.t == pytest.approx(1.4)
    b.observe(send(b.reserve(1.5)), 1.6, hdr(100, 97, 900, date=1), limited="per_second")
    assert b.figures().min_gap == pytest.approx(2.1)
    # ... which was a second 429 in this window: the denylist guard stops the bucket.
    assert wait(b.reserve(3.0)).reason == WaitReason.DENYLIST


def test_429s_to_requests_already_in_flight_are_not_repeats() -> None:
    b = bucket(limit=10, mode="burst")
    tickets = [send(b.reserve(0.0)) for _ in range(4)]
    for i, t in enumerate(tickets):  # four in flight, the limiter refuses three of them
        b.observe(t, 0.5 + i * 0.01, hdr(10, 9 - i, 900, date=0), limited="per_second" if i else None)
    assert b.figures().stopped_until is not None  # the per-second hold, not the denylist stop
    assert b.stop_until == float("-inf")


def test_the_reset_margin_is_learned_from_a_server_that_rounds_its_reset_down() -> None:
    b = Bucket(route="/t", auth="app", auth_kind="app", limit=2, window=900.0, mode="burst",
               reset_margin=0.1, late_margin=1.0)
    b.observe(send(b.reserve(0.0)), 0.0, hdr(2, 1, 10, date=0))
    b.observe(send(b.reserve(0.0)), 0.0, hdr(2, 0, 10, date=0))
    w = wait(b.reserve(0.5))
    assert w.t == pytest.approx(10.1)  # a server that rounds its reset up is trusted at once
    # ... but this one rounded down: at 10.1 it still says the window ending "at 10" is spent.
    b.observe(send(b.reserve(w.t)), w.t, hdr(2, 0, 10, date=10), limited="window")
    assert b.reset_margin == 1.0
    b.observe(send(b.reserve(20.0)), 20.0, hdr(2, 1, 30, date=20))
    b.observe(send(b.reserve(20.0)), 20.0, hdr(2, 0, 30, date=20))
    assert wait(b.reserve(20.5)).t == pytest.approx(31.0)
    assert Bucket(route="/t", auth="app", auth_kind="app", limit=2, late_margin=1.0,
                  reset_margin=0.1).load(b.to_dict()) is None
