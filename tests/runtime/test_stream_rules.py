"""Stream rules as a diff: an in-process daemon, its job files changed, a real SIGHUP each time.

The sandbox records every rules request; after each reload the requests sent must be exactly
the diff: a dry run of the new rules, their add, and the delete of the rules harvester added
that no job has any more. A rule someone else added is never touched; a reload of unchanged
files sends nothing; a rule the server refuses sends only its dry run and changes nothing.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import anyio

from harvester.embed.status import read_status
from harvester.sandbox import Sandbox
from harvester.sandbox.stream import RuleRequest
from harvester.testing import data_ids, make_config, read_pages, run_virtual, sandbox_daemon


def stream_job(name: str, *values: str) -> str:
    rules = ", ".join(f'{{value = "{v}"}}' for v in values)
    return f'[[job]]\nname = "{name}"\nkind = "stream"\nrules = [{rules}]\n'


def someone_elses_rule(sb: Sandbox) -> None:
    status, _ = sb.stream._apply({"add": [{"value": "duha", "tag": "not harvester"}]}, sb.clock.now(), False)
    assert status == 200


def sent(requests: list[RuleRequest]) -> list[tuple[str, bool, Any]]:
    """What each POST asked: ("add", dry_run, values) or ("delete", False, ids)."""
    out: list[tuple[str, bool, Any]] = []
    for r in requests:
        if r.method != "POST":
            continue
        if "add" in r.body:
            out.append(("add", r.dry_run, sorted(a["value"] for a in r.body["add"])))
        else:
            out.append(("delete", r.dry_run, sorted(r.body["delete"]["ids"])))
    return out


def sb_now(steps: dict[str, Any]) -> float:
    return float(steps["status"]["at"])


def test_sighup_sends_exactly_the_diff(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(stream_job("a", "hazo") + stream_job("b", "gyha"))
    config = make_config(tmp_path, workers=1)
    steps: dict[str, Any] = {}

    async def hup(sb: Sandbox) -> list[RuleRequest]:
        before = len(sb.stream.rule_requests)
        os.kill(os.getpid(), signal.SIGHUP)
        await anyio.sleep(5)  # the reload's requests go out and come back (virtual seconds)
        return sb.stream.rule_requests[before:]

    async def main() -> None:
        async with sandbox_daemon(config, [jobs], setup=someone_elses_rule, handle_signals=True) as (daemon, sb, _):
            steps["start"] = list(sb.stream.rule_requests[1:])  # after the sandbox's own setup add
            ids = {r.value: r.id for r in sb.stream.rules}
            await anyio.sleep(3600)
            jobs.write_text(stream_job("a", "hazo", "rizo") + stream_job("c", "qilo"))
            steps["change"] = await hup(sb)
            steps["gyha"] = ids["gyha"]
            steps["same"] = await hup(sb)
            jobs.write_text(stream_job("a", "hazo", "lang:en"))  # a lone lang: is no rule X accepts
            steps["refused"] = await hup(sb)
            steps["jobs"] = sorted(daemon.rt.jobs.names) if daemon.rt else []
            steps["rules"] = sorted((r.value, r.tag) for r in sb.stream.active_rules(sb.clock.now()))
            steps["truth"] = sb.stream.matched(sb.stream.started, sb.clock.now())
            assert daemon.monitor is not None
            steps["status"] = (await daemon.monitor.document())["stream"]
            steps["metrics"] = (await daemon.monitor.render_metrics()).decode()
            daemon.stop("test over")

    run_virtual(main)
    assert sent(steps["start"]) == [("add", True, ["gyha", "hazo"]), ("add", False, ["gyha", "hazo"])]
    assert sent(steps["change"]) == [("add", True, ["qilo", "rizo"]), ("add", False, ["qilo", "rizo"]),
                                     ("delete", False, [steps["gyha"]])]  # fmt: skip
    assert [r.method for r in steps["same"]] == ["GET"]  # read the rules, nothing to send
    assert sent(steps["refused"]) == [("add", True, ["lang:en"])]
    assert [r.status for r in steps["refused"] if r.method == "POST"] == [400]
    assert steps["jobs"] == ["a", "c"]  # the refused files changed nothing
    assert steps["rules"] == [("duha", "not harvester"), ("hazo", "a"), ("qilo", "c"), ("rizo", "a")]
    # The stream ran meanwhile: job a has what its rule matched in the first hour, and b's rule
    # matched Posts too (each went to its own job's file only).
    a_ids = set(data_ids(read_pages(tmp_path / "out" / "a.jsonl")))
    b_ids = set(data_ids(read_pages(tmp_path / "out" / "b.jsonl")))
    truth = steps["truth"]
    assert a_ids and a_ids == {i for i, tags in truth.items() if "a" in tags}
    assert b_ids == {i for i, tags in truth.items() if "b" in tags}
    # /status and /metrics show the stream's figures; `harvester status` reads them from the state.
    status = steps["status"]
    assert status["state"] == "connected" and status["posts"]["a"] == len(a_ids) and status["last_keepalive"]
    assert f'harvester_stream_posts_total{{job="a"}} {float(len(a_ids))}' in steps["metrics"]
    assert "harvester_stream_connected 1.0" in steps["metrics"]
    saved = anyio.run(lambda: read_status(config, sb_now(steps))).to_json()["stream"]
    assert saved["posts"] == status["posts"] and saved["state"] == "stopped"
    assert not any("not harvester" in tags and not ({"a", "b", "c"} & set(tags)) and i in a_ids | b_ids
                   for i, tags in truth.items())  # fmt: skip
