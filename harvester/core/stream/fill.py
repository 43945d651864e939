"""The recent-search tasks that fill a gap the stream cannot backfill.

One task per rule of each stream job: the rule's value as the query, the gap's id range as
``since_id``/``until_id``, the job's fields; pages go to the job's output like a search job's.
A rule longer than recent search's 512 characters cannot be searched: its gap stays (the shell
warns).
"""

from __future__ import annotations

from collections.abc import Sequence

from harvester.core.endpoints import FIELD_KEYS, KIND_ENDPOINT, endpoint
from harvester.core.model import JobSpec, NewTask

FILL_PRIORITY = 100  # a gap's Posts are still in the 7-day window: fetch them before other work


def fill_tasks(specs: Sequence[JobSpec], since_id: int, until_id: int) -> tuple[list[NewTask], list[str]]:
    """The fill tasks of every stream job in ``specs``, and one warning per rule that cannot be
    searched."""
    route = KIND_ENDPOINT["search"]
    ep = endpoint(route)
    limit = ep.max_query_len or 512
    tasks: list[NewTask] = []
    warnings: list[str] = []
    for spec in specs:
        if spec.kind != "stream":
            continue
        fields = {param: ",".join(getattr(spec, key)) for key, param in FIELD_KEYS.items() if getattr(spec, key)}
        for n, rule in enumerate(spec.extra.get("rules", ())):
            value = str(rule["value"])
            if len(value) > limit:
                warnings.append(f"job {spec.name}: rule {n + 1} is longer than {limit} characters; recent search "
                                f"cannot fill its gap")  # fmt: skip
                continue
            params = {"query": value, "since_id": str(since_id), "until_id": str(until_id),
                      "max_results": str(ep.max_results), **fields}  # fmt: skip
            tasks.append(NewTask(job=spec.name, key=f"fill:{n}:{since_id}-{until_id}", endpoint=route,
                                 params=params, priority=FILL_PRIORITY, auth="app"))  # fmt: skip
    return tasks, warnings
