"""Nothing fetched twice in a UTC day: a lookup of ids fetched earlier today sends no request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvester.cli import main
from harvester.core.model import JobSpec
from harvester.sandbox import SandboxConfig
from harvester.testing import EPOCH, harvest_sandbox, make_config, read_pages, run_virtual

IDS = ("2123186401997488354", "2123158992308928611", "2122838678261727232")
FIELDS = ("created_at", "author_id")


def lookup(name: str, ids: tuple[str, ...]) -> JobSpec:
    return JobSpec(name=name, kind="lookup_tweets", tweet_ids=ids, tweet_fields=FIELDS)


def test_lookup_of_ids_fetched_today_sends_no_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = make_config(tmp_path)

    async def main_() -> tuple[int, int, int]:
        _first, sb = await harvest_sandbox(config, [lookup("first", IDS)], sandbox=SandboxConfig(epoch=EPOCH))
        before = sum(sb.stats.requests.values())
        # a second job on the same state, same day, same fields: answered by the cache
        _second, sb2 = await harvest_sandbox(config, [lookup("second", IDS)], sandbox=SandboxConfig(epoch=EPOCH))
        _third, sb3 = await harvest_sandbox(config, [lookup("third", (*IDS[:2], "2122836662886072545"))],
                                           sandbox=SandboxConfig(epoch=EPOCH))
        sent = lambda s: sum(n for (route, _), n in s.stats.requests.items() if route == "/2/tweets")
        return before, sent(sb2), sent(sb3)

    first_requests, second_lookups, third_lookups = run_virtual(main_)
    assert first_requests >= 1
    assert second_lookups == 0, "every id was fetched earlier today: no request"
    assert third_lookups == 1, "only the one new id is fetched"
    first = read_pages(tmp_path / "out" / "first.jsonl")
    second = read_pages(tmp_path / "out" / "second.jsonl")
    assert sorted(o["id"] for o in second[0]["data"]) == sorted(o["id"] for o in first[0]["data"])
    assert second[0]["data"][0].keys() == first[0]["data"][0].keys()
    assert second[0]["__harvester"]["from_cache"] is True
    # Lines are pages: the API's page (one id, its meta as sent) and the cache's own line.
    third = read_pages(tmp_path / "out" / "third.jsonl")
    served, cached = third
    assert [o["id"] for o in served["data"]] == ["2122836662886072545"]
    assert "from_cache" not in served["__harvester"] and served["__twarc"]["url"].endswith(
        "ids=2122836662886072545&tweet.fields=created_at%2Cauthor_id")
    assert cached["__harvester"]["from_cache"] is True and "meta" not in cached
    assert sorted(o["id"] for o in cached["data"]) == sorted(IDS[:2])

    (tmp_path / "config.toml").write_text(f'[harvest]\nstate = "{tmp_path / "state.db"}"\n')
    capsys.readouterr()
    assert main(["status", "--json", "--config", str(tmp_path / "config.toml")]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["cache"]["requests_saved"] == 1 and status["cache"]["hits"] == 5


def test_cache_does_not_answer_other_fields_or_another_day(tmp_path: Path) -> None:
    config = make_config(tmp_path)

    async def main_() -> tuple[int, int]:
        await harvest_sandbox(config, [lookup("a", IDS)])
        richer = JobSpec(name="b", kind="lookup_tweets", tweet_ids=IDS, tweet_fields=(*FIELDS, "lang"))
        _, sb = await harvest_sandbox(config, [richer])
        _, sb2 = await harvest_sandbox(config, [lookup("c", IDS)], epoch=EPOCH + 86_400)
        return sum(sb.stats.requests.values()), sum(sb2.stats.requests.values())

    other_fields, next_day = run_virtual(main_)
    assert other_fields >= 1
    assert next_day >= 1
