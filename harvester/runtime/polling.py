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
job's ``active_since`` start with a stronger prior (x-api-rate-limits.txt, "Prioritize active
users": four times the rate, worth a week); everyone's rate is then learnt from what they post,
starting with the first (backfill) poll's count over the span it covers (:func:`backfill_exposure`).

*A poll budget* (``poll_budget``, requests per day) replaces the yield target by the square-root
allocation of ``core.policy`` (Rule 5): each source's interval is ``c / sqrt(rate)`` with ``c``
chosen so that the job's sources together poll ``poll_budget`` times a day. That needs every
source's rate, so :class:`PollRates` keeps, per budgeted job, each source's posterior mean (one
float per source, loaded once from the saved states, bounded by the job's sources).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import structlog

from harvester.core.endpoints import ARCHIVE_SEARCH, KIND_ENDPOINT
from harvester.core.model import JobSpec, NewTask, Task
from harvester.core.plan import plan_job
from harvester.core.policy import (
    DAY,
    Policy,
    SourceState,
    budget_scale_mixed,
    budget_stretch,
    prior_from_activity,
)
from harvester.core.schedule import DEFAULT_POLL_INTERVAL, INCREMENTAL, newest_key, run_key, split_key
from harvester.store.base import Store

log = structlog.get_logger(__name__)

DEFAULT_MAX_INTERVAL = 86_400
PRIORITY_SCALE = 1000  # a job's priority always outranks any yield ordering inside it
RECENT_WINDOW = 7 * DAY  # what recent search covers (x-api-spec.md: the last 7 days)
EMPTY_BACKFILL = 7 * DAY  # a timeline with nothing in it: at least a week without a post
TWEPOCH_MS = 1_288_834_974_657  # X's snowflake epoch: an id's creation time is (id >> 22) + this


def snowflake_time(post_id: str) -> float | None:
    """A post id's creation time, epoch seconds (None if it is not a snowflake)."""
    try:
        n = int(post_id)
    except ValueError:
        return None
    return ((n >> 22) + TWEPOCH_MS) / 1000 if n > 0 else None


def backfill_exposure(task: Task, raw: Mapping[str, Any] | None, items: int, now: float) -> float | None:
    """Seconds of posting a first poll's items cover (Rule 6 of ``core.policy``), or None.

    The task's ``start_time`` if it has one; else recent search's seven days (x-api-spec.md,
    "Search defaults"); else back to the oldest post returned (pages are newest first, so the
    last page's last item); else, for a timeline that returned nothing, a week.
    """
    start = task.params.get("start_time")
    if isinstance(start, str):
        try:
            t = datetime.fromisoformat(start).timestamp()
        except ValueError:
            t = now
        if now > t:
            return now - t
    if task.endpoint == KIND_ENDPOINT["search"]:
        return RECENT_WINDOW
    data = raw.get("data") if raw else None
    if items and isinstance(data, list) and data and isinstance(data[-1], dict):
        oldest = snowflake_time(str(data[-1].get("id", "")))
        if oldest is not None and now > oldest:
            return now - oldest
    # Full-archive search's default window is not in x-api-spec.md: an empty one teaches nothing.
    return EMPTY_BACKFILL if items == 0 and task.endpoint != ARCHIVE_SEARCH else None


DAEMON_GROUP = ""  # the budget group of the poll jobs without one of their own


@dataclass
class PollRates:
    """The posterior mean rates (items/second) of the sources sharing a budget, for Rule 5.

    A job with its own ``poll_budget`` is a group of its own; with ``[daemon] poll_budget``
    set, every other poll job's sources share that one (``daemon_budget``). Each group's map
    (source ``"<job> <base key>"`` -> rate) is loaded from the saved states the first time and
    again when its jobs or their generations change. Bounded by the jobs' sources: nothing here
    grows per request.

    *What the group spent* (``spent``): the requests of its polls over the last day (first polls
    aside: a backfill is not steady spending), kept to trim the next allocations
    (:meth:`trim`). Bounded by a day of the budget.
    """

    daemon_budget: float | None = None  # requests per day for the jobs without their own
    groups: dict[str, tuple[tuple[tuple[str, int], ...], dict[str, float]]] = field(default_factory=dict)
    short: set[str] = field(default_factory=set)  # groups already told their budget is below the floor
    spent: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)  # group -> (time, requests)
    metering_since: dict[str, float] = field(default_factory=dict)

    def record(self, group: str, now: float, requests: int) -> None:
        """A poll of ``group`` that ended at ``now`` after ``requests`` requests."""
        self.metering_since.setdefault(group, now)
        log_ = self.spent.setdefault(group, deque())
        log_.append((now, requests))
        while log_ and log_[0][0] <= now - DAY:
            log_.popleft()

    def trim(self, group: str, per_day: float, now: float) -> float:
        """The factor on ``per_day`` the next allocation uses: ``per_day / spent`` over the last
        day, within [0.85, 1.15]; 1.0 before a whole day was metered. The allocation counts
        expected requests; bursts, full pages and posts it did not foresee make the real count
        drift (a month at half the benchmark's budget: +4 %). Proportional, not integral: it
        halves a steady drift (an error ``k`` becomes about ``sqrt(k)``) and cannot wind up."""
        since = self.metering_since.get(group)
        if since is None or now - since < DAY:
            return 1.0
        log_ = self.spent.get(group, deque())
        while log_ and log_[0][0] <= now - DAY:
            log_.popleft()
        used = sum(n for _, n in log_)
        return min(1.15, max(0.85, per_day / used)) if used > 0 else 1.15

    def budget(self, spec: JobSpec, specs: Mapping[str, JobSpec]) -> tuple[str, float, list[JobSpec]] | None:
        """``(group, requests per day, the group's jobs)`` for a poll job, or None (no budget)."""
        own = spec.extra.get("poll_budget")
        if own:
            return spec.name, float(own), [spec]
        if not self.daemon_budget:
            return None
        members = [s for s in specs.values() if s.extra.get("mode") == "poll" and not s.extra.get("poll_budget")]
        if spec.name not in {s.name for s in members}:
            members.append(spec)
        return DAEMON_GROUP, self.daemon_budget, members

    async def rates(
        self, store: Store, group: str, members: list[JobSpec], generations: Mapping[str, int]
    ) -> dict[str, float]:
        """The group's map (sources never polled count at their prior)."""
        signature = tuple(sorted((s.name, generations.get(s.name, 0)) for s in members))
        held = self.groups.get(group)
        if held is not None and held[0] == signature:
            return held[1]
        out: dict[str, float] = {}
        for spec in members:
            policy = policy_for(spec)
            generation = generations.get(spec.name, 0)
            for t in plan_job(spec):
                if t.endpoint not in INCREMENTAL:
                    continue
                saved = await store.get_state(state_key(spec.name, t.key, generation))
                state = SourceState.from_dict(saved) if saved else _prior(policy, spec, t)
                out[f"{spec.name} {t.key}"] = state.mean_rate
        self.groups[group] = (signature, out)
        return out

    def __repr__(self) -> str:
        groups = ", ".join(f"{g or 'daemon'}: {len(m)} sources" for g, (_, m) in self.groups.items())
        return f"<PollRates budget/day={self.daemon_budget} {groups}>"


