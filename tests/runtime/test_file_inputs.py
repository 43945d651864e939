"""Ids and usernames from files (one a line or a CSV column, ``#`` comments, relative to the job
file) harvest exactly what the same ids inline do; ``harvester hydrate`` writes such a job."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harvester.commands.hydrate import hydrate_job
from harvester.core.model import JobSpec
from harvester.core.plan import plan_job
from harvester.errors import JobSpecError, UserError
from harvester.inputs import job_inputs
from harvester.jobspec import load_jobs
from harvester.runtime.harvest import RunResult
from harvester.sandbox import Sandbox
from harvester.testing import data_ids, harvest_sandbox, make_config, read_pages, run_virtual

USERS = ["8288491", "94399023", "980201543"]


def _post_ids(sb: Sandbox, n: int) -> list[str]:
    return [i for u in USERS for i in sb.truth.timeline(u, None, "2026-11-19T00:00:00Z")][:n]


def test_file_inputs_harvest_what_the_truth_says(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    (jobs / "inputs").mkdir(parents=True)
    (jobs / "inputs" / "users.txt").write_text("# accounts to follow up\n\n" + "\n".join(USERS[:2]) + "\n")
    (jobs / "inputs" / "handles.csv").write_text("name,handle\nx,@Tapami820\n# a comment\ny,Vepa_924\n")
    (jobs / "jobs.toml").write_text(
        '[[job]]\nname = "followers"\nkind = "followers"\nuser_ids_file = "inputs/users.txt"\n'
        '[[job]]\nname = "handles"\nkind = "lookup_users"\nusernames_file = "inputs/handles.csv"\n'
        'ids_column = "handle"\n'
        '[[job]]\nname = "posts"\nkind = "lookup_tweets"\ntweet_ids_file = "inputs/posts.csv"\n')
    holder: dict[str, list[str]] = {}

    async def main() -> tuple[RunResult, dict[str, set[str]]]:
        from harvester.testing import sandbox_server

        async with sandbox_server() as (sb, _, _):
            holder["posts"] = _post_ids(sb, 250)
        (jobs / "inputs" / "posts.csv").write_text("tweet_id,note\n" + "".join(f"{i},x\n" for i in holder["posts"])
                                                   + "123,missing\n")
        specs = load_jobs([jobs])
        result, sb = await harvest_sandbox(make_config(tmp_path, workers=3), specs)
        t = sb.truth
        return result, {
            "followers": {i for u in USERS[:2] for i in t.followers(u)},
            "handles": {t.user_by_username("Tapami820"), t.user_by_username("Vepa_924")} - {None},  # type: ignore[arg-type]
            "posts": set(t.tweets(holder["posts"])),
        }

    result, expected = run_virtual(main)
    assert result.outcome == "complete", [(j.job, j.last_error) for j in result.jobs]
    for name, want in expected.items():
        pages = read_pages(tmp_path / "out" / f"{name}.jsonl")
        ids = data_ids(pages)
        edges = Counter((p["__harvester"]["path"], item["id"]) for p in pages for item in p["data"])
        assert max(edges.values()) == 1, name  # a follower of both users is two edges, each once
        assert set(ids) == want and want, name
    assert len(expected["posts"]) == 250


def test_a_files_tasks_are_the_inline_ones(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_text("# ids\n" + "\n".join(USERS) + "\n")
    (tmp_path / "j.toml").write_text('[[job]]\nname = "t"\nkind = "timeline"\nuser_ids_file = "ids.txt"\n')
    [spec] = load_jobs([tmp_path / "j.toml"])
    inline = JobSpec(name="t", kind="timeline", user_ids=tuple(USERS))
    assert [t.key for t in plan_job(spec, job_inputs(spec))] == [t.key for t in plan_job(inline)]


@pytest.mark.parametrize(("content", "problem"), [
    ("12\nnot-an-id\n", "line 2: expected a numeric id"),
    ("# only a comment\n", "holds no user ids"),
])
def test_a_bad_file_is_one_line_naming_it(tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / "ids.txt").write_text(content)
    (tmp_path / "j.toml").write_text('[[job]]\nname = "t"\nkind = "followers"\nuser_ids_file = "ids.txt"\n')
    with pytest.raises(JobSpecError) as err:
        load_jobs([tmp_path / "j.toml"])
    text = str(err.value)
    assert "\n" not in text and "user_ids_file" in text and "ids.txt" in text and problem in text


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "j.toml").write_text('[[job]]\nname = "t"\nkind = "lookup_tweets"\ntweet_ids_file = "nope.txt"\n')
    with pytest.raises(JobSpecError, match=r"tweet_ids_file: .*nope\.txt: no such file"):
        load_jobs([tmp_path / "j.toml"])


def test_hydrate_writes_a_lookup_job_reading_the_file(tmp_path: Path) -> None:
    (tmp_path / "my ids.txt").write_text("1\n2\n")
    path = hydrate_job(tmp_path / "my ids.txt", "tweets", tmp_path / "jobs")
    [spec] = load_jobs([path])
    assert (spec.name, spec.kind) == ("hydrate-my-ids", "lookup_tweets")
    assert spec.tweet_ids_file == str((tmp_path / "my ids.txt").resolve())
    (tmp_path / "handles.txt").write_text("@Tapami820\nVepa_924\n")
    [users] = load_jobs([hydrate_job(tmp_path / "handles.txt", "users", tmp_path / "jobs")])
    assert users.kind == "lookup_users" and users.usernames_file is not None
    (tmp_path / "bad.txt").write_text("1\nx y\n")
    with pytest.raises(UserError, match="line 2"):
        hydrate_job(tmp_path / "bad.txt", "tweets", tmp_path / "jobs")


def test_harvester_hydrate_runs_the_job_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from harvester.cli import main
    from harvester.sandbox import SandboxConfig
    from harvester.testing import APP_TOKEN, EPOCH, sandbox_thread

    (tmp_path / "users.csv").write_text("user_id,note\n# the accounts\n" + "".join(f"{u},x\n" for u in USERS))
    monkeypatch.setenv("X_BEARER_TOKEN", APP_TOKEN)
    monkeypatch.chdir(tmp_path)
    with sandbox_thread(SandboxConfig(epoch=EPOCH)) as url:
        (tmp_path / "config.toml").write_text(f'[api]\nbase_url = "{url}"\n[harvest]\noutput_dir = "out"\n'
                                              'state = "state.db"\n')
        code = main(["hydrate", "users.csv", "--kind", "users", "--config", "config.toml"])
    assert code == 0, capsys.readouterr().err[-2000:]
    assert (tmp_path / "jobs" / "hydrate-users.toml").exists()
    ids = data_ids(read_pages(tmp_path / "out" / "hydrate-users.jsonl"))
    assert sorted(ids) == sorted(USERS)
