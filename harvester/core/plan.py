"""Jobs -> tasks, tasks -> page requests, response bodies -> page results. Pure functions.

Theory of operation
-------------------
Rule 1: this module does no I/O and reads no clock. It takes a job spec, a task or a decoded
JSON body and returns values; the worker does the fetching, writing and committing.

Rule 2: every endpoint fact (which parameter carries the cursor, how many ids fit in a lookup,
the page-size bounds) comes from :mod:`harvester.core.endpoints`; nothing here branches on a
route name except to pick the row.

The model. A job becomes one task per independent paginated stream:

- ``search``: one task, key ``"search"``, on recent or (``archive``) full-archive search;
- ``counts``: one task, key ``"counts"``, on recent or (``archive``) full-archive counts;
- the user-scoped kinds (``timeline``, ``mentions``, ``followers``, ``following``, ``liked_tweets``,
  ``bookmarks``, ``blocking``, ``muting``, the user's lists): one task per user id, key
  ``"user:<id>"``. Usernames are first resolved on ``/2/users/by`` by *resolve* tasks (key
  ``"resolve:NNNN"``, up to 100 names each, ``write=False``: their pages are not output); each
  resolve page spawns the per-user tasks, built exactly as :func:`plan_job` builds them, so a
  user given both by id and by name is harvested once (same key, and enqueueing keeps the first);
- the post-scoped kinds (``liking_users``, ``retweeted_by``, ``quote_tweets``, ``conversation``):
  one task per post id, key ``"tweet:<id>"`` (a conversation is a search for
  ``conversation_id:<id>``); the list-scoped kinds: one task per list, key ``"list:<id>"``;
- ``lookup_tweets``/``lookup_users``: chunks of up to 100 ids (``"ids:NNNNN"``) or usernames
  (``"usernames:NNNNN"``), one page each.

Ids may also come from files (:func:`iter_plan`'s ``inputs``, streamed) and from another job's
pages (:func:`fan_out`).

A task's fixed parameters are stored with it; :func:`page_request` adds the cursor under the
endpoint's token parameter (``next_token`` for search, ``pagination_token`` elsewhere).
:func:`interpret_page` reads a parsed :class:`~harvester.core.page.Page` (its shape was checked
once, by :func:`~harvester.core.page.parse_page`): the next cursor, the item count, the newest
id and spawned tasks. A body with only ``errors`` (every requested id unknown) is a valid page
with no items.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harvester.core.api_tables import ROUTES
from harvester.core.endpoints import (
    ARCHIVE_ROUTES,
    FIELD_KEYS,
    ID_PATTERN,
    KIND_ENDPOINT,
    KIND_INPUT,
    RESOLVE_USERNAMES,
    Endpoint,
    Resource,
    endpoint,
    fill_route,
)
from harvester.core.model import JobSpec, NewTask, Task
from harvester.core.page import Page
from harvester.errors import BadResponse

_ID = re.compile(ID_PATTERN)
USER_KINDS = frozenset(k for k, i in KIND_INPUT.items() if i == "users")
TWEET_KINDS = frozenset(k for k, i in KIND_INPUT.items() if i == "tweets")
LIST_KINDS = frozenset(k for k, i in KIND_INPUT.items() if i == "lists")
SEARCH_KEY = "search"
COUNTS_KEY = "counts"
FILE_CHUNK_KEY = "file"  # lookup chunks read from a file: ``file:<n>`` (inline ones are ``ids:<n>``)

Inputs = Mapping[str, Iterable[str]]
"""Values read from a job's files (``user_ids``, ``usernames``, ``tweet_ids``), streamed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRequest:
    """What to GET for a task's next page.

    Attributes:
        path: the route with its ``:name`` parts filled, e.g. ``/2/users/12/tweets``.
        params: query parameters, the cursor included.
    """

    path: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageResult:
    """What a page says.

    Attributes:
        next_cursor: ``meta.next_token``; None when pagination ended or the endpoint has none.
        items: ``data`` entries on the page.
        spawn: tasks the page creates (per-user tasks from a resolve page).
        newest_id: ``meta.newest_id`` when present (the next poll's ``since_id``).
        errors: per-item ``errors`` entries (partial errors arrive with HTTP 200).
        discard: the page repeats the one before (a server that ignores ``next_token``): its
            charge is committed, its line is not written again.
        warning: why pagination ended or changed course (a loop, the depth cap), for the log.
    """

    next_cursor: str | None
    items: int
    spawn: tuple[NewTask, ...] = ()
    newest_id: str | None = None
    errors: int = 0
    discard: bool = False  # the page repeats the previous one: commit it, but do not write it
    warning: str | None = None  # why pagination was cut short (a loop, the depth cap)