def _prior(policy: Policy, spec: JobSpec, task: Task | NewTask) -> SourceState:
    user = task.path_params.get("id")
    active = user is not None and user in tuple(spec.extra.get("active_since", ()))
    return prior_from_activity(policy, None, None, active, priority=spec.priority)


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
    store: Store,
    spec: JobSpec,
    task: Task,
    items: int,
    newest_id: str | None,
    now: float,
    *,
    exposure: float | None = None,
    book: PollRates | None = None,
    specs: Mapping[str, JobSpec] | None = None,
    generations: Mapping[str, int] | None = None,
) -> NextPoll:
    """Learn from the poll that just ended and build the next one.

    ``exposure``: a first poll's span (:func:`backfill_exposure`). ``book``: the runtime's
    :class:`PollRates`, needed under a budget, with the jobs (``specs``) and their
    ``generations`` that may share it.
    """
    base, _, generation = split_key(task.key)
    policy = policy_for(spec)
    key = state_key(task.job, base, generation)
    saved = await store.get_state(key)
    before = SourceState.from_dict(saved) if saved else _prior(policy, spec, task)
    state = policy.observe(before, now, items, exposure=exposure)
    budget = book.budget(spec, specs or {spec.name: spec}) if book is not None else None
    if budget is not None and book is not None:
        gens = dict(generations or {})
        gens[spec.name] = generation
        group, per_day, members = budget
        if before.last_poll is not None:  # a steady poll, not a backfill: what it cost counts
            book.record(group, now, task.pages + 1)
        trimmed = (group, per_day * book.trim(group, per_day, now), members)
        policy, scale = await _budget_scale(store, book, trimmed, gens, policy, f"{spec.name} {base}", state.mean_rate,
                                            nominal=per_day)
        rate = policy.budget_rate(before, state, items, now)
        interval = policy.min_interval if state.saturated else policy.budget_interval(rate, scale)
        state = replace(state, interval=interval)
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
        write=task.write, deadline=max(when, now + policy.max_interval),  # the starvation guard
    )
    return NextPoll(task=follow, state=state, key=key)


async def _budget_scale(
    store: Store,
    book: PollRates,
    budget: tuple[str, float, list[JobSpec]],
    generations: Mapping[str, int],
    policy: Policy,
    source: str,
    rate: float,
    *,
    nominal: float,
) -> tuple[Policy, float]:
    """Rule 5's scale for ``source`` (now believed to post ``rate``) and the budget group it
    shares, with its policy; both with ``max_interval`` stretched when the budget is below the
    floor (Rule 5b, said once per group)."""
    group, per_day, members = budget
    rates = await book.rates(store, group, members, generations)
    rates[source] = rate
    policies = {m.name: policy_for(m) for m in members}
    counts: dict[float, int] = {}
    for name in rates:
        hi = policies.get(name.split(" ", 1)[0], policy).max_interval
        counts[hi] = counts.get(hi, 0) + 1
    stretch = budget_stretch([(n, hi) for hi, n in counts.items()], nominal / DAY)  # the budget as set
    if stretch > 1.0:  # Rule 5b: the budget wins over max_interval
        policies = {name: replace(p, max_interval=p.max_interval * stretch) for name, p in policies.items()}
        policy = replace(policy, max_interval=policy.max_interval * stretch)
        if group not in book.short:
            book.short.add(group)
            floor = sum(n * DAY / hi for hi, n in counts.items())
            log.warning("poll_budget_below_floor", budget=group or "[daemon] poll_budget", per_day=nominal,
                        floor_per_day=round(floor, 1), max_interval_stretch=round(stretch, 3),
                        note=f"the budget wins: max_interval is stretched x{stretch:.2f} for these sources, so "
                             "visiting each once costs half the budget; raise the budget or max_interval, or "
                             "poll fewer sources, to keep max_interval")  # fmt: skip
    bounds: dict[tuple[float, float, int], list[float]] = {}
    for name, r in rates.items():
        p = policies.get(name.split(" ", 1)[0], policy)
        bounds.setdefault((p.min_interval, p.max_interval, p.page_size), []).append(r)
    return policy, budget_scale_mixed([(r, *b) for b, r in bounds.items()], per_day / DAY)
