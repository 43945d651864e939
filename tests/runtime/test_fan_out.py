"""``from_job``: a job takes another job's output ids as its input, queued as that job's pages
commit (in the same transaction), deduplicated across the job."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harvester.core.model import JobSpec
from harvester.runtime.harvest import RunResult
from harvester.testing import data_ids, harvest_sandbox, make_config, read_pages, run_virtual

SEARCH = JobSpec(name="rare", kind="search", query="bumife", start_time="2026-11-15T00:00:00Z",
                 end_time="2026-11-18T00:00:00Z", tweet_fields=("author_id",), max_results=10)
FOLLOWERS = JobSpec(name="authors-followers", kind="followers", from_job="rare", max_results=1000)
TIMELINE = JobSpec(name="timeline", kind="timeline", user_ids=("8288491",), start_time="2026-11-17T00:00:00Z",
                   end_time="2026-11-18T00:00:00Z", max_results=100)
QUOTES = JobSpec(name="quotes", kind="quote_tweets", from_job="timeline", max_results=100)


def test_a_searchs_authors_followers_and_a_timelines_quotes_equal_the_truth(tmp_path: Path) -> None:
    specs = [SEARCH, FOLLOWERS, TIMELINE, QUOTES]

    async def main() -> tuple[RunResult, dict[str, set[str]], list[str]]:
        result, sb = await harvest_sandbox(make_config(tmp_path, workers=4), specs)
        t = sb.truth
        posts = t.search(SEARCH.query or "", SEARCH.start_time, SEARCH.end_time)
        authors = list(dict.fromkeys(sb.world.get_tweet(int(i)).author for i in posts))  # type: ignore[union-attr]
        author_ids = [sb.world.users[a].id for a in authors]
        timeline = t.timeline("8288491", TIMELINE.start_time, TIMELINE.end_time)
        return result, {
            "authors-followers": {f for a in author_ids for f in t.followers(a)},
            "quotes": {q for p in timeline for q in t.quote_tweets(p)},
        }, author_ids

    result, expected, authors = run_virtual(main)
    assert result.outcome == "complete", [(j.job, j.last_error) for j in result.jobs]
    assert len(authors) > 3, "the search should find several authors"
    followers = read_pages(tmp_path / "out" / "authors-followers.jsonl")
    # one task per author, each author once however many of their posts the search found
    tasks = Counter(p["__harvester"]["task"] for p in followers if p["__harvester"]["page"] == 1)
    assert sorted(tasks) == sorted(f"user:{a}" for a in authors) and max(tasks.values()) == 1
    edges = Counter((p["__harvester"]["path"], u["id"]) for p in followers for u in p.get("data", []))
    assert max(edges.values()) == 1
    assert set(data_ids(followers)) == expected["authors-followers"]
    quotes = data_ids(read_pages(tmp_path / "out" / "quotes.jsonl"))
    assert expected["quotes"], "the timeline's posts should have quotes"
    assert len(quotes) == len(set(quotes)) and set(quotes) == expected["quotes"]
