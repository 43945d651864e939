"""Read ``GET /2/usage/tweets`` into the cap tracker (at start, and every few minutes in a daemon).

The usage endpoint may lag or leave pay-per-use reads out (x-api-spec.md §4), so the tracker
keeps the larger of its own count and the reported one; a failure here is logged and the harvest
goes on with the local count. The request goes through the app's rate-limit bucket like any
other (50 per 15 minutes), and costs nothing.
"""

from __future__ import annotations

from typing import assert_never

import structlog

from harvester.core import classify as cls
from harvester.core import ratelimit
from harvester.errors import TransportError
from harvester.runtime.worker import Runtime

log = structlog.get_logger(__name__)

USAGE = "/2/usage/tweets"


async def poll_usage(rt: Runtime) -> bool:
    """Fold the API's reported Post usage into the cap; True if it was read."""
    gates = rt.gates
    if "app" not in gates.auth.contexts:
        return False
    now = rt.clock.now()
    decision = gates.limits.reserve(USAGE, "app", "app", now)
    match decision:
        case ratelimit.WaitUntil():
            return False
        case ratelimit.Send(ticket=ticket):
            pass
        case _:
            assert_never(decision)
    params = {"usage.fields": "cap_reset_day,project_cap,project_usage"}
    rt.stats.requests += 1
    try:
        resp = await rt.client.get(USAGE, params, gates.auth.contexts["app"], now=now)
    except TransportError as exc:
        gates.limits.observe(ticket, rt.clock.now(), None)
        log.warning("usage_poll_failed", error=str(exc))
        return False
    now = rt.clock.now()
    rt.stats.count_status(USAGE, resp.status)
    gates.limits.observe(ticket, now, resp.headers, resp.status)
    outcome = cls.classify(resp.status, resp.headers, resp.body, USAGE, now)
    data = resp.body.get("data") if isinstance(resp.body, dict) else None
    if not isinstance(outcome, cls.Ok) or not isinstance(data, dict):
        log.warning("usage_poll_failed", status=resp.status)
        return False
    try:
        gates.cap.observe_usage(now, data.get("project_usage", 0), data.get("project_cap", 0),
                                int(data.get("cap_reset_day", 1)))
    except (ValueError, TypeError) as exc:
        log.warning("usage_poll_failed", error=f"malformed usage body: {exc}")
        return False
    log.info("usage_read", project_usage=data.get("project_usage"), project_cap=data.get("project_cap"),
             cap_reset_day=data.get("cap_reset_day"))
    return True
