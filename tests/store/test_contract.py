"""The Store contract: what every backend must do, whatever it is built on.

Time is an argument here (``now``), so nothing sleeps. Tests that need a second handle on the
same state use ``backend.make()``.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

import pytest

from harvester.core.model import Failure, NewTask, PageCommit, StreamCommit, Task
from harvester.store import ClaimLost
from harvester.store.base import Store

if TYPE_CHECKING:
    from conftest import Backend

NOW = 1_700_000_000.0
LEASE = 60.0


def new(key: str, job: str = "j", **kw: object) -> NewTask:
    return NewTask(job=job, key=key, endpoint="/2/tweets/search/recent", **kw)  # type: ignore[arg-type]


async def claim_all(store: Store, now: float = NOW, worker: str = "w") -> list[Task]:
    return await store.claim(worker, now, LEASE, limit=1000)


async def stats(store: Store) -> dict[str, object]:
    return {s.job: s for s in await store.job_stats()}


async def test_enqueue_is_idempotent_and_counts_new_rows(store: Store) -> None:
    assert await store.enqueue([new("a"), new("b"), new("c")]) == 3
    assert await store.enqueue([new("a", priority=9), new("b"), new("d")]) == 1
    assert await store.enqueue([new("a", job="other")]) == 1  # keys are per job
    assert await store.enqueue([]) == 0
    tasks = await claim_all(store)
    assert sorted((t.job, t.key) for t in tasks) == [
        ("j", "a"), ("j", "b"), ("j", "c"), ("j", "d"), ("other", "a"),
    ]  # fmt: skip
    assert all(t.priority == 0 for t in tasks)  # the first enqueue of "a" was kept


async def test_claim_returns_every_field(store: Store) -> None:
    task = NewTask(
        job="tl", key="user:12", endpoint="/2/users/:id/tweets", path_params={"id": "12"},
        params={"max_results": "100", "tweet.fields": "created_at"}, priority=3, auth="pool",
        write=False,
    )  # fmt: skip
    await store.enqueue([task])
    [claimed] = await store.claim("w1", NOW, LEASE)
    assert (claimed.job, claimed.key, claimed.endpoint) == ("tl", "user:12", "/2/users/:id/tweets")
    assert dict(claimed.path_params) == {"id": "12"}
    assert dict(claimed.params) == {"max_results": "100", "tweet.fields": "created_at"}
    assert (claimed.priority, claimed.auth, claimed.write) == (3, "pool", False)
    assert (claimed.cursor, claimed.pages, claimed.items, claimed.attempts) == (None, 0, 0, 0)
    assert claimed.state == "claimed"


async def test_claim_order_is_priority_then_insertion(store: Store) -> None:
    await store.enqueue([new("a"), new("b", priority=5), new("c", priority=5), new("d", priority=1)])
    await store.enqueue([new("e", priority=5)])
    assert [t.key for t in await store.claim("w", NOW, LEASE, limit=3)] == ["b", "c", "e"]
    assert [t.key for t in await store.claim("w", NOW, LEASE, limit=1)] == ["d"]
    assert [t.key for t in await store.claim("w", NOW, LEASE, limit=5)] == ["a"]
    assert await store.claim("w", NOW, LEASE, limit=5) == []


async def test_tasks_past_their_deadline_go_first_whatever_their_priority(store: Store) -> None:
    await store.enqueue([
        new("busy1", priority=9), new("busy2", priority=9), new("busy3", priority=9),
        new("quiet", priority=0, deadline=NOW - 10), new("quieter", priority=0, deadline=NOW - 50),
        new("not-yet", priority=0, deadline=NOW + 10),  # its deadline is ahead: priority order
        new("future", priority=0, deadline=NOW - 99, not_before=NOW + 5),  # late but not due
    ])  # fmt: skip
    assert [t.key for t in await store.claim("w", NOW, LEASE, limit=3)] == ["quieter", "quiet", "busy1"]
    assert [t.key for t in await store.claim("w", NOW, LEASE, limit=1, skip=[("/2/users/:id/tweets", "app")])] == [
        "busy2"
    ]
    assert [t.key for t in await store.claim("w", NOW + 4, LEASE, limit=1)] == ["busy3"]
    assert [t.key for t in await store.claim("w", NOW + 11, LEASE, limit=2)] == ["future", "not-yet"]
    # Spawned tasks carry their deadline too.
    await store.enqueue([new("parent")])
    [parent] = await store.claim("w", NOW + 11, LEASE, limit=1)
    await store.commit_page(
        PageCommit(task_id=parent.id, next_cursor=None, items=0, spawn=(new("next", priority=0, deadline=NOW + 20),
                                                                         new("other", priority=10)))
    )  # fmt: skip
    assert [t.key for t in await store.claim("w", NOW + 12, LEASE, limit=1)] == ["other"]
    await store.enqueue([new("more", priority=10)])
    assert [t.key for t in await store.claim("w", NOW + 21, LEASE, limit=2)] == ["next", "more"]


async def test_not_before_is_respected(store: Store) -> None:
    await store.enqueue([new("later", not_before=NOW + 100, priority=9), new("now", not_before=NOW)])
    assert await store.next_due() == NOW
    assert [t.key for t in await claim_all(store, now=NOW)] == ["now"]
    assert await store.next_due() == NOW + 100
    assert await claim_all(store, now=NOW + 99) == []
    assert [t.key for t in await claim_all(store, now=NOW + 100)] == ["later"]
    assert await store.next_due() is None  # nothing pending (claimed tasks are not due)


async def test_claimed_tasks_are_not_handed_out_again(store: Store) -> None:
    await store.enqueue([new("a"), new("b")])
    first = await store.claim("w1", NOW, LEASE)
    second = await store.claim("w2", NOW + 1, LEASE)
    assert [t.key for t in first] == ["a"]
    assert [t.key for t in second] == ["b"]
    assert await store.claim("w3", NOW + LEASE / 2, LEASE) == []
    assert await store.pending_count() == 2  # claimed tasks are still queue depth


async def test_commit_advances_cursor_counters_and_offset_together(store: Store) -> None:
    await store.enqueue([new("a")])
    [task] = await claim_all(store)
    await store.commit_page(
        PageCommit(task_id=task.id, next_cursor="c1", items=5, output_job="j", output_offset=123)
    )
    assert await store.output_offsets() == {"j": 123}
    [again] = await claim_all(store)  # back to pending, claimable at once
    assert (again.id, again.cursor, again.pages, again.items, again.attempts) == (task.id, "c1", 1, 5, 0)
    await store.commit_page(
        PageCommit(task_id=task.id, next_cursor="c2", items=7, output_job="j", output_offset=300)
    )
    [third] = await claim_all(store)
    assert (third.cursor, third.pages, third.items) == ("c2", 2, 12)
    assert await store.output_offsets() == {"j": 300}
    [j] = await store.job_stats()
    assert (j.pages, j.items, j.pending, j.claimed) == (2, 12, 0, 1)


async def test_commit_without_output_leaves_offsets_alone(store: Store) -> None:
    await store.enqueue([new("resolve", write=False)])
    [task] = await claim_all(store)
    await store.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=3))
    assert await store.output_offsets() == {}


async def test_commit_without_next_cursor_finishes_the_task(store: Store) -> None:
    await store.enqueue([new("a")])
    [task] = await claim_all(store)
    await store.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=2))
    assert await claim_all(store) == []
    assert await store.pending_count() == 0
    assert await store.next_due() is None
    [j] = await store.job_stats()
    assert (j.tasks, j.done, j.pending, j.claimed, j.pages, j.items, j.state) == (1, 1, 0, 0, 1, 2, "done")


async def test_commit_enqueues_spawned_tasks(store: Store) -> None:
    await store.enqueue([new("resolve", job="users", write=False)])
    [task] = await claim_all(store)
    spawn = (new("user:1", job="tl", priority=2), new("user:2", job="tl"), new("resolve", job="users"))
    await store.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=2, spawn=spawn))
    assert [(t.job, t.key) for t in await claim_all(store)] == [("tl", "user:1"), ("tl", "user:2")]
    by_job = await stats(store)
    assert set(by_job) == {"users", "tl"}


async def test_double_commit_is_rejected_and_changes_nothing(store: Store) -> None:
    await store.enqueue([new("a")])
    [task] = await claim_all(store)
    page = PageCommit(task_id=task.id, next_cursor="c1", items=5, output_job="j", output_offset=100)
    await store.commit_page(page)
    with pytest.raises(ClaimLost, match=f"task {task.id}"):
        await store.commit_page(
            PageCommit(task_id=task.id, next_cursor="c9", items=50, output_job="j", output_offset=900)
        )
    assert await store.output_offsets() == {"j": 100}
    [again] = await claim_all(store)
    assert (again.cursor, again.pages, again.items) == ("c1", 1, 5)


async def test_commit_of_an_unknown_task_is_rejected(store: Store) -> None:
    with pytest.raises(ClaimLost):
        await store.commit_page(PageCommit(task_id=424242, next_cursor=None, items=0))


async def test_release_with_error_counts_an_attempt_and_waits(store: Store) -> None:
    await store.enqueue([new("a")])
    [task] = await claim_all(store)
    await store.release(task.id, not_before=NOW + 30, error="503 from upstream")
    assert await claim_all(store, now=NOW + 29) == []
    assert await store.next_due() == NOW + 30
    [again] = await claim_all(store, now=NOW + 30)
    assert (again.attempts, again.last_error) == (1, "503 from upstream")
    [j] = await store.job_stats()
    assert j.last_error == "503 from upstream"
    # A release without an error (shutdown, rate-limit wait) is not an attempt.
    await store.release(again.id, not_before=NOW + 40, error=None)
    [third] = await claim_all(store, now=NOW + 40)
    assert third.attempts == 1
    # A committed page resets the attempts.
    await store.commit_page(PageCommit(task_id=third.id, next_cursor="c", items=1))
    [fourth] = await claim_all(store, now=NOW + 40)
    assert fourth.attempts == 0


async def test_finish_ends_a_claimed_task_without_a_page(store: Store) -> None:
    """A job that reached its ``limit``: its other tasks end done, no page or item counted."""
    await store.enqueue([new("a"), new("b")])
    a, b = await claim_all(store)
    await store.commit_page(PageCommit(task_id=a.id, next_cursor="more", items=5))
    await store.finish(b.id)
    [j] = await store.job_stats()
    assert (j.tasks, j.done, j.pending, j.pages, j.items, j.last_error) == (2, 1, 1, 1, 5, None)
    with pytest.raises(ClaimLost):
        await store.finish(b.id)  # no claim any more
    [a2] = await claim_all(store)
    await store.finish(a2.id)
    [j] = await store.job_stats()
    assert (j.done, j.pending, j.pages, j.items, j.state) == (2, 0, 1, 5, "done")
    assert await store.pending_count() == 0


async def test_fail_keeps_the_error_for_status(store: Store) -> None:
    await store.enqueue([new("a"), new("b", job="other")])
    tasks = {t.key: t for t in await claim_all(store)}
    await store.fail(tasks["a"].id, "403 client-not-enrolled")
    [j, other] = await store.job_stats()
    assert (j.job, j.failed, j.claimed, j.last_error, j.state) == (
        "j",
        1,
        0,
        "403 client-not-enrolled",
        "failed",
    )
    assert (other.failed, other.last_error) == (0, None)
    assert await store.pending_count() == 1
    with pytest.raises(ClaimLost):
        await store.fail(tasks["a"].id, "again")


async def test_release_and_fail_need_a_claim(store: Store) -> None:
    await store.enqueue([new("a")])
    [task] = await claim_all(store)
    await store.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=0))
    with pytest.raises(ClaimLost):
        await store.release(task.id, not_before=NOW, error="late")
    with pytest.raises(ClaimLost):
        await store.fail(task.id, "late")
    [j] = await store.job_stats()
    assert (j.done, j.last_error) == (1, None)


async def test_recover_returns_claims_to_pending(store: Store) -> None:
    await store.enqueue([new(str(i)) for i in range(5)])
    claimed = await store.claim("w", NOW, LEASE, limit=3)
    await store.commit_page(PageCommit(task_id=claimed[0].id, next_cursor=None, items=1))
    assert await store.recover() == 2
    assert await store.recover() == 0
    with pytest.raises(ClaimLost):  # the dead worker's late commit
        await store.commit_page(PageCommit(task_id=claimed[1].id, next_cursor=None, items=1))
    again = await claim_all(store)
    assert sorted(t.key for t in again) == ["1", "2", "3", "4"]


async def test_job_stats_figures(store: Store) -> None:
    await store.enqueue([new(str(i), job="a") for i in range(4)] + [new("x", job="b")])
    tasks = await store.claim("w", NOW, LEASE, limit=3)  # a/0, a/1, a/2
    await store.commit_page(PageCommit(task_id=tasks[0].id, next_cursor=None, items=10))
    await store.commit_page(PageCommit(task_id=tasks[1].id, next_cursor="n", items=7))
    await store.fail(tasks[2].id, "boom")
    a, b = await store.job_stats()
    assert (a.job, a.tasks, a.pending, a.claimed, a.done, a.failed, a.pages, a.items) == (
        "a",
        4,
        2,
        0,
        1,
        1,
        2,
        17,
    )
    assert (a.last_error, a.state) == ("boom", "running")
    assert (b.job, b.tasks, b.pending, b.pages, b.state) == ("b", 1, 1, 0, "queued")
    assert await store.pending_count() == 3


async def test_offsets_are_per_job_and_never_move_back(store: Store) -> None:
    await store.enqueue([new("a", job="x"), new("b", job="x"), new("c", job="y")])
    a, b, c = await claim_all(store)
    # Two pages of x were appended (a at 100, then b at 250) but b's commit arrives first.
    await store.commit_page(
        PageCommit(task_id=b.id, next_cursor=None, items=1, output_job="x", output_offset=250)
    )
    await store.commit_page(
        PageCommit(task_id=a.id, next_cursor=None, items=1, output_job="x", output_offset=100)
    )
    await store.commit_page(
        PageCommit(task_id=c.id, next_cursor=None, items=1, output_job="y", output_offset=40)
    )
    assert await store.output_offsets() == {"x": 250, "y": 40}


async def test_concurrent_workers_never_get_the_same_task(store: Store) -> None:
    total = 2000
    await store.enqueue([new(f"t{i}", priority=i % 4) for i in range(total)])
    seen: list[int] = []
    rng = random.Random(7)

    async def worker(name: str) -> None:
        while tasks := await store.claim(name, NOW, LEASE, limit=rng.randint(1, 4)):
            for task in tasks:
                seen.append(task.id)
                await asyncio.sleep(0)
                await store.commit_page(PageCommit(task_id=task.id, next_cursor=None, items=1))

    async with asyncio.TaskGroup() as group:
        for w in range(8):
            group.create_task(worker(f"w{w}"))
    assert len(seen) == total
    assert len(set(seen)) == total
    [j] = await store.job_stats()
    assert (j.done, j.items, j.pending, j.claimed) == (total, total, 0, 0)


async def test_reopening_keeps_everything(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    await first.enqueue([new("a"), new("b", priority=1), new("c", not_before=NOW + 50)])
    b, a = await first.claim("w", NOW, LEASE, limit=2)
    await first.commit_page(
        PageCommit(task_id=b.id, next_cursor="cur", items=4, output_job="j", output_offset=77)
    )
    await first.release(a.id, not_before=NOW + 10, error="timeout")
    await first.close()

    second = backend.make()
    await second.open()
    try:
        assert await second.output_offsets() == {"j": 77}
        assert await second.next_due() == 0.0  # "b", committed with a next cursor
        [j] = await second.job_stats()
        assert (j.tasks, j.pending, j.pages, j.items, j.last_error) == (3, 3, 1, 4, "timeout")
        tasks = await second.claim("w", NOW + 60, LEASE, limit=5)
        assert [(t.key, t.cursor, t.attempts) for t in tasks] == [
            ("b", "cur", 0),
            ("a", None, 1),
            ("c", None, 0),
        ]
        assert await second.enqueue([new("a")]) == 0
    finally:
        await second.close()


# -- failures, retry, generations, forget (issue 14) ------------------------------------------------


async def test_a_failure_keeps_its_class_and_retry_puts_it_back_with_its_cursor(store: Store) -> None:
    await store.enqueue([new("a"), new("b"), new("c")])
    a, b, c = await claim_all(store)
    await store.commit_page(PageCommit(task_id=a.id, next_cursor="c1", items=5, output_job="j", output_offset=50))
    [a] = await claim_all(store)
    await store.fail(a.id, "gave up after 8 attempts: HTTP 503: busy", failure=Failure.SERVER)
    await store.fail(b.id, "HTTP 400: bad query", failure=Failure.INVALID)
    await store.commit_page(PageCommit(task_id=c.id, next_cursor=None, items=1))
    [j] = await store.job_stats()
    assert (j.failed, j.done, j.pending, j.state) == (2, 1, 0, "failed")
    # Only the classes asked for: a rerun puts back the 5xx exhaustion, not the 400.
    assert await store.retry(["j"], failures={Failure.SERVER, Failure.TRANSPORT}, not_before=NOW + 5) == 1
    assert await claim_all(store, now=NOW + 4) == []
    [again] = await claim_all(store, now=NOW + 5)
    assert (again.id, again.cursor, again.pages, again.items, again.attempts) == (a.id, "c1", 1, 5, 0)
    await store.release(again.id, not_before=NOW, error=None)
    [j] = await store.job_stats()
    assert (j.failed, j.pending, j.state) == (1, 1, "running")
    assert await store.retry(failures={Failure.SERVER}) == 0  # nothing of that class is failed now
    assert await store.retry(["other"]) == 0  # another job's
    assert await store.retry(["j"]) == 1  # any class: the 400 too
    [j] = await store.job_stats()
    assert (j.failed, j.pending) == (0, 2)
    assert sorted(t.key for t in await claim_all(store)) == ["a", "b"]


async def test_retry_can_also_wake_tasks_waiting_out_a_back_off(store: Store) -> None:
    await store.enqueue([new("a"), new("b"), new("x", job="other")])
    a, b, x = await claim_all(store)
    await store.release(a.id, not_before=NOW + 600, error="HTTP 503")
    await store.release(b.id, not_before=NOW + 600, error=None)  # a rate-limit wait: no attempt spent
    await store.release(x.id, not_before=NOW + 600, error="HTTP 503")
    assert await store.retry(["j"]) == 0  # nothing failed
    assert await store.retry(["j"], waiting=True, not_before=NOW) == 1
    [woken] = await claim_all(store)
    assert (woken.key, woken.attempts) == ("a", 0)
    assert await claim_all(store, now=NOW + 599) == []  # b keeps its wait; x is another job's


async def test_a_superseded_task_is_no_failure(store: Store) -> None:
    await store.enqueue([new("a"), new("b")])
    a, b = await claim_all(store)
    await store.fail(b.id, "HTTP 503", failure=Failure.SERVER)
    await store.fail(a.id, "superseded: the job's definition changed", failure=Failure.SUPERSEDED)
    [j] = await store.job_stats()
    assert (j.tasks, j.failed, j.superseded, j.last_error) == (2, 1, 1, "HTTP 503")
    assert await store.retry() == 1  # the failure only; a superseded task never comes back
    [j] = await store.job_stats()
    assert (j.failed, j.superseded, j.pending, j.state) == (0, 1, 1, "queued")
    [only] = await claim_all(store)
    assert only.key == "b"
    await store.commit_page(PageCommit(task_id=only.id, next_cursor=None, items=1))
    [j] = await store.job_stats()
    assert j.state == "done"


async def test_supersede_retires_the_other_generations_pending_and_failed_tasks(store: Store) -> None:
    keys = ["search", "user:1@1795132800", "search~g1", "user:1@1795132800~g1", "ids:0001~g2", "held"]
    await store.enqueue([new(k) for k in keys] + [new("search", job="other")])
    tasks = {t.key: t for t in await claim_all(store) if t.job == "j"}
    await store.fail(tasks["ids:0001~g2"].id, "HTTP 400", failure=Failure.INVALID)
    for key in ("search", "user:1@1795132800", "search~g1", "user:1@1795132800~g1"):
        await store.release(tasks[key].id, not_before=NOW, error=None)
    # "held" (generation 0) stays claimed: its claimer retires it when it sees it.
    assert await store.supersede("j", 1, "superseded: now generation 1") == 3
    assert await store.supersede("j", 1, "superseded: now generation 1") == 0  # idempotent
    [j, other] = await store.job_stats()
    assert (j.superseded, j.failed, j.pending, j.claimed) == (3, 0, 2, 1)
    assert (other.superseded, other.pending) == (0, 0)  # another job's generation 0 is untouched
    assert sorted(t.key for t in await claim_all(store) if t.job == "j") == ["search~g1", "user:1@1795132800~g1"]
    stats_by_gen = {(g.job, g.generation): g for g in await store.generation_stats()}
    g0, g1, g2 = stats_by_gen[("j", 0)], stats_by_gen[("j", 1)], stats_by_gen[("j", 2)]
    assert (g0.tasks, g0.superseded, g0.claimed) == (3, 2, 1)
    assert (g1.tasks, g1.claimed, g1.superseded) == (2, 2, 0)
    assert (g2.tasks, g2.superseded, g2.failed) == (1, 1, 0)
    assert stats_by_gen[("other", 0)].claimed == 1


async def test_generation_stats_add_up_to_the_job_figures(store: Store) -> None:
    await store.enqueue([new("a"), new("b~g1"), new("c~g1")])
    tasks = {t.key: t for t in await claim_all(store)}
    await store.commit_page(PageCommit(task_id=tasks["a"].id, next_cursor=None, items=4))
    await store.commit_page(PageCommit(task_id=tasks["b~g1"].id, next_cursor="n", items=3))
    await store.fail(tasks["c~g1"].id, "HTTP 404", failure=Failure.REFUSED)
    [j] = await store.job_stats()
    gens = await store.generation_stats()
    assert [(g.job, g.generation) for g in gens] == [("j", 0), ("j", 1)]
    for field in ("tasks", "pending", "claimed", "done", "failed", "superseded", "pages", "items"):
        assert sum(getattr(g, field) for g in gens) == getattr(j, field), field
    assert (gens[1].pages, gens[1].items, gens[1].failed, gens[1].pending) == (1, 3, 1, 1)


async def test_forget_drops_the_queue_and_keeps_output_and_ledger(store: Store) -> None:
    await store.enqueue([new("a", job="gone"), new("b", job="gone"), new("a", job="kept")])
    tasks = {(t.job, t.key): t for t in await claim_all(store)}
    await store.commit_page(PageCommit(
        task_id=tasks[("gone", "a")].id, next_cursor=None, items=2, output_job="gone", output_offset=99,
        ledger=({"at": NOW, "run": "r", "job": "gone", "route": "/2/tweets/search/recent", "day": "2023-11-14",
                 "micros": 10_000},)))  # fmt: skip
    await store.fail(tasks[("gone", "b")].id, "HTTP 400", failure=Failure.INVALID)
    for key in ("schedule:gone", "schedule:gone2", "newest:gone:search~g0", "newest:kept:search~g0"):
        await store.put_state(key, {"k": key})
    assert await store.forget("gone", state_keys=["schedule:gone"], state_prefixes=["newest:gone:"]) == 2
    assert [j.job for j in await store.job_stats()] == ["kept"]
    assert await store.output_offsets() == {"gone": 99}  # the file stays as written
    assert [e["job"] for e in await store.ledger_entries(0.0)] == ["gone"]  # money spent stays spent
    assert await store.get_state("schedule:gone") is None
    assert await store.get_state("newest:gone:search~g0") is None
    assert await store.get_state("schedule:gone2") == {"k": "schedule:gone2"}  # a key, not a prefix
    assert await store.get_state("newest:kept:search~g0") == {"k": "newest:kept:search~g0"}
    assert await store.pending_count() == 1
    assert await store.forget("gone") == 0
    # The job may come back: it starts afresh.
    assert await store.enqueue([new("a", job="gone")]) == 1
    [back] = [j for j in await store.job_stats() if j.job == "gone"]
    assert (back.tasks, back.pending, back.failed, back.pages) == (1, 1, 0, 0)


async def test_demand_counts_due_and_claimed_tasks_per_bucket_of_the_given_jobs(store: Store) -> None:
    tl = "/2/users/:id/tweets"
    await store.enqueue([NewTask(job="j", key=k, endpoint=tl) for k in "abc"]
                        + [NewTask(job="j", key="p", endpoint=tl, auth="pool"), new("other", job="x"),
                           NewTask(job="j", key="later", endpoint=tl, not_before=NOW + 999)])  # fmt: skip
    first, _second = await store.claim("w", NOW, 60.0, 2, jobs=["j"])
    await store.commit_page(PageCommit(task_id=first.id, next_cursor=None, items=1))  # done: no longer demand
    assert await store.demand(["j"], NOW) == {(tl, "app"): 2, (tl, "pool"): 1}  # one claimed, one due
    assert await store.demand(["j"], NOW + 1000) == {(tl, "app"): 3, (tl, "pool"): 1}
    assert await store.demand([], NOW) == {}


async def test_commit_stream_writes_outputs_charges_fills_and_position_at_once(store: Store) -> None:
    entry = {"at": NOW, "run": "r", "job": "a", "route": "/2/tweets/search/stream", "day": "2023-11-14",
             "micros": 5000, "reserved": 5000, "keys": [["post", "11"]], "posts": 1}  # fmt: skip
    await store.commit_stream(StreamCommit(outputs={"a": 120, "b": 80}, items={"a": 1, "b": 1}, ledger=(entry,),
                                           spawn=(new("fill:0:1-2", job="a"),), state={"stream:position": {"h": "1"}}))
    await store.commit_stream(StreamCommit(outputs={"a": 200}, state={"stream:position": {"h": "2"}}))
    await store.commit_stream(StreamCommit(outputs={"a": 150}))  # a length never moves back
    assert dict(await store.output_offsets()) == {"a": 200, "b": 80}
    assert [(e["job"], e["micros"], e["posts"]) for e in await store.ledger_entries(NOW - 1)] == [("a", 5000, 1)]
    assert [t.key for t in await claim_all(store)] == ["fill:0:1-2"]
    assert await store.get_state("stream:position") == {"h": "2"}


async def test_cache_prune_forgets_objects_of_earlier_days(store: Store) -> None:
    day = 86_400.0
    await store.cache_put([("post", "s", "1", NOW - day, '{"id":"1"}'), ("post", "s", "2", NOW, '{"id":"2"}'),
                           ("user", "s", "3", NOW - 1, '{"id":"3"}')])  # fmt: skip
    assert await store.cache_prune(NOW - 1) == 1
    assert await store.cache_get("post", "s", ["1", "2"], 0.0) == {"2": '{"id":"2"}'}
    assert await store.cache_prune(NOW - 1) == 0
    assert await store.cache_prune(NOW + 1) == 2
    assert await store.cache_get("user", "s", ["3"], 0.0) == {}


async def test_ledger_compact_drops_earlier_days_ids_and_keeps_their_money(store: Store) -> None:
    day = 86_400.0

    def entry(at: float, keys: list[list[str]]) -> dict[str, object]:
        return {"at": at, "run": "r", "job": "a", "route": "/2/tweets", "day": "d", "micros": 5000 * len(keys),
                "reserved": 0, "keys": keys, "posts": len(keys)}  # fmt: skip

    await store.commit_stream(StreamCommit(ledger=(entry(NOW - day, [["post", "1"], ["post", "2"]]),
                                                   entry(NOW, [["post", "3"]]))))  # fmt: skip
    assert await store.ledger_compact(NOW - 1) == 1
    rows = await store.ledger_entries(NOW - 2 * day)
    assert [(e["micros"], e["posts"], e["keys"]) for e in rows] == [(10000, 2, []), (5000, 1, [["post", "3"]])]
    assert await store.ledger_compact(NOW - 1) == 0  # nothing left to shrink
