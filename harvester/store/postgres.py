"""The PostgreSQL store: one schema shared by harvester processes on several hosts.

Why asyncpg: it is asyncio-native (no thread hop per query, cancellation works), speaks the
binary protocol (arrays of a million ids cost a memcpy, not a parse), prepares and caches every
statement per connection, has a fast ``executemany``, and brings its own connection pool, so the
store needs no other dependency.

Theory of operation
-------------------
*One statement per call, so every call is atomic.* Each write (``enqueue``, ``claim``,
``commit_page``, ``release``, ``fail``, ``recover``) is a single SQL statement run in autocommit
(see ``sql/postgres/queries.sql``). ``commit_page`` is one statement with data-modifying CTEs:
the task's cursor and counters, the output length, the spawned tasks and the ledger row all hang
off the guarded task update, so they land together or not at all, in one round trip, and no row
lock is ever held across a network round trip. There is no group commit: PostgreSQL merges the
WAL flushes of concurrent commits itself, and a statement costs one round trip. ``enqueue``
sends whole chunks as arrays (``unnest``), one statement per chunk.

*Claims.* A claim selects due tasks ``ORDER BY priority DESC, id ... FOR UPDATE SKIP LOCKED``
and marks them claimed in the same statement: concurrent claimers (other connections, other
hosts) pass over each other's rows instead of waiting, and never get the same task. A claim
records the worker, the store instance that holds it (``owner``: host, pid, random), a lease
(``lease_until = now + lease``) and a fresh ``claim_token``.

*Leases replace recover().* A task whose lease has passed may be claimed by *another* owner: a
dead process's claims are taken over once their leases expire, with no cleanup step. A store
instance never takes over its own claims (its own workers are alive, or it would not be
claiming). :meth:`PostgresStore.recover` therefore returns only this instance's claims (none,
on start): returning every claim, as SQLite does, would steal live claims of other hosts.
:meth:`close` hands this instance's remaining claims back too, so a stopped daemon's tasks need
not wait out their leases. Leases compare against the callers' ``now``, so hosts' clocks must
agree (NTP): a clock running ahead by ``d`` takes over claims ``d`` early.

*Exactly one commit per claim.* ``commit_page``, ``release`` and ``fail`` apply only if the task
is still claimed *with the token this store got when it claimed it* (kept in memory, task id ->
token; :class:`~harvester.core.model.Task` has no field for it). A worker whose lease expired
and whose task was taken over, even if the task was since committed and claimed again, gets
:class:`~harvester.store.ClaimLost` and changes nothing. A commit for a task this store instance
did not claim is ClaimLost too: commit through the store that claimed.

*No hot rows.* Job counters (``job_counts``) and output lengths (``outputs``) are split into 64
shards picked by the writing connection (``pg_backend_pid() % 64``); readers sum the counters
and take the greatest length. Statement-level triggers keep the counters, so ``job_stats`` and
``pending_count`` read a few rows per job on a million tasks, and two hosts working on one job
never queue behind each other's row lock. A deadlock (rare: two writers of one shard touching
two jobs in opposite order) aborts a statement with no effect; it is retried.

*Migrations* are ``sql/postgres/migrations/NNNN_*.sql``, recorded in
``harvester_schema_version``, and run in one transaction under ``pg_advisory_xact_lock`` (keyed
by schema), so processes starting together migrate once. ``schema=`` puts everything in that
schema (created if missing) by setting ``search_path`` on every pooled connection.

*Errors.* Connection, authentication and query failures become one-line
:class:`~harvester.errors.StoreError`\\ s naming the URL without its password.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg

from harvester.core.model import Failure, JobStats, NewTask, PageCommit, StreamCommit, Task
from harvester.errors import StoreError
from harvester.store import ClaimLost, redact_url, url_passwords
from harvester.store.base import claim_order
from harvester.store.sql_loader import load_migrations, load_queries
from harvester.store.sqlite import _dumps, _loads

__all__ = ["PostgresStore", "redact_url"]

T = TypeVar("T")

_Q = load_queries("postgres")
MIGRATION_LOCK = 0x68617276  # "harv": the advisory lock class; the schema's hash is the key
ENQUEUE_CHUNK = 5_000  # tasks per statement: bounds one statement's size and lock time
RETRIES = 5  # for deadlocks and serialization failures, which leave no effect
_OUR_TABLES = ("jobs", "tasks", "outputs", "ledger", "kv")


class PostgresStore:
    """The :class:`~harvester.store.base.Store` on a PostgreSQL database.

    Args:
        url: ``postgresql://user[:password]@host[:port]/database`` (libpq-style parameters too).
        schema: where the tables live (created if missing); None: the server's ``search_path``.
        pool_size: most connections this instance opens (one per concurrent call).
        connect_timeout: seconds to wait for a connection.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        self._url = url
        self._where = redact_url(url) + (f" (schema {schema})" if schema else "")
        self._secrets = url_passwords(url)
        self._schema = schema
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._tokens: dict[int, int] = {}  # task id -> claim token, for the claims this store holds
        self._background: set[asyncio.Future[Any]] = set()  # hand-backs of cancelled claims

    @property
    def owner(self) -> str:
        """This instance's name in ``tasks.owner``."""
        return self._owner

    def __repr__(self) -> str:
        state = "open" if self._pool is not None else "closed"
        return f"<PostgresStore {self._where} {state} owner={self._owner} claims={len(self._tokens)}>"

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        settings = {"application_name": "harvester", "jit": "off"}  # JIT costs ms per plan
        if self._schema is not None:
            settings["search_path"] = _quote_ident(self._schema)
        with self._errors("cannot connect"):
            pool = await asyncpg.create_pool(
                self._url, min_size=1, max_size=self._pool_size, server_settings=settings,
                timeout=self._connect_timeout,
            )  # fmt: skip
        try:
            with self._errors("cannot migrate the schema"):
                async with pool.acquire() as conn:
                    await self._migrate(conn)
        except BaseException:
            pool.terminate()
            raise
        self._pool = pool

    async def close(self) -> None:
        pool = self._pool
        if pool is None:
            return
        try:
            while self._background:  # a cancelled claim may still land, then be handed back
                await asyncio.gather(*self._background, return_exceptions=True)
            with contextlib.suppress(StoreError):  # a dead server: the leases will expire
                await self.recover()
        finally:
            self._pool = None
            self._tokens.clear()
            await pool.close()

    async def _migrate(self, conn: asyncpg.Connection) -> None:
        migrations = load_migrations("postgres")
        latest = migrations[-1].version
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", MIGRATION_LOCK, self._schema or ""
            )
            if self._schema is not None:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote_ident(self._schema)}")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS harvester_schema_version ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM harvester_schema_version")
            if version > latest:
                raise StoreError(
                    f"{self._where}: schema version {version} is newer than this harvester knows "
                    f"({latest}); upgrade harvester"
                )
            if version == 0:
                found = await conn.fetchval(
                    "SELECT count(*) FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL",
                    list(_OUR_TABLES),
                )
                if found:
                    raise StoreError(f"{self._where}: has harvester-like tables but no schema version")
            for migration in migrations[version:]:
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO harvester_schema_version (version, name) VALUES ($1, $2)",
                    migration.version, migration.name,
                )  # fmt: skip

    # -- the Store interface: writes -------------------------------------------------------

    async def enqueue(self, tasks: Sequence[NewTask]) -> int:
        added = 0
        for start in range(0, len(tasks), ENQUEUE_CHUNK):
            status = await self._write(
                "execute", _Q["insert_tasks"], *_task_arrays(tasks[start : start + ENQUEUE_CHUNK])
            )
            added += int(status.rsplit(" ", 1)[1])
        return added

    async def claim(
        self,
        worker: str,
        now: float,
        lease: float,
        limit: int = 1,
        *,
        skip: Collection[tuple[str, str]] = (),
        jobs: Collection[str] | None = None,
    ) -> list[Task]:
        if limit < 1:
            return []
        args: list[Any] = [worker, now, now + lease, limit, self._owner]
        query = _Q["claim_tasks"]
        if skip or jobs is not None:
            query = _Q["claim_tasks_filtered"]
            args += [[f"{e} {a}" for e, a in skip], None if jobs is None else sorted(jobs)]
        # Shielded: if the caller is cancelled while the claim is in flight, the statement may
        # still commit; then the tasks are handed back rather than left to their leases.
        fetch = asyncio.ensure_future(self._write("fetch", query, *args))
        try:
            rows: list[asyncpg.Record] = await asyncio.shield(fetch)
        except asyncio.CancelledError:
            self._keep(fetch)
            fetch.add_done_callback(self._hand_back)
            raise
        rows.sort(key=lambda r: claim_order(r[6], r[0], r[15], now))
        for row in rows:
            self._tokens[row[0]] = row[14]
        return [_task(row[:15]) for row in rows]

    async def commit_page(self, commit: PageCommit) -> None:
        cache = {(k, sh, i): (k, sh, i, at, body) for k, sh, i, at, body in commit.cache}  # one row per key
        kv = {k: json.dumps(v, separators=(",", ":"), sort_keys=True) for k, v in commit.state.items()}
        await self._guarded(
            commit.task_id, _Q["commit_page"], commit.next_cursor, commit.items, commit.output_job,
            commit.output_offset if commit.output_job is not None else None,
            *_task_arrays(commit.spawn)[:9], *_ledger_arrays(commit.ledger), list(commit.holds),
            *(list(col) for col in _columns(list(cache.values()), 5)), list(kv), list(kv.values()),
            _task_arrays(commit.spawn)[9],  # $33: the deadlines, numbered last (migration 0006)
        )  # fmt: skip

    async def commit_stream(self, commit: StreamCommit) -> None:
        kv = {k: json.dumps(v, separators=(",", ":"), sort_keys=True) for k, v in commit.state.items()}
        await self._write(
            "fetchval", _Q["commit_stream"], list(commit.outputs), list(commit.outputs.values()),
            *_task_arrays(commit.spawn), *_ledger_arrays(commit.ledger), list(kv), list(kv.values()),
        )  # fmt: skip

    async def release(self, task_id: int, *, not_before: float, error: str | None) -> None:
        await self._guarded(task_id, _Q["release_task"], not_before, error)

    async def finish(self, task_id: int) -> None:
        await self._guarded(task_id, _Q["finish_task"])

    async def fail(self, task_id: int, error: str, *, failure: Failure = Failure.REFUSED) -> None:
        await self._guarded(task_id, _Q["fail_task"], error, str(failure))

    async def retry(
        self,
        jobs: Collection[str] | None = None,
        *,
        failures: Collection[Failure] | None = None,
        waiting: bool = False,
        not_before: float = 0.0,
    ) -> int:
        names = None if jobs is None else sorted(jobs)
        classes = None if failures is None else sorted(str(f) for f in failures)
        status = await self._write("execute", _Q["retry_failed"], names, classes, not_before)
        changed = int(status.rsplit(" ", 1)[1])
        if waiting:
            status = await self._write("execute", _Q["retry_waiting"], names, not_before)
            changed += int(status.rsplit(" ", 1)[1])
        return changed

    async def supersede(self, job: str, generation: int, reason: str) -> int:
        status = await self._write("execute", _Q["supersede"], job, generation, reason)
        return int(status.rsplit(" ", 1)[1])

    async def forget(self, job: str, *, state_keys: Sequence[str] = (), state_prefixes: Sequence[str] = ()) -> int:
        return int(await self._write("fetchval", _Q["forget"], job, list(state_keys), list(state_prefixes)))

    async def recover(self) -> int:
        status = await self._write("execute", _Q["recover"], self._owner)
        self._tokens.clear()
        return int(status.rsplit(" ", 1)[1])

    async def add_ledger(self, entries: Sequence[Mapping[str, Any]], *, holds: Sequence[int] = ()) -> None:
        if entries or holds:
            await self._write("execute", _Q["insert_ledger"], *_ledger_arrays(entries), list(holds))

    async def put_state(self, key: str, value: Any) -> None:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
        await self._write("execute", _Q["put_kv"], key, text)

    # -- the Store interface: reads --------------------------------------------------------

    async def output_offsets(self) -> Mapping[str, int]:
        return {job: int(length) for job, length in await self._read(_Q["output_lengths"])}

    async def job_stats(self) -> list[JobStats]:
        return [
            JobStats(
                job=r[0], tasks=int(r[1]), pending=int(r[2]), claimed=int(r[3]), done=int(r[4]),
                failed=int(r[5]), pages=int(r[6]), items=int(r[7]), last_error=r[8], superseded=int(r[9]),
            )
            for r in await self._read(_Q["job_stats"])
        ]  # fmt: skip

    async def generation_stats(self) -> list[JobStats]:
        return [
            JobStats(
                job=r[0], generation=int(r[1]), tasks=int(r[2]), pending=int(r[3]), claimed=int(r[4]),
                done=int(r[5]), failed=int(r[6]), superseded=int(r[7]), pages=int(r[8]), items=int(r[9]),
                last_error=None,
            )
            for r in await self._read(_Q["generation_stats"])
        ]  # fmt: skip

    async def demand(self, jobs: Collection[str], now: float) -> dict[tuple[str, str], int]:
        return {(r[0], r[1]): int(r[2]) for r in await self._read(_Q["demand"], sorted(jobs), now)}

    async def pending_count(self, jobs: Collection[str] | None = None) -> int:
        if jobs is None:
            rows = await self._read(_Q["pending_count"])
        else:
            rows = await self._read(_Q["pending_count_jobs"], sorted(jobs))
        return int(rows[0][0])

    async def next_due(self, jobs: Collection[str] | None = None) -> float | None:
        if jobs is None:
            rows = await self._read(_Q["next_due"])
        else:
            rows = await self._read(_Q["next_due_jobs"], sorted(jobs))
        value = rows[0][0]
        return None if value is None else float(value)

    async def ledger_entries(self, since: float) -> list[dict[str, Any]]:
        rows = await self._read(_Q["ledger_since"], since)
        return [
            {"at": at, "run": run, "job": job, "route": route, "day": day, "micros": micros,
             "reserved": reserved, "keys": json.loads(keys), "posts": posts}
            for at, run, job, route, day, micros, reserved, keys, posts in rows
        ]  # fmt: skip

    async def cache_put(self, rows: Sequence[tuple[str, str, str, float, str]]) -> None:
        if rows:
            await self._write("executemany", _Q["cache_put"], list(rows))

    async def cache_prune(self, before: float) -> int:
        status = await self._write("execute", _Q["cache_prune"], before)
        return int(str(status).rsplit(" ", 1)[-1])

    async def ledger_compact(self, before: float) -> int:
        status = await self._write("execute", _Q["ledger_compact"], before)
        return int(str(status).rsplit(" ", 1)[-1])

    async def cache_get(self, kind: str, shape: str, ids: Sequence[str], since: float) -> dict[str, str]:
        rows = await self._read(_Q["cache_get"], kind, shape, since, list(ids))
        return {str(r[0]): str(r[1]) for r in rows}

    async def get_state(self, key: str) -> Any:
        rows = await self._read(_Q["get_kv"], key)
        return json.loads(rows[0][0]) if rows else None

    # -- machinery -------------------------------------------------------------------------

    def _require_open(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError(f"{self._where}: the store is not open")
        return self._pool

    async def _read(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        pool = self._require_open()
        with self._errors():
            rows: list[asyncpg.Record] = await pool.fetch(sql, *args)
        return rows

    async def _write(self, method: str, sql: str, *args: Any) -> Any:
        """Run one write statement; a deadlock or serialization failure (no effect) is retried."""
        pool = self._require_open()
        call: Callable[..., Awaitable[Any]] = getattr(pool, method)
        for attempt in range(RETRIES):
            try:
                with self._errors():
                    return await call(sql, *args)
            except StoreError as exc:
                retryable = isinstance(
                    exc.__cause__, asyncpg.DeadlockDetectedError | asyncpg.SerializationError
                )
                if not retryable or attempt == RETRIES - 1:
                    raise
            await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _guarded(self, task_id: int, sql: str, *args: Any) -> None:
        """Run a write guarded by this store's claim token; 0 rows moved means ClaimLost."""
        token = self._tokens.get(task_id)
        if token is None:
            raise ClaimLost(task_id)
        moved = await self._write("fetchval", sql, task_id, token, *args)
        # Moved or lost, this claim is over; but while the write was in flight another worker of
        # this store may have claimed the task afresh (its token is newer): keep that one.
        if self._tokens.get(task_id) == token:
            del self._tokens[task_id]
        if not moved:
            raise ClaimLost(task_id)

    def _hand_back(self, fetch: asyncio.Future[list[asyncpg.Record]]) -> None:
        if fetch.cancelled() or fetch.exception() is not None or not fetch.result():
            return
        ids = [row[0] for row in fetch.result()]
        self._keep(asyncio.get_running_loop().create_task(self._unclaim(ids)))

    def _keep(self, future: asyncio.Future[Any]) -> None:
        """Own ``future`` until it is done, so close() waits for it."""
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    async def _unclaim(self, ids: list[int]) -> None:
        with contextlib.suppress(StoreError):  # the leases will expire
            await self._write("execute", _Q["unclaim"], ids, self._owner)

    @contextlib.contextmanager
    def _errors(self, doing: str | None = None) -> Iterator[None]:
        """asyncpg and socket errors become one-line StoreErrors naming the redacted URL."""
        try:
            yield
        except StoreError:
            raise
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ValueError) as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            leaks = any(secret in text for secret in self._secrets)
            for secret in self._secrets:
                text = text.replace(secret, "***")
            prefix = f"{doing}: " if doing else ""
            error = StoreError(f"{self._where}: {prefix}{text}")
            raise error from (None if leaks else exc)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _task_arrays(tasks: Sequence[NewTask]) -> tuple[list[Any], ...]:
    return (
        [t.job for t in tasks], [t.key for t in tasks], [t.endpoint for t in tasks],
        [_dumps(t.path_params) for t in tasks], [_dumps(t.params) for t in tasks],
        [t.priority for t in tasks], [float(t.not_before) for t in tasks], [t.auth for t in tasks],
        [t.write for t in tasks], [t.deadline for t in tasks],
    )  # fmt: skip


def _ledger_arrays(entries: Sequence[Mapping[str, Any]]) -> tuple[list[Any], ...]:
    return (
        [float(e["at"]) for e in entries], [e["run"] for e in entries], [e["job"] for e in entries],
        [e["route"] for e in entries], [e["day"] for e in entries], [int(e["micros"]) for e in entries],
        [int(e.get("reserved", 0)) for e in entries],
        [json.dumps(e.get("keys", []), separators=(",", ":")) for e in entries],
        [int(e.get("posts", 0)) for e in entries],
    )  # fmt: skip


def _task(row: asyncpg.Record) -> Task:
    (id_, job, key, endpoint, path_params, params, priority, auth, write,
     cursor, pages, items, attempts, last_error, _token) = row  # fmt: skip
    return Task(
        id=id_, job=job, key=key, endpoint=endpoint, path_params=_loads(path_params),
        params=_loads(params), priority=priority, auth=auth, write=write, cursor=cursor,
        pages=pages, items=items, attempts=attempts, last_error=last_error,
    )  # fmt: skip


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as ``width`` parallel arrays (for ``unnest``)."""
    return [[row[i] for row in rows] for i in range(width)]
