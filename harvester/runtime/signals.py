"""Shared run state the workers coordinate through: the stop flag and the wake-up event.

Workers sleep when nothing is claimable and wake when something may have changed (a page
committed, a task released, a bucket reopened, a stop requested). One ``asyncio.Event`` per
generation keeps that cheap: ``notify`` sets the current event and starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from harvester.core.request import StopCause


@dataclass
class RunSignals:
    """Stop flag and wake-ups shared by every worker of one run."""

    stop: StopCause | None = None
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        """Wake every waiting worker."""
        self._event.set()
        self._event = asyncio.Event()

    def request_stop(self, reason: StopCause) -> None:
        """Stop taking work (first reason wins); in-flight pages still finish and commit."""
        if self.stop is None:
            self.stop = reason
        self.notify()

    async def wait(self, timeout: float | None) -> None:  # noqa: ASYNC109 -- a wake-up or a deadline, both normal
        """Wait for a notification, or ``timeout`` seconds of loop time."""
        event = self._event
        if timeout is not None and timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