# --------------------------------------------------------------------------- planning


def _fields(spec: JobSpec) -> dict[str, str]:
    """The job's fields and expansions, each under the parameter its key names (as written)."""
    params: dict[str, str] = {}
    for key, param in FIELD_KEYS.items():
        values: tuple[str, ...] = getattr(spec, key)
        if values:
            params[param] = ",".join(values)
    return params


def _bounds(spec: JobSpec) -> dict[str, str]:
    bounds = {
        "start_time": spec.start_time,
        "end_time": spec.end_time,
        "since_id": spec.since_id,
        "until_id": spec.until_id,
    }
    return {k: v for k, v in bounds.items() if v is not None}


def _page_size(spec: JobSpec, ep: Endpoint) -> dict[str, str]:
    size = spec.max_results if spec.max_results is not None else ep.max_results
    if size is not None and spec.limit is not None and spec.limit < size:
        size = max(spec.limit, ep.min_results or 1)  # a job wanting fewer items asks for fewer
    return {} if size is None else {"max_results": str(size)}


def route_of(spec: JobSpec) -> str:
    """The route a job's own pages come from (``archive`` picks the full-archive twin)."""
    if spec.archive and spec.kind in ARCHIVE_ROUTES:
        return ARCHIVE_ROUTES[spec.kind]
    return KIND_ENDPOINT[spec.kind]


def _time_bounds(spec: JobSpec, route: str) -> dict[str, str]:
    return _bounds(spec) if takes(route, "start_time") else {}


def _task(spec: JobSpec, key: str, route: str, params: Mapping[str, str], **kw: Any) -> NewTask:
    return NewTask(
        job=spec.name,
        key=key,
        endpoint=route,
        params=dict(params),
        priority=spec.priority,
        auth=spec.auth,
        **kw,
    )


def user_tasks(spec: JobSpec, user_ids: Iterable[str]) -> list[NewTask]:
    """One task per user of a user-scoped job (timeline, mentions, followers, liked_tweets, ...)."""
    return list(iter_user_tasks(spec, dict.fromkeys(user_ids)))


def iter_user_tasks(spec: JobSpec, user_ids: Iterable[str]) -> Iterator[NewTask]:
    """:func:`user_tasks`, one at a time (a file of a million users is never a list)."""
    if spec.kind not in USER_KINDS:
        raise ValueError(f"job {spec.name!r} of kind {spec.kind!r} has no per-user tasks")
    route = KIND_ENDPOINT[spec.kind]
    params = _page_size(spec, endpoint(route)) | _time_bounds(spec, route) | _fields(spec)
    for uid in user_ids:
        yield _task(spec, f"user:{uid}", route, params, path_params={"id": uid})


def tweet_tasks(spec: JobSpec, tweet_ids: Iterable[str]) -> Iterator[NewTask]:
    """One task per post of a post-scoped job (liking_users, retweeted_by, quote_tweets,
    conversation). A conversation is a search for ``conversation_id:<id>``, recent or archive:
    its root post has its own id as conversation id, so the search returns it too."""
    if spec.kind not in TWEET_KINDS:
        raise ValueError(f"job {spec.name!r} of kind {spec.kind!r} has no per-post tasks")
    route = route_of(spec)
    params = _page_size(spec, endpoint(route)) | _time_bounds(spec, route) | _fields(spec)
    for tid in tweet_ids:
        if spec.kind == "conversation":
            yield _task(spec, f"tweet:{tid}", route, {"query": f"conversation_id:{tid}", **params})
        else:
            yield _task(spec, f"tweet:{tid}", route, params, path_params={"id": tid})


