"""``jobs/*.toml`` -> validated :class:`~harvester.core.model.JobSpec` values.

Theory of operation
-------------------
A job file holds one or more ``[[job]]`` tables. :func:`load_jobs` reads every file it is
given (a directory means its ``*.toml`` files, sorted), validates every job, and only then
returns them: one bad key anywhere queues nothing. Each problem raises
``JobSpecError(file, job, key, problem)``, whose message is one line naming all three.

What is checked, and against what:

- keys: known keys only (with a "did you mean" hint), and only the keys that apply to the job's
  kind (a ``query`` on a timeline job is a mistake, not something to ignore);
- values: types, id and username patterns, times (``YYYY-MM-DDTHH:MM:SSZ``, or TOML datetimes
  with an offset, converted to UTC), ``start_time < end_time``;
- endpoint bounds from :mod:`harvester.core.endpoints`: ``max_results`` within the kind's
  endpoint range, query length within the endpoint's limit;
- fields and expansions (:data:`~harvester.core.endpoints.KIND_FIELDS`): each key only on kinds
  whose routes take its parameter, each value a name X's OpenAPI document lists for the kind's
  routes, under its 2.167 or its 2.166 name; ``tweet_fields`` and ``post_fields`` (the same Post
  fields, sent as ``tweet.fields`` and ``post.fields``) not both;
- names: unique across all files (ignoring case too: on a case-insensitive file system ``A`` and
  ``a`` would write one output file), safe as visible file names (no leading dot: ``..`` or
  ``.x`` would write a hidden ``out/...jsonl``);
- paths: a directory contributes its ``*.toml`` entries except hidden ones (editors leave lock
  and swap files there); an entry that is a broken symlink, a symlink loop, a directory or
  unreadable is named in one line, never skipped;
- ``auth``: when a :class:`~harvester.config.Config` is given, one of its auth names.

Keys that later features read (``mode``, ``schedule``, ``min_interval``, ``max_interval``,
``active_since``) are validated here and kept, normalised, in ``JobSpec.extra``: intervals as a
float of seconds (parsed by :mod:`harvester.core.duration`, the parser ``every`` schedules use
too: ``"90s"``, ``"1.5m"``, ``"1h30m"``, ``0.25``), ``active_since`` as a tuple of id strings.

Ints are accepted for ids and converted to strings; duplicate ids (or usernames, ignoring case)
are dropped silently, keeping the first.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

from harvester.config import APP_AUTH, Config, hint, quote_key
from harvester.config.tomlfile import TomlFileError, os_problem, path_problem, read_toml
from harvester.core.api_tables import ROUTES
from harvester.core.duration import DurationError, format_duration, parse_duration
from harvester.core.endpoints import (
    ARCHIVE_ROUTES,
    ARCHIVE_SEARCH,
    ENDPOINTS,
    FIELD_KEYS,
    ID_PATTERN,
    KIND_ENDPOINT,
    KIND_FIELDS,
    KIND_INPUT,
    TIME_FORMAT,
    USERNAME_PATTERN,
    Endpoint,
    Resource,
)
from harvester.core.model import KINDS, JobSpec
from harvester.core.schedule import Schedule, ScheduleError
from harvester.errors import JobSpecError
from harvester.inputs import FILE_KEYS, InputFileError, check_file, resolve

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_NAME = re.compile(NAME_PATTERN)
_ID = re.compile(ID_PATTERN)
_USERNAME = re.compile(USERNAME_PATTERN)
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MODES = ("once", "poll")
WINDOWS_PER_DAY = 96  # X's rate-limit windows are 15 minutes (x-api-spec.md §6.2)

# Keys every kind accepts.
_COMMON = frozenset(
    {"name", "kind", "priority", "auth", "mode", "schedule", "min_interval", "max_interval", "active_since",
     "limit", "poll_budget"}
)
_TIME_BOUNDS = frozenset({"start_time", "end_time", "since_id", "until_id"})
_USERS = frozenset({"user_ids", "usernames", "user_ids_file", "usernames_file", "ids_column", "from_job"})
_TWEETS = frozenset({"tweet_ids", "tweet_ids_file", "ids_column", "from_job"})
_INPUT_KEYS = {"users": _USERS, "tweets": _TWEETS, "lists": frozenset({"list_ids"}),
               "query": frozenset({"query", "archive"})}  # fmt: skip
GRANULARITIES = ("minute", "hour", "day")


def _fields(kind: str) -> frozenset[str]:
    """The fields and expansions keys of ``kind``: those its routes take in X's document."""
    return frozenset(KIND_FIELDS[kind])


