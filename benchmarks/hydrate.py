"""Hydration from a file: peak RSS while 1,000,000 ids are validated and queued.

Run by hand (``python benchmarks/hydrate.py [--ids 1000000]``); it prints figures, it asserts
nothing. It writes a file of N post ids (one a line, with a comment line), then measures, each in
a fresh process (peak RSS is per process):

- **streamed** (what harvester does): ``load_jobs`` checks the file end to end line by line, and
  the tasks of ``iter_run_tasks`` (100 ids each) are enqueued into an SQLite store in batches of
  ``ENQUEUE_BATCH``, as ``harvester run``/``hydrate`` do;
- **baseline** (the naive way): the ids read into a list first, the job built with them inline
  (``tweet_ids``), all tasks planned into a list, then enqueued at once.

Target (issue 16): peak RSS under 200 MB while queueing.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python benchmarks/hydrate.py``, this folder is sys.path[0] and its ``queue.py`` would
# shadow the stdlib ``queue`` (multiprocessing imports it): drop the folder first.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import multiprocessing
import resource
import tempfile
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


async def _enqueue(state: str, tasks: object) -> int:
    from harvester.store import open_store

    store = open_store(state)
    await store.open()
    try:
        n = 0
        if isinstance(tasks, list):
            n = await store.enqueue(tasks)
        else:
            from harvester.runtime.harvest import ENQUEUE_BATCH

            batch = []
            for t in tasks:  # type: ignore[attr-defined]
                batch.append(t)
                if len(batch) >= ENQUEUE_BATCH:
                    n += await store.enqueue(batch)
                    batch = []
            if batch:
                n += await store.enqueue(batch)
        return n
    finally:
        await store.close()


def _streamed(ids_file: str, work: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from harvester.core.schedule import JobState, definition_digest, iter_run_tasks
    from harvester.inputs import job_inputs
    from harvester.jobspec import load_jobs

    job = Path(work) / "jobs.toml"
    job.write_text(f'[[job]]\nname = "hydrate"\nkind = "lookup_tweets"\ntweet_ids_file = "{ids_file}"\n')
    t0 = time.perf_counter()
    [spec] = load_jobs([job])
    tasks = iter_run_tasks(spec, JobState(digest=definition_digest(spec)), None, inputs=job_inputs(spec))
    n = asyncio.run(_enqueue(str(Path(work) / "streamed.db"), tasks))
    out.put(("streamed", n, time.perf_counter() - t0, _rss_mb()))


def _baseline(ids_file: str, work: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from harvester.core.model import JobSpec
    from harvester.core.plan import plan_job

    t0 = time.perf_counter()
    with open(ids_file) as f:
        ids = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    spec = JobSpec(name="hydrate", kind="lookup_tweets", tweet_ids=tuple(dict.fromkeys(ids)))
    tasks = plan_job(spec)
    n = asyncio.run(_enqueue(str(Path(work) / "baseline.db"), tasks))
    out.put(("baseline", n, time.perf_counter() - t0, _rss_mb()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ids", type=int, default=1_000_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as work:
        ids_file = Path(work) / "ids.txt"
        with ids_file.open("w") as f:
            f.write("# post ids to hydrate\n")
            base = 1_900_000_000_000_000_000
            for i in range(args.ids):
                f.write(f"{base + i * 7919}\n")
        size = ids_file.stat().st_size / 1e6
        print(f"{args.ids:,} ids ({size:.1f} MB file); peak RSS per fresh process (python {sys.version.split()[0]})")
        ctx = multiprocessing.get_context("spawn")
        for target in (_streamed, _baseline):
            q = ctx.Queue()
            proc = ctx.Process(target=target, args=(str(ids_file), work, q))
            proc.start()
            name, n, seconds, rss = q.get()
            proc.join()
            print(f"  {name:9s} {n:>7,} tasks queued in {seconds:6.1f} s, peak RSS {rss:6.1f} MB")


if __name__ == "__main__":
    main()
