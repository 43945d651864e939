"""The state store's figures as one :class:`~harvester.embed.values.Status`.

Everything comes from the store, so this works from another process while a run or the daemon
is going (SQLite in WAL mode lets readers in beside the writer). The engines are rebuilt from
what the store keeps (bucket state, the ledger's charges, the cap counts) and asked for a
snapshot at ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

from harvester.config import Config
from harvester.core.model import JobStats
from harvester.core.schedule import JobState
from harvester.embed.values import Status
from harvester.redact import redact, redact_tree
from harvester.runtime.definitions import STATE_PREFIX
from harvester.runtime.wiring import STATE_CACHE, STATE_STOP, build_machine
from harvester.store import open_store, redact_url
from harvester.store.coordination import coordinator_for


async def read_status(config: Config, now: float, *, every: bool = False) -> Status:
    """Every figure ``harvester status`` shows, read at ``now`` (``every``: with each job's
    generations, superseded ones included)."""
    state = config.harvest.state
    store = open_store(state)
    await store.open()
    try:
        jobs = await store.job_stats()
        current = {j.job: _generation(await store.get_state(STATE_PREFIX + j.job)) for j in jobs}
        generations = await store.generation_stats() if every else []
        entries = await store.ledger_entries(0.0)
        last_run = str(entries[-1]["run"]) if entries else "none"
        machine = await build_machine(config, store, now, {}, run=last_run)
        queue = await store.pending_count()
        cache_stats = await store.get_state(STATE_CACHE) or {}
        last_stop = await store.get_state(STATE_STOP)
        stream = await store.get_state("stream:status")
        hosts = await coordinator_for(store).activity(now)
    finally:
        await store.close()
    return Status(
        state=redact_url(state), now=now, queue_depth=queue,
        jobs=tuple(_redacted(j) for j in jobs),
        buckets=tuple(machine.limits.snapshot(now)), budget=machine.ledger.status(now), cap=machine.cap.status(now),
        cache_hits=int(cache_stats.get("hits", 0)), requests_saved=int(cache_stats.get("requests_saved", 0)),
        last_run=redact(last_run),
        last_stop=cast("Mapping[str, Any]", redact_tree(last_stop)) if isinstance(last_stop, dict) else None,
        hosts=tuple(hosts), current=current, generations=tuple(generations),
        stream=stream if isinstance(stream, dict) else None,
    )  # fmt: skip


def _generation(doc: object) -> int:
    saved = JobState.from_json(doc)
    return saved.generation if saved is not None else 0


def _redacted(j: JobStats) -> JobStats:
    """A job's counters with its last error's text redacted (an error may quote a URL)."""
    return replace(j, last_error=None if j.last_error is None else redact(j.last_error))