# Which keys apply to which kind (besides _COMMON).
KIND_KEYS: dict[str, frozenset[str]] = {
    "search": frozenset({"query", "archive", "max_results"}) | _TIME_BOUNDS | _fields("search"),
    "timeline": frozenset({"max_results"}) | _USERS | _TIME_BOUNDS | _fields("timeline"),
    "mentions": frozenset({"max_results"}) | _USERS | _TIME_BOUNDS | _fields("mentions"),
    "followers": frozenset({"max_results"}) | _USERS | _fields("followers"),
    "following": frozenset({"max_results"}) | _USERS | _fields("following"),
    "lookup_tweets": _TWEETS | _fields("lookup_tweets"),
    "lookup_users": _USERS | _fields("lookup_users"),
    "stream": frozenset({"rules"}) | _fields("stream"),
}


def _derived_keys(kind: str) -> frozenset[str]:
    """The keys of a kind added by issue 16, from its endpoint's row and X's document: its input,
    ``max_results`` where the route takes it, time bounds where it takes ``start_time``."""
    route = KIND_ENDPOINT[kind]
    keys = set(_INPUT_KEYS[KIND_INPUT[kind]]) | _fields(kind)
    if ENDPOINTS[route].max_results is not None:
        keys.add("max_results")
    table = ROUTES.get(route)
    if table is not None and table.param("start_time") is not None:
        keys |= _TIME_BOUNDS
    if kind in ARCHIVE_ROUTES:
        keys.add("archive")
    if kind == "counts":
        keys.add("granularity")
    return frozenset(keys)


KIND_KEYS.update({kind: _derived_keys(kind) for kind in KINDS if kind not in KIND_KEYS})

RULE_MAX_LEN = 1024  # a filtered-stream rule on pay-per-use (x-api-spec.md §5)
ALL_KEYS = frozenset().union(_COMMON, *KIND_KEYS.values())


def load_jobs(paths: Sequence[Path | str], *, config: Config | None = None) -> list[JobSpec]:
    """Read and validate every job in ``paths`` (files, or directories of ``*.toml``).

    Args:
        paths: job files or directories; a directory contributes its ``*.toml`` files, sorted.
        config: when given, each job's ``auth`` must be ``"app"`` or one of its user contexts
            or pools.

    Returns:
        The jobs in file order, then table order.

    Raises:
        JobSpecError: on the first problem; nothing is returned when any job is invalid.
    """
    if isinstance(paths, str | Path):
        paths = [paths]  # one path, not a sequence of characters
    if not paths:
        raise JobSpecError("<jobs>", None, None, "no job files given")
    files: list[Path] = []
    for given in paths:
        files.extend(_job_files(Path(given)))

    auth_names = config.auth_names() if config is not None else None
    jobs: list[JobSpec] = []
    first_seen: dict[str, JobSpec] = {}
    seen_files: set[Path] = set()
    for path in files:
        if path.resolve() in seen_files:
            continue  # the same file named twice (e.g. a directory and a file in it)
        seen_files.add(path.resolve())
        for spec in _load_file(path, auth_names):
            first = first_seen.get(spec.name.casefold())
            if first is not None and first.name == spec.name:
                raise JobSpecError(
                    spec.source, spec.name, "name", f"duplicate job name; first defined in {first.source}"
                )
            if first is not None:
                raise JobSpecError(
                    spec.source, spec.name, "name",
                    f"differs from job {first.name!r} ({first.source}) only in case; their output files "
                    "would be one file on a case-insensitive file system",
                )
            first_seen[spec.name.casefold()] = spec
            jobs.append(spec)
    _check_fan_out(jobs)
    return jobs


