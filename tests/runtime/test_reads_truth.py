"""Every kind of issue 16 harvested from the sandbox: its ids equal the ground truth, once each,
and the local ledger equals the sandbox's bill to the cent (owned reads at $0.001 included).

One harvest per case (module-cached), two assertions on it: a truth test and a billing test.
The user context ``me`` is the app owner, so its own likes, bookmarks, blocks, mutes and lists
are owned reads; ``liked_tweets_other`` reads another user's likes through it at full price.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from harvester.config import AuthConfig, Budget, Prices, UserAuthConfig
from harvester.core.model import JobSpec
from harvester.jobspec import load_jobs
from harvester.runtime.harvest import RunResult
from harvester.sandbox import Sandbox, SandboxConfig
from harvester.sandbox.truth import Truth
from harvester.sandbox.world import QUOTED, REPLIED_TO, RETWEETED, World
from harvester.testing import (
    EPOCH,
    data_ids,
    harvest_sandbox,
    ledger_micros,
    make_config,
    read_pages,
    run_virtual,
)

ME = "980201543"  # the most followed user of the default world: likes, bookmarks, lists
OTHER = "8936152300"
SANDBOX = SandboxConfig(epoch=EPOCH, app_owner_user_id=ME)


class _At:
    def now(self) -> float:
        return EPOCH


def _subjects() -> dict[str, str]:
    """Posts and lists worth reading, found in the world as it is at EPOCH."""
    truth = Truth(World(SANDBOX), _At())  # type: ignore[arg-type]
    at = int((EPOCH - 86400) * 1000)  # a day old: nothing new refers to them during a harvest
    posts = list(truth._all(at))
    retweeted = Counter(t.ref for t in posts if t.kind == RETWEETED)
    quoted = Counter(t.ref for t in posts if t.kind == QUOTED)
    replied = Counter(t.conversation for t in posts if t.kind == REPLIED_TO)
    lists = sorted(truth.social.lists, key=lambda lst: -len(lst.members))
    return {
        "retweeted": str(retweeted.most_common(1)[0][0]),
        "quoted": str(quoted.most_common(1)[0][0]),
        "conversation": str(replied.most_common(1)[0][0]),
        "liked": str(max(posts[:2000], key=lambda t: len(truth.social.liking_users(t))).id),
        "list": lists[0].id,
        "list_owner": truth.world.users[lists[0].owner].id,
    }


SUBJECTS = _subjects()


@dataclass(frozen=True)
class Case:
    spec: JobSpec
    truth: Callable[[Truth, float], set[str]]
    owned: bool = False


def _job(name: str, kind: str, **kw: Any) -> JobSpec:
    return JobSpec(name=name, kind=kind, **kw)


CASES: dict[str, Case] = {
    "liking_users": Case(_job("liking_users", "liking_users", tweet_ids=(SUBJECTS["liked"],), auth="me"),
                         lambda t, at: set(t.liking_users(SUBJECTS["liked"]))),
    "liked_tweets": Case(_job("liked_tweets", "liked_tweets", user_ids=(ME,), auth="me"),
                         lambda t, at: set(t.liked_tweets(ME, at=at)), owned=True),
    "liked_tweets_other": Case(_job("liked_tweets_other", "liked_tweets", user_ids=(OTHER,), auth="me"),
                               lambda t, at: set(t.liked_tweets(OTHER, at=at))),
    "retweeted_by": Case(_job("retweeted_by", "retweeted_by", tweet_ids=(SUBJECTS["retweeted"],)),
                         lambda t, at: set(t.retweeted_by(SUBJECTS["retweeted"], at=at))),
    "quote_tweets": Case(_job("quote_tweets", "quote_tweets", tweet_ids=(SUBJECTS["quoted"],), max_results=10),
                         lambda t, at: set(t.quote_tweets(SUBJECTS["quoted"], at=at))),
    "conversation": Case(_job("conversation", "conversation", tweet_ids=(SUBJECTS["conversation"],)),
                         lambda t, at: set(t.conversation(SUBJECTS["conversation"], at=at))),
    "conversation_archive": Case(
        _job("conversation_archive", "conversation", tweet_ids=(SUBJECTS["conversation"],), archive=True),
        lambda t, at: set(t.conversation(SUBJECTS["conversation"], archive=True, at=at))),
    "list_tweets": Case(_job("list_tweets", "list_tweets", list_ids=(SUBJECTS["list"],)),
                        lambda t, at: set(t.list_tweets(SUBJECTS["list"], at=at))),
    "list_members": Case(_job("list_members", "list_members", list_ids=(SUBJECTS["list"],), max_results=20),
                         lambda t, at: set(t.list_members(SUBJECTS["list"]))),
    "list_followers": Case(_job("list_followers", "list_followers", list_ids=(SUBJECTS["list"],), max_results=10),
                           lambda t, at: set(t.list_followers(SUBJECTS["list"]))),
    "owned_lists": Case(_job("owned_lists", "owned_lists", user_ids=(SUBJECTS["list_owner"],)),
                        lambda t, at: set(t.owned_lists(SUBJECTS["list_owner"]))),
    "followed_lists": Case(_job("followed_lists", "followed_lists", user_ids=(ME,), auth="me", max_results=2),
                           lambda t, at: set(t.followed_lists(ME)), owned=True),
    "list_memberships": Case(_job("list_memberships", "list_memberships", user_ids=(ME,), max_results=20),
                             lambda t, at: set(t.list_memberships(ME))),
    "pinned_lists": Case(_job("pinned_lists", "pinned_lists", user_ids=(ME,), auth="me"),
                         lambda t, at: set(t.pinned_lists(ME)), owned=True),
    "bookmarks": Case(_job("bookmarks", "bookmarks", user_ids=(ME,), auth="me"),
                      lambda t, at: set(t.bookmarks(ME, at=at)), owned=True),
    "blocking": Case(_job("blocking", "blocking", user_ids=(ME,), auth="me", max_results=3),
                     lambda t, at: set(t.blocking(ME)), owned=True),
    "muting": Case(_job("muting", "muting", user_ids=(ME,), auth="me", max_results=5),
                   lambda t, at: set(t.muting(ME)), owned=True),
}
COUNTS = {
    "counts": _job("counts", "counts", query="ka", granularity="hour"),
    "counts_archive": _job("counts_archive", "counts", query="ka", archive=True, granularity="day",
                           start_time="2026-11-13T00:00:00Z", end_time="2026-11-19T00:00:00Z"),
}


def _config(tmp: Path) -> Any:
    os.environ.update({"RT_CK": "ck", "RT_CS": "cs", "RT_AT": "at-me", "RT_AS": "as"})
    base = make_config(tmp, workers=2)
    me = UserAuthConfig(name="me", consumer_key_env="RT_CK", consumer_secret_env="RT_CS", token_env="RT_AT",
                        token_secret_env="RT_AS", user_id=ME)
    return replace(base, pricing=Prices(bill_includes=False), budget=Budget(), auth=AuthConfig(users={"me": me}))


@dataclass(frozen=True)
class Harvested:
    result: RunResult
    pages: list[dict[str, Any]]
    sandbox_micros: int
    ledger_micros: int
    expected: Any
    owned_charges: int
    charges: int


_CACHE: dict[str, Harvested] = {}


def _harvest(tmp_factory: pytest.TempPathFactory, name: str, spec: JobSpec,
             expect: Callable[[Sandbox, list[dict[str, Any]]], Any]) -> Harvested:  # fmt: skip
    if name in _CACHE:
        return _CACHE[name]
    tmp = tmp_factory.mktemp(name)

    async def main() -> tuple[RunResult, Sandbox, Any]:
        result, sb = await harvest_sandbox(
            _config(tmp), [spec], sandbox=SANDBOX, setup=lambda s: s.add_user_token("ck", "cs", "at-me", "as", ME))
        pages = read_pages(tmp / "out" / f"{spec.name}.jsonl")
        return result, sb, expect(sb, pages)

    result, sb, expected = run_virtual(main)
    pages = read_pages(tmp / "out" / f"{spec.name}.jsonl")
    charges = sb.ledger.charges
    out = Harvested(result, pages, sb.ledger.spent_micro, ledger_micros(tmp / "state.db"), expected,
                    sum(1 for c in charges if c.owned), len(charges))
    _CACHE[name] = out
    return out


def _first_retrieved(pages: list[dict[str, Any]]) -> float:
    """When the first page was fetched: the server answers every page as of then."""
    return min((float(p["__harvester"]["retrieved_at"]) for p in pages), default=EPOCH)


def _kind_case(tmp_factory: pytest.TempPathFactory, name: str) -> Harvested:
    case = CASES[name]
    return _harvest(tmp_factory, name, case.spec,
                    lambda sb, pages: case.truth(sb.truth, _first_retrieved(pages)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_kind_equals_the_ground_truth_once(tmp_path_factory: pytest.TempPathFactory, name: str) -> None:
    h = _kind_case(tmp_path_factory, name)
    assert h.result.outcome == "complete", (h.result.stop, [(j.job, j.last_error) for j in h.result.jobs])
    ids = data_ids(h.pages)
    dups = [i for i, n in Counter(ids).items() if n > 1]
    assert not dups, f"{name}: duplicated ids {dups[:5]}"
    assert h.expected, f"{name}: the case should have something to collect"
    assert set(ids) == h.expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_kind_bills_what_the_sandbox_bills_to_the_cent(tmp_path_factory: pytest.TempPathFactory,
                                                            name: str) -> None:  # fmt: skip
    h = _kind_case(tmp_path_factory, name)
    assert h.charges > 0
    assert h.ledger_micros == h.sandbox_micros, (h.ledger_micros, h.sandbox_micros)
    if CASES[name].owned:
        assert h.owned_charges == h.charges, "the owner's own data is an owned read"
        assert h.sandbox_micros == h.charges * 1_000
    else:
        assert h.owned_charges == 0


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts_add_up_to_the_search_and_bill_per_request(tmp_path_factory: pytest.TempPathFactory,
                                                          name: str) -> None:  # fmt: skip
    spec = COUNTS[name]

    def expect(sb: Sandbox, pages: list[dict[str, Any]]) -> int:
        return sb.truth.counts("ka", spec.start_time, spec.end_time, archive=spec.archive, at=_first_retrieved(pages))

    h = _harvest(tmp_path_factory, name, spec, expect)
    assert h.result.outcome == "complete", h.result.stop
    buckets = [b for p in h.pages for b in p.get("data", [])]
    starts = [b["start"] for b in buckets]
    assert len(starts) == len(set(starts)), "no bucket twice"
    assert sum(b["tweet_count"] for b in buckets) == h.expected > 0
    per_request = 10_000 if spec.archive else 5_000
    assert h.ledger_micros == h.sandbox_micros == len(h.pages) * per_request


def test_bookmarks_with_the_apps_token_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "jobs.toml").write_text('[[job]]\nname = "saved"\nkind = "bookmarks"\nuser_ids = ["12"]\n')
    from harvester.errors import JobSpecError

    with pytest.raises(JobSpecError) as err:
        load_jobs([tmp_path / "jobs.toml"])
    message = str(err.value)
    assert "\n" not in message
    assert "job 'saved'" in message and "auth" in message and "/2/users/:id/bookmarks needs a user context" in message
