"""The request machine, table-driven with recorded server answers: no loop, no sockets, no clock.

Each case drives ``admit`` and ``settle`` with the status, headers and body a server sent
(bodies as x-api-spec.md §2 records them, headers as X sends them) and checks the decision and
its effects, as values.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from harvester.core import budget as money
from harvester.core.cap import CapConfig, CapTracker
from harvester.core.model import Failure, JobSpec, Task
from harvester.core.plan import Cursor, page_request
from harvester.core.ratelimit import RateLimits
from harvester.core.request import (
    Answer,
    AuthInfo,
    Cause,
    CheckUsage,
    Commit,
    Fail,
    Go,
    Halt,
    Lost,
    Park,
    Permit,
    Reject,
    RequestMachine,
    Resend,
    Retry,
    Stop,
    Wait,
)

SEARCH = "/2/tweets/search/recent"
TIMELINE = "/2/users/:id/tweets"
T0 = 1_795_132_800.0  # 2026-11-20T00:00:00Z
TOKEN_ENV = "X_BEARER_TOKEN"

TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
USAGE_CAPPED = {"account_id": "1", "product_name": "standard-basic", "title": "UsageCapExceeded", "period": "Monthly",
                "scope": "Product", "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.twitter.com/2/problems/usage-capped"}  # fmt: skip
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
CREDITS = {"title": "CreditsDepleted", "detail": "Your enrolled account [1] does not have any credits to fulfill "
           "this request.", "type": "https://api.twitter.com/2/problems/credits"}  # fmt: skip
SERVER_ERROR = {"title": "Service Unavailable", "type": "about:blank", "status": 503}


def invalid(param: str, value: str, valid: list[str]) -> dict[str, Any]:
    """X's 400 for a value outside an enum (x-api-spec.md §2.3)."""
    return {"errors": [{"parameters": {param: [value]},
                        "message": f"The `{param}` query parameter value [{value}] is not one of [{','.join(valid)}]"}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"}  # fmt: skip


def hdr(limit: int, remaining: int, reset: float, date: float, **extra: str) -> dict[str, str]:
    return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset)), "date": email.utils.formatdate(date, usegmt=True), **extra}  # fmt: skip


def posts(n: int, start: int = 100, token: str | None = None) -> dict[str, Any]:
    data = [{"id": str(start + i), "text": f"post {i}"} for i in range(n)]
    meta: dict[str, Any] = {"result_count": n}
    if token:
        meta["next_token"] = token
    return {"data": data, "meta": meta} if n else {"meta": meta}


@dataclass
class Rig:
    """A machine and one claimed task, driven like a worker would, with the clock in hand."""

    machine: RequestMachine
    task: Task
    now: float = T0
    log: list[Any] = field(default_factory=list)

    def admit(self) -> Any:
        return self.machine.admit(self.task, page_request(self.task), self.now)

    def prove(self) -> None:
        """One answered request: credentials no answer accepted yet go one request at a time."""
        self.answer(200, hdr(450, 449, self.now + 900, self.now), posts(1, start=1))

    def go(self) -> Permit:
        d = self.admit()
        assert isinstance(d, Go), d
        return d.permit

    def answer(self, status: int, headers: Mapping[str, str], body: object, dt: float = 0.2) -> Any:
        permit = self.go()
        self.now += dt
        return self.machine.settle(permit, Answer(status=status, headers=headers, body=body), self.task, self.now)


