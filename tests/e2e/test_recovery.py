"""Nothing gets stuck (issue 14): failed work comes back, edited job files are followed, removed
jobs are ignored and can be forgotten, and each sequence ends in a complete harvest equal to the
sandbox's ground truth without deleting the state.

Runs are in-process on the fast-forwarding loop (``harvester.testing``), one sandbox per run
built on the same world (``SandboxConfig(epoch=EPOCH)``), each later run an hour later. A run's
exit code and its last lines are what ``harvester run`` makes of the result (``EXIT``,
``report``); ``retry``, ``forget`` and ``status`` go through the CLI (``harvester.cli.main``).
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harvester.cli import main as cli
from harvester.commands.run import EXIT, report
from harvester.core.model import Failure, JobStats
from harvester.core.plan import plan_job
from harvester.core.request import Cause
from harvester.embed.harvester import report_of
from harvester.jobspec import load_jobs
from harvester.runtime.harvest import RunResult
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.sandbox.faults import FaultPlan
from harvester.sandbox.params import invalid
from harvester.store.sqlite import SqliteStore
from harvester.testing import EPOCH, data_ids, harvest_sandbox, make_config, read_pages, run_virtual

START, END = "2026-11-15T00:00:00Z", "2026-11-18T00:00:00Z"
SEARCH_ROUTE = "/2/tweets/search/recent"


def job(name: str, query: str, max_results: int = 50) -> str:
    return (f'[[job]]\nname = "{name}"\nkind = "search"\nquery = "{query}"\nstart_time = "{START}"\n'
            f'end_time = "{END}"\nmax_results = {max_results}\n\n')


@dataclass
class Run:
    """One ``harvester run``: its exit code, its stderr lines, what the sandbox served."""

    code: int
    lines: list[str]
    table: str
    result: RunResult
    served: Counter[str]  # "route status" -> responses
    truth: dict[str, set[str]]

    @property
    def requests(self) -> int:
        """Harvesting requests (the free ``/2/usage/tweets`` read a run starts with aside)."""
        return sum(n for key, n in self.served.items() if not key.startswith("/2/usage/tweets "))

    def jobs(self) -> dict[str, JobStats]:
        return {j.job: j for j in self.result.jobs}


def harvest(tmp: Path, *, hour: int, bearer: str | None = None, setup: Callable[[Sandbox], None] | None = None,
            **harvest_keys: Any) -> Run:
    """``harvester run`` of ``tmp/jobs.toml`` against a fresh sandbox, ``hour`` hours after EPOCH."""
    specs = load_jobs([tmp / "jobs.toml"])
    config = make_config(tmp, workers=2, **harvest_keys)

    async def main() -> tuple[RunResult, dict[str, Any], dict[str, set[str]]]:
        kw = {} if bearer is None else {"bearer": bearer}
        result, sb = await harvest_sandbox(config, specs, sandbox=SandboxConfig(epoch=EPOCH),
                                           epoch=EPOCH + 3600.0 * hour, setup=setup, **kw)  # fmt: skip
        truth = {s.name: set(sb.truth.search(s.query or "", s.start_time, s.end_time))
                 for s in specs if (s.query or "").count("(") == (s.query or "").count(")")}
        return result, sb.report(), truth

    result, served, truth = run_virtual(main)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        report(report_of(result), specs, title="harvester run", spend_label="spend")
    return Run(EXIT[result.outcome], err.getvalue().splitlines(), out.getvalue(), result,
               Counter(served["requests"]), truth)


def errors_column(table: str) -> str:
    """The summary table's "last error" cells, wrapped lines joined, without any whitespace (so a
    text the table wrapped or folded is found whole: ``squeeze(text) in errors_column(...)``)."""
    return "".join(line.split("│")[-2] for line in table.splitlines() if line.count("│") > 2).replace(" ", "")


def squeeze(text: str) -> str:
    return "".join(text.split())


def command(tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            *argv: str) -> tuple[int, str, list[str]]:
    """A CLI command in ``tmp`` (its config.toml points at the state and output the runs use)."""
    monkeypatch.chdir(tmp)
    monkeypatch.delenv("HARVESTER_CONFIG", raising=False)
    monkeypatch.delenv("HARVESTER_JOBS", raising=False)
    capsys.readouterr()
    code = cli(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def write(tmp: Path, jobs: str) -> None:
    (tmp / "jobs.toml").write_text(jobs)
    (tmp / "config.toml").write_text('[harvest]\noutput_dir = "out"\nstate = "state.db"\n')


def assert_harvest_equals_truth(tmp: Path, run: Run, name: str) -> None:
    pages = read_pages(tmp / "out" / f"{name}.jsonl")
    ids = data_ids(pages)
    assert len(ids) == len(set(ids)), "no post twice"
    assert set(ids) == run.truth[name] and ids
    per_page = Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages)
    assert max(per_page.values()) == 1, "no page fetched twice"
    for task in {t for t, _ in per_page}:
        assert sorted(n for t, n in per_page if t == task) == list(range(1, 1 + sum(t == task for t, _ in per_page)))


def after_requests(n: int, fault: Callable[[Sandbox], None]) -> Callable[[Sandbox], None]:
    """A sandbox set-up that lets ``n`` search requests through, then applies ``fault``."""
    def setup(sb: Sandbox) -> None:
        real = sb.api.dispatch
        seen = [0]

        def dispatch(route: str, *args: Any) -> Any:
            if route == SEARCH_ROUTE:
                seen[0] += 1
                if seen[0] > n:
                    fault(sb)
            return real(route, *args)

        sb.api.dispatch = dispatch  # type: ignore[method-assign]

    return setup


def refuse_parameters(sb: Sandbox) -> None:
    raise invalid({"query": "bumife"}, "The query is not allowed on this product track")


def answer_503(sb: Sandbox) -> None:
    sb.faults.draw = lambda: FaultPlan(error_status=503)  # type: ignore[method-assign]


# -- failed tasks stay failed for ever: no more ---------------------------------------------------------


def test_a_wrong_token_then_the_right_one_ends_in_the_whole_harvest(tmp_path: Path) -> None:
    write(tmp_path, job("s", "bumife") + job("r", "qiqipa"))
    first = harvest(tmp_path, hour=0, bearer="not-the-token")
    assert first.code == 1
    assert first.result.stop is not None and first.result.stop.cause is Cause.AUTH
    assert len(first.lines) == 1 and "HTTP 401" in first.lines[0] and "every task is still pending" in first.lines[0]
    assert first.served == Counter({f"{SEARCH_ROUTE} 401": 1, "/2/usage/tweets 401": 1})  # halted at once
    assert all(j.pending == j.tasks and not j.failed for j in first.jobs().values())
    assert not (tmp_path / "out" / "s.jsonl").exists() or (tmp_path / "out" / "s.jsonl").stat().st_size == 0

    second = harvest(tmp_path, hour=1)  # the right token, the same state
    assert (second.code, second.lines) == (0, [])
    assert {n: j.state for n, j in second.jobs().items()} == {"s": "done", "r": "done"}
    assert second.served[f"{SEARCH_ROUTE} 200"] == 13 + 1  # 634 posts by 50, and 8 posts
    for name in ("s", "r"):
        assert_harvest_equals_truth(tmp_path, second, name)


@pytest.mark.parametrize("failure", list(Failure.__members__.values())[:-1], ids=str)
def test_run_puts_back_what_a_rerun_can_fix_and_retry_the_rest(
    failure: Failure, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decision is the stored class's, not the message's: every message here is the same."""
    write(tmp_path, job("r", "qiqipa"))
    [spec] = load_jobs([tmp_path / "jobs.toml"])

    async def failed_state() -> None:
        store = SqliteStore(tmp_path / "state.db")
        await store.open()
        await store.enqueue(plan_job(spec))
        for task in await store.claim("w", EPOCH, 60.0, limit=10):
            await store.fail(task.id, "it went wrong", failure=failure)
        await store.close()

    run_virtual(failed_state)
    run = harvest(tmp_path, hour=1)
    if failure.rerun_fixes:
        assert (run.code, run.lines) == (0, [])
        assert_harvest_equals_truth(tmp_path, run, "r")
        return
    # Cannot succeed unchanged: nothing is sent, nothing queued, nothing written.
    assert run.code == 1 and run.requests == 0
    assert len(run.lines) == 1 and run.lines[0].startswith("failed: tasks of 1 job failed: r (1)")
    assert (run.jobs()["r"].failed, run.jobs()["r"].pending) == (1, 0)
    assert not (tmp_path / "out" / "r.jsonl").exists()
    code, out, err = command(tmp_path, capsys, monkeypatch, "retry", "r", "--failed-only")
    assert (code, err) == (0, [])
    assert out.splitlines()[0] == "r: 1 failed tasks back in the queue"
    again = harvest(tmp_path, hour=2)
    assert (again.code, again.lines) == (0, [])
    assert_harvest_equals_truth(tmp_path, again, "r")


