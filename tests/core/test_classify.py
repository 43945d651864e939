"""Classification of every response body in x-api-spec.md §2.2-§2.3, on both problem-type hosts."""

from __future__ import annotations

import json

import pytest

from harvester.core.classify import (
    CreditsDepleted,
    DailyLimited,
    Fatal,
    Ok,
    PerSecondLimited,
    Retryable,
    Unauthorized,
    UsageCapped,
    WindowLimited,
    classify,
    parse_http_date,
    parse_rate_headers,
    problem_slug,
)

RECENT = "/2/tweets/search/recent"
ARCHIVE = "/2/tweets/search/all"
NOW = 1_800_000_000.0
HOSTS = ["https://api.twitter.com", "https://api.x.com"]

# Bodies copied verbatim from x-api-spec.md §2.2 and §2.3 (with the api.twitter.com host).
PARTIAL_200 = """{
  "data": [{"id": "20", "text": "just setting up my twttr", "edit_history_tweet_ids": ["20"]}],
  "errors": [{"value": "1276230436478386177", "detail": "Could not find tweet with ids: [1276230436478386177].",
              "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
              "resource_id": "1276230436478386177",
              "type": "https://api.twitter.com/2/problems/resource-not-found"}]
}"""
SUSPENDED_200 = """{"errors":[{"parameter":"ids","resource_id":"481186914","value":"481186914","detail":"User has been
  suspended: [481186914].","title":"Forbidden","resource_type":"user","type":"https://api.twitter.com/2/problems/resource-not-found"}]}""".replace("\n  ", " ")
INVALID_400 = """{"errors":[{"parameters":{"max_results":["0"]},"message":"The `max_results` query parameter value [0] is not between 5 and 100"}],
 "title":"Invalid Request","detail":"One or more parameters to your request was invalid.",
 "type":"https://api.twitter.com/2/problems/invalid-request"}"""
UNAUTHORIZED_401 = """{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"""
UNSUPPORTED_AUTH_403 = """{"title":"Unsupported Authentication",
 "detail":"Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
 "type":"https://api.twitter.com/2/problems/unsupported-authentication","status":403}"""
CLIENT_FORBIDDEN_403 = """{"client_id":"23074266","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project. You can create a project via the developer portal.",
 "registration_url":"https://developer.twitter.com/en/docs/projects/overview","title":"Client Forbidden",
 "required_enrollment":"Appropriate Level of API Access","reason":"client-not-enrolled",
 "type":"https://api.twitter.com/2/problems/client-forbidden"}"""
LEGACY_403 = """{"errors":[{"message":"You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints (e.g. media post, oauth) only. ...","code":453}]}"""
GENERIC_403 = """{"detail":"You are not permitted to perform this action.","type":"about:blank","title":"Forbidden","status":403}"""
TOO_MANY_429 = """{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"""
CODE88_429 = """{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"""
USAGE_CAPPED_429 = """{"account_id":"<redacted>","product_name":"standard-basic","title":"UsageCapExceeded","period":"Monthly",
 "scope":"Product","detail":"Usage cap exceeded: Monthly product cap",
 "type":"https://api.twitter.com/2/problems/usage-capped"}"""
STREAM_429 = """{"title":"ConnectionException","detail":"This stream is currently at
the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.twitter.com/2/problems/streaming-connection"}""".replace("\n", " ")
CREDITS_402 = """{"title":"CreditsDepleted",
 "detail":"Your enrolled account [2059529979700846592] does not have any credits to fulfill this request.",
 "type":"https://api.twitter.com/2/problems/credits"}"""
CREDITS_402_B = """{"detail":"credits depleted","status":402,"title":"Payment Required","type":"https://api.x.com/2/problems/credits-depleted"}"""


def body(text: str, host: str) -> object:
    return json.loads(text.replace("https://api.twitter.com/2/problems/", host + "/2/problems/"))


def rate(limit: int, remaining: int, reset: int, **extra: str) -> dict[str, str]:
    return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset), **extra}


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_credits_body_is_exactly_185_bytes_as_the_spec_says() -> None:
    assert len(json.dumps(json.loads(CREDITS_402), separators=(",", ":")).encode()) == 185


