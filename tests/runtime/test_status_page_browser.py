"""The daemon's status page in a real headless Chromium: it loads cleanly, shows every job of a
running daemon against the sandbox, and its numbers are ``/status``'s.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and playwright's Python package (the test
extra); playwright drives the system browser (``executable_path``), it downloads none. A missing
one fails the test, naming what to install: a browser test that did not run is not a pass.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from harvester.jobspec import load_jobs
from harvester.testing import make_config, run_virtual, sandbox_daemon

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"

SCHEDULED = """
[[job]]
name = "search-daily"
kind = "search"
query = "qiqipa"
schedule = "every 1d"
"""

# Everything the test compares, read from the DOM as the browser built it.
READ_PAGE = """() => {
  const cells = (row) => Object.fromEntries([...row.querySelectorAll('[data-field]')].map(
      el => [el.dataset.field, {text: el.textContent.trim(), value: el.dataset.value ?? null,
                                epoch: el.querySelector('time')?.dataset.epoch ?? null}]));
  const rows = (sel, key) => Object.fromEntries([...document.querySelectorAll(sel)].map(
      r => [r.getAttribute(key), cells(r)]));
  const chart = (key, cls) => [...document.querySelectorAll(`[data-chart="${key}"] .${cls}`)].map(
      el => [el.dataset.day, Number(el.dataset.value)]);
  return {
    now: Number(document.body.dataset.now),
    title: document.title,
    jobs: rows('tr[data-job]', 'data-job'),
    buckets: rows('tr[data-bucket]', 'data-bucket'),
    limits: rows('tr[data-limit]', 'data-limit'),
    charts: {spend: chart('spend', 'bar'), cycle: chart('cycle-spend', 'dot'), posts: chart('cap', 'dot'),
             server: chart('cap', 'point')},
    errors: document.querySelectorAll('tr[data-error]').length,
    countdowns: [...document.querySelectorAll('time[data-countdown]')].map(t => t.textContent),
    external: [...document.querySelectorAll('[src],link[href]')].map(e => e.src || e.href)
      .filter(u => !u.startsWith('data:')),
  };
}"""


def usd(text: str) -> float:
    return float(text.replace("$", "").replace(",", "").replace("of", "").strip())


def count(text: str) -> int | None:
    return None if text == "-" else int(text.replace(",", ""))


def agrees(shown: Any, before: Any, after: Any) -> bool:
    """The page's figure is /status's: equal to it fetched just before or just after the page
    (a figure that moved in between, a bucket refilling, may show either)."""
    return shown in (before, after)


def test_status_page_in_headless_chromium(tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists() or shutil.which("chromium"), \
        "Debian's chromium is missing: apt-get install -y chromium (.ci/run does it)"
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise AssertionError("playwright is missing: pip install -e '.[test]'") from exc
    (tmp_path / "scheduled.toml").write_text(SCHEDULED)
    config = make_config(tmp_path, workers=4)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    shot.unlink(missing_ok=True)

    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {"problems": []}
        async with (sandbox_daemon(config, [ROOT / "jobs", tmp_path / "scheduled.toml"]) as (daemon, _sb, _),
                    aiohttp.ClientSession() as http):  # fmt: skip
            assert daemon.monitor is not None and daemon.rt is not None and daemon.scheduler is not None
            base = f"http://127.0.0.1:{daemon.monitor.port}"
            for _ in range(600):  # the harvest runs on the fast-forwarding clock
                if await daemon.rt.store.pending_count() == 0:
                    break
                await anyio.sleep(0.2)
            assert await daemon.rt.store.pending_count() == 0, "the harvest did not drain"
            # From here the daemon's clock runs in real time: the browser is a real process.
            asyncio.get_running_loop().autojump = False  # type: ignore[attr-defined]

            async def status() -> dict[str, Any]:
                async with http.get(f"{base}/status") as r:
                    return dict(await r.json())

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
                page = await browser.new_page(viewport={"width": 1360, "height": 900})
                page.on("console", lambda m: seen["problems"].append(f"console {m.type}: {m.text}")
                        if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda e: seen["problems"].append(f"page error: {e}"))
                page.on("requestfailed", lambda r: seen["problems"].append(f"request failed: {r.url}"))
                seen["before"] = await status()
                response = await page.goto(f"{base}/", wait_until="load")
                assert response is not None
                seen["http"] = (response.status, response.headers.get("content-type", ""))
                seen["dom"] = await page.evaluate(READ_PAGE)
                seen["after"] = await status()
                await page.wait_for_timeout(1100)  # the countdowns tick without a reload
                seen["ticked"] = await page.evaluate(READ_PAGE.replace("return {", "return {_: 0,"))
                await page.screenshot(path=str(shot), full_page=True)
                await browser.close()
            seen["names"] = set(daemon.scheduler.jobs)
            daemon.stop("test over")
        return seen

    seen = run_virtual(main)
    dom, before, after = seen["dom"], seen["before"], seen["after"]
    assert seen["http"][0] == 200 and seen["http"][1].startswith("text/html")
    assert seen["problems"] == [], seen["problems"]
    assert dom["external"] == [] and dom["title"] == "harvester status"
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    # Every job of the daemon, each with /status's figures.
    assert set(dom["jobs"]) == seen["names"] == {j["job"] for j in after["jobs"]} and len(seen["names"]) == len(load_jobs([ROOT / "jobs"])) + 1
    b_jobs, a_jobs = ({j["job"]: j for j in d["jobs"]} for d in (before, after))
    for name, cells in dom["jobs"].items():
        for field in ("pages", "items", "done", "tasks", "failed"):
            assert agrees(count(cells[field]["text"]), b_jobs[name][field], a_jobs[name][field]), (name, field)
        assert agrees(cells["state"]["text"], before["waits"][name]["state"], after["waits"][name]["state"])
        assert agrees(cells["reason"]["text"], before["waits"][name]["reason"], after["waits"][name]["reason"])
        view = {s["job"]: s for s in after["schedules"]}[name]
        lag = float(cells["lag"]["value"])
        assert abs(lag - view["lag"]) <= abs(after["now"] - dom["now"]) + 1e-6
        next_run = cells["next_run"]["epoch"]
        assert (next_run is None) == (view["next_slot"] is None)
        if next_run is not None:
            assert float(next_run) == view["next_slot"]
    assert a_jobs["search-daily"]["pages"] > 0 and after["waits"]["search-daily"]["state"] == "scheduled"
    assert dom["jobs"]["search-daily"]["reason"]["text"].startswith("next run at ")
    assert sum(count(c["pages"]["text"]) or 0 for c in dom["jobs"].values()) > 20

    # Every bucket, with /status's limit, remaining, reset, learned window and 429s.
    keys = {f'{b["route"]} {b["auth"]}' for b in after["buckets"]}
    assert set(dom["buckets"]) == keys and len(keys) >= 4
    b_buckets, a_buckets = ({f'{b["route"]} {b["auth"]}': b for b in d["buckets"]} for d in (before, after))
    for key, cells in dom["buckets"].items():
        for field in ("limit", "remaining", "available", "sent", "rejected"):
            assert agrees(count(cells[field]["text"]), b_buckets[key][field], a_buckets[key][field]), (key, field)
        reset = cells["reset"]["epoch"]
        assert agrees(None if reset is None else float(reset), b_buckets[key]["reset"], a_buckets[key]["reset"])
        assert float(cells["window"]["value"]) == a_buckets[key]["window"]

    # Spend against each limit, and the cap with both counts.
    money = after["budget"]
    assert abs(usd(dom["limits"]["run"]["spent"]["text"]) - money["spent_run_usd"]) < 0.0005
    assert abs(usd(dom["limits"]["cycle"]["spent"]["text"]) - money["spent_cycle_usd"]) < 0.0005
    assert abs(usd(dom["limits"]["today"]["spent"]["text"]) - money["spent_today_usd"]) < 0.0005
    assert money["spent_cycle_usd"] > 0
    cap = after["cap"]
    assert count(dom["limits"]["cap"]["used"]["text"]) == cap["used"] > 0
    assert count(dom["limits"]["cap"]["local"]["text"]) == cap["local"]
    assert count(dom["limits"]["cap"]["server_used"]["text"]) == cap["server_used"] is not None
    assert dom["limits"]["cap"]["cap"]["text"] == f'of {cap["cap"]:,} Posts'

    # The 30-day charts plot /status's history, day by day.
    history = after["history"]
    assert len(history) == 30 and history[-1]["spend_usd"] > 0
    assert dom["charts"]["spend"] == [[d["day"], d["spend_usd"]] for d in history]
    assert dom["charts"]["cycle"] == [[d["day"], d["cycle_spend_usd"]] for d in history]
    assert dom["charts"]["posts"] == [[d["day"], d["cycle_posts"]] for d in history]
    assert dom["charts"]["server"] == [[d["day"], d["server_posts"]] for d in history if d["server_posts"] is not None]
    assert dom["charts"]["server"][-1][1] == cap["server_used"]
    assert dom["errors"] == len(after["errors"])

    # The countdowns tick in the browser between reloads.
    countdown = re.compile(r"in (\d+d \d\dh|(\d+h )?(\d+m )?\d\ds)|now")
    assert dom["countdowns"] and all(countdown.fullmatch(c) for c in dom["countdowns"]), dom["countdowns"]
    assert seen["ticked"]["countdowns"] != dom["countdowns"]
