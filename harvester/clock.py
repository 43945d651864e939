"""The one place that reads time.

Theory of operation
-------------------
Decisions in ``harvester.core`` take ``now`` as an argument and never read a clock. The shell
(client, workers, daemon, sandbox) reads time through a :class:`Clock`, and the only clock we
ship, :class:`LoopClock`, is built on the running event loop's ``time()``: wall-clock epoch
seconds captured once at start, plus the loop's elapsed time. Everything else that waits
(``asyncio.sleep``, anyio timeouts, aiolimiter, aiohttp timeouts) also runs on the loop's
clock, so all of it moves together.

That is what lets tests, benchmarks and the demo fast-forward: :class:`WarpLoop` is an asyncio
event loop whose ``time()`` runs ``speed`` times faster than real time and, with
``autojump``, jumps straight to the next timer whenever the loop has been idle (no ready I/O,
no ready callbacks) for ``autojump_threshold`` real seconds, like trio's ``MockClock``. A month
of 15-minute windows then passes in seconds, with the sandbox and the harvester sharing one
virtual timeline. Against the real API the loop is a plain asyncio loop and speed is 1.
"""

from __future__ import annotations

import asyncio
import selectors
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """What the shell needs of time: now as epoch seconds, and waiting."""

    def now(self) -> float:
        """Current time, UTC epoch seconds (may be virtual)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Wait until ``now() >= deadline``."""
        ...


class LoopClock:
    """Epoch time derived from the running loop's clock.

    ``epoch`` is the wall-clock time that the loop's current ``time()`` corresponds to; by
    default the real wall clock when the clock is made. The sandbox and the harvester made in
    one loop share their timeline.
    """

    __slots__ = ("_epoch0", "_loop0")

    def __init__(self, epoch: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._loop0 = loop.time()
        self._epoch0 = time.time() if epoch is None else epoch

    def now(self) -> float:
        return self._epoch0 + (asyncio.get_running_loop().time() - self._loop0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - self.now()))

    def __repr__(self) -> str:
        return f"<LoopClock now={self._epoch0:.3f}+loop>"


def wall_time() -> float:
    """The real wall clock, for the few places (file names, CLI defaults) that need it."""
    return time.time()


def simulated_now(epoch: float | None, anchor: float | None, speed: float) -> float:
    """Simulated time now, for a process whose simulated time was ``epoch`` at the real wall
    time ``anchor`` and runs ``speed`` times faster: two processes (a sandbox and a daemon) given
    the same three share one timeline. ``epoch`` None: now; ``anchor`` None: now."""
    real = time.time()
    if epoch is None:
        return real
    return epoch + speed * (real - (real if anchor is None else anchor))


class _WarpSelector(selectors.BaseSelector):
    """Wraps the loop's selector: waits real time scaled down, and jumps when idle."""

    def __init__(self, inner: selectors.BaseSelector, loop: WarpLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        if timeout is None or timeout <= 0:
            return self._inner.select(timeout)
        real = timeout / loop.speed
        if not loop.autojump or real <= loop.autojump_threshold or loop.threads_busy:
            # Work in an executor thread (a SQLite commit, a DNS lookup) is not idleness: its
            # result wakes the loop through the self-pipe, and jumping past it would move the
            # clock while the program is busy (a loaded machine makes such work slow, and the
            # run's virtual timings would then depend on the load).
            return self._inner.select(real)
        started = time.monotonic()
        events = self._inner.select(loop.autojump_threshold)
        if events:
            return events
        # Idle for the threshold: nothing can happen before the next timer, so go there.
        waited = (time.monotonic() - started) * loop.speed
        loop.jump(max(0.0, timeout - waited))
        return []

    def close(self) -> None:
        self._inner.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Any:
        return self._inner.get_map()


class WarpLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock runs ``speed`` x real time and can jump when idle.

    With ``autojump=True`` the loop skips idle waits entirely: a process whose every task is
    waiting on a timer (a rate-limit reset, a poll interval) moves to that timer at once.
    Network I/O still happens in real time, so keep autojump for in-process setups (the
    sandbox in the same loop) or a threshold above the I/O latency.
    """

    def __init__(self, *, speed: float = 1.0, autojump: bool = False, autojump_threshold: float = 0.002):
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self.autojump = autojump
        self.autojump_threshold = autojump_threshold
        self._real0 = time.monotonic()
        self._offset = 0.0
        self._threads_busy = 0
        self._busy_lock = threading.Lock()
        selector = _WarpSelector(selectors.DefaultSelector(), self)
        super().__init__(selector)

    @property
    def threads_busy(self) -> int:
        """Executor calls started and not yet finished: the loop is not idle while any runs."""
        return self._threads_busy

    def run_in_executor(  # type: ignore[override]  # same call shape; TypeVarTuple spelled plainly
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        with self._busy_lock:
            self._threads_busy += 1

        def counted() -> T:
            try:
                return func(*args)
            finally:
                with self._busy_lock:
                    self._threads_busy -= 1

        return super().run_in_executor(executor, counted)

    def time(self) -> float:
        return self._real0 + (time.monotonic() - self._real0) * self.speed + self._offset

    def jump(self, seconds: float) -> None:
        """Move this loop's clock forward by ``seconds`` (never back)."""
        self._offset += max(0.0, seconds)


def run(
    main: Callable[[], Awaitable[T]],
    *,
    speed: float = 1.0,
    autojump: bool = False,
) -> T:
    """Run ``main()`` to completion on a fresh loop (a :class:`WarpLoop` unless plain real time)."""

    def factory() -> asyncio.AbstractEventLoop:
        if speed == 1.0 and not autojump:
            return asyncio.new_event_loop()
        return WarpLoop(speed=speed, autojump=autojump)

    async def wrapper() -> T:
        return await main()

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(wrapper())
