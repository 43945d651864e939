"""One request's whole life as a sans-I/O machine: admit, (the shell sends), settle.

Theory of operation
-------------------
h11's ``Connection`` is the model: the machine takes events (``now``, the task, the response's
status, headers and body) and returns decisions and effects as frozen values; it never sleeps,
opens a socket or reads a clock. The shell (``runtime/worker.py``) is a short driver loop that
carries the values out: release, fail or commit the task, persist ledger rows, log events.

``admit(task, request, now)`` answers, in the one order that is safe, each later refusal handing
back what an earlier one granted:

1. the monthly Post cap (``core.cap``): the server's count decides; an estimate at the cap asks
   for a read of ``/2/usage/tweets`` (:class:`CheckUsage`) before anything parks, and a request
   that does not fit whole is cut to the room left;
2. the rate-limit bucket (``core.ratelimit``), or the pool member that can send soonest;
3. money (``core.budget``): the worst case must fit every limit, else shrink, wait or stop.

The answer is :class:`Go` (a :class:`Permit`), :class:`Park` (give the task back until a time),
:class:`Stop` (a money limit: the run ends cleanly), :class:`CheckUsage` or :class:`Reject` (the
job's own parameters were refused earlier in the run).

``settle(permit, outcome, task, now)`` classifies the answer before anything is done
(``core.classify``) and returns a :class:`Settlement`: the verdict (commit the page, retry,
wait, fail, halt the run, or resend with a known rename), the ledger rows to persist and the
shared holds they end, and log events. The rules it applies:

- Every 429 is a wait, never a failure: it does not spend an attempt; the bucket obeys the
  reset it was given (or a back-off) and counts it toward the two-429s-per-window guard. A
  ``usage-capped`` 429 parks capped work until the period ends (one request, no retry).
- A 401 halts the run after the first one, naming the credentials' environment variable, and
  leaves every task pending (fix the token, run again).
- A 402 halts the run (credits depleted). 5xx, timeouts, dropped connections and malformed 200s
  retry with back-off until ``max_attempts``; a request that may have been billed without a
  usable answer is charged at its worst case.
- A 400 that refuses a name the server knows by another (OpenAPI 2.166 vs 2.167,
  ``core.renames``) is resent once with the rename, remembered for the route for the rest of the
  run; any other 400 naming an invalid value fails the job at once, naming the job, the key and
  the server's list.
- A 200 is parsed once into a :class:`~harvester.core.page.Page`, interpreted
  (``core.plan``), priced and counted toward the cap.
"""

from harvester.core.request.machine import APP, USAGE, RequestMachine
from harvester.core.request.values import (
    Admission,
    Answer,
    AuthInfo,
    Cause,
    CheckUsage,
    Commit,
    Event,
    Fail,
    Finish,
    Go,
    Halt,
    Lost,
    Outcome,
    Park,
    Permit,
    Reject,
    Resend,
    Retry,
    Settlement,
    Stop,
    StopCause,
    Verdict,
    Wait,
)

__all__ = [
    "APP", "USAGE", "Admission", "Answer", "AuthInfo", "Cause", "CheckUsage", "Commit", "Event", "Fail",
    "Finish", "Go", "Halt", "Lost", "Outcome", "Park", "Permit", "Reject", "RequestMachine", "Resend", "Retry",
    "Settlement", "Stop", "StopCause", "Verdict", "Wait",
]  # fmt: skip