def list_tasks(spec: JobSpec, list_ids: Iterable[str]) -> Iterator[NewTask]:
    """One task per list of a list-scoped job (list_tweets, list_members, list_followers)."""
    route = KIND_ENDPOINT[spec.kind]
    params = _page_size(spec, endpoint(route)) | _fields(spec)
    for lid in list_ids:
        yield _task(spec, f"list:{lid}", route, params, path_params={"id": lid})


def _lookup_tasks(spec: JobSpec, route: str, values: Iterable[str], key: str, **kw: Any) -> Iterator[NewTask]:
    ep = endpoint(route)
    assert ep.ids_param is not None and ep.max_ids is not None, route
    for n, chunk in enumerate(_stream_chunks(values, ep.max_ids)):
        yield _task(spec, f"{key}:{n:05d}", route, {ep.ids_param: ",".join(chunk), **_fields(spec)}, **kw)


def _resolve_tasks(spec: JobSpec, usernames: Iterable[str], key: str = "resolve") -> Iterator[NewTask]:
    ep = endpoint(RESOLVE_USERNAMES)
    assert ep.ids_param is not None and ep.max_ids is not None
    for n, chunk in enumerate(_stream_chunks(usernames, ep.max_ids)):
        yield _task(spec, f"{key}:{n:04d}", RESOLVE_USERNAMES, {ep.ids_param: ",".join(chunk)}, write=False)


