"""The ``store`` fixture, parametrized over every backend the contract suite runs on.

SQLite always runs (a fresh file per test), both with sqlite3 inline on the loop (the default)
and on its own thread (``SqliteStore(thread=True)``). PostgreSQL joins when ``HARVESTER_TEST_POSTGRES_URL``
is set (skipped, saying so, when it is not); it must then pass every test, as SQLite does (a
backend that cannot pass a test fails it, and an unreachable server fails every test). Each
PostgreSQL test gets a fresh schema, dropped afterwards, so tests never collide and leave
nothing behind. ``backend.make()`` opens another store on the *same* state, for reopen tests.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from harvester.store import open_store
from harvester.store.base import Store
from harvester.store.postgres import PostgresStore
from harvester.store.sqlite import SqliteStore

POSTGRES_URL = os.environ.get("HARVESTER_TEST_POSTGRES_URL")
NO_POSTGRES = "HARVESTER_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
BACKENDS = [
    "sqlite",
    "sqlite-thread",
    pytest.param("postgres", marks=pytest.mark.skipif(POSTGRES_URL is None, reason=NO_POSTGRES)),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """Where one test's state lives."""

    name: str
    location: str
    schema: str | None = None

    def make(self) -> Store:
        if self.name == "sqlite-thread":
            return SqliteStore(self.location, thread=True)
        if self.name == "postgres":
            return PostgresStore(self.location, schema=self.schema, pool_size=4)
        return open_store(self.location)


@contextlib.asynccontextmanager
async def fresh_schema(url: str) -> AsyncIterator[str]:
    """A fresh schema name on the test server; dropped (with everything in it) afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    async with fresh_schema(POSTGRES_URL) as schema:
        yield schema


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param.startswith("sqlite"):
        yield Backend(name=request.param, location=str(tmp_path / "state.db"))
        return
    assert POSTGRES_URL is not None
    async with fresh_schema(POSTGRES_URL) as schema:
        yield Backend(name="postgres", location=POSTGRES_URL, schema=schema)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = backend.make()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


# Failed tasks as harvester wrote them before the failure's class was stored (schema 4), and the
# (state, class) migration 5 gives each from its error text.
LEGACY_FAILURES = {
    "HTTP 401: Unauthorized": ("failed", "auth"),
    "gave up after 8 attempts: no response: timeout after 30s": ("failed", "transport"),
    "gave up after 8 attempts: HTTP 503: server error 503: Service Unavailable": ("failed", "server"),
    "gave up after 8 attempts: bad response: not a JSON object": ("failed", "response"),
    "HTTP 429: Too Many Requests": ("failed", "rate_limit"),
    "HTTP 400: Invalid Request: query is invalid": ("failed", "invalid"),
    "job s: the server refused its key tweet_fields value 'x' refused (HTTP 400: ...)": ("failed", "invalid"),
    "HTTP 403: Forbidden": ("failed", "refused"),
    "superseded: the job's definition changed (now generation 1)": ("superseded", "superseded"),
}