def test_200_with_partial_errors_is_ok_and_keeps_their_texts(host: str) -> None:
    out = classify(200, {}, body(PARTIAL_200, host), "/2/tweets", NOW)
    assert out == Ok(errors=("Could not find tweet with ids: [1276230436478386177].",))
    out = classify(200, {}, body(SUSPENDED_200, host), "/2/users", NOW)
    assert out == Ok(errors=("User has been suspended: [481186914].",))
    assert classify(200, rate(450, 449, 1), {"meta": {"result_count": 0}}, RECENT, NOW) == Ok()
    assert classify(204, {}, None, RECENT, NOW) == Ok()


def test_400_fails_the_job_with_title_detail_and_messages(host: str) -> None:
    out = classify(400, {}, body(INVALID_400, host), RECENT, NOW)
    assert out == Fatal(
        reason="invalid-request",
        problem_text="Invalid Request: One or more parameters to your request was invalid. | "
        "The `max_results` query parameter value [0] is not between 5 and 100",
        status=400,
    )


def test_401_is_the_credentials_not_the_job() -> None:
    out = classify(401, {}, json.loads(UNAUTHORIZED_401), RECENT, NOW)
    assert out == Unauthorized(problem_text="Unauthorized: Unauthorized")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (UNSUPPORTED_AUTH_403, "unsupported-authentication"),
        (CLIENT_FORBIDDEN_403, "client-forbidden"),
        (LEGACY_403, "forbidden"),
        (GENERIC_403, "possibly_denylisted"),
    ],
)
def test_every_403_is_fatal(text: str, reason: str, host: str) -> None:
    out = classify(403, {}, body(text, host), RECENT, NOW)
    assert isinstance(out, Fatal) and out.reason == reason and out.status == 403
    assert out.problem_text


def test_legacy_403_keeps_the_message_text() -> None:
    out = classify(403, {}, json.loads(LEGACY_403), RECENT, NOW)
    assert isinstance(out, Fatal) and out.problem_text.startswith("You currently have access to a subset")


@pytest.mark.parametrize("text", [TOO_MANY_429, CODE88_429, STREAM_429, "", "not json"])
def test_429_with_remaining_zero_is_a_window_limit_whatever_the_body(text: str, host: str) -> None:
    b = body(text, host) if text.startswith("{") else (text or None)
    out = classify(429, rate(450, 0, 1_800_000_600), b, RECENT, NOW)
    assert out == WindowLimited(reset=1_800_000_600)


def test_usage_capped_429_is_never_retried_even_with_remaining_left(host: str) -> None:
    headers = {"x-rate-limit-limit": "40000", "x-rate-limit-remaining": "39999", "x-rate-limit-reset": "1"}
    out = classify(429, headers, body(USAGE_CAPPED_429, host), RECENT, NOW)
    assert out == UsageCapped(period="Monthly", scope="Product",
                              detail="Usage cap exceeded: Monthly product cap", until=None)
    daily = dict(body(USAGE_CAPPED_429, host), period="Daily")  # type: ignore[call-overload]
    out = classify(429, headers, daily, ARCHIVE, NOW)
    assert isinstance(out, UsageCapped) and out.until == 1_800_057_600.0  # next UTC midnight


def test_429_with_remaining_on_full_archive_search_is_the_per_second_limiter(host: str) -> None:
    out = classify(429, rate(300, 120, 1), body(TOO_MANY_429, host), ARCHIVE, NOW)
    assert out == PerSecondLimited(retry_at=NOW + 1.0)


def test_429_with_remaining_on_any_route_is_a_hidden_per_second_limiter_not_a_failure(host: str) -> None:
    # x-api-spec.md §2.3: any 429 whose body has no usage-capped type is a rate limit.
    out = classify(429, rate(450, 12, 1), body(TOO_MANY_429, host), RECENT, NOW)
    assert out == PerSecondLimited(retry_at=NOW + 1.0)