def test_5xx_exhaustion_mid_harvest_is_put_back_and_continues_after_the_last_page(tmp_path: Path) -> None:
    write(tmp_path, job("s", "bumife"))
    # A fault is drawn before the request is read: set during the 4th, it answers from the 5th on.
    first = harvest(tmp_path, hour=0, setup=after_requests(3, answer_503), max_attempts=2)
    assert first.code == 1
    assert first.served[f"{SEARCH_ROUTE} 200"] == 4 and first.served[f"{SEARCH_ROUTE} 503"] == 2
    assert first.jobs()["s"].failed == 1
    assert squeeze("gave up after 2 attempts: HTTP 503: server error 503: Service Unavailable: Service "
                   "Unavailable") in errors_column(first.table)
    assert first.lines[-1].startswith("failed: tasks of 1 job failed: s (1)")
    assert len(read_pages(tmp_path / "out" / "s.jsonl")) == 4

    second = harvest(tmp_path, hour=1)  # nothing else done: the 5xx failure is a rerun's to fix
    assert (second.code, second.lines) == (0, [])
    assert second.served[f"{SEARCH_ROUTE} 200"] == 13 - 4  # from page 5 on: no page fetched twice
    assert_harvest_equals_truth(tmp_path, second, "s")


def test_a_400_stays_failed_until_retry_then_continues_after_the_last_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(tmp_path, job("s", "bumife"))
    first = harvest(tmp_path, hour=0, setup=after_requests(3, refuse_parameters))
    assert first.code == 1 and first.jobs()["s"].failed == 1
    assert squeeze("HTTP 400: Invalid Request: One or more parameters to your request was invalid. | The query is "
                   "not allowed on this product track") in errors_column(first.table)  # the API's own words, whole
    output = (tmp_path / "out" / "s.jsonl").read_bytes()
    assert len(read_pages(tmp_path / "out" / "s.jsonl")) == 3

    unchanged = harvest(tmp_path, hour=1)  # the same job: it cannot succeed, nothing is sent
    assert unchanged.code == 1 and unchanged.requests == 0
    assert unchanged.lines == [unchanged.lines[0]] and "s (1)" in unchanged.lines[0]
    assert (unchanged.jobs()["s"].pending, unchanged.jobs()["s"].failed) == (0, 1)
    assert (tmp_path / "out" / "s.jsonl").read_bytes() == output

    code, out, err = command(tmp_path, capsys, monkeypatch, "retry", "s")
    assert (code, err) == (0, [])
    assert "s: 1 failed or backing-off tasks back in the queue" in out
    third = harvest(tmp_path, hour=2)  # the server takes it now
    assert (third.code, third.lines) == (0, [])
    assert third.served[f"{SEARCH_ROUTE} 200"] == 13 - 3
    assert_harvest_equals_truth(tmp_path, third, "s")


