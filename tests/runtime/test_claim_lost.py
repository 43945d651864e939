"""A worker whose claim was taken over mid-request (its lease ran out) keeps nothing and goes on.

On a shared store a slow request or a paused process can outlive its lease; another worker then
claims the task and fetches the same page. The first worker's commit is refused (ClaimLost): it
must take its appended bytes back (else the next page's commit would cover them and the page
would be in the file twice), keep the charge (the request was billed), and keep working rather
than take the run down. Simulated here by putting every claim back while the first request is
in flight (``Store.recover``), which is what an expired lease amounts to.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from harvester.api.client import Response
from harvester.jobspec import load_jobs
from harvester.runtime.runtime import Runtime
from harvester.store import open_store
from harvester.testing import data_ids, harvest_sandbox, make_config, read_pages, run_virtual

JOB = """
[[job]]
name = "search"
kind = "search"
query = "bumife"
start_time = "2026-11-15T00:00:00Z"
end_time = "2026-11-17T00:00:00Z"
max_results = 100
"""


def test_a_taken_over_page_is_written_once_and_still_charged(tmp_path: Path) -> None:
    (tmp_path / "jobs.toml").write_text(JOB)
    specs = load_jobs([tmp_path / "jobs.toml"])
    config = make_config(tmp_path, workers=2)
    taken_over: list[str] = []

    def wrap(rt: Runtime) -> None:
        get = rt.client.get

        async def get_and_lose_the_claim(*args: Any, **kwargs: Any) -> Response:
            resp = await get(*args, **kwargs)
            if not taken_over and resp.status == 200 and "search" in str(args[0]):  # not a usage read
                taken_over.append(args[0])
                await rt.store.recover()  # the lease "expired": the task is claimable again
            return resp

        rt.client.get = get_and_lose_the_claim  # type: ignore[method-assign]

    async def main() -> Any:
        result, sb = await harvest_sandbox(config, specs, on_runtime=wrap)
        store = open_store(config.harvest.state)
        await store.open()
        try:
            stored = sum(int(e["micros"]) for e in await store.ledger_entries(0.0))
        finally:
            await store.close()
        truth = set(sb.truth.search("bumife", "2026-11-15T00:00:00Z", "2026-11-17T00:00:00Z"))
        return result, sb, truth, stored

    result, sb, truth, stored = run_virtual(main)
    assert taken_over
    assert result.stats.claims_lost == 1
    assert not result.failed
    pages = read_pages(tmp_path / "out" / "search.jsonl")
    seen = Counter((p["__harvester"]["task"], p["__harvester"]["page"]) for p in pages)
    assert all(n == 1 for n in seen.values()), seen
    ids = data_ids(pages)
    assert len(ids) == len(set(ids))
    assert set(ids) == truth
    assert result.stats.requests == len(pages) + 2  # the usage read, and the page fetched twice
    # The lost page was billed too: the store's ledger keeps its charge (the refetch is free, as
    # X bills a Post once per UTC day), so it is at least what the sandbox billed.
    assert stored == result.machine.run_spent >= sb.ledger.spent_micro