def rig(*, route: str = SEARCH, max_usd: float | None = None, cap: int = 3_000_000,
        capped: tuple[str, ...] | None = None, window: float = 900.0, attempts: int = 0,
        params: Mapping[str, str] | None = None, accepted: bool = True, **spec: Any) -> Rig:  # fmt: skip
    job = JobSpec(name="j", kind="search" if route == SEARCH else "timeline", query="q", **spec)
    caps = CapConfig(monthly_posts=cap, **({"capped_endpoints": capped} if capped is not None else {}))
    machine = RequestMachine(
        contexts={"app": AuthInfo(name="app", kind="app", env=TOKEN_ENV)},
        limits=RateLimits(window=window, mode="burst"),
        ledger=money.Ledger(money.Budget(max_usd_per_run=max_usd)),
        cap=CapTracker(caps),
        specs={"j": job},
        max_attempts=3,
        accepted=frozenset({"app"} if accepted else ()),
    )  # fmt: skip
    task = Task(id=1, job="j", key="search", endpoint=route, path_params={"id": "12"} if route != SEARCH else {},
                params=dict(params or {"query": "q", "max_results": "100"}), priority=0, auth="app", write=True,
                cursor=None, pages=0, items=0, attempts=attempts)  # fmt: skip
    return Rig(machine=machine, task=task)


# --- 200s ---------------------------------------------------------------------------------------


def test_a_page_commits_with_its_charge_and_counts_toward_the_cap() -> None:
    r = rig()
    s = r.answer(200, hdr(450, 449, T0 + 900, T0), posts(3, token="t2"))
    assert isinstance(s.verdict, Commit)
    assert (s.verdict.result.items, s.verdict.result.newest_id) == (3, "102")
    assert Cursor.decode(s.verdict.result.next_cursor).token == "t2"
    [row] = s.ledger
    assert row["micros"] == 3 * 5_000 and row["posts"] == 3
    assert r.machine.cap.status(r.now).local == 3


def test_a_page_without_meta_newest_id_takes_it_from_its_data_as_integers() -> None:
    r = rig(route=TIMELINE, params={"max_results": "100"})
    body = {"data": [{"id": "99", "text": "a"}, {"id": "100", "text": "b"}]}  # "99" > "100" as strings
    s = r.answer(200, hdr(10000, 9999, T0 + 900, T0), body)
    assert isinstance(s.verdict, Commit) and s.verdict.result.newest_id == "100"


# --- every 429 is a wait, classified before anything is done ------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "kind", "until_at_most"),
    [
        # window: remaining 0 -> wait for the reset (+ skew + margin), whatever the body
        (hdr(450, 0, T0 + 30, T0), TOO_MANY, "WindowLimited", T0 + 30 + 3),
        (hdr(450, 0, T0 + 30, T0), {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, "WindowLimited",
         T0 + 30 + 3),
        # a hidden per-second limiter: remaining > 0 and no cap body -> about a second, on any route
        (hdr(450, 120, T0 + 900, T0), TOO_MANY, "PerSecondLimited", T0 + 2),
        # a 24-hour bucket at 0 -> its own reset
        (hdr(450, 40, T0 + 900, T0, **{"x-app-limit-24hour-limit": "500", "x-app-limit-24hour-remaining": "0",
                                       "x-app-limit-24hour-reset": str(int(T0 + 20_000))}),
         TOO_MANY, "DailyLimited", T0 + 20_000 + 3),
        # no headers at all -> a back-off, not a failure
        ({}, TOO_MANY, "WindowLimited", T0 + 61.5),
    ],
)
def test_every_429_is_a_wait_that_spends_no_attempt(
    headers: dict[str, str], body: object, kind: str, until_at_most: float
) -> None:
    r = rig(attempts=2)  # one more failed attempt would fail the task: a 429 must not be one
    s = r.answer(429, headers, body)
    assert isinstance(s.verdict, Wait), s.verdict
    assert kind in s.verdict.reason
    assert r.now < s.verdict.until <= until_at_most
    assert s.ledger == ()  # a 429 is not billed
    assert isinstance(r.machine.admit(r.task, page_request(r.task), r.now), Park)


def test_two_429s_in_one_window_stop_the_bucket_for_the_rest_of_it() -> None:
    r = rig()
    r.answer(429, hdr(450, 10, T0 + 900, T0), TOO_MANY)  # per-second
    r.now += 3
    s = r.answer(429, hdr(450, 10, T0 + 900, T0 + 3), TOO_MANY)
    assert isinstance(s.verdict, Wait) and s.verdict.until >= T0 + 900
    d = r.admit()
    assert isinstance(d, Park) and "denylist" in d.reason


