"""The seam through which processes sharing one store share one quota, budget and cap.

Every request is admitted inside a :meth:`Coordinator.session`: the session shows what the
*other* processes settled and hold (:class:`SharedView`), the process's own engines decide with
that folded in, and the session records the decision (a grant in the bucket's log, a hold on
the budget and cap) before anyone else may decide. The rules are ``core.shared``'s; this module
only moves their inputs and outputs.

Two implementations:

- :class:`LocalCoordinator`, for a SQLite state. One process owns a SQLite state (the state
  lock, ``runtime/lock.py``), so its in-process engines already see every request: there is no
  one else to share with, and a session costs nothing.
- ``PostgresCoordinator`` (``store/pg_shared.py``), for a ``postgresql://`` state that several
  daemons on several hosts use at once.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from harvester.core.shared import Hold, SharedView
from harvester.store.base import Store


@dataclass(frozen=True, slots=True, kw_only=True)
class HostActivity:
    """What one store instance (a process on some host) holds right now, for ``status``."""

    owner: str  # host:pid:random, as ``tasks.owner``
    claims: int
    expired: int  # claims whose lease has passed: the process is probably dead
    holds: int
    held_micros: int


class Session(Protocol):
    """One admission, under the coordinator's lock."""

    @property
    def view(self) -> SharedView: ...

    async def grant(self, bucket: str, now: float, limit: int, span: float, min_gap: float = 0.0) -> float:
        """Log a request on ``bucket`` if the shared guard allows it (``core.shared.grant_release``);
        returns ``now`` when granted (and logged), else the time at which to ask again."""
        ...

    async def hold(self, hold: Hold) -> int | None:
        """Record a request in flight; returns its id (to end with the page), or None."""
        ...


class Coordinator(Protocol):
    """Admission sessions and the starting history of a (possibly shared) store."""

    async def history(self, since: float) -> list[dict[str, Any]]:
        """Ledger rows at or after ``since`` to rebuild the engines from; later sessions show
        only rows this history did not include."""
        ...

    def session(self, now: float, run: str) -> AbstractAsyncContextManager[Session]:
        """Open an admission for run ``run`` (its own ledger rows are never shown back)."""
        ...

    async def activity(self, now: float) -> list[HostActivity]:
        """Claims and holds per process sharing the store (empty when nothing is shared)."""
        ...


class _LocalSession:
    view = SharedView()

    async def grant(self, bucket: str, now: float, limit: int, span: float, min_gap: float = 0.0) -> float:
        return now

    async def hold(self, hold: Hold) -> int | None:
        return None


class LocalCoordinator:
    """One process per store: nothing to share (see the module docstring)."""

    _session = _LocalSession()

    def __init__(self, store: Store) -> None:
        self.store = store

    async def history(self, since: float) -> list[dict[str, Any]]:
        return await self.store.ledger_entries(since)

    @asynccontextmanager
    async def session(self, now: float, run: str) -> AsyncIterator[Session]:
        yield self._session

    async def activity(self, now: float) -> list[HostActivity]:
        return []


def coordinator_for(store: Store) -> Coordinator:
    """The coordinator matching ``store``'s backend (the backend itself, not a wrapper)."""
    pg = sys.modules.get("harvester.store.postgres")  # loaded iff a PostgreSQL store exists
    if pg is not None and isinstance(store, pg.PostgresStore):
        from harvester.store.pg_shared import PostgresCoordinator

        return PostgresCoordinator(store)
    return LocalCoordinator(store)


__all__ = ["Coordinator", "HostActivity", "LocalCoordinator", "Session", "SharedView", "coordinator_for"]
