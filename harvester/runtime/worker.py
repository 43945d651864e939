"""A worker: claim a task, pass the gates, fetch one page, write it and commit, repeat.

One page per step, and every step ends in exactly one store change: a commit (page written and
cursor advanced together), a release (retry later, with the reason), or a failure (kept for
``harvester status``). The decisions (may we send now? what did this response mean? how long to
back off?) come from ``harvester.core`` through :class:`~harvester.runtime.gates.Gates`; the
worker only carries them out.

A worker never holds a task while it waits for a rate-limit window: if the task's bucket is
closed, the task goes back to the queue and the bucket is skipped by later claims until it
reopens, so a waiting bucket never holds back another that has room.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, assert_never

import structlog

from harvester.api.client import ApiClient, Response
from harvester.clock import Clock
from harvester.core import plan
from harvester.core.backoff import Backoff
from harvester.core.model import JobSpec, PageCommit, Task
from harvester.core.schedule import newest_key, split_key
from harvester.errors import BadResponse, TransportError
from harvester.output import OutputFiles, encode_page
from harvester.runtime import cache, polling
from harvester.runtime.admission import admit
from harvester.runtime.gates import Gates, Go, Park, Permit, Stop, Verdict
from harvester.runtime.signals import RunSignals, StopReason
from harvester.runtime.stats import RunStats
from harvester.store import ClaimLost
from harvester.store.base import Store
from harvester.store.coordination import Coordinator

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """Everything the workers of one run share."""

    clock: Clock
    store: Store
    outputs: OutputFiles
    client: ApiClient
    gates: Gates
    specs: Mapping[str, JobSpec]
    coordinator: Coordinator
    signals: RunSignals = field(default_factory=RunSignals)
    stats: RunStats = field(default_factory=RunStats)
    lease: float = 300.0
    max_attempts: int = 8
    backoff: Backoff = field(default_factory=lambda: Backoff(random.Random(0)))
    jobs: frozenset[str] | None = None
    exit_when_drained: bool = True  # a run ends when the queue is empty; a daemon waits
    recovered: int = 0
    in_flight: int = 0  # tasks some worker of this process holds right now
    park_horizon: float = 3600.0  # a run ends when nothing can proceed sooner than this
    truncated: dict[str, int] = field(default_factory=dict)
    worker_prefix: str = ""
    idle_poll: float = 5.0


class Worker:
    """One claim-fetch-commit loop."""

    def __init__(self, rt: Runtime, name: str) -> None:
        self.rt = rt
        self.name = name

    async def run(self) -> None:
        rt = self.rt
        while rt.signals.stop is None:
            now = rt.clock.now()
            claimed = await rt.store.claim(
                self.name, now, rt.lease, 1, skip=rt.gates.closed_buckets(now), jobs=rt.jobs
            )
            if not claimed:
                if not await self._wait_for_work():
                    return
                continue
            rt.in_flight += 1
            try:
                await self.step(claimed[0])
            except ClaimLost:
                # The lease ran out (a slow request, a paused process) and another worker took
                # the task over; it does this page. Nothing of ours was kept: carry on.
                rt.stats.claims_lost += 1
                log.warning("claim_lost", job=claimed[0].job, task=claimed[0].key, lease=rt.lease)
            finally:
                rt.in_flight -= 1

    async def _wait_for_work(self) -> bool:
        """Sleep until something may be claimable; False when the queue is drained."""
        rt = self.rt
        if rt.exit_when_drained and await rt.store.pending_count(rt.jobs) == 0:
            rt.signals.notify()  # wake the others so they see it too
            return False
        now = rt.clock.now()
        # A task already due but not claimable sits in a closed bucket: its bucket's reopening,
        # not its own ``not_before``, is what to wait for (else this would spin).
        wake = [t for t in (await rt.store.next_due(rt.jobs), rt.gates.next_reopen(now))
                if t is not None and t > now]
        if rt.exit_when_drained and rt.in_flight == 0 and wake and min(wake) > now + rt.park_horizon:
            # Only parked work is left (a monthly cap, a distant 24-hour reset): a run ends here,
            # cleanly; a later run (or the daemon) picks the tasks up when they are due.
            when = datetime.fromtimestamp(min(wake), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
            rt.signals.request_stop(StopReason(f"the remaining tasks wait until {when}"))
            return False
        timeout = min([t - now for t in wake] + [rt.idle_poll])
        await rt.signals.wait(timeout + 1e-3)
        return True

    async def step(self, task: Task) -> None:
        """Take one claimed task through one page."""
        rt = self.rt
        spec = rt.specs.get(task.job)
        if spec is None:
            await rt.store.release(task.id, not_before=rt.clock.now() + 3600.0, error="job removed")
            return
        request = plan.page_request(task)
        answer = await cache.lookup(rt.store, task.endpoint, request, rt.clock.now())
        if answer.request is None:
            rt.stats.requests_saved += 1
            rt.stats.cache_hits += len(answer.objects)
            body = {"data": answer.objects}
            await self._commit_body(task, spec, request, body, plan.interpret_page(task, body, spec), None,
                                    cached=True)
            return
        request = answer.request
        verdict = await admit(rt.gates, rt.coordinator, task, request, rt.clock.now(), rt.lease)
        match verdict:
            case Go():
                pass
            case Park(until=until, reason=reason):
                await rt.store.release(task.id, not_before=until, error=None)
                log.debug("task_parked", job=task.job, task=task.key, reason=reason, until=until)
                rt.signals.notify()
                return
            case Stop(reason=reason):
                await rt.store.release(task.id, not_before=0.0, error=None)
                rt.signals.request_stop(StopReason(reason, clean=True))
                return
            case _:
                assert_never(verdict)
        await self._send(task, spec, verdict.permit, answer.objects)

    async def _send(self, task: Task, spec: JobSpec, permit: Permit, cached: list[dict[str, Any]]) -> None:
        rt = self.rt
        rt.stats.requests += 1
        try:
            resp = await rt.client.get(
                permit.request.path, permit.request.params, permit.auth, now=rt.clock.now()
            )
        except TransportError as exc:
            rt.gates.transport_failed(permit, rt.clock.now())
            await rt.store.add_ledger(rt.gates.take_pending_entries(), holds=permit.holds)
            await self._retry(task, str(exc))
            return
        rt.stats.count_status(permit.route, resp.status)
        reaction = rt.gates.after_response(permit, resp, rt.clock.now())
        if reaction.verdict is not Verdict.OK:  # the money is settled or cancelled: end the hold
            await rt.store.add_ledger(rt.gates.take_pending_entries(), holds=permit.holds)
        match reaction.verdict:
            case Verdict.OK:
                await self._commit(task, spec, permit, resp, cached)
            case Verdict.RETRY:
                await self._retry(task, reaction.reason)
            case Verdict.WAIT:
                await rt.store.release(task.id, not_before=reaction.until, error=None)
                log.info("task_waiting", job=task.job, task=task.key, reason=reaction.reason,
                         until=round(reaction.until, 1))
                rt.signals.notify()
            case Verdict.FAIL:
                await rt.store.fail(task.id, reaction.reason)
                log.warning("task_failed", job=task.job, task=task.key, error=reaction.reason)
                rt.signals.notify()
            case Verdict.STOP:
                await rt.store.release(task.id, not_before=0.0, error=reaction.reason)
                rt.signals.request_stop(StopReason(reaction.reason, clean=True))
            case _:
                assert_never(reaction.verdict)

    async def _commit(
        self, task: Task, spec: JobSpec, permit: Permit, resp: Response, cached: list[dict[str, Any]]
    ) -> None:
        rt = self.rt
        body = resp.body
        try:
            result = plan.interpret_page(task, body, spec)
        except BadResponse as exc:
            rt.gates.abandon(permit, rt.clock.now())
            await rt.store.add_ledger(rt.gates.take_pending_entries(), holds=permit.holds)
            await self._retry(task, f"bad response: {exc}")
            return
        charge = rt.gates.charge(permit, body, rt.clock.now())
        if cached:  # objects the cache answered join the fetched ones
            body = {**body, "data": [*body.get("data", []), *cached]}
            result = replace(result, items=result.items + len(cached))
            rt.stats.cache_hits += len(cached)
        await self._commit_body(task, spec, permit.request, body, result, charge, cached=False,
                                holds=permit.holds)

    async def _commit_body(
        self,
        task: Task,
        spec: JobSpec,
        request: plan.PageRequest,
        body: dict[str, Any],
        result: plan.PageResult,
        charge: dict[str, Any] | None,
        *,
        cached: bool,
        holds: tuple[int, ...] = (),
    ) -> None:
        """Write the page and commit it with its cursor and its charge, atomically."""
        rt = self.rt
        now = rt.clock.now()
        follow = None
        if not rt.exit_when_drained and result.next_cursor is None and polling.polls(spec, task):
            newest = result.newest_id if task.pages == 0 else None
            follow = await polling.next_poll(rt.store, spec, task, task.items + result.items, newest, now)
            result = replace(result, spawn=(*result.spawn, follow.task))
        commit = PageCommit(task_id=task.id, next_cursor=result.next_cursor, items=result.items,
                            spawn=result.spawn, ledger=charge, holds=holds)  # fmt: skip
        if task.write:
            meta: dict[str, Any] = {"job": task.job, "task": task.key, "page": task.pages + 1,
                                    "path": request.path, "retrieved_at": round(now, 3)}
            if cached:
                meta["from_cache"] = True
            line = encode_page(body, meta)
            async with rt.outputs.locked(task.job):
                offset = rt.outputs.append(task.job, line)
                try:
                    await self._store_commit(
                        replace(commit, output_job=rt.outputs.key(task.job), output_offset=offset)
                    )
                except ClaimLost:
                    # Another worker owns the task now and will write this page itself: take the
                    # bytes back before the next append covers them.
                    rt.outputs.cut(task.job, offset - len(line))
                    raise
            if not cached:
                await cache.remember(rt.store, task.endpoint, request.params, body, now)
            if task.pages == 0 and result.newest_id:
                await self._remember_newest(task, result.newest_id)
        else:
            await self._store_commit(commit)
        if follow is not None:
            await rt.store.put_state(follow.key, follow.state.to_dict())
            log.info("poll_scheduled", job=task.job, source=split_key(task.key)[0],
                     new_items=task.items + result.items, next_in=round(follow.task.not_before - now, 1))
        rt.stats.pages += 1
        rt.stats.items += result.items
        log.info("page_committed", job=task.job, task=task.key, page=task.pages + 1,
                 items=result.items, more=result.next_cursor is not None, cached=cached)
        rt.signals.notify()

    async def _store_commit(self, commit: PageCommit) -> None:
        """Commit the page; if the claim was lost meanwhile, still keep what the request cost."""
        try:
            await self.rt.store.commit_page(commit)
        except ClaimLost:
            await self.rt.store.add_ledger([commit.ledger] if commit.ledger else [], holds=commit.holds)
            raise

    async def _remember_newest(self, task: Task, newest_id: str) -> None:
        """The first page of a run carries its source's newest id: the next run's ``since_id``."""
        base, _, generation = split_key(task.key)
        key = newest_key(task.job, base, generation)
        old = await self.rt.store.get_state(key)
        if old is None or int(newest_id) > int(old):
            await self.rt.store.put_state(key, newest_id)

    async def _retry(self, task: Task, reason: str) -> None:
        rt = self.rt
        rt.stats.retries += 1
        attempt = task.attempts + 1
        if attempt >= rt.max_attempts:
            await rt.store.fail(task.id, f"gave up after {attempt} attempts: {reason}")
            log.warning("task_failed", job=task.job, task=task.key, error=reason, attempts=attempt)
        else:
            delay = rt.backoff.delay(attempt - 1)
            await rt.store.release(task.id, not_before=rt.clock.now() + delay, error=reason)
            log.info("retry_scheduled", job=task.job, task=task.key, error=reason,
                     attempt=attempt, wait=round(delay, 2))
        rt.signals.notify()