def test_retry_refuses_what_it_cannot_do_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(tmp_path, job("r", "qiqipa"))
    assert harvest(tmp_path, hour=0).code == 0
    before = (tmp_path / "state.db").read_bytes()
    for argv, needle in [(("retry",), "name the jobs"), (("retry", "r", "--all"), "--all"),
                         (("retry", "nope"), "no job 'nope' in the state (jobs there: r)")]:
        code, out, err = command(tmp_path, capsys, monkeypatch, *argv)
        assert code == 2 and out == "" and len(err) == 1 and needle in err[0], (argv, err)
    code, out, _ = command(tmp_path, capsys, monkeypatch, "retry", "--all")
    assert code == 0 and "nothing to put back" in out
    assert (tmp_path / "state.db").read_bytes() == before


# -- run follows the job files ----------------------------------------------------------------------------


def test_a_fixed_query_starts_a_new_generation_and_harvests_the_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(tmp_path, job("s", "(bumife"))
    first = harvest(tmp_path, hour=0)
    assert first.code == 1 and first.requests == 1 and first.served[f"{SEARCH_ROUTE} 400"] == 1
    assert squeeze("HTTP 400: Invalid Request: One or more parameters to your request was invalid. | There were "
                   "errors processing your request: missing `)` (at position 1)") in errors_column(first.table)

    unchanged = harvest(tmp_path, hour=1)
    assert unchanged.code == 1 and unchanged.requests == 0

    write(tmp_path, job("s", "bumife"))  # the query fixed
    fixed = harvest(tmp_path, hour=2)
    assert (fixed.code, fixed.lines) == (0, [])
    s = fixed.jobs()["s"]
    assert (s.state, s.failed, s.superseded, s.done) == ("done", 0, 1, 1)
    assert_harvest_equals_truth(tmp_path, fixed, "s")
    assert {p["__harvester"]["task"] for p in read_pages(tmp_path / "out" / "s.jsonl")} == {"search~g1"}

    code, out, _ = command(tmp_path, capsys, monkeypatch, "status", "--json")
    [status] = json.loads(out)["jobs"]
    assert code == 0 and (status["state"], status["failed"], status["tasks"], status["generation"]) == ("done", 0, 1, 1)
    assert "generations" not in status
    code, out, _ = command(tmp_path, capsys, monkeypatch, "status", "--json", "--all")
    [status] = json.loads(out)["jobs"]
    assert [(g["generation"], g["state"], g["superseded"]) for g in status["generations"]] == [
        (0, "superseded", 1), (1, "done", 0)]
    code, out, _ = command(tmp_path, capsys, monkeypatch, "status")
    assert "generation 0" not in out and "superseded" not in out
    code, out, _ = command(tmp_path, capsys, monkeypatch, "status", "--all")
    assert "s generation 0" in out and "superseded by generation 1" in out