def test_a_usage_capped_429_parks_capped_work_until_the_period_ends_after_one_request() -> None:
    r = rig()
    s = r.answer(429, hdr(40000, 39999, T0 + 900, T0), USAGE_CAPPED)  # a cap 429 comes with remaining > 0
    assert isinstance(s.verdict, Wait) and s.verdict.cause is not None
    assert s.verdict.cause.cause is Cause.CAP and s.verdict.until == r.machine.cap.resets_at(r.now)
    assert [e.name for e in s.events] == ["usage_capped"]
    d = r.admit()
    assert isinstance(d, Park) and d.cause is not None and d.cause.cause is Cause.CAP


# --- windows are learned, and the newest answer describes the bucket ---------------------------


def test_after_a_spent_window_the_next_request_waits_for_the_learned_window_not_the_prior() -> None:
    r = rig(window=900.0)  # the configured prior
    for i in range(3):  # the server: 3 requests per 10 s window, opened by the first
        r.answer(200, hdr(3, 2 - i, T0 + 10, T0), posts(1, start=100 + i, token=f"t{i}"), dt=0.1)
    d = r.admit()
    assert isinstance(d, Park) and d.until <= T0 + 10 + 3  # not (900 + 5) / 3 s after the last grant
    r.now = d.until
    r.go()
    assert r.machine.limits.bucket(SEARCH, "app", "app").figures().window == pytest.approx(11.0, abs=0.5)


def test_a_server_that_shortens_its_windows_is_followed_within_one_answer() -> None:
    r = rig()
    first, second = r.go(), r.go()
    r.now += 0.5
    r.machine.settle(first, Answer(status=429, headers=hdr(15, 0, T0 + 900, T0), body=TOO_MANY), r.task, r.now)
    assert isinstance(r.admit(), Park)
    r.now += 1.0  # a later answer: limit 3, reset in 30 s
    s = r.machine.settle(second, Answer(status=200, headers=hdr(3, 2, T0 + 31, T0 + 1), body=posts(1)), r.task, r.now)
    assert isinstance(s.verdict, Commit)
    r.now += 1.0
    assert isinstance(r.admit(), Go)  # 2 left until +31, not a wait until +900


# --- credentials, money, errors ----------------------------------------------------------------


def test_a_401_halts_the_run_naming_the_variable_and_leaves_the_task_pending() -> None:
    r = rig(attempts=0, accepted=False)
    s = r.answer(401, {}, UNAUTHORIZED)
    assert isinstance(s.verdict, Halt)
    cause = s.verdict.cause
    assert cause.cause is Cause.AUTH and cause.failure and TOKEN_ENV in cause.message
    assert "sandbox-secret" not in cause.message


def test_a_402_halts_the_run_and_every_later_request_stops_before_sending() -> None:
    r = rig()
    s = r.answer(402, {}, CREDITS)
    assert isinstance(s.verdict, Halt) and s.verdict.cause.cause is Cause.CREDITS and not s.verdict.cause.failure
    d = r.admit()
    assert isinstance(d, Stop) and d.cause.cause is Cause.CREDITS


def test_the_run_budget_shrinks_the_last_request_then_stops_cleanly() -> None:
    r = rig(max_usd=0.1)  # 20 posts
    p = r.go()
    assert p.request.params["max_results"] == "20"
    r.machine.settle(p, Answer(status=200, headers=hdr(450, 449, T0 + 900, T0), body=posts(20)), r.task, r.now)
    d = r.admit()
    assert isinstance(d, Stop) and d.cause.cause is Cause.RUN_BUDGET and "$0.10" in d.cause.message


