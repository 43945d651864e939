"""The stream's decisions, table by table: rules diff, routing, back-off, lines, recovery."""

from __future__ import annotations

import pytest

from harvester.core.model import JobSpec
from harvester.core.stream.fill import fill_tasks
from harvester.core.stream.messages import (
    Disconnect,
    KeepAlive,
    PostLine,
    Unknown,
    connect_failure,
    read_line,
)
from harvester.core.stream.reconnect import Failure, ReconnectPolicy, backoff
from harvester.core.stream.recovery import MARGIN_SECONDS, StreamTracker, created_at, snowflake_at
from harvester.core.stream.rules import (
    Router,
    ServerRule,
    StreamRule,
    diff_rules,
    refusal_message,
    wanted_rules,
)

A = StreamRule(value="cat", tag="pets", job="pets")
B = StreamRule(value="dog", tag="pets", job="pets")
C = StreamRule(value="rain", tag="weather", job="weather")


def server(*rules: tuple[str, str, str | None]) -> list[ServerRule]:
    return [ServerRule(id=i, value=v, tag=t) for i, v, t in rules]


@pytest.mark.parametrize(
    ("wanted", "on_server", "ours", "prune", "add", "delete"),
    [
        ([A, B], [], set(), False, ["cat", "dog"], []),  # first start: add all
        ([A, B], server(("1", "cat", "pets"), ("2", "dog", "pets")), {"1", "2"}, False, [], []),  # same: nothing
        ([A, C], server(("1", "cat", "pets"), ("2", "dog", "pets")), {"1", "2"}, False, ["rain"], ["2"]),
        ([A], server(("1", "cat", "pets"), ("9", "x", "someone")), {"1"}, False, [], []),  # not ours: kept
        ([A], server(("1", "cat", "pets"), ("9", "x", "someone")), {"1"}, True, [], ["9"]),  # --prune-rules
        ([A], server(("1", "cat", "other")), {"1"}, False, ["cat"], ["1"]),  # same value, new tag: replaced
        ([], server(("1", "cat", "pets")), {"1"}, False, [], ["1"]),  # no stream job left
    ],
)
def test_diff_rules(wanted: list[StreamRule], on_server: list[ServerRule], ours: set[str], prune: bool,
                    add: list[str], delete: list[str]) -> None:  # fmt: skip
    diff = diff_rules(wanted, on_server, ours, prune=prune)
    assert [r.value for r in diff.add] == add
    assert list(diff.delete) == delete
    assert diff.empty == (not add and not delete)


def test_wanted_rules_and_router() -> None:
    specs = [JobSpec(name="pets", kind="stream", extra={"rules": ({"value": "cat", "tag": "pets"},)}),
             JobSpec(name="s", kind="search", query="x"),
             JobSpec(name="pets2", kind="stream", extra={"rules": ({"value": "dog", "tag": "pets"},
                                                                   {"value": "rain", "tag": "w"})})]  # fmt: skip
    wanted = wanted_rules(specs)
    assert [(r.value, r.tag, r.job) for r in wanted] == [("cat", "pets", "pets"), ("dog", "pets", "pets2"),
                                                         ("rain", "w", "pets2")]  # fmt: skip
    router = Router(wanted)
    assert router.jobs([{"id": "1", "tag": "pets"}]) == ("pets", "pets2")
    assert router.jobs([{"id": "1", "tag": "w"}, {"id": "2", "tag": "pets"}]) == ("pets2", "pets")
    assert router.jobs([{"id": "1", "tag": "nobody"}]) == ()
    assert router.jobs(None) == ()


def test_refusal_names_the_job() -> None:
    body = {"errors": [{"value": "dog(", "details": ["unbalanced parenthesis"], "title": "UnprocessableEntity"}]}
    msg = refusal_message(body, [StreamRule(value="dog(", tag="t", job="pets")])
    assert msg == "job pets: stream rule 'dog(' was refused by the server: unbalanced parenthesis"


@pytest.mark.parametrize(
    ("failure", "attempts", "waits"),
    [
        (Failure.NETWORK, 70, [0.25 * n for n in range(1, 65)] + [16.0] * 6),
        (Failure.HTTP, 8, [5, 10, 20, 40, 80, 160, 320, 320]),
        (Failure.RATE_LIMIT, 5, [60, 120, 240, 480, 960]),
        (Failure.ENDED, 3, [0, 0, 0]),
    ],
)
def test_backoff_follows_x(failure: Failure, attempts: int, waits: list[float]) -> None:
    assert [backoff(failure, n) for n in range(1, attempts + 1)] == waits