def test_a_removed_job_is_ignored_by_the_run_and_can_be_forgotten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(tmp_path, job("keep", "qiqipa") + job("old", "bumife"))
    first = harvest(tmp_path, hour=0, setup=after_requests(3, refuse_parameters))
    assert first.code == 1 and first.jobs()["old"].failed == 1
    old_output = (tmp_path / "out" / "old.jsonl").read_bytes()
    assert old_output

    write(tmp_path, job("keep", "qiqipa") + job("new", "qiqipa"))  # "old" renamed
    second = harvest(tmp_path, hour=1)
    assert (second.code, second.lines) == (0, [])  # the old job's failure is not this run's
    assert set(second.jobs()) == {"keep", "new"}
    assert "old" not in second.table and "?" not in second.table
    assert_harvest_equals_truth(tmp_path, second, "new")

    for argv, needle in [(("forget", "--jobs", "jobs.toml", "keep"), "job 'keep' is still in the job files"),
                         (("forget", "--jobs", "jobs.toml", "gone"), "no job 'gone' in the state")]:
        code, out, err = command(tmp_path, capsys, monkeypatch, *argv)
        assert code == 2 and len(err) == 1 and needle in err[0], err
    code, out, err = command(tmp_path, capsys, monkeypatch, "forget", "--jobs", "jobs.toml", "old")
    assert (code, err) == (0, []) and "forgot job 'old': 1 tasks dropped" in out
    code, out, _ = command(tmp_path, capsys, monkeypatch, "status", "--json")
    assert [j["job"] for j in json.loads(out)["jobs"]] == ["keep", "new"]

    third = harvest(tmp_path, hour=2)
    assert (third.code, third.lines, third.requests) == (0, [], 0)
    assert (tmp_path / "out" / "old.jsonl").read_bytes() == old_output  # its output stays, where it was
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.jsonl", "new.jsonl", "old.jsonl"]
    conn = sqlite3.connect(tmp_path / "state.db")
    try:
        assert conn.execute("SELECT count(*) FROM tasks WHERE job = 'old'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM kv WHERE key LIKE '%:old%'").fetchone() == (0,)
    finally:
        conn.close()
