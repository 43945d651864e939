"""The status page: the ``/status`` document as one self-contained HTML page.

Theory of operation
-------------------
:func:`render_page` takes exactly the JSON document ``/status`` serves (``Monitor.document``)
and nothing else, so every figure on the page is one of ``/status``'s: a browser and a script
see the same numbers. It is server-rendered: no JavaScript build, no external file, no request
but the page itself (the favicon is an empty ``data:`` URL). The page reloads itself every
:data:`REFRESH_SECONDS` (``<meta http-equiv="refresh">``), and a few lines of inline script
count the reset and next-run countdowns down between reloads, measured from the snapshot's own
``now`` (the daemon's clock, which a test may run ahead of the browser's).

Every figure sits in an element that says what it is (``data-field``; rows carry ``data-job``
or ``data-bucket``), and every time in a ``<time datetime=… data-epoch=…>``, so tests and
scripts can read the page without parsing prose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from harvester.runtime.statuspage.charts import bars, running_total

REFRESH_SECONDS = 10

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}main{padding:8px 18px 24px}
h2{font-size:15px;margin:18px 0 6px}section{background:#fff;border:1px solid #dde1e6;border-radius:6px;
padding:4px 12px 10px;margin-bottom:12px;overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f3;
white-space:nowrap}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.why{white-space:normal;
max-width:420px}.st{font-weight:600}.st-done{color:#26734d}.st-failed,.st-stopped{color:#b3261e}
.st-waiting,.st-scheduled{color:#8a5a00}.st-fetching{color:#1a56b8}.muted{color:#6b7480}
.charts{display:flex;gap:18px;flex-wrap:wrap}.charts figure{margin:0;width:300px}
.charts figcaption{font-size:12px;color:#4b5563;margin-bottom:2px}svg.chart{width:300px;height:84px;display:block}
.bar{fill:#5b8def}.line{fill:none;stroke:#1a56b8;stroke-width:1.5}.dot{fill:#1a56b8}.point{fill:#d9480f}
.limit{stroke:#b3261e;stroke-dasharray:4 3}.axis{stroke:#c3c9d0}.tick{font-size:9px;fill:#6b7480}
meter{width:160px;vertical-align:middle}.limits td{vertical-align:middle}.warn{color:#b3261e}
"""

SCRIPT = """
(function(){var base=Number(document.body.dataset.now),t0=Date.now();
function p2(n){return String(n).padStart(2,'0');}
function left(s){s=Math.max(0,Math.round(s));var d=Math.floor(s/86400),h=Math.floor(s%86400/3600),
m=Math.floor(s%3600/60),x=s%60;if(d)return d+'d '+p2(h)+'h';
return (h?h+'h '+p2(m)+'m ':m?m+'m ':'')+p2(x)+'s';}
function tick(){var now=base+(Date.now()-t0)/1000;
document.querySelectorAll('time[data-countdown]').forEach(function(el){var d=Number(el.dataset.epoch)-now;
el.textContent=d>0?'in '+left(d):'now';});}
tick();setInterval(tick,1000);})();
"""


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _left(seconds: float) -> str:
    """``12s``, ``4m 05s``, ``3h 07m 05s``, ``11d 04h`` (the script below writes the same)."""
    s = max(0, round(seconds))
    d, h, m, x = s // 86400, s % 86400 // 3600, s % 3600 // 60, s % 60
    if d:
        return f"{d}d {h:02d}h"
    return (f"{h}h {m:02d}m " if h else f"{m}m " if m else "") + f"{x:02d}s"


def when(t: float | None, now: float, field: str) -> str:
    """A countdown to ``t`` (``in 4m 05s``), ticking in the browser; ``-`` when unknown."""
    if t is None:
        return f'<td data-field="{field}" class="muted">-</td>'
    text = f"in {_left(t - now)}" if t > now else "now"
    return (f'<td data-field="{field}"><time datetime="{iso(t)}" data-epoch="{t!r}" data-countdown '
            f'title="{_clock(t)}">{text}</time></td>')


def num(v: float | None, field: str) -> str:
    text = "-" if v is None else f"{v:,}"
    return f'<td class="n" data-field="{field}">{text}</td>'


def usd(v: float | None) -> str:
    return "-" if v is None else f"${v:,.3f}"


def secs(v: float) -> str:
    return _left(v) if v >= 1 or v == 0 else f"{v:.1f}s"


def render_page(doc: Mapping[str, Any]) -> str:
    """The page for one ``/status`` document."""
    now = float(doc["now"])
    stop = doc.get("stop")
    head = (f'<header><h1>harvester</h1><span>as of <time id="now" datetime="{iso(now)}" data-epoch="{now!r}">'
            f'{_clock(now)}</time></span><span data-field="queue_depth">queue depth {doc["queue_depth"]:,}</span>'
            f'<span data-field="process">{"stopping" if doc.get("stopping") else "running"}; this process: '
            f'{doc["process"]["requests"]:,} requests, {doc["process"]["too_many"]:,} 429s, '
            f'{doc["process"]["pages"]:,} pages</span></header>')
    parts = [_jobs(doc, now), _buckets(doc["buckets"], now), _money(doc, now), _errors(doc.get("errors", []), stop)]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}"><title>harvester status</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}</style></head>'
            f'<body data-now="{now!r}">{head}<main>{"".join(parts)}</main><script>{SCRIPT}</script></body></html>\n')