def test_policy_resets_on_200_and_counts_classes_apart() -> None:
    p = ReconnectPolicy()
    assert [p.failed(Failure.NETWORK), p.failed(Failure.NETWORK), p.failed(Failure.HTTP)] == [0.25, 0.5, 5.0]
    p.connected()
    assert p.failed(Failure.HTTP) == 5.0
    assert p.failed(Failure.ENDED) == 0.0
    assert p.failed(Failure.RATE_LIMIT) == 60.0
    assert p.total == {Failure.NETWORK: 2, Failure.HTTP: 2, Failure.ENDED: 1, Failure.RATE_LIMIT: 1}


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"\r\n", KeepAlive),
        (b'{"data":{"id":"12","text":"x"},"matching_rules":[{"id":"1","tag":"t"}]}\r\n', PostLine),
        ((b'{"errors":[{"title":"operational-disconnect","disconnect_type":"OperationalDisconnect",'
         b'"type":"https://api.x.com/2/problems/operational-disconnect"}]}\r\n'), Disconnect),
        (b'{"errors":[{"title":"UsageCapExceeded","type":"https://api.twitter.com/2/problems/usage-capped"}]}\r\n',
         Disconnect),
        (b"not json\r\n", Unknown),
        (b'{"errors":[{"title":"Not Found Error","type":"https://api.twitter.com/2/problems/resource-not-found"}]}',
         Unknown),
    ],
)
def test_read_line(line: bytes, kind: type) -> None:
    assert isinstance(read_line(line), kind)


def test_disconnects_capped_and_fatal() -> None:
    capped = read_line(b'{"errors":[{"title":"x","type":"https://api.twitter.com/2/problems/usage-capped"}]}')
    assert isinstance(capped, Disconnect) and capped.capped and capped.fatal
    invalid = read_line(b'{"errors":[{"disconnect_type":"InvalidRules","type":"x/operational-disconnect"}]}')
    assert isinstance(invalid, Disconnect) and invalid.fatal and not invalid.capped


@pytest.mark.parametrize(
    ("status", "body", "failure", "stop", "capped"),
    [
        (429, {"title": "ConnectionException", "connection_issue": "TooManyConnections"}, Failure.RATE_LIMIT, False,
         False),
        (429, {"type": "https://api.twitter.com/2/problems/usage-capped"}, None, False, True),
        (503, {}, Failure.HTTP, False, False),
        (500, None, Failure.HTTP, False, False),
        (401, {}, None, True, False),
        (409, {}, None, True, False),
    ],
)
def test_connect_failure(status: int, body: dict[str, str] | None, failure: Failure | None, stop: bool,
                         capped: bool) -> None:  # fmt: skip
    f = connect_failure(status, body)
    assert (f.failure, f.stop, f.capped) == (failure, stop, capped)


T0 = 1_795_132_800.0


def test_snowflake_round_trip() -> None:
    assert created_at(snowflake_at(T0 + 1.5)) == T0 + 1.5
    assert snowflake_at(T0) < snowflake_at(T0 + 0.001)


@pytest.mark.parametrize(
    ("down", "backfill", "fills"),
    [
        (0.5, 1, False),  # a drop: reconnect at once, one minute back
        (200.0, 4, False),
        (270.0, 5, False),  # 270 s + the margin still fits five minutes
        (271.0, 5, True),  # longer: recent search fills the rest
        (3600.0, 5, True),
    ],
)
def test_tracker_backfill_or_fill(down: float, backfill: int, fills: bool) -> None:
    t = StreamTracker(T0)
    assert t.reconnect(T0).backfill_minutes == 0  # a new stream asks nothing back
    t.heard(T0 + 100)
    r = t.reconnect(T0 + 100 + down)
    assert r.backfill_minutes == backfill
    assert (r.fill is not None) == fills
    if r.fill is not None:
        since, until = r.fill
        assert since == snowflake_at(T0) - 1
        # The fill ends inside the five minutes the reconnect backfills, so the two overlap.
        assert created_at(until) == pytest.approx(T0 + 100 + down - 300 + MARGIN_SECONDS, abs=0.002)
        assert not t.keep(str(until - 1)) and t.keep(str(until))  # the stream leaves the fill's range alone


def test_tracker_drops_what_it_has_and_chains_fills() -> None:
    t = StreamTracker(T0)
    t.reconnect(T0)
    first = snowflake_at(T0 + 10) + 3
    assert t.keep(str(first)) and not t.keep(str(first)) and t.duplicates == 1
    t.heard(T0 + 10)
    a = t.reconnect(T0 + 1000).fill
    b = t.reconnect(T0 + 2000).fill  # the connect failed: the next fill starts where the last ended
    assert a is not None and b is not None and a[0] == first and b[0] == a[1] - 1
    saved = StreamTracker(T0 + 5000, t.to_json())
    assert saved.high == t.high and saved.alive == t.alive and not saved.fresh


def test_fill_tasks_per_rule() -> None:
    spec = JobSpec(name="j", kind="stream", tweet_fields=("created_at",),
                   extra={"rules": ({"value": "cat", "tag": "j"}, {"value": "x" * 600, "tag": "j"})})  # fmt: skip
    tasks, warnings = fill_tasks([spec], 10, 20)
    assert [(t.key, dict(t.params)) for t in tasks] == [("fill:0:10-20", {
        "query": "cat", "since_id": "10", "until_id": "20", "max_results": "100", "tweet.fields": "created_at"})]
    assert len(warnings) == 1 and "job j: rule 2" in warnings[0]