# What a fan-out job takes from its source's output: a source returning posts gives post ids
# (or their authors, to a user-scoped job); one returning users gives user ids; lists, list ids.
def _check_fan_out(jobs: Sequence[JobSpec]) -> None:
    by_name = {j.name: j for j in jobs}
    for job in jobs:
        if job.from_job is None:
            continue
        source = by_name.get(job.from_job)
        if source is None:
            tip = hint(job.from_job, sorted(by_name))
            raise JobSpecError(job.source, job.name, "from_job", f"no job named {job.from_job!r}{tip}")
        if source.name == job.name:
            raise JobSpecError(job.source, job.name, "from_job", "a job cannot take its own output")
        chain, seen = source, {job.name}
        while chain.from_job is not None and chain.from_job in by_name:
            if chain.name in seen:
                raise JobSpecError(job.source, job.name, "from_job", "the jobs' from_job keys form a cycle")
            seen.add(chain.name)
            chain = by_name[chain.from_job]
        returns = ENDPOINTS[KIND_ENDPOINT[source.kind]].resource
        if source.kind == "counts" or returns is Resource.LIST:
            raise JobSpecError(job.source, job.name, "from_job",
                               f"job {source.name!r} ({source.kind}) returns no posts or users to take ids from")
        wants = KIND_INPUT[job.kind]
        if wants == "tweets" or job.kind == "lookup_tweets":
            if returns is not Resource.POST:
                raise JobSpecError(job.source, job.name, "from_job",
                                   f"kind {job.kind!r} takes post ids; job {source.name!r} ({source.kind}) returns users")
        elif returns is Resource.POST and not _has_author(source):
            raise JobSpecError(job.source, job.name, "from_job",
                               f"job {source.name!r} returns posts without their authors; add 'author_id' to its "
                               "tweet_fields (or post_fields)")


def _has_author(spec: JobSpec) -> bool:
    return "author_id" in spec.tweet_fields or "author_id" in spec.post_fields


def _job_files(path: Path) -> list[Path]:
    """The job files ``path`` names: itself, or a directory's visible ``*.toml`` entries, sorted.

    Every entry is looked at, not filtered by ``is_file()`` (which says False for a broken link
    or a loop, and so used to skip them silently): one that cannot be read raises, naming it.
    """
    try:
        is_dir = path.is_dir()  # follows links; False for a loop or a broken link
    except OSError as e:  # pragma: no cover - is_dir() swallows the common errors itself
        raise JobSpecError(str(path), None, None, os_problem(path, e)) from None
    if not is_dir:
        problem = path_problem(path)
        if problem == "no such file":
            problem = "no such file or directory"
        if problem is not None:
            raise JobSpecError(str(path), None, None, problem)
        return [path]
    try:
        names = sorted(e.name for e in os.scandir(path))
    except OSError as e:
        raise JobSpecError(str(path), None, None, f"cannot list the directory: {e.strerror or e}") from None
    found = [path / n for n in names if n.endswith(".toml") and not n.startswith(".")]
    if not found:
        raise JobSpecError(str(path), None, None, "directory has no *.toml job files")
    for entry in found:
        problem = path_problem(entry)
        if problem is not None:
            raise JobSpecError(str(entry), None, None, problem)
    return found


def _load_file(path: Path, auth_names: Collection[str] | None) -> list[JobSpec]:
    file = str(path)
    try:
        data = read_toml(path)
    except TomlFileError as e:
        raise JobSpecError(file, None, None, str(e)) from None
    for key in data:
        if key != "job":
            tip = hint(key, ["job"])
            raise JobSpecError(
                file, None, quote_key(key), f"unknown top-level key; job files hold [[job]] tables{tip}"
            )
    tables = data.get("job")
    if tables is None:
        raise JobSpecError(file, None, None, "no [[job]] tables")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise JobSpecError(
            file, None, "job", "must be an array of tables: write [[job]], not [job] or job = ..."
        )
    return [_JobReader(file, i, cast("dict[str, Any]", t), auth_names).spec() for i, t in enumerate(tables)]


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    for t, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a table"),
        (dt.datetime, "a datetime"),
        (dt.date, "a date"),
        (dt.time, "a time"),
    ):
        if isinstance(value, t):
            return name
    return f"a {type(value).__name__}"


def parse_interval(value: object) -> float | None:
    """Seconds from a number or a duration string (``"90s"``, ``"1.5m"``, ``"1h30m"``, ``0.25``).

    Returns None when ``value`` is not a duration within bounds; :func:`parse_duration` says why.
    """
    try:
        return parse_duration(value)
    except DurationError:
        return None


