"""The rate-limit engine: buckets that take time, headers and outcomes and return decisions.

Theory of operation
-------------------
A *bucket* is the server's counter for one (route template, auth context) pair: a per-app bucket
for the Bearer token, a per-user bucket for each user token (x-api-spec.md §3.1, §7). The server
allows ``limit`` requests per window; its window opens at the first request and ends at
``x-rate-limit-reset``. Windows are mostly 15 minutes on X, but some routes have 24-hour, 3-hour
or 1-second windows, and X-like servers use others: the configured length
(``[limits] window_seconds``) is only a *prior*. Each bucket learns its own window from its
headers: ``reset`` minus the server-time grant of the first request seen in that window (the
window opens at its first request), refined upwards by later samples of the same window and
replaced by the next window's. Some buckets also have a 24-hour window
(``x-*-limit-24hour-*``), and full-archive search has a hidden 1 request/second limiter.

A worker asks :meth:`Bucket.reserve` before sending. The answer is a :class:`Send` carrying a
:class:`Ticket`, or :class:`WaitUntil` ``t`` with a reason. A granted ticket is *in flight* and
counts against what is left at once, so N workers together never send more than the bucket
allows. The worker then settles it: :meth:`Bucket.observe` with the response's headers (or
none: a timeout or a connection dropped mid-body may have reached the server, so it counts), or
:meth:`Bucket.cancel` only when the request surely never left (a connect error before sending).

Three ledgers bound a grant; the strictest wins.

1. *The window, from headers.* Headers are authoritative. ``remaining`` counts *settled* requests
   only, so what may still go out is ``remaining - in_flight``. In the same window (same
   ``reset``) a response can only lower the figure: we keep ``min(our count - 1, header)``, so an
   older response arriving late never hands back requests. A later ``reset`` means a new window
   began: we take its figures. The newest answer describes the bucket: a response to a request
   granted later than the one behind the current claim replaces it even when it names an
   *earlier* reset or a smaller limit (the server changed its mind, e.g. shortened its
   windows), while a late answer to an older request never overrides a newer claim. A response
   without headers keeps our own count going.
2. *The sliding guard.* Every grant is logged. At most ``limit`` grants may fall within any span
   of ``window + max_latency`` seconds, not counting grants that a header proved belong to a
   window which has surely ended. This is what holds when the window is unknown: before the
   first response (a fresh window with the prior limit is assumed), after a reset passes with no
   fresh headers, and around resets when responses arrive out of order or without headers. It
   never assumes more than one window's limit is available. Why it is safe: a server window is
   ``window`` long, and a request reaches the server within ``max_latency`` of its grant, so
   every request that lands in one server window was granted within one such span
   (``tests/core/test_ratelimit_property.py`` checks this against a simulated server).
3. *The 24-hour buckets*, tracked like the window once their headers are seen.

Then come the spacing rules: the per-second limiter (a minimum gap between grants) and pacing.
``spread`` spreads what is left evenly up to the reset: the next grant may start at the earliest
``t`` with ``t - last >= (reset - t) / available``, i.e. ``(available*last + reset) /
(available + 1)``; ``burst`` sends at once while anything is left. :meth:`Bucket.interval`
exposes the spread interval for an aiolimiter. The ``t`` of a :class:`WaitUntil` is exact: if
nothing else happens, reserving at ``t`` grants, so the shell may simply sleep until it.

*Skew.* ``reset`` is server time. The server's ``Date`` header (whole seconds, stamped after the
request arrived) gives samples of ``local - server`` that are never below the true offset, so the
smallest recent sample (:class:`ServerClock`) turns a reset into a local time that is never
early. Without any ``Date`` a zero offset is assumed for the window ledger, and the sliding guard
(which only uses durations) stops excluding proven-old grants.

*429s.* ``core.classify`` says which limit a 429 hit, and the bucket obeys it: a window 429
(``remaining`` 0) empties the window until its reset (and holds the bucket at least a second);
one with no headers empties a known window, or holds the bucket ``blind_429_hold`` seconds; a
24-hour 429 leaves that bucket at 0 until its reset; a per-second 429 (``remaining`` > 0, no
cap body, on any route) widens the gap kept between grants, doubling while it keeps refusing.
A 429 is a wait, never a failure. Two 429s in one window are a sign that our model of the
bucket is wrong, and repeated 429s get apps denylisted (x-api-rate-limits.txt "Denylist"), so
the bucket stops itself for the rest of that window; a 429 to a request already in flight when
the first one arrived is not counted as a repeat.

Rules this package owns: everything about when a request may be sent on a bucket. What a response
means for the *job* (usage cap, credits, fatal errors) is ``core.classify``'s; retry delays are
``core.backoff``'s. Nothing here sleeps, reads a clock, logs or does I/O.
"""

from __future__ import annotations

from harvester.core.ratelimit.bucket import RESET_JITTER, Bucket
from harvester.core.ratelimit.decisions import (
    BucketFigures,
    Decision,
    LimitKind,
    Pacing,
    Send,
    Ticket,
    WaitReason,
    WaitUntil,
)
from harvester.core.ratelimit.limits import RateLimits
from harvester.core.ratelimit.server_clock import ServerClock

__all__ = [
    "RESET_JITTER",
    "Bucket",
    "BucketFigures",
    "Decision",
    "LimitKind",
    "Pacing",
    "RateLimits",
    "Send",
    "ServerClock",
    "Ticket",
    "WaitReason",
    "WaitUntil",
]