def _jobs(doc: Mapping[str, Any], now: float) -> str:
    stats = {j["job"]: j for j in doc["jobs"]}
    views = {v["job"]: v for v in doc.get("schedules", [])}
    waits = doc.get("waits", {})
    names = sorted(stats.keys() | views.keys())
    rows = []
    for name in names:
        j, v, w = stats.get(name, {}), views.get(name), waits.get(name, {})
        state = w.get("state") or j.get("state", "idle")
        reason = w.get("reason") or ""
        nxt = v.get("next_slot") if v else None
        rows.append(
            f'<tr data-job="{escape(name)}"><td data-field="job">{escape(name)}</td>'
            f'<td data-field="state" class="st st-{escape(state)}">{escape(state)}</td>'
            f'<td data-field="reason" class="why">{escape(reason)}</td>'
            + when(nxt, now, "next_run")
            + num(j.get("pages", 0), "pages") + num(j.get("items", 0), "items")
            + num(j.get("done", 0), "done") + num(j.get("tasks", 0), "tasks") + num(j.get("failed", 0), "failed")
            + (f'<td class="n" data-field="lag" data-value="{v["lag"]!r}">{secs(float(v["lag"]))}</td>' if v
               else '<td class="n muted" data-field="lag">-</td>')
            + f'<td data-field="last_error" class="why">{escape(j.get("last_error") or "")}</td></tr>')
    head = ("<tr><th>job</th><th>state</th><th>why it waits</th><th>next run</th><th class=n>pages</th>"
            "<th class=n>items</th><th class=n>tasks done</th><th class=n>tasks</th><th class=n>failed</th>"
            "<th class=n>lag</th><th>last error</th></tr>")
    body = "".join(rows) or '<tr><td colspan="11" class="muted">no jobs yet</td></tr>'
    return f'<section id="jobs"><h2>Jobs</h2><table><thead>{head}</thead><tbody>{body}</tbody></table></section>'


def _buckets(buckets: Sequence[Mapping[str, Any]], now: float) -> str:
    rows = []
    for b in sorted(buckets, key=lambda b: (b["route"], b["auth"])):
        key = f'{b["route"]} {b["auth"]}'
        window = f'{b["window"]:,.0f}s ' + ("learned" if b["window_learned"] else "prior")
        held = b.get("stopped_until")
        rows.append(
            f'<tr data-bucket="{escape(key)}"><td data-field="route">{escape(b["route"])}</td>'
            f'<td data-field="auth">{escape(b["auth"])}</td>'
            + num(b["limit"], "limit") + num(b["remaining"], "remaining") + num(b["available"], "available")
            + when(b["reset"], now, "reset")
            + f'<td data-field="window" data-value="{b["window"]!r}" data-learned="{str(b["window_learned"]).lower()}">'
            f"{window}</td>"
            + num(b["sent"], "sent") + num(b["rejected"], "rejected")
            + (when(held, now, "stopped_until") if held is not None and held > now
               else '<td data-field="stopped_until" class="muted">-</td>') + "</tr>")
    head = ("<tr><th>route</th><th>auth</th><th class=n>limit</th><th class=n>remaining</th>"
            "<th class=n>available now</th><th>resets</th><th>window</th><th class=n>sent</th>"
            "<th class=n>429s</th><th>held until</th></tr>")
    body = "".join(rows) or '<tr><td colspan="10" class="muted">no requests sent yet</td></tr>'
    return (f'<section id="buckets"><h2>Rate-limit buckets</h2><table><thead>{head}</thead><tbody>{body}</tbody>'
            "</table></section>")


def _limit_row(name: str, field: str, spent: float, limit: float | None, note: str = "") -> str:
    if limit is None:
        return (f'<tr data-limit="{field}"><th>{escape(name)}</th><td data-field="spent">{usd(spent)}</td>'
                f'<td class="muted" data-field="limit">no limit set</td><td></td><td>{escape(note)}</td></tr>')
    pct = 100 * spent / limit if limit else 100.0
    return (f'<tr data-limit="{field}"><th>{escape(name)}</th><td data-field="spent">{usd(spent)}</td>'
            f'<td data-field="limit">of {usd(limit)}</td><td><meter min="0" max="{limit!r}" value="{spent!r}" '
            f'high="{0.8 * limit!r}">{pct:.0f} %</meter> {pct:.0f} %</td><td>{escape(note)}</td></tr>')