def _stream_chunks(values: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def plan_job(spec: JobSpec, inputs: Inputs | None = None) -> list[NewTask]:
    """The tasks that harvest ``spec``; planning the same spec twice gives the same keys."""
    return list(iter_plan(spec, inputs))


def iter_plan(spec: JobSpec, inputs: Inputs | None = None) -> Iterator[NewTask]:
    """:func:`plan_job` one task at a time: the job's inline inputs, then ``inputs`` (its files,
    read by the shell) streamed, so a file of a million ids queues in constant memory. A file's
    per-user or per-post tasks have the same keys as inline ones (enqueueing keeps the first, so a
    value given twice is harvested once); its lookup chunks are keyed ``file:<n>``."""
    kind = spec.kind
    files: Inputs = inputs or {}
    if kind in ("search", "counts"):
        route = route_of(spec)
        if spec.query is None:
            raise ValueError(f"{kind} job {spec.name!r} has no query")
        params = {"query": spec.query, **_bounds(spec), **_page_size(spec, endpoint(route)), **_fields(spec)}
        if kind == "counts" and spec.granularity is not None:
            params["granularity"] = spec.granularity
        yield _task(spec, SEARCH_KEY if kind == "search" else COUNTS_KEY, route, params)
        return
    if kind in USER_KINDS:
        yield from iter_user_tasks(spec, dict.fromkeys(spec.user_ids))
        yield from iter_user_tasks(spec, files.get("user_ids", ()))
        yield from _resolve_tasks(spec, spec.usernames)
        if "usernames" in files:
            yield from _resolve_tasks(spec, files["usernames"], "resolve-file")
        return
    if kind in TWEET_KINDS:
        yield from tweet_tasks(spec, spec.tweet_ids)
        yield from tweet_tasks(spec, files.get("tweet_ids", ()))
        return
    if kind in LIST_KINDS:
        yield from list_tasks(spec, spec.list_ids)
        return
    if kind == "stream":  # the stream runner collects it; only gap fills are tasks (core/stream/fill)
        return
    if kind == "lookup_tweets":
        route = KIND_ENDPOINT["lookup_tweets"]
        yield from _lookup_tasks(spec, route, spec.tweet_ids, "ids")
        yield from _lookup_tasks(spec, route, files.get("tweet_ids", ()), FILE_CHUNK_KEY)
        return
    if kind == "lookup_users":
        route = KIND_ENDPOINT["lookup_users"]
        yield from _lookup_tasks(spec, route, spec.user_ids, "ids")
        yield from _lookup_tasks(spec, RESOLVE_USERNAMES, spec.usernames, "usernames")
        yield from _lookup_tasks(spec, route, files.get("user_ids", ()), FILE_CHUNK_KEY)
        yield from _lookup_tasks(spec, RESOLVE_USERNAMES, files.get("usernames", ()), "file-usernames")
        return
    raise ValueError(f"job {spec.name!r} has unknown kind {kind!r}")


def fan_out(spec: JobSpec, source: Task, page: Page) -> list[NewTask]:
    """The tasks a source job's committed page gives the fan-out job ``spec`` (``from_job``).

    A post-scoped job takes the page's post ids; a user-scoped one the page's user ids, or the
    authors of its posts. Per-user and per-post keys make the fan-out deduplicated across the
    job (enqueueing keeps the first); lookups get one chunk per source page, keyed by it.
    """
    returns = endpoint(source.endpoint).resource
    wants = "tweets" if spec.kind == "lookup_tweets" else "users" if spec.kind == "lookup_users" else KIND_INPUT[spec.kind]
    ids: list[str] = []
    for item in page.data:
        value = item.get("author_id") if (wants == "users" and returns is Resource.POST) else item.get("id")
        if isinstance(value, str) and _ID.match(value):
            ids.append(value)
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    if spec.kind in USER_KINDS:
        return list(iter_user_tasks(spec, ids))
    if spec.kind in TWEET_KINDS:
        return list(tweet_tasks(spec, ids))
    key = f"from:{source.key}:{source.pages:06d}"
    return list(_lookup_tasks(spec, KIND_ENDPOINT[spec.kind], ids, key))


# --------------------------------------------------------------------------- pages


CURSOR_PREFIX = "hv1:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cursor:
    """Where a task's pagination stands (stored as the task's opaque cursor string).

    Attributes:
        token: the server's ``next_token`` to send, if any.
        until_id: paging by ``until_id`` instead (after the server ignored its own tokens).
        seen: a fingerprint of the last page's ids, to notice a page that repeats.
    """

    token: str | None = None
    until_id: str | None = None
    seen: str | None = None

    def encode(self) -> str:
        return CURSOR_PREFIX + json.dumps({"t": self.token, "u": self.until_id, "s": self.seen}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | None) -> Cursor:
        """A stored cursor; a bare token (stored before cursors carried more) is a token."""
        if raw is None:
            return cls()
        if not raw.startswith(CURSOR_PREFIX):
            return cls(token=raw)
        try:
            d = json.loads(raw[len(CURSOR_PREFIX) :])
        except ValueError:
            return cls(token=raw)
        return cls(token=d.get("t"), until_id=d.get("u"), seen=d.get("s"))


def fingerprint(ids: Sequence[str]) -> str | None:
    """The set of a page's ids, compactly (order-blind: a server may shuffle a page)."""
    if not ids:
        return None
    return hashlib.sha1(",".join(sorted(ids)).encode()).hexdigest()[:16]


def takes(route: str, param: str) -> bool:
    """Whether X's document lists ``param`` for ``route``."""
    spec = ROUTES.get(route)
    return spec is not None and spec.param(param) is not None


def page_request(task: Task) -> PageRequest:
    """The path and parameters of ``task``'s next page."""
    ep = endpoint(task.endpoint)
    params = dict(task.params)
    cursor = Cursor.decode(task.cursor)
    if cursor.until_id is not None:
        params["until_id"] = cursor.until_id
        params.pop("end_time", None)  # at most one of end_time/until_id (X's document)
    elif cursor.token is not None:
        if ep.token_param is None:
            raise ValueError(f"task {task.job}/{task.key}: {task.endpoint} is not paginated but has a cursor")
        params[ep.token_param] = cursor.token
    return PageRequest(path=fill_route(task.endpoint, dict(task.path_params)), params=params)


def is_resolve(task: Task) -> bool:
    """Whether ``task`` resolves usernames for a user-scoped job (its pages spawn tasks)."""
    return task.endpoint == RESOLVE_USERNAMES and not task.write


def describe(task: Task) -> str:
    """How errors name a task's request: ``route (job/key)``."""
    return f"{task.endpoint} ({task.job}/{task.key})"


def interpret_page(task: Task, page: Page, spec: JobSpec | None = None) -> PageResult:
    """What ``task``'s page (parsed once by :func:`~harvester.core.page.parse_page`) means.

    Args:
        spec: the task's job; required for resolve tasks, whose users become new tasks.

    Raises:
        BadResponse: the page cannot be followed (a cursor that repeats, a resolved id that is
            not an id).
        ValueError: a resolve task without its job spec.
    """
    where = describe(task)
    data = page.data
    next_token = page.next_token
    ep = endpoint(task.endpoint)
    cursor = Cursor.decode(task.cursor)
    if next_token is not None and next_token == cursor.token:
        # The same token would fetch the same page forever.
        raise BadResponse(f"{where}: meta.next_token repeats the cursor just sent")
    seen = fingerprint(page.ids)
    next_cursor: str | None = None
    discard = False
    warning: str | None = None
    if ep.paginated and seen is not None and seen == cursor.seen:
        # Every id of this page was on the one before: the server ignores its own next_token.
        discard = True
        if takes(task.endpoint, "until_id") and all(i.isdigit() for i in page.ids):
            oldest = min(int(i) for i in page.ids)
            next_cursor = Cursor(until_id=str(oldest - 1), seen=seen).encode()
            warning = f"job {task.job}: the server repeated a page for its next_token; paging by until_id instead"
        else:
            warning = f"job {task.job}: the server repeated a page for its next_token; pagination ends here"
    elif ep.paginated and cursor.until_id is not None:
        if page.ids and all(i.isdigit() for i in page.ids):
            next_cursor = Cursor(until_id=str(min(int(i) for i in page.ids) - 1), seen=seen).encode()
    elif ep.paginated and next_token is not None:
        next_cursor = Cursor(token=next_token, seen=seen).encode()
    limit = _depth(task, spec, ep)
    if next_cursor is not None and limit is not None and task.items + (0 if discard else len(data)) >= limit:
        next_cursor = None
        warning = f"job {task.job}: {task.key} reached its depth of {limit:,} items; pagination ends here"

    spawn: tuple[NewTask, ...] = ()
    if is_resolve(task):
        if spec is None:
            raise ValueError(f"{where}: a resolve page needs its job spec to spawn tasks")
        if spec.name != task.job:
            raise ValueError(f"{where}: spec is job {spec.name!r}, not {task.job!r}")
        ids: list[str] = []
        for i, user in enumerate(data):
            uid = user.get("id")
            if not isinstance(uid, str) or not _ID.match(uid):
                raise BadResponse(f"{where}: data[{i}].id is {uid!r:.40}, not a numeric id string")
            ids.append(uid)
        spawn = tuple(user_tasks(spec, ids))

    # The newest id only means something where posts come newest first (the next poll's since_id).
    newest = page.newest_id if ep.paginated and ep.resource is Resource.POST else None
    return PageResult(next_cursor=next_cursor, items=0 if discard else len(data), spawn=spawn, newest_id=newest,
                      errors=len(page.errors), discard=discard, warning=warning)


def _depth(task: Task, spec: JobSpec | None, ep: Endpoint) -> int | None:
    """The most items ``task`` may return: the endpoint's documented depth (a job's ``limit``
    spans its tasks: the request machine keeps it)."""
    return ep.depth
