"""plan without a probe: the known worst case in the totals, time per bucket, schedules counted."""

from __future__ import annotations

from harvester.commands.plan import render
from harvester.config import Config
from harvester.core.model import JobSpec
from harvester.embed.planning import plan
from harvester.testing import EPOCH

TIMELINE = "/2/users/:id/tweets"
JOBS = [
    JobSpec(name="tl", kind="timeline", user_ids=("1", "2"), max_results=100, extra={"schedule": "every 6h"}),
    JobSpec(name="nightly", kind="timeline", user_ids=("3",), max_results=100, extra={"schedule": "0 3 * * *"}),
    JobSpec(name="watch", kind="search", query="cats", extra={"mode": "poll", "min_interval": 3600.0}),
    JobSpec(name="once", kind="lookup_tweets", tweet_ids=tuple(str(i) for i in range(1, 151))),
]


def test_schedules_are_counted_over_30_days_and_totals_keep_the_known_worst_case() -> None:
    jobs, buckets = plan(Config(), JOBS, {}, now=EPOCH)
    by = {j.job: j for j in jobs}
    assert (by["tl"].runs_30d, by["nightly"].runs_30d, by["watch"].runs_30d) == (120, 30, 720)
    assert by["once"].runs_30d is None and by["once"].cost_worst_30d == by["once"].cost_worst == 150 * 5_000
    assert by["tl"].cost_worst == 2 * 3_200 * 5_000 and by["tl"].cost_worst_30d == 120 * by["tl"].cost_worst
    assert by["watch"].cost_worst is None and by["watch"].schedule == "poll every 1h..1d"

    tl = next(b for b in buckets if b.route == TIMELINE)
    assert tl.requests_worst == 96 and tl.requests == 0 and not tl.expected_known  # 32 pages a user at most
    search = next(b for b in buckets if b.route == "/2/tweets/search/recent")
    assert search.requests_worst is None and search.seconds_worst is None

    text = render(jobs, buckets, None)
    total = next(line for line in text.splitlines() if "total" in line)
    assert "$0.75 + ? / $48.75 + ?" in total, total  # the lookup's known cost, and the worst cases known
    assert "worst case over 30 days, every scheduled run included: $4,320.75 + ?" in text
    assert "120 (every 6h)" in text and "30 (0 3 * * *)" in text


def test_time_at_the_limits_per_bucket_uses_the_worst_case_where_every_job_has_one() -> None:
    jobs = [JobSpec(name=f"t{i}", kind="timeline", user_ids=tuple(str(u) for u in range(400)), max_results=100)
            for i in range(2)]
    estimates, buckets = plan(Config(), jobs, {}, now=EPOCH)
    [tl] = buckets
    assert tl.requests_worst == 2 * 400 * 32 and tl.limit == 10_000
    assert tl.seconds_worst == (2 * 400 * 32 // 10_000) * 900.0  # 25,600 requests: three windows, two waited out
    text = render(estimates, [tl], None)
    assert "30 min worst case" in text


def test_a_stream_job_is_planned_as_streamed_with_no_requests_and_no_bound() -> None:
    stream = JobSpec(name="live", kind="stream", extra={"rules": ({"value": "cats", "tag": "live"},)})
    [job], [bucket] = plan(Config(), [stream], {}, now=EPOCH)
    assert (job.schedule, job.runs_30d, job.requests_expected, job.cost_worst) == ("streamed", None, 0, None)
    assert bucket.requests == 0 and bucket.requests_worst == 0
    assert "streamed" in render([job], [bucket], None)


def test_a_poll_budget_bounds_a_poll_jobs_runs_over_30_days() -> None:
    """200 timelines on 300 requests a day: 45 polls of each over 30 days, not one every 15 minutes."""
    users = tuple(str(u) for u in range(1, 201))
    budgeted = JobSpec(name="b", kind="timeline", user_ids=users, max_results=100,
                       extra={"mode": "poll", "min_interval": 900.0, "poll_budget": 300.0})  # fmt: skip
    free = JobSpec(name="f", kind="timeline", user_ids=users, max_results=100,
                   extra={"mode": "poll", "min_interval": 900.0})  # fmt: skip
    jobs, _ = plan(Config(), [budgeted, free], {}, now=EPOCH)
    by = {j.job: j for j in jobs}
    assert by["b"].runs_30d == 45 and by["b"].schedule == "poll every 15m..1d, 300 requests/day"
    assert by["f"].runs_30d == 30 * 96  # every source at min_interval: the bound without a budget
    assert by["b"].cost_worst_30d is not None and by["f"].cost_worst_30d is not None
    assert by["b"].cost_worst_30d * 64 == by["f"].cost_worst_30d
