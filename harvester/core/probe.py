"""What ``plan --probe`` asks, and what each answer says of a job's volume (no I/O).

A probe buys volumes cheaply: a search (or a conversation, which is a search) is sized by its
counts (``/2/tweets/counts/recent``, ``/all`` for an archive search, billed per request), a
user-scoped job by its users' ``public_metrics`` (``/2/users`` for ids, ``/2/users/by`` for
usernames, 100 a request, billed per user). Each request is a synthetic :class:`Task` of the job,
under its real route and the job's auth, so the request machine admits, paces, prices and files it
exactly as a run's page; it is never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harvester.core.endpoints import COUNTS_ALL, RESOLVE_USERNAMES
from harvester.core.model import JobSpec, Task
from harvester.core.page import Page

COUNTS_RECENT = "/2/tweets/counts/recent"
USERS = "/2/users"
LOOKUP_BATCH = 100  # ids or usernames per user lookup (X's maximum)

# The public metric that sizes each user-scoped kind (mentions have none: their depth caps them).
METRIC = {"timeline": "tweet_count", "followers": "followers_count", "following": "following_count",
          "liked_tweets": "like_count", "list_memberships": "listed_count"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """One source of a job's volume.

    Attributes:
        route: the endpoint it is sent to (and filed under).
        params: its query parameters (a counts request's ``next_token`` is added per page).
        metric: the ``public_metrics`` key summed over the users returned; None for counts
            (``meta.total_tweet_count``).
    """

    route: str
    params: Mapping[str, str]
    metric: str | None = None


def probe_requests(spec: JobSpec) -> list[ProbeRequest] | None:
    """What sizes ``spec``, or None when a probe cannot (exact without one, or no public figure).

    A user-scoped job bounded by ``start_time``/``end_time`` is not sized: its users' lifetime
    totals would overstate it. Users in files are not read here (the plan counts them).
    """
    queries = [spec.query] if spec.kind == "search" and spec.query else []
    if spec.kind == "conversation":  # a conversation is a search: its counts say how big it is
        queries = [f"conversation_id:{i}" for i in spec.tweet_ids]
    if queries:
        window = {k: v for k, v in (("start_time", spec.start_time), ("end_time", spec.end_time)) if v}
        route = COUNTS_ALL if spec.archive else COUNTS_RECENT
        return [ProbeRequest(route, {"query": q, "granularity": "day", **window}) for q in queries]
    metric = METRIC.get(spec.kind)
    if metric is None or spec.start_time or spec.end_time or not (spec.user_ids or spec.usernames):
        return None
    out = []
    for key, route, values in (("ids", USERS, spec.user_ids), ("usernames", RESOLVE_USERNAMES, spec.usernames)):
        for i in range(0, len(values), LOOKUP_BATCH):
            batch = ",".join(values[i : i + LOOKUP_BATCH])
            out.append(ProbeRequest(route, {key: batch, "user.fields": "public_metrics"}, metric))
    return out


def probe_task(spec: JobSpec, request: ProbeRequest, n: int) -> Task:
    """The synthetic task that carries ``request`` through the machine: the job's name and auth,
    the real route, nothing written (``write=False``), never stored (id 0)."""
    return Task(id=0, job=spec.name, key=f"probe/{n}", endpoint=request.route, path_params={},
                params=dict(request.params), priority=0, auth=spec.auth, write=False, cursor=None, pages=0,
                items=0, attempts=0)  # fmt: skip


def tally(request: ProbeRequest, page: Page) -> int:
    """The items ``page`` says the source holds: a counts total, or the users' summed metric."""
    if request.metric is None:
        return _int(page.meta.get("total_tweet_count"))
    total = 0
    for user in page.data:
        metrics = user.get("public_metrics")
        total += _int(metrics.get(request.metric)) if isinstance(metrics, Mapping) else 0
    return total


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    return int(value) if isinstance(value, str) and value.isdigit() else 0


__all__ = ["METRIC", "ProbeRequest", "probe_requests", "probe_task", "tally"]