def test_429_with_a_24_hour_bucket_at_zero_waits_for_the_24_hour_reset() -> None:
    headers = rate(900, 40, 1_800_000_600) | {"x-user-limit-24hour-limit": "250",
                                              "x-user-limit-24hour-remaining": "0",
                                              "x-user-limit-24hour-reset": "1_800_050_000".replace("_", "")}
    assert classify(429, headers, json.loads(TOO_MANY_429), RECENT, NOW) == DailyLimited(reset=1_800_050_000)
    upper = {k.upper(): v for k, v in headers.items()}  # header names are case-insensitive
    assert classify(429, upper, None, RECENT, NOW) == DailyLimited(reset=1_800_050_000)


def test_429_without_headers_is_a_window_limit_of_unknown_reset() -> None:
    assert classify(429, {}, json.loads(TOO_MANY_429), RECENT, NOW) == WindowLimited(reset=None)
    assert classify(429, {}, None, RECENT, NOW) == WindowLimited(reset=None)


@pytest.mark.parametrize("text", [CREDITS_402, CREDITS_402_B])
def test_402_credits_depleted_is_fatal_in_both_forms(text: str, host: str) -> None:
    out = classify(402, {}, body(text, host), "/2/tweets", NOW)
    assert isinstance(out, CreditsDepleted) and out.detail
    # The type alone identifies it too, whatever the status.
    assert isinstance(classify(403, {}, body(text, host), "/2/tweets", NOW), CreditsDepleted)
    assert classify(402, {}, None, "/2/tweets", NOW) == CreditsDepleted(detail="credits depleted")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retries(status: int) -> None:
    out = classify(status, {}, {"title": "Service Unavailable", "type": "about:blank"}, RECENT, NOW)
    assert isinstance(out, Retryable) and out.status == status and "Service Unavailable" in out.reason


@pytest.mark.parametrize(("status", "reason"), [(404, "http_404"), (409, "http_409"), (302, "http_302")])
def test_other_statuses_fail_the_job(status: int, reason: str) -> None:
    out = classify(status, {}, None, RECENT, NOW)
    assert out == Fatal(reason=reason, problem_text=f"HTTP {status}", status=status)


def test_problem_slugs_ignore_the_host() -> None:
    assert problem_slug("https://api.twitter.com/2/problems/usage-capped") == "usage-capped"
    assert problem_slug("https://api.x.com/2/problems/credits-depleted") == "credits-depleted"
    assert problem_slug("about:blank") == "about:blank"
    assert problem_slug("https://example.com/other") is None
    assert problem_slug(None) is None


def test_rate_headers_parse_case_insensitively_and_skip_garbage() -> None:
    h = parse_rate_headers({"X-Rate-Limit-Limit": "450", "X-Rate-Limit-Remaining": "449",
                            "X-Rate-Limit-Reset": "1800000900", "Date": "Wed, 15 Jan 2027 08:00:00 GMT",
                            "x-app-limit-24hour-remaining": "x", "x-app-limit-24hour-reset": "1"})
    assert h.window is not None and (h.window.limit, h.window.remaining, h.window.reset) == (450, 449, 1_800_000_900)
    assert h.app_daily is None and h.user_daily is None
    assert h.date == parse_http_date("Wed, 15 Jan 2027 08:00:00 GMT") == 1_800_000_000.0
    assert parse_rate_headers({"x-rate-limit-remaining": "3"}).window is None  # no reset: unusable
    assert parse_http_date("yesterday") is None


@pytest.mark.parametrize(
    ("status", "body", "depleted"),
    [
        (402, None, True),
        (403, {"title": "CreditsDepleted", "type": "about:blank"}, True),  # the title alone
        (403, {"type": "https://api.x.com/2/problems/credits-depleted", "title": "Payment Required"}, True),
        (429, {"type": "https://api.twitter.com/2/problems/usage-capped", "title": "UsageCapExceeded"}, False),
        (429, {"title": "Too Many Requests", "type": "about:blank"}, False),
    ],
)
def test_credits_depleted_by_status_slug_or_title(status: int, body: dict[str, str] | None, depleted: bool) -> None:
    """Any 402, a ``credits*`` slug on either host, or the title ``CreditsDepleted`` (§2.3)."""
    outcome = classify(status, {"x-rate-limit-remaining": "5"}, body, "/2/tweets", NOW)
    assert isinstance(outcome, CreditsDepleted) is depleted
