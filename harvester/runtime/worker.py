"""A worker: claim a task, carry out the request machine's decisions for one page, repeat.

The worker decides nothing: :class:`~harvester.core.request.RequestMachine` admits each request
and settles each answer into values (``core/request``); the worker sends, writes and commits
what they say. Every step ends in exactly one store change: a commit (the page written with its
cursor, charge, cached objects and poll state, in one transaction), a release (later, with or
without an attempt), or a failure (kept for ``harvester status``).

A worker never holds a task while it waits for a rate-limit window: if the task's bucket is
closed, the task goes back to the queue and claims skip that bucket until it reopens, so a
waiting bucket never holds back another that has room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, assert_never
from urllib.parse import urlencode

import structlog

from harvester import __version__
from harvester.core import plan
from harvester.core.model import JobSpec, NewTask, PageCommit, Task
from harvester.core.page import Page
from harvester.core.request import (
    Admission,
    Cause,
    CheckUsage,
    Commit,
    Fail,
    Finish,
    Go,
    Halt,
    Park,
    Permit,
    Reject,
    Resend,
    Retry,
    Settlement,
    Stop,
    StopCause,
    Wait,
)
from harvester.core.schedule import newest_key, run_key, split_key
from harvester.errors import OutputError, StoreError
from harvester.output import encode_page
from harvester.runtime import cache, polling
from harvester.runtime.admission import admit_checked
from harvester.runtime.daemon_store import DaemonStore
from harvester.runtime.runtime import Runtime
from harvester.runtime.send import exchange
from harvester.store import ClaimLost

log = structlog.get_logger(__name__)

_EMPTY = plan.PageResult(next_cursor=None, items=0)


class Worker:
    """One claim-fetch-commit loop."""

    def __init__(self, rt: Runtime, name: str) -> None:
        self.rt = rt
        self.name = name

    async def run(self) -> None:
        rt = self.rt
        while rt.signals.stop is None:
            now = rt.clock.now()
            skip = rt.machine.closed_buckets(now) | rt.pacer.busy()  # closed, or not yet their turn
            claimed = await rt.store.claim(self.name, now, rt.settings.lease, 1, skip=skip, jobs=rt.jobs.names)
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
                log.warning("claim_lost", job=claimed[0].job, task=claimed[0].key, lease=rt.settings.lease)
            finally:
                rt.in_flight -= 1

    async def _wait_for_work(self) -> bool:
        """Sleep until something may be claimable; False when the run is over."""
        rt = self.rt
        names = rt.jobs.names
        if rt.settings.exit_when_drained and await rt.store.pending_count(names) == 0:
            rt.signals.notify()  # wake the others so they see it too
            return False
        now = rt.clock.now()
        # A task already due but not claimable sits in a closed bucket: its bucket's reopening,
        # not its own ``not_before``, is what to wait for (else this would spin).
        wake = [t for t in (await rt.store.next_due(names), rt.machine.next_reopen(now)) if t is not None and t > now]
        if (rt.settings.exit_when_drained and rt.in_flight == 0 and wake
                and min(wake) > now + rt.settings.park_horizon):  # fmt: skip
            # Only parked work is left (a monthly cap, a distant 24-hour reset): a run ends here,
            # cleanly; a later run (or the daemon) picks the tasks up when they are due.
            rt.signals.request_stop(self._parked_cause(min(wake)))
            return False
        self._say_why_waiting(now)
        paced = rt.pacer.next_ready()
        timeout = min([t - now for t in wake] + [rt.settings.idle_poll] + ([paced] if paced is not None else []))
        await rt.signals.wait(timeout + 1e-3)
        return True

    def _say_why_waiting(self, now: float) -> None:
        """Log each wait of the run once as it starts: which bucket or limit, and until when."""
        rt = self.rt
        waits = rt.machine.waits(now)
        if not waits or rt.in_flight:
            return
        route, auth, until, why = waits[0]
        key = (route, auth, round(until))
        if key in rt.waits_logged or until - now < 1.0:
            return
        rt.waits_logged.add(key)
        if len(rt.waits_logged) > 256:  # a daemon's months of waits: keep the set small
            rt.waits_logged.clear()
            rt.waits_logged.add(key)
        log.info("run_waiting", route=route, auth=auth, reason=why, until=round(until, 1),
                 seconds=round(until - now, 1))

    def _parked_cause(self, when: float) -> StopCause:
        """Why the work left waits: the long wait the machine named last, else the time alone."""
        causes = list(self.rt.waiting.values())
        if causes:
            return min(causes, key=lambda c: c.resumes_at or when)
        at = datetime.fromtimestamp(when, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        return StopCause(cause=Cause.RATE_LIMIT, message=f"the remaining tasks wait until {at}", resumes_at=when)

    async def step(self, task: Task) -> None:
        """Take one claimed task through one page."""
        rt = self.rt
        spec = rt.jobs.specs.get(task.job)
        if spec is None:  # a job no longer in the files: its tasks wait (the daemon may get it back)
            await rt.store.release(task.id, not_before=rt.clock.now() + 3600.0, error=None)
            return
        request = plan.page_request(task)
        answer = await cache.lookup(rt.store, task.endpoint, request, rt.clock.now())
        if answer.request is None:  # every id was cached: the page is the cache's line alone
            rt.stats.requests_saved += 1
            await self._commit(task, spec, None, None, _EMPTY, answer.objects)
            return
        request = answer.request
        key = (task.endpoint, task.auth)
        while True:
            await rt.pacer.turn(key)  # the bucket's pace (the core's decision, kept by aiolimiter)
            permit = await self._admitted(task, await admit_checked(rt, task, request))
            if permit is None:
                return
            settlement = await exchange(rt, task, permit)  # sent, settled, the pace moved by its headers
            verdict = settlement.verdict
            if isinstance(verdict, Resend):  # a known rename: admit the renamed request instead
                await rt.store.add_ledger(settlement.ledger, holds=settlement.holds)
                request = verdict.request
                continue
            if isinstance(verdict, Commit):
                self._note_wait(task, None)
                page = None if verdict.result.discard else verdict.page  # a repeated page is not written twice
                await self._commit(task, spec, permit, page, verdict.result, answer.objects, settlement)
            else:
                await self._settled(task, settlement)
            return

    async def _admitted(self, task: Task, admission: Admission) -> Permit | None:
        """The permit to send with, or None once the task has been given back."""
        rt = self.rt
        match admission:
            case Go(permit=permit):
                return permit
            case Park(until=until, reason=reason, cause=cause, by_bucket=by_bucket):
                self._note_wait(task, cause)
                await rt.store.release(task.id, not_before=rt.clock.now() if by_bucket else until, error=None)
                log.debug("task_parked", job=task.job, task=task.key, reason=reason, until=until)
            case CheckUsage(reason=reason):  # the server could not be asked twice in a row
                await rt.store.release(task.id, not_before=rt.clock.now() + 1.0, error=None)
                log.debug("task_parked", job=task.job, task=task.key, reason=reason)
            case Stop(cause=cause):
                await rt.store.release(task.id, not_before=0.0, error=None)
                rt.signals.request_stop(cause)
            case Finish(reason=reason):
                await rt.store.finish(task.id)
                log.info("task_finished", job=task.job, task=task.key, reason=reason)
            case Reject(reason=reason, failure=failure):
                await rt.store.fail(task.id, reason, failure=failure)
                rt.errors.note(rt.clock.now(), task.job, task.key, reason, final=True)
                log.warning("task_failed", job=task.job, task=task.key, error=reason)
            case _:
                assert_never(admission)
        rt.signals.notify()
        return None

    def _note_wait(self, task: Task, cause: StopCause | None) -> None:
        key = (task.endpoint, task.auth)
        if cause is None:
            self.rt.waiting.pop(key, None)
        else:
            self.rt.waiting[key] = cause

    async def _settled(self, task: Task, settlement: Settlement) -> None:
        """Carry out a verdict other than a commit: its charges go to the store on their own."""
        rt = self.rt
        await rt.store.add_ledger(settlement.ledger, holds=settlement.holds)
        verdict = settlement.verdict
        match verdict:
            case Retry(until=until, reason=reason):
                rt.stats.retries += 1
                await rt.store.release(task.id, not_before=until, error=reason)
                rt.errors.note(rt.clock.now(), task.job, task.key, reason, final=False)
                log.info("retry_scheduled", job=task.job, task=task.key, error=reason, attempt=task.attempts + 1,
                         wait=round(until - rt.clock.now(), 2))  # fmt: skip
            case Wait(until=until, reason=reason, cause=cause, by_bucket=by_bucket):
                self._note_wait(task, cause)
                await rt.store.release(task.id, not_before=rt.clock.now() if by_bucket else until, error=None)
                log.info("task_waiting", job=task.job, task=task.key, reason=reason, until=round(until, 1))
            case Fail(reason=reason, failure=failure):
                await rt.store.fail(task.id, reason, failure=failure)
                rt.errors.note(rt.clock.now(), task.job, task.key, reason, final=True)
                log.warning("task_failed", job=task.job, task=task.key, error=reason)
            case Halt(cause=cause):
                await rt.store.release(task.id, not_before=0.0, error=None)
                rt.signals.request_stop(cause)
            case Commit() | Resend():
                raise AssertionError(f"{type(verdict).__name__} is not carried out here")
            case _:
                assert_never(verdict)
        rt.signals.notify()

    async def _commit(
        self,
        task: Task,
        spec: JobSpec,
        permit: Permit | None,
        page: Page | None,
        result: plan.PageResult,
        cached: list[dict[str, Any]],
        settlement: Settlement | None = None,
    ) -> None:
        """Write the page (and the cache's line, if any) and commit everything it changes at once:
        output length, cursor, spawned tasks, charges, cached objects, newest id, poll state."""
        rt = self.rt
        now = rt.clock.now()
        items = result.items + len(cached)
        state: dict[str, Any] = {}
        spawn = result.spawn
        if result.next_cursor is None and not rt.settings.exit_when_drained and polling.polls(spec, task):
            newest = result.newest_id if task.pages == 0 else None
            total = task.items + items
            exposure = (polling.backfill_exposure(task, page.raw if page is not None else None, total, now)
                        if "since_id" not in task.params else None)  # fmt: skip
            follow = await polling.next_poll(rt.store, spec, task, total, newest, now, exposure=exposure,
                                             book=rt.poll_rates, specs=rt.jobs.specs,
                                             generations=self._generations())  # fmt: skip
            spawn = (*spawn, follow.task)
            state[follow.key] = follow.state.to_dict()
            log.info("poll_scheduled", job=task.job, source=split_key(task.key)[0], new_items=task.items + items,
                     next_in=round(follow.task.not_before - now, 1))  # fmt: skip
        if task.write and task.pages == 0 and result.newest_id:
            await self._remember_newest(task, result.newest_id, state)
        if page is not None and task.write:
            spawn = (*spawn, *self._fan_out(task, page))
        commit = PageCommit(task_id=task.id, next_cursor=result.next_cursor, items=items, spawn=spawn, state=state)
        if settlement is not None:
            commit = replace(commit, ledger=settlement.ledger, holds=settlement.holds)
        if page is not None and permit is not None and task.write:
            kinds = cache.wanted(rt.jobs.specs.values())
            commit = replace(commit, cache=cache.rows(task.endpoint, permit.request.params, page, now, kinds))
        if task.write:
            if not await self._write_and_commit(task, commit, self._lines(task, permit, page, cached, now)):
                return
        else:
            await self._store_commit(commit)
        if task.write:  # the run's figures are its output's: a username lookup is neither
            rt.stats.pages += 1
            rt.stats.items += items
        rt.stats.cache_hits += len(cached)
        if result.next_cursor is None:  # the task is done: its bucket's backlog shrinks now, not at the next count
            rt.machine.task_done(task.endpoint, task.auth)
            rt.repace(task.endpoint, task.auth, now)
        log.info("page_committed", job=task.job, task=task.key, page=task.pages + 1, items=items,
                 more=result.next_cursor is not None, cached=len(cached))  # fmt: skip
        rt.signals.notify()

    def _generations(self) -> Mapping[str, int]:
        """Each job's current generation (the runtime's store keeps them; a bare store: none)."""
        store = self.rt.store
        return store.generations if isinstance(store, DaemonStore) else {}

    def _fan_out(self, task: Task, page: Page) -> list[NewTask]:
        """The tasks this page gives the jobs that take ``task``'s job's output (``from_job``):
        committed with the page, so a crash can neither lose them nor queue them twice, keyed in
        each fan-out job's own generation and in the source's run slot (a scheduled source's
        next run fans out afresh; within a run, a user or post is queued once)."""
        out: list[NewTask] = []
        _, slot, _ = split_key(task.key)  # a scheduled source's run: its fan-out is that run's too
        for spec in self.rt.jobs.specs.values():
            if spec.from_job != task.job:
                continue
            generation = self._generations().get(spec.name, 0)
            out += [replace(t, key=run_key(t.key, slot=slot, generation=generation))
                    for t in plan.fan_out(spec, task, page)]  # fmt: skip
        return out

    def _lines(
        self, task: Task, permit: Permit | None, page: Page | None, cached: list[dict[str, Any]], now: float
    ) -> list[bytes]:
        """One line per API response, unaltered; objects the cache answered go on a line of
        their own, marked ``from_cache``, never merged into a served page."""
        retrieved = datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        meta: dict[str, Any] = {"job": task.job, "task": task.key, "page": task.pages + 1, "retrieved_at": round(now, 3)}
        lines = []
        if page is not None and permit is not None:
            twarc = {"url": self._url(permit.request), "version": f"harvester {__version__}", "retrieved_at": retrieved}
            lines.append(encode_page(page.raw, {**meta, "path": permit.request.path}, twarc))
        if cached:
            request = plan.page_request(task)
            twarc = {"url": self._url(request), "version": f"harvester {__version__}", "retrieved_at": retrieved}
            lines.append(encode_page({"data": cached}, {**meta, "path": request.path, "from_cache": True}, twarc))
        return lines

    def _url(self, request: plan.PageRequest) -> str:
        return f"{self.rt.client.base_url}{request.path}?{urlencode(dict(request.params))}"

    async def _write_and_commit(self, task: Task, commit: PageCommit, lines: list[bytes]) -> bool:
        """Append the page and commit it; False if the file refused the bytes (the run stops)."""
        rt = self.rt
        data = b"".join(lines)
        async with rt.outputs.locked(task.job):
            try:
                offset = rt.outputs.append(task.job, data)
            except OutputError as exc:
                await self._output_failed(task, commit, exc)
                return False
            try:
                await self._store_commit(replace(commit, output_job=rt.outputs.key(task.job), output_offset=offset))
            except ClaimLost:
                # Another worker owns the task now and will write this page itself: take the
                # bytes back before the next append covers them.
                rt.outputs.cut(task.job, offset - len(data))
                raise
        return True

    async def _output_failed(self, task: Task, commit: PageCommit, exc: OutputError) -> None:
        """Disk full or an I/O error: the file is already cut back to its last committed line
        (``OutputFiles.append``). Nothing of the page is committed: the task goes back with its
        cursor as it was, only the request's charge is kept, and the run stops with the file and
        the OS error as its cause (a failure: exit 1). If the state cannot be written either
        (the same full disk), the next start finds the claim and puts it back."""
        rt = self.rt
        try:
            await rt.store.add_ledger(commit.ledger, holds=commit.holds)
            await rt.store.release(task.id, not_before=0.0, error=None)
        except StoreError as store_exc:
            log.error("state_not_updated", job=task.job, task=task.key, error=str(store_exc))
        log.error("output_failed", job=task.job, task=task.key, error=str(exc))
        rt.signals.request_stop(StopCause(
            cause=Cause.OUTPUT, failure=True,
            message=f"job {task.job}: {exc}; the page was not kept: make room and run again to continue"))
        rt.signals.notify()

    async def _store_commit(self, commit: PageCommit) -> None:
        """Commit the page; if the claim was lost meanwhile, still keep what the request cost."""
        try:
            await self.rt.store.commit_page(commit)
        except ClaimLost:
            await self.rt.store.add_ledger(commit.ledger, holds=commit.holds)
            raise

    async def _remember_newest(self, task: Task, newest_id: str, state: dict[str, Any]) -> None:
        """The first page of a run carries its source's newest id: the next run's ``since_id``."""
        base, _, generation = split_key(task.key)
        key = newest_key(task.job, base, generation)
        old = await self.rt.store.get_state(key)
        if old is None or int(newest_id) > int(old):
            state[key] = newest_id


__all__ = ["Worker"]
