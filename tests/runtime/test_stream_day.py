"""A simulated day of the filtered stream with 100 forced disconnects, 20 of each class.

The union of the stream jobs' outputs must equal the sandbox's ground truth (Posts a live rule
matched when they were created), with no Post twice in a job's file, no connect attempt earlier
than X's reconnect rules allow (checked here against the sandbox's own record, with a separate
reading of the rules), and the harvester's ledger equal to the sandbox's bill to the micro-dollar.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from pathlib import Path

import aiohttp.connector
import pytest

from harvester.config import Config, StreamConfig
from harvester.core.model import JobSpec
from harvester.sandbox import SandboxConfig
from harvester.sandbox.config import StreamFault
from harvester.sandbox.stream import Attempt
from harvester.testing import (
    EPOCH,
    data_ids,
    harvest_sandbox,
    ledger_micros,
    make_config,
    read_pages,
    run_virtual,
)

DAY = 86_400.0
KEEPALIVE, STALL = 120.0, 180.0  # X's 20 s and tweepy's 21 s, scaled up so a day is cheap
DISCONNECT_TYPES = ("OperationalDisconnect", "UpstreamOperationalDisconnect", "ForceDisconnect",
                    "UpstreamUncleanDisconnect", "SlowReader", "InternalError")  # fmt: skip
JOBS = [
    JobSpec(name="a", kind="stream", extra={"rules": ({"value": "hazo", "tag": "a"},)}),
    JobSpec(name="b", kind="stream", extra={"rules": ({"value": "gyha", "tag": "b"}, {"value": "hazo rizo", "tag": "b"})}),
]


def faults() -> tuple[StreamFault, ...]:
    """100 disconnects over the day, cycling through the five classes; a stall gets 1000 s before
    the next fault (it takes up to ``STALL`` to notice), the others 830 s."""
    rng = random.Random(17)
    out = []
    at = 300.0
    for i in range(100):
        match i % 5:
            case 0:  # a network drop, then 0-3 connects cut before any answer
                out.append(StreamFault(after=at, end="drop", then="refuse", times=rng.randint(0, 3)))
            case 1:  # a drop, then 1-7 HTTP 503s
                out.append(StreamFault(after=at, end="drop", then="503", times=rng.randint(1, 7)))
            case 2:  # a drop, then 1-3 429s on connect
                out.append(StreamFault(after=at, end="drop", then="429", times=rng.randint(1, 3)))
            case 3:  # a disconnect message in the stream, its type cycling
                out.append(StreamFault(after=at, end="disconnect", disconnect_type=DISCONNECT_TYPES[(i // 5) % 6]))
            case _:  # silence: no data, no keep-alive
                out.append(StreamFault(after=at, end="stall"))
        at += 1000.0 if i % 5 == 4 else 820.0
    return tuple(out)


def too_early(attempts: list[Attempt]) -> list[str]:
    """Connects sooner than X's rules allow, read independently of core/stream/reconnect:
    after a working connection, at once; after the n-th consecutive cut connect, 0.25 s * n (at
    most 16 s); after the n-th HTTP error, 5 s * 2^(n-1) (at most 320 s); after the n-th 429,
    60 s * 2^(n-1). A 200 starts every count afresh."""
    bad = []
    cut = http = limited = 0
    for prev, cur in itertools.pairwise(attempts):
        if prev.status == 200:
            cut = http = limited = 0
            continue
        if prev.status == 0:
            cut += 1
            need = min(0.25 * cut, 16.0)
        elif prev.status == 429:
            limited += 1
            need = 60.0 * 2 ** (limited - 1)
        else:
            http += 1
            need = min(5.0 * 2 ** (http - 1), 320.0)
        if cur.at - prev.at < need - 1e-6:
            bad.append(f"{cur.at - prev.at:.3f}s after a {prev.status}, needed {need}")
    return bad


def loop_monotonic() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def test_a_day_of_disconnects_loses_nothing_and_bills_what_the_sandbox_bills(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # aiohttp ages pooled connections on the real monotonic clock but re-arms its cleanup on the
    # loop's: on a fast-forwarded loop an idle connection never expires and wakes the loop every
    # 15 virtual seconds all day. Aged on the loop's clock, it expires as it would in real time.
    monkeypatch.setattr(aiohttp.connector, "monotonic", loop_monotonic)
    sandbox = SandboxConfig(epoch=EPOCH, stream_keepalive_seconds=KEEPALIVE, stream_faults=faults())
    config = make_config(tmp_path, Config(stream=StreamConfig(stall_seconds=STALL)), run_for=DAY, workers=2)

    async def main():  # type: ignore[no-untyped-def]
        return await harvest_sandbox(config, JOBS, sandbox=sandbox)

    result, sb = run_virtual(main)
    assert result.outcome == "complete", result.stop
    stream = sb.stream
    truth = stream.matched(EPOCH, EPOCH + DAY)  # the rules' lifetime up to the end of --for
    outputs = {job.name: data_ids(read_pages(tmp_path / "out" / f"{job.name}.jsonl")) for job in JOBS}
    written = set().union(*outputs.values())
    missed, extra = set(truth) - written, written - set(truth)
    assert not missed and not extra, (len(missed), len(extra))
    assert all(len(ids) == len(set(ids)) for ids in outputs.values())  # no Post twice in a job's file
    for job in JOBS:  # each Post went to the job whose rule matched it
        assert set(outputs[job.name]) == {i for i, tags in truth.items() if job.name in tags}

    assert too_early(stream.attempts) == []
    answered = [a.status for a in stream.attempts]
    injected = {k: sum(f.times for f in sandbox.stream_faults if f.then == k) for k in ("refuse", "503", "429")}
    assert answered.count(0) == injected["refuse"] and answered.count(503) == injected["503"]
    assert answered.count(429) == injected["429"]  # never a second connection beside the first
    status = result.stream
    assert status is not None and status.gaps_filled > 0 and status.gaps_backfilled > 0
    assert sum(status.disconnects.values()) == 20 and status.stalls == 20

    assert ledger_micros(config.harvest.state) == sb.ledger.spent_micro > 0
    print(f"\nstream day: {len(truth)} matched, {len(written)} written, {len(stream.attempts)} connects, "
          f"reconnects {status.reconnects}, stalls {status.stalls}, gaps backfilled {status.gaps_backfilled}, filled {status.gaps_filled}, "
          f"fill tasks {status.fill_tasks}, duplicates dropped {status.duplicates}, bill {sb.ledger.spent_micro} µ$")
