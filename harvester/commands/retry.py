"""``harvester retry`` and ``harvester forget``: failed work back in the queue, a removed job's queue gone.

``retry [JOB...] [--all] [--failed-only]`` puts the failed tasks of the jobs named (or of every
job, ``--all``) back to pending: attempts reset, cursor kept, so each continues with the page
after its last committed one and never fetches a committed page again. Every class of failure
comes back, including those a plain rerun leaves failed (a 400 on the job's own parameters:
``runtime/definitions.py``). Without ``--failed-only``, tasks waiting out a retry back-off are
made due now as well, their attempts reset. Superseded tasks (an older definition's) never come
back. It writes only rows no process holds, so it needs no lock: a running daemon picks the
tasks up on its next look at the queue.

``forget JOB...`` drops the queue of jobs no longer in the job files: their tasks, counters and
saved generation, poll and newest-id state. Their output files stay as written (the committed
length is kept, so the next start neither cuts nor moves them aside) and their charges stay in
the ledger. A job still in the files is refused: forgetting it would only start it afresh on
the next run. It takes the state lock (no run or daemon may be working on the queue).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harvester.clock import run as run_loop
from harvester.config import Config
from harvester.core.model import JobSpec, JobStats
from harvester.errors import FlagError, UserError
from harvester.runtime.definitions import STATE_PREFIX
from harvester.runtime.lock import state_lock
from harvester.store import open_store, redact_url


def retry_command(config: Config, jobs: Sequence[str], *, every: bool, failed_only: bool) -> int:
    """Put failed tasks back; prints one line per job touched and a total."""
    if every and jobs:
        raise FlagError("--all", f"names no job: give job names or --all, not both (got {', '.join(jobs)})")
    if not every and not jobs:
        raise FlagError("JOB", "name the jobs whose failed tasks to put back, or give --all")

    async def main() -> list[tuple[str, int]]:
        store = open_store(config.harvest.state)
        await store.open()
        try:
            known = await store.job_stats()
            names = [j.job for j in known] if every else list(dict.fromkeys(jobs))
            _require_known(config, names, known)
            return [(name, await store.retry([name], waiting=not failed_only)) for name in names]
        finally:
            await store.close()

    counts = run_loop(main)
    what = "failed tasks" if failed_only else "failed or backing-off tasks"
    for name, n in counts:
        if n:
            print(f"{name}: {n} {what} back in the queue")
    total = sum(n for _, n in counts)
    if total:
        print(f"retry: {total} tasks back in the queue, attempts reset, each continuing after its last "
              "committed page; `harvester run` (or a running daemon) picks them up")
    else:
        print(f"retry: no {what} in {', '.join(n for n, _ in counts) or 'the state'}: nothing to put back")
    return 0


def forget_command(config: Config, jobs: Sequence[str], specs: Sequence[JobSpec]) -> int:
    """Drop the queues of jobs removed from the job files; their output stays."""
    in_files = {s.name: s for s in specs}
    for name in jobs:
        if name in in_files:
            raise UserError(
                f"{in_files[name].source}: job {name!r} is still in the job files; remove it from there first "
                "(forget drops only removed jobs' queues; `harvester retry` puts failed work back)"
            )
    lock = state_lock(config.harvest.state)
    lock.acquire()
    try:
        async def main() -> list[tuple[str, int]]:
            store = open_store(config.harvest.state)
            await store.open()
            try:
                names = list(dict.fromkeys(jobs))
                _require_known(config, names, await store.job_stats())
                return [(name, await store.forget(name, state_keys=[STATE_PREFIX + name],
                                                  state_prefixes=[f"newest:{name}:", f"poll:{name}:"]))
                        for name in names]  # fmt: skip
            finally:
                await store.close()

        dropped = run_loop(main)
    finally:
        lock.release()
    out = Path(config.harvest.output_dir)
    for name, n in dropped:
        print(f"forgot job {name!r}: {n} tasks dropped; its output {out / f'{name}.jsonl'} stays as written")
    return 0


def _require_known(config: Config, names: Sequence[str], known: Sequence[JobStats]) -> None:
    have = {j.job for j in known}
    unknown = [n for n in names if n not in have]
    if unknown:
        listed = ", ".join(sorted(have)) or "none"
        raise UserError(f"{redact_url(config.harvest.state)}: no job {unknown[0]!r} in the state "
                        f"(jobs there: {listed})")


__all__ = ["forget_command", "retry_command"]