def test_5xx_retries_with_backoff_until_max_attempts_then_fails() -> None:
    s = rig(attempts=0).answer(503, hdr(450, 449, T0 + 900, T0), SERVER_ERROR)
    assert isinstance(s.verdict, Retry) and "503" in s.verdict.reason
    s = rig(attempts=2).answer(503, hdr(450, 449, T0 + 900, T0), SERVER_ERROR)
    assert isinstance(s.verdict, Fail) and "gave up after 3 attempts" in s.verdict.reason


def test_a_request_lost_in_transit_retries_and_is_charged_at_its_worst_case() -> None:
    r = rig()
    p = r.go()
    s = r.machine.settle(p, Lost(reason="timeout"), r.task, r.now + 30)
    assert isinstance(s.verdict, Retry)
    [row] = s.ledger
    assert row["micros"] == p.money.micros if p.money else 0
    assert row["posts"] == 100  # the cap counts the worst case too


def test_a_malformed_200_retries_and_is_charged_at_its_worst_case() -> None:
    r = rig()
    s = r.answer(200, hdr(450, 449, T0 + 900, T0), {"data": "nope"})
    assert isinstance(s.verdict, Retry) and "bad response" in s.verdict.reason and len(s.ledger) == 1


# --- 400s: a known rename is resent once, anything else fails the job at once ------------------


def test_a_refused_2166_name_is_resent_once_with_its_2167_name_and_remembered_for_the_route() -> None:
    r = rig(params={"query": "q", "max_results": "100", "expansions": "author_id,referenced_tweets.id"})
    valid = ["article.cover_media", "author_id", "edit_history_post_ids", "referenced_posts"]
    s = r.answer(400, hdr(450, 449, T0 + 900, T0), invalid("expansions", "referenced_tweets.id", valid))
    assert isinstance(s.verdict, Resend)
    assert s.verdict.request.params["expansions"] == "author_id,referenced_posts"
    assert [e.name for e in s.events] == ["name_rewritten"]
    # every later request on the route is rewritten before it goes
    assert r.go().request.params["expansions"] == "author_id,referenced_posts"
    # ... and a second refusal of the same name is not resent again
    s = r.answer(400, hdr(450, 448, T0 + 900, T0), invalid("expansions", "referenced_posts", ["author_id"]))
    assert isinstance(s.verdict, Fail)


