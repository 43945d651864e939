"""``/metrics`` and ``/status`` of a daemon in-process, checked against the store and the sandbox."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from prometheus_client.parser import text_string_to_metric_families

from harvester.testing import make_config, read_pages, run_virtual, sandbox_daemon

ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def total(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(v for _, v in metrics.get(name, []))


def sandbox_route(canonical: str) -> str:
    return canonical.replace("{id}", ":id").replace("{username}", ":username")


def test_metrics_and_status_match_the_store_and_the_sandbox(tmp_path: Path) -> None:
    config = make_config(tmp_path, workers=4)

    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with (sandbox_daemon(config, [ROOT / "jobs"]) as (daemon, sb, results),
                    aiohttp.ClientSession() as http):  # fmt: skip
            assert daemon.monitor is not None and daemon.rt is not None
            base = f"http://127.0.0.1:{daemon.monitor.port}"

            async def scrape() -> tuple[dict[str, list[tuple[dict[str, str], float]]], dict[str, Any]]:
                async with http.get(f"{base}/metrics") as r:
                    assert r.status == 200
                    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    metrics = samples(await r.text())
                async with http.get(f"{base}/status") as r:
                    assert r.status == 200
                    status = await r.json()
                return metrics, status

            # While the harvest runs: figures move, and never past the store's.
            seen["during"] = []
            for _ in range(200):
                metrics, status = await scrape()
                store_pages = sum(j.pages for j in await daemon.rt.store.job_stats())
                assert total(metrics, "harvester_job_pages") <= store_pages
                seen["during"].append((total(metrics, "harvester_job_pages"),
                                       total(metrics, "harvester_queue_depth")))
                if await daemon.rt.store.pending_count() == 0:
                    break
                await anyio.sleep(0.2)
            # Drained (the daemon stays up): every figure is exact now.
            metrics, status = await scrape()
            seen["metrics"], seen["status"] = metrics, status
            seen["jobs"] = await daemon.rt.store.job_stats()
            seen["depth"] = await daemon.rt.store.pending_count()
            seen["sandbox"] = Counter({(sandbox_route(r), s): n for (r, s), n in sb.stats.requests.items()})
            daemon.stop("test over")
        seen["result"] = results[0]
        return seen

    seen = run_virtual(main)
    metrics, status, jobs = seen["metrics"], seen["status"], seen["jobs"]
    assert any(pages > 0 and depth > 0 for pages, depth in seen["during"]), "no scrape saw the harvest running"

    # The store.
    assert seen["depth"] == 0
    assert total(metrics, "harvester_queue_depth") == 0 == status["queue_depth"]
    by_job = {labels["job"]: v for labels, v in metrics["harvester_job_pages"]}
    assert by_job == {j.job: j.pages for j in jobs}
    assert {labels["job"]: v for labels, v in metrics["harvester_job_items"]} == {j.job: j.items for j in jobs}
    assert {j["job"]: (j["pages"], j["items"], j["state"]) for j in status["jobs"]} == {
        j.job: (j.pages, j.items, j.state) for j in jobs
    }
    for j in jobs:  # one output line per committed page
        assert len(read_pages(config.harvest.output_dir / f"{j.job}.jsonl")) == j.pages
    assert total(metrics, "harvester_pages_total") == sum(j.pages for j in jobs)
    assert total(metrics, "harvester_items_total") == sum(j.items for j in jobs)

    # The sandbox's own counters.
    sandbox: Counter[tuple[str, int]] = seen["sandbox"]
    ours = Counter({(labels["endpoint"], int(labels["status"])): int(v)
                    for labels, v in metrics["harvester_requests_total"]})
    assert ours == sandbox
    assert status["process"]["requests"] == sum(sandbox.values()) == seen["result"].stats.requests
    assert total(metrics, "harvester_rate_limited_total") == sum(n for (_, s), n in sandbox.items() if s == 429)

    # Engines: buckets per (route, auth), money, cap, schedules.
    routes = {labels["route"] for labels, _ in metrics["harvester_bucket_remaining"]}
    assert routes == {r for r, _ in sandbox}
    assert {b["route"] for b in status["buckets"]} == routes
    spend = {labels["period"]: v for labels, v in metrics["harvester_spend_usd"]}
    assert spend["run"] > 0 and spend["run"] == status["budget"]["spent_run_usd"]
    assert total(metrics, "harvester_cap_used_posts") == status["cap"]["used"] > 0
    assert {s["job"] for s in status["schedules"]} == {j.job for j in jobs}
    assert all(s["schedule"] is None and not s["running"] and s["lag"] == 0 for s in status["schedules"])