class _JobReader:
    """Validates one ``[[job]]`` table."""

    def __init__(self, file: str, index: int, data: Mapping[str, Any], auth_names: Collection[str] | None):
        self.file = file
        self.data = data
        self.auth_names = auth_names
        name = data.get("name")
        # Until the name is known to be valid, call the job by its position.
        self.job = name if isinstance(name, str) and _NAME.match(name) else f"#{index + 1}"

    def fail(self, key: str | None, problem: str) -> NoReturn:
        raise JobSpecError(self.file, self.job, key, problem)

    def expect(self, key: str, value: object, what: str) -> NoReturn:
        self.fail(key, f"must be {what}, got {_type_name(value)} {_show(value)}")

    # -- whole job

    def spec(self) -> JobSpec:
        name = self.data.get("name")
        if name is None:
            self.fail("name", "is required")
        if not isinstance(name, str):
            self.expect("name", name, "a string")
        if not _NAME.match(name):
            self.fail("name", f"must be 1-64 of A-Z a-z 0-9 _ . - (it names a file), got {_show(name)}")
        if name.startswith("."):
            # It names <output_dir>/<name>.jsonl: a leading dot hides the file (".x"), and ".." or
            # "." read as the folder above or this one.
            self.fail("name", f"must not start with a dot (it names a visible file), got {_show(name)}")

        kind = self.data.get("kind")
        if kind is None:
            self.fail("kind", f"is required: one of {', '.join(KINDS)}")
        if not isinstance(kind, str):
            self.expect("kind", kind, "a string")
        if kind not in KINDS:
            self.fail("kind", f"unknown kind {_show(kind)}{hint(kind, KINDS)} (one of {', '.join(KINDS)})")

        allowed = _COMMON | KIND_KEYS[kind]
        for key in self.data:
            if key not in ALL_KEYS:
                self.fail(quote_key(key), f"unknown key{hint(key, sorted(allowed))}")
            if key not in allowed:
                kinds = [k for k, keys in KIND_KEYS.items() if key in keys]
                self.fail(key, f"does not apply to kind {kind!r} (only to {', '.join(kinds)})")

        archive = self.boolean("archive")
        route = ARCHIVE_ROUTES[kind] if archive and kind in ARCHIVE_ROUTES else KIND_ENDPOINT[kind]
        endpoint = ENDPOINTS[route]

        query = self.query(endpoint, kind) if KIND_INPUT.get(kind) == "query" else None
        start_time, end_time = self.time("start_time"), self.time("end_time")
        if start_time is not None and end_time is not None and start_time >= end_time:
            self.fail("end_time", f"must be after start_time ({start_time}), got {end_time}")
        since_id, until_id = self.one_id("since_id"), self.one_id("until_id")
        if since_id is not None and until_id is not None and int(since_id) >= int(until_id):
            self.fail("until_id", f"must be greater than since_id ({since_id}), got {until_id}")
        if KIND_INPUT[kind] == "query" or kind == "conversation":
            # OpenAPI 2.167: at most one of start_time/since_id and of end_time/until_id.
            if start_time is not None and since_id is not None:
                self.fail("since_id", "search takes start_time or since_id, not both")
            if end_time is not None and until_id is not None:
                self.fail("until_id", "search takes end_time or until_id, not both")

        user_ids = self.ids("user_ids")
        usernames = self.usernames()
        tweet_ids = self.ids("tweet_ids")
        list_ids = self.ids("list_ids")
        files = self.files()
        from_job = self.from_job()
        wants = "users" if kind == "lookup_users" else ("tweets" if kind == "lookup_tweets" else KIND_INPUT[kind])
        fed = from_job is not None
        if wants == "users" and not (user_ids or usernames or files.get("user_ids_file")
                                     or files.get("usernames_file") or fed):
            self.fail("user_ids", f"kind {kind!r} needs at least one user in user_ids, usernames, "
                                  "user_ids_file, usernames_file or from_job")
        if wants == "tweets" and not (tweet_ids or files.get("tweet_ids_file") or fed):
            self.fail("tweet_ids", f"kind {kind!r} needs at least one id in tweet_ids, tweet_ids_file or from_job")
        if wants == "lists" and not list_ids:
            self.fail("list_ids", f"kind {kind!r} needs at least one list id")

        fields = self.fields(kind)
        auth = self.auth(endpoint)
        extra = self.extra()
        if kind == "stream":
            extra["rules"] = self.rules(name)
        if "poll_budget" in self.data:
            if extra.get("mode") != "poll":
                self.fail("poll_budget", "a poll budget needs mode = 'poll'")
            extra["poll_budget"] = self.poll_budget(endpoint, auth)
        return JobSpec(
            name=name,
            kind=kind,
            source=self.file,
            query=query,
            archive=archive,
            start_time=start_time,
            end_time=end_time,
            since_id=since_id,
            until_id=until_id,
            user_ids=user_ids,
            usernames=usernames,
            tweet_ids=tweet_ids,
            tweet_fields=fields["tweet_fields"],
            post_fields=fields["post_fields"],
            user_fields=fields["user_fields"],
            media_fields=fields["media_fields"],
            place_fields=fields["place_fields"],
            poll_fields=fields["poll_fields"],
            list_fields=fields["list_fields"],
            expansions=fields["expansions"],
            max_results=self.max_results(endpoint),
            priority=self.priority(),
            auth=auth,
            list_ids=list_ids,
            user_ids_file=files.get("user_ids_file"),
            usernames_file=files.get("usernames_file"),
            tweet_ids_file=files.get("tweet_ids_file"),
            ids_column=self.column(),
            from_job=from_job,
            limit=self.limit(),
            granularity=self.granularity(),
            extra=extra,
        )

    # -- single keys

    def boolean(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            self.expect(key, value, "true or false")
        return value

    def files(self) -> dict[str, str]:
        """Each ``*_file`` key's absolute path, checked end to end (streamed: constant memory)."""
        out: dict[str, str] = {}
        column = self.column()
        for key, what in FILE_KEYS.items():
            value = self.data.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                self.expect(key, value, "a file path")
            path = resolve(value, self.file)
            try:
                count = check_file(path, what, column)
            except InputFileError as e:
                self.fail(key, f"{e.path}{f' line {e.line}' if e.line else ''}: {e.problem}")
            if count == 0:
                self.fail(key, f"{path}: holds no {what.replace('_', ' ')}")
            out[key] = str(path)
        return out

    def column(self) -> str | None:
        value = self.data.get("ids_column")
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.expect("ids_column", value, "a CSV column name")
        if not any(k in self.data for k in FILE_KEYS):
            self.fail("ids_column", "applies only with user_ids_file, tweet_ids_file or usernames_file")
        return value

    def from_job(self) -> str | None:
        value = self.data.get("from_job")
        if value is None:
            return None
        if not isinstance(value, str) or not _NAME.match(value):
            self.expect("from_job", value, "another job's name")
        return value

    def limit(self) -> int | None:
        value = self.data.get("limit")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.expect("limit", value, "a whole number of items")
        if not 1 <= value <= 10**12:
            self.fail("limit", f"must be between 1 and 1000000000000 items, got {value}")
        return value

    def granularity(self) -> str | None:
        value = self.data.get("granularity")
        if value is None:
            return None
        if not isinstance(value, str) or value not in GRANULARITIES:
            self.fail("granularity", f"must be one of {', '.join(GRANULARITIES)}, got {_show(value)}")
        return value

    def query(self, endpoint: Endpoint, kind: str = "search") -> str:
        value = self.data.get("query")
        if value is None:
            self.fail("query", f"is required for kind {kind!r}")
        if not isinstance(value, str):
            self.expect("query", value, "a string")
        if not value.strip():
            self.fail("query", "must not be empty")
        limit = endpoint.max_query_len
        if limit is not None and len(value) > limit:
            which = "full-archive" if endpoint.route in (ARCHIVE_SEARCH, ARCHIVE_ROUTES["counts"]) else "recent"
            self.fail("query", f"is {len(value)} characters; {which} {kind} allows at most {limit}")
        return value

    def time(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                self.fail(key, f"has no UTC offset; write it as {value:%Y-%m-%dT%H:%M:%S}Z")
            if value.microsecond:
                self.fail(key, "must be whole seconds (the API takes second granularity)")
            return value.astimezone(dt.UTC).strftime(TIME_FORMAT)
        if not isinstance(value, str):
            self.expect(key, value, "a time like 2026-01-31T00:00:00Z")
        if not _TIME.match(value):
            self.fail(key, f"must look like 2026-01-31T00:00:00Z (UTC, whole seconds), got {_show(value)}")
        try:
            dt.datetime.strptime(value, TIME_FORMAT)  # noqa: DTZ007 - only validating the text
        except ValueError:
            self.fail(key, f"is not a real date and time: {_show(value)}")
        return value

    def _id(self, key: str, value: object, where: str = "") -> str:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            value = str(value)
        if not isinstance(value, str):
            self.fail(key, f"{where}must be an id string, got {_type_name(value)} {_show(value)}")
        if not _ID.match(value):
            self.fail(key, f"{where}must be a numeric id of 1-19 digits, got {_show(value)}")
        return value

    def one_id(self, key: str) -> str | None:
        value = self.data.get(key)
        return None if value is None else self._id(key, value)

    def _list(self, key: str) -> list[object]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            self.expect(key, value, "a list")
        return cast("list[object]", value)

    def ids(self, key: str) -> tuple[str, ...]:
        items = self._list(key)
        return tuple(dict.fromkeys(self._id(key, v, f"item {i} ") for i, v in enumerate(items)))

    def usernames(self) -> tuple[str, ...]:
        result: dict[str, str] = {}
        for i, value in enumerate(self._list("usernames")):
            if not isinstance(value, str):
                self.fail("usernames", f"item {i} must be a string, got {_type_name(value)} {_show(value)}")
            name = value.removeprefix("@")
            if not _USERNAME.match(name):
                self.fail("usernames", f"item {i} must be 1-15 of A-Z a-z 0-9 _, got {_show(value)}")
            result.setdefault(name.lower(), name)  # usernames are case-insensitive
        return tuple(result.values())

    def fields(self, kind: str) -> dict[str, tuple[str, ...]]:
        """Every fields/expansions key's values (empty when the job does not set it)."""
        if "tweet_fields" in self.data and "post_fields" in self.data:
            self.fail("post_fields", "is tweet_fields under X's 2.167 name; set one of them, not both")
        allowed = KIND_FIELDS[kind]
        return {key: self.enum_list(key, allowed[key], kind) if key in allowed else () for key in FIELD_KEYS}

    def enum_list(self, key: str, allowed: frozenset[str], kind: str) -> tuple[str, ...]:
        result: list[str] = []
        for i, value in enumerate(self._list(key)):
            if not isinstance(value, str):
                self.fail(key, f"item {i} must be a string, got {_type_name(value)} {_show(value)}")
            if value not in allowed:
                elsewhere = [k for k, f in KIND_FIELDS.items() if value in f.get(key, ())]
                if elsewhere:  # a real name, for other kinds (a Post expansion on a user kind)
                    where = f" for kind {kind!r} (it applies to {', '.join(elsewhere)})"
                    self.fail(key, f"unknown value {_show(value)}{where}")
                self.fail(key, f"unknown value {_show(value)}{hint(value, sorted(allowed))}")
            if value not in result:
                result.append(value)
        return tuple(result)

    def max_results(self, endpoint: Endpoint) -> int | None:
        value = self.data.get("max_results")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.expect("max_results", value, "an integer")
        lo, hi = endpoint.min_results, endpoint.max_results
        if lo is None or hi is None:  # pragma: no cover - KIND_KEYS keeps it off lookups
            self.fail("max_results", f"{endpoint.route} takes no max_results")
        if not lo <= value <= hi:
            self.fail("max_results", f"must be between {lo} and {hi} for {endpoint.route}, got {value}")
        return value

    def priority(self) -> int:
        value = self.data.get("priority", 0)
        if isinstance(value, bool) or not isinstance(value, int):
            self.expect("priority", value, "an integer")
        if not -1_000_000 <= value <= 1_000_000:
            self.fail("priority", f"must be between -1000000 and 1000000, got {value}")
        return value

    def auth(self, endpoint: Endpoint) -> str:
        value = self.data.get("auth", APP_AUTH)
        if not isinstance(value, str):
            self.expect("auth", value, "a string")
        if not value.strip():
            self.fail("auth", "must not be empty")
        if self.auth_names is not None and value not in self.auth_names:
            self.fail(
                "auth",
                f"unknown auth {_show(value)}{hint(value, sorted(self.auth_names))}"
                " (use 'app' or a name from [auth.users] / [auth.pools] in the config)",
            )
        if value != APP_AUTH and endpoint.user_limit is None:
            self.fail("auth", f"{endpoint.route} is app-only; use auth = 'app'")
        if value == APP_AUTH and endpoint.app_limit is None:
            self.fail("auth", f"{endpoint.route} needs a user context (X refuses the app's bearer token "
                              "there); set auth to a user from [auth.users] whose data it is")
        return value

    def rules(self, name: str) -> tuple[dict[str, str], ...]:
        """A stream job's ``rules = [{value = "...", tag = "..."}]``; the tag defaults to the job's
        name (the tag is how a streamed Post finds its job)."""
        value = self.data.get("rules")
        if value is None:
            self.fail("rules", 'is required for kind \'stream\': rules = [{value = "...", tag = "..."}]')
        if not isinstance(value, list) or not value:
            self.expect("rules", value, "a non-empty list of {value = ..., tag = ...} tables")
        out: list[dict[str, str]] = []
        for i, rule in enumerate(value):
            where = f"rules[{i}]"
            if not isinstance(rule, Mapping):
                self.expect(where, rule, "a table {value = ..., tag = ...}")
            unknown = sorted(set(rule) - {"value", "tag"})
            if unknown:
                self.fail(f"{where}.{unknown[0]}", "unknown key (a rule has value and tag)")
            text, tag = rule.get("value"), rule.get("tag", name)
            if not isinstance(text, str) or not text.strip():
                self.expect(f"{where}.value", text, "a non-empty rule string")
            if len(text) > RULE_MAX_LEN:
                self.fail(f"{where}.value", f"is {len(text)} characters; a stream rule allows at most {RULE_MAX_LEN}")
            if not isinstance(tag, str) or not tag.strip():
                self.expect(f"{where}.tag", tag, "a non-empty string")
            if any(r["value"] == text for r in out):
                self.fail(f"{where}.value", f"repeats rule {text!r}")
            out.append({"value": text, "tag": tag})
        return tuple(out)

    def poll_budget(self, endpoint: Endpoint, auth: str) -> float:
        """``poll_budget``: requests per day for the job's polls: a number, ``"N/day"``,
        ``"N/hour"``, or ``"P%"`` of the route's rate-limit window (per app, or per user token
        for user auth; X's windows are 15 minutes, 96 a day)."""
        value = self.data["poll_budget"]
        what = "requests per day: a number, 'N/day', 'N/hour' or 'P%' of the route's rate limit"
        if isinstance(value, bool):
            self.expect("poll_budget", value, what)
        per_day: float | None = None
        if isinstance(value, int | float):
            per_day = float(value)
        elif isinstance(value, str):
            text = value.strip().lower().replace(" ", "")
            m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)(%|/day|/d|/hour|/h)?", text)
            if m is None:
                self.expect("poll_budget", value, what)
            number, unit = float(m.group(1)), m.group(2)
            if unit == "%":
                limit = endpoint.app_limit if auth == APP_AUTH else endpoint.user_limit
                if limit is None or not 0 < number <= 100:
                    self.fail("poll_budget", f"a share must be within (0, 100]%, got {_show(value)}")
                per_day = number / 100 * limit * WINDOWS_PER_DAY
            elif unit in ("/hour", "/h"):
                per_day = number * 24
            else:
                per_day = number
        else:
            self.expect("poll_budget", value, what)
        if not 0 < per_day < float("inf"):  # NaN fails too
            self.fail("poll_budget", f"must be more than 0 requests per day, got {_show(value)}")
        return per_day

    def extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        mode = self.data.get("mode")
        if mode is not None:
            if not isinstance(mode, str) or mode not in MODES:
                self.fail("mode", f"must be 'once' or 'poll', got {_show(mode)}")
            extra["mode"] = mode
        schedule = self.data.get("schedule")
        if schedule is not None:
            if not isinstance(schedule, str):
                self.expect("schedule", schedule, "'every 15m' or a cron expression")
            try:
                Schedule.parse(schedule)
            except ScheduleError as exc:
                self.fail("schedule", str(exc))
            if mode == "once":
                self.fail("schedule", "a schedule needs mode = 'poll'")
            extra["schedule"] = schedule
        for key in ("min_interval", "max_interval"):
            value = self.data.get(key)
            if value is None:
                continue
            try:
                extra[key] = parse_duration(value)
            except DurationError as exc:
                self.fail(key, str(exc))
        lo, hi = extra.get("min_interval"), extra.get("max_interval")
        if lo is not None and hi is not None and lo > hi:
            self.fail(
                "min_interval",
                f"({format_duration(lo)}) must not exceed max_interval ({format_duration(hi)})",
            )
        if "active_since" in self.data:
            extra["active_since"] = self.ids("active_since")
        return extra