def _money(doc: Mapping[str, Any], now: float) -> str:
    m, cap = doc["budget"], doc["cap"]
    run, cycle = m.get("run_budget"), m.get("spending_limit")
    cycle_span = f"cycle {iso(m['cycle_start'])[:10]} to {iso(m['cycle_end'])[:10]}"
    rows = [
        _limit_row("this run", "run", m["spent_run_usd"], run["limit_usd"] if run else None),
        _limit_row("this billing cycle", "cycle", m["spent_cycle_usd"], cycle["limit_usd"] if cycle else None,
                   cycle_span),
        (f'<tr data-limit="today"><th>today (UTC)</th><td data-field="spent">{usd(m["spent_today_usd"])}</td>'
        f"<td></td><td></td><td></td></tr>"),
    ]
    if m.get("balance_usd") is not None:
        rows.append(f'<tr data-limit="balance"><th>prepaid balance</th><td data-field="balance">'
                    f'{usd(m["balance_usd"])}</td><td>projected</td><td></td><td>recharged this cycle '
                    f'{usd(m["recharged_cycle_usd"])}</td></tr>')
    server = "not read yet" if cap["server_used"] is None else f'{cap["server_used"]:,}'
    disagree = ' <span class="warn">(the two disagree by more than 5 %)</span>' if cap.get("disagrees") else ""
    pct = 100 * cap["used"] / cap["cap"] if cap["cap"] else 100.0
    rows.append(
        f'<tr data-limit="cap"><th>monthly Post cap</th><td data-field="used">{cap["used"]:,}</td>'
        f'<td data-field="cap">of {cap["cap"]:,} Posts</td><td><meter min="0" max="{cap["cap"]!r}" '
        f'value="{cap["used"]!r}" high="{0.8 * cap["cap"]!r}">{pct:.0f} %</meter> {pct:.1f} %</td>'
        f'<td>server <span data-field="server_used">{server}</span>, local <span data-field="local">'
        f'{cap["local"]:,}</span>{disagree}; resets <time datetime="{iso(cap["resets_at"])}" '
        f'data-epoch="{cap["resets_at"]!r}" data-countdown>in {_left(cap["resets_at"] - now)}</time></td></tr>')
    for w in m.get("warnings", []):
        rows.append(f'<tr><td colspan="5" class="warn">warning: {escape(str(w.get("message", w)))}</td></tr>')
    return (f'<section id="money"><h2>Spend and the cap</h2><table class="limits"><tbody>{"".join(rows)}</tbody>'
            f"</table>{_charts(doc.get('history', []), m, cap)}</section>")


def _charts(history: Sequence[Mapping[str, Any]], money: Mapping[str, Any], cap: Mapping[str, Any]) -> str:
    if not history:
        return ""
    days = [d["day"] for d in history]
    n = len(days)
    limit = money["spending_limit"]["limit_usd"] if money.get("spending_limit") else None
    figs = [
        ("spend per UTC day", "spend", bars(days, [d["spend_usd"] for d in history], css="spend-day",
                                             label=f"spend per UTC day, last {n} days", show=usd)),
        ("spend this billing cycle" + (f" (limit {usd(limit)})" if limit is not None else ""), "cycle-spend",
         running_total(days, [d["cycle_spend_usd"] for d in history], limit=limit, show=usd, css="cycle-spend",
                       label=f"spend since each billing cycle began, last {n} days")),
        (f"Posts this cycle against the cap of {cap['cap']:,} (line: local count; squares: X's count)", "cap",
         running_total(days, [float(d["cycle_posts"]) for d in history], limit=float(cap["cap"]), css="cap",
                       show=lambda v: f"{v:,.0f} Posts",
                       points=[None if d["server_posts"] is None else float(d["server_posts"]) for d in history],
                       points_label="X counted", label=f"Posts read since each cycle began, last {n} days")),
    ]
    inner = "".join(f'<figure data-chart="{key}"><figcaption>{escape(title)}</figcaption>{svg}</figure>'
                    for title, key, svg in figs)
    return f'<h2>Last {n} days</h2><div class="charts">{inner}</div>'


def _errors(errors: Sequence[Mapping[str, Any]], stop: Mapping[str, Any] | None) -> str:
    parts = []
    if stop:
        resumes = f"; resumes at {_clock(stop['resumes_at'])}" if stop.get("resumes_at") else ""
        parts.append(f'<p class="warn" data-field="stop">run stopping ({escape(str(stop["cause"]))}): '
                     f'{escape(str(stop["message"]))}{resumes}</p>')
    rows = "".join(
        f'<tr data-error><td><time datetime="{iso(e["at"])}" data-epoch="{e["at"]!r}">{_clock(e["at"])}</time></td>'
        f'<td data-field="job">{escape(e["job"])}</td><td data-field="task">{escape(e["task"])}</td>'
        f'<td>{"failed" if e["final"] else "retried"}</td><td class="why" data-field="error">{escape(e["error"])}</td>'
        "</tr>" for e in errors)
    if rows:
        parts.append("<table><thead><tr><th>when</th><th>job</th><th>task</th><th>then</th><th>error</th></tr>"
                     f"</thead><tbody>{rows}</tbody></table>")
    else:
        parts.append('<p class="muted">No errors since this process started.</p>')
    return f'<section id="errors"><h2>Recent errors</h2>{"".join(parts)}</section>'