def test_a_refused_parameter_name_is_resent_under_its_other_name() -> None:
    r = rig(params={"query": "q", "max_results": "100", "tweet.fields": "created_at"})
    body = {"errors": [{"parameters": {"tweet.fields": ["created_at"]},
                        "message": "The query parameter [tweet.fields] is not one of [query,max_results,post.fields]"}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"}  # fmt: skip
    s = r.answer(400, {}, body)
    assert isinstance(s.verdict, Resend) and s.verdict.request.params.get("post.fields") == "created_at"
    assert "tweet.fields" not in s.verdict.request.params


def test_any_other_invalid_value_fails_the_job_naming_the_key_and_the_servers_list() -> None:
    r = rig(params={"query": "q", "max_results": "100", "tweet.fields": "creatd_at"})
    s = r.answer(400, {}, invalid("tweet.fields", "creatd_at", ["created_at", "lang"]))
    assert isinstance(s.verdict, Fail)
    assert "job j" in s.verdict.reason and "tweet_fields" in s.verdict.reason and "created_at, lang" in s.verdict.reason
    d = r.admit()  # the job's other tasks fail without sending
    assert isinstance(d, Reject) and d.reason == s.verdict.reason


# --- each failure carries its class: what a rerun does with the task is decided on it ---------------

FORBIDDEN = {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}
NOT_FOUND = {"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found",
             "detail": "Could not find user with id: [12]."}  # fmt: skip


@pytest.mark.parametrize(("status", "body", "failure", "rerun_fixes"), [
    (503, SERVER_ERROR, Failure.SERVER, True),
    (200, {"data": "nope"}, Failure.RESPONSE, True),
    (400, invalid("tweet.fields", "creatd_at", ["created_at"]), Failure.INVALID, False),
    (400, {"title": "Invalid Request", "detail": "One or more parameters to your request was invalid."},
     Failure.INVALID, False),
    (403, FORBIDDEN, Failure.REFUSED, False),
    (404, NOT_FOUND, Failure.REFUSED, False),
], ids=["5xx", "malformed", "400-value", "400-generic", "403", "404"])  # fmt: skip
def test_a_failure_names_its_class(status: int, body: object, failure: Failure, rerun_fixes: bool) -> None:
    s = rig(attempts=2, params={"query": "q", "max_results": "100", "tweet.fields": "creatd_at"}).answer(
        status, hdr(450, 449, T0 + 900, T0), body)
    assert isinstance(s.verdict, Fail) and s.verdict.failure is failure
    assert failure.rerun_fixes is rerun_fixes


def test_a_lost_request_fails_as_transport_and_a_broken_job_rejects_as_invalid() -> None:
    r = rig(attempts=2)
    s = r.machine.settle(r.go(), Lost(reason="timeout"), r.task, r.now + 30)
    assert isinstance(s.verdict, Fail) and s.verdict.failure is Failure.TRANSPORT
    r = rig(params={"query": "q", "max_results": "100", "tweet.fields": "creatd_at"})
    r.answer(400, {}, invalid("tweet.fields", "creatd_at", ["created_at"]))
    d = r.admit()
    assert isinstance(d, Reject) and d.failure is Failure.INVALID


# --- the cap: the server's count decides ------------------------------------------------------


def test_a_local_estimate_at_the_cap_asks_the_server_which_says_go_on() -> None:
    r = rig(cap=5000)
    r.machine.cap.rebuild(r.now, [(r.now, TIMELINE, 5000)])  # the local count includes timelines
    assert isinstance(r.admit(), CheckUsage)
    permit = r.machine.usage_permit(r.now)
    assert isinstance(permit, Go)
    body = {"data": {"cap_reset_day": 1, "project_cap": "5000", "project_usage": "120"}}
    events = r.machine.settle_usage(permit.permit, Answer(status=200, headers=hdr(50, 49, T0 + 900, T0), body=body),
                                    r.now)  # fmt: skip
    assert [e.name for e in events] == ["usage_read", "cap_counts_disagree"]
    assert isinstance(r.admit(), Go)


def test_a_capped_request_is_cut_to_the_room_the_server_leaves() -> None:
    r = rig(cap=5000)
    permit = r.machine.usage_permit(r.now)
    assert isinstance(permit, Go)
    body = {"data": {"cap_reset_day": 1, "project_cap": "5000", "project_usage": "4982"}}
    r.machine.settle_usage(permit.permit, Answer(status=200, headers={}, body=body), r.now)
    assert r.go().request.params["max_results"] == "18"


def test_the_server_at_its_cap_parks_capped_work_with_the_counts_in_the_cause() -> None:
    r = rig(cap=5000)
    permit = r.machine.usage_permit(r.now)
    assert isinstance(permit, Go)
    body = {"data": {"cap_reset_day": 1, "project_cap": "5000", "project_usage": "5000"}}
    r.machine.settle_usage(permit.permit, Answer(status=200, headers={}, body=body), r.now)
    d = r.admit()
    assert isinstance(d, Park) and d.cause is not None and d.cause.cause is Cause.CAP
    assert "server: 5,000" in d.cause.message and d.cause.resumes_at == r.machine.cap.resets_at(r.now)
    assert (SEARCH, "app") in r.machine.closed_buckets(r.now)


def test_a_request_in_flight_when_a_rename_was_learnt_is_resent_renamed_and_the_rename_told_once() -> None:
    r = rig(params={"query": "q", "max_results": "100", "expansions": "referenced_tweets.id"})
    body = invalid("expansions", "referenced_tweets.id", ["author_id", "referenced_posts"])
    first, second = r.go(), r.go()  # both sent with the old name
    s1 = r.machine.settle(first, Answer(status=400, headers={}, body=body), r.task, r.now)
    s2 = r.machine.settle(second, Answer(status=400, headers={}, body=body), r.task, r.now)
    assert isinstance(s1.verdict, Resend) and isinstance(s2.verdict, Resend)
    assert [e.name for e in (*s1.events, *s2.events)] == ["name_rewritten"]
    assert len(r.machine.renamed(SEARCH)) == 1


def test_credentials_no_answer_accepted_yet_go_one_request_at_a_time() -> None:
    r = rig(accepted=False)
    r.go()
    d = r.admit()
    assert isinstance(d, Park) and "first answer" in d.reason  # a wrong token costs one 401, not one per worker
    r2 = rig(accepted=False)
    r2.prove()
    r2.go()
    assert isinstance(r2.admit(), Go)


def test_credentials_refused_before_any_answer_accepted_them_send_nothing_more() -> None:
    """The 401's Halt reaches the run a moment later: a worker admitting meanwhile must not send."""
    r = rig(accepted=False)
    s = r.answer(401, {}, UNAUTHORIZED)
    assert isinstance(s.verdict, Halt)
    d = r.admit()
    assert isinstance(d, Park) and "HTTP 401" in d.reason


# --- auto pacing follows the backlog --------------------------------------------------------------


def test_auto_pacing_spreads_a_backlog_larger_than_the_window_and_stops_once_a_finished_task_makes_it_fit() -> None:
    r = rig()
    r.machine = RequestMachine(contexts=r.machine.contexts, limits=RateLimits(window=900.0, mode="auto"),
                               ledger=r.machine.ledger, cap=r.machine.cap, specs=r.machine.specs, max_attempts=3,
                               accepted=frozenset({"app"}))  # fmt: skip
    r.answer(200, hdr(450, 3, T0 + 900, T0), posts(1))  # 3 requests left in this window
    r.machine.set_demand({(SEARCH, "app"): 4})
    assert r.machine.pace_interval(SEARCH, "app", r.now) == pytest.approx((T0 + 900 - r.now) / 3, rel=0.01)
    r.machine.task_done(SEARCH, "app")  # 3 tasks for 3 requests: the rest goes at once
    assert r.machine.pace_interval(SEARCH, "app", r.now) == 0.0
    r.machine.task_done(SEARCH, "app")
    r.machine.set_demand({(SEARCH, "app"): 5})  # the store's next count wins over the local one
    assert r.machine.pace_interval(SEARCH, "app", r.now) > 0.0


# --- a job's limit ------------------------------------------------------------------------------


def test_a_jobs_limit_shrinks_the_last_page_holds_what_is_in_flight_and_finishes() -> None:
    from harvester.core.request import Finish

    r = rig(limit=150)
    s = r.answer(200, hdr(450, 449, T0 + 900, T0), posts(100, token="t2"))
    assert isinstance(s.verdict, Commit) and s.verdict.result.next_cursor is not None
    assert r.machine.job_items["j"] == 100
    first = r.go()
    assert first.request.params["max_results"] == "50" and first.items == 50  # what is left
    other = r.admit()  # a second worker of the same job: its room is all in flight
    assert isinstance(other, Park) and "in flight" in other.reason
    r.now += 0.2
    s = r.machine.settle(first, Answer(status=200, headers=hdr(450, 448, T0 + 900, r.now),
                                       body=posts(50, token="t3")), r.task, r.now)  # fmt: skip
    assert isinstance(s.verdict, Commit)
    assert s.verdict.result.next_cursor is None and "limit of 150" in (s.verdict.result.warning or "")
    assert isinstance(r.admit(), Finish)


def test_a_limit_below_the_endpoints_minimum_asks_for_the_minimum() -> None:
    r = rig(limit=3)
    assert r.go().request.params["max_results"] == "10"
