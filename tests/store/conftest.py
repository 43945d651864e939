"""The ``store`` fixture, parametrized over every backend the contract suite runs on.

SQLite always runs (a fresh file per test), both with sqlite3 inline on the loop (the default)
and on its own thread (``SqliteStore(thread=True)``). PostgreSQL joins when ``HARVESTER_TEST_POSTGRES_URL``
is set; it must then pass every test, as SQLite does (a backend that cannot pass a test fails
it). ``backend.make()`` opens another store on the *same* state, for reopen tests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harvester.store import open_store
from harvester.store.base import Store
from harvester.store.sqlite import SqliteStore

POSTGRES_URL = os.environ.get("HARVESTER_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "sqlite-thread", *(["postgres"] if POSTGRES_URL else [])]


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """Where one test's state lives."""

    name: str
    location: str

    def make(self) -> Store:
        if self.name == "sqlite-thread":
            return SqliteStore(self.location, thread=True)
        return open_store(self.location)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param.startswith("sqlite"):
        return Backend(name=request.param, location=str(tmp_path / "state.db"))
    assert POSTGRES_URL is not None
    # When the PostgreSQL store lands: give each test a fresh schema (or database) here.
    return Backend(name="postgres", location=POSTGRES_URL)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = backend.make()
    await s.open()
    try:
        yield s
    finally:
        await s.close()
