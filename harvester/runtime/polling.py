"""Adaptive polling in the daemon: each source of a ``mode = "poll"`` job schedules itself.

A source is one task's stream: a search, or one user's timeline or mentions. When a poll of a
source ends (its last page commits), ``core.policy`` learns from how many new posts it brought
and says when to poll next; the next poll is spawned *in the same commit* as that last page, as
an incremental task (``since_id`` = the newest post seen) due at that time. So a busy source is
polled sooner (down to ``min_interval``), a silent one backs off towards ``max_interval`` but is
never forgotten, and nothing can be lost between one poll and the next: the follow-up exists
exactly when the poll it follows is committed.

Within a job's priority, sources are ordered by the new posts one request is expected to bring
(``Policy.per_request``), so when quota is short it goes where it yields most. Users named in the
job's ``active_since`` start with a doubled prior rate (x-api-rate-limits.txt, "Prioritize active
users"); everyone's rate is then learnt from what they post.
"""

from __future__ import annotations

from dataclasses import dataclass

from harvester.core.model import JobSpec, NewTask, Task
from harvester.core.policy import Policy, SourceState, prior_from_activity
from harvester.core.schedule import DEFAULT_POLL_INTERVAL, INCREMENTAL, newest_key, run_key, split_key
from harvester.store.base import Store

DEFAULT_MAX_INTERVAL = 86_400
PRIORITY_SCALE = 1000  # a job's priority always outranks any yield ordering inside it


def policy_for(spec: JobSpec) -> Policy:
    """The job's policy: its intervals and page size."""
    lo = float(spec.extra.get("min_interval") or DEFAULT_POLL_INTERVAL)
    hi = float(spec.extra.get("max_interval") or max(DEFAULT_MAX_INTERVAL, lo))
    return Policy(min_interval=lo, max_interval=max(lo, hi), page_size=spec.max_results or 100)


def polls(spec: JobSpec, task: Task) -> bool:
    """Whether finishing ``task`` schedules its source's next poll."""
    return spec.extra.get("mode") == "poll" and task.endpoint in INCREMENTAL and task.write


def state_key(job: str, base: str, generation: int) -> str:
    return f"poll:{job}:{base}~g{generation}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NextPoll:
    """The follow-up task and the source's new state (saved after the commit)."""

    task: NewTask
    state: SourceState
    key: str


async def next_poll(
    store: Store, spec: JobSpec, task: Task, items: int, newest_id: str | None, now: float
) -> NextPoll:
    """Learn from the poll that just ended and build the next one."""
    base, _, generation = split_key(task.key)
    policy = policy_for(spec)
    key = state_key(task.job, base, generation)
    saved = await store.get_state(key)
    if saved:
        state = SourceState.from_dict(saved)
    else:
        user = task.path_params.get("id")
        active = user is not None and user in tuple(spec.extra.get("active_since", ()))
        state = prior_from_activity(policy, None, None, active, priority=spec.priority)
    state = policy.observe(state, now, items)
    when = max(policy.next_poll(state, now), now + policy.min_interval)
    newest = await store.get_state(newest_key(task.job, base, generation))
    candidates = [int(x) for x in (newest, newest_id, task.params.get("since_id")) if x]
    params = dict(task.params)
    if candidates:
        params.pop("start_time", None)
        params["since_id"] = str(max(candidates))
    yield_rank = min(PRIORITY_SCALE - 1, int(policy.per_request(state, when) * 10))
    follow = NewTask(
        job=task.job, key=run_key(base, slot=when, generation=generation), endpoint=task.endpoint,
        path_params=dict(task.path_params), params=params,
        priority=spec.priority * PRIORITY_SCALE + yield_rank, not_before=when, auth=task.auth,
        write=task.write,
    )
    return NextPoll(task=follow, state=state, key=key)
