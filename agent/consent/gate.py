"""Who may ask the user, and when: one question at a time, bounded queues, cancel back-off.

* One open prompt per origin, and one on the screen overall.
* Each origin may have a few requests waiting behind its open prompt; more are ``BUSY``
  at once, so that a page (or an XSS payload on an allowed portal) cannot queue hundreds
  of dialogs.
* All origins together have a fixed number of places (waiting or on screen); a request past
  it is ``BUSY`` at once. Origins admitted only through a wildcard entry (any number of
  subdomains one site can make up) share a smaller number of those places, so that they can
  never fill the queue ahead of a portal IT named exactly.
* After repeated cancels (or ignored prompts) from one origin, its next prompt waits a
  growing number of seconds. The wait happens after the request was validated and before
  the question appears; it never changes what the answer will be.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from agent.errors import Busy


@dataclass(frozen=True)
class GateLimits:
    """Limits of the prompt gate."""

    waiting_per_origin: int = 4
    """Requests of one origin that may wait behind its open prompt."""
    waiting_total: int = 32
    """Requests of all origins that may be in the gate at once (waiting or on screen)."""
    waiting_wildcard: int = 8
    """Of those, requests of origins admitted only through a wildcard entry, all together."""
    backoff_first: float = 2.0
    """Delay before the next prompt after the second consecutive cancel (seconds)."""
    backoff_max: float = 60.0
    """Largest delay."""


class PromptGate:
    """Serialises prompts and applies the limits."""

    def __init__(
        self,
        limits: GateLimits | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or GateLimits()
        self._screen = asyncio.Lock()
        self._origin_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waiting: defaultdict[str, int] = defaultdict(int)
        self._cancels: defaultdict[str, int] = defaultdict(int)
        self._inside = 0
        self._inside_wildcard = 0
        self._sleep = sleep

    def backoff(self, origin: str) -> float:
        """Seconds the next prompt of ``origin`` waits."""
        cancels = self._cancels.get(origin, 0)
        if cancels < 2:
            return 0.0
        return float(min(self.limits.backoff_first * 2.0 ** (cancels - 2), self.limits.backoff_max))

    def record(self, origin: str, *, declined: bool) -> None:
        """Count a cancel or timeout; an approval clears the count."""
        if declined:
            self._cancels[origin] += 1
        else:
            self._cancels.pop(origin, None)

    @asynccontextmanager
    async def turn(self, origin: str, *, wildcard: bool = False) -> AsyncIterator[None]:
        """Wait for ``origin``'s turn to ask the user; raises :class:`Busy` past the limits.

        ``wildcard``: the origin was admitted only through a wildcard entry.
        """
        lock = self._origin_locks[origin]
        if lock.locked() and self._waiting[origin] >= self.limits.waiting_per_origin:
            raise Busy(f"{self._waiting[origin]} requests of {origin} already wait")
        if self._inside >= self.limits.waiting_total:
            raise Busy("too many requests wait for the user")
        if wildcard and self._inside_wildcard >= self.limits.waiting_wildcard:
            raise Busy("too many requests of wildcard-admitted origins wait for the user")
        # A place is held from here until the question is answered: waiting for the origin's
        # turn, for the back-off, for the screen, and on it.
        self._inside += 1
        self._inside_wildcard += wildcard
        self._waiting[origin] += 1
        try:
            try:
                await lock.acquire()
            finally:
                self._waiting[origin] -= 1
            try:
                delay = self.backoff(origin)
                if delay:
                    await self._sleep(delay)
                async with self._screen:
                    yield
            finally:
                lock.release()
                if not lock.locked() and not self._waiting[origin]:
                    self._origin_locks.pop(origin, None)
                    self._waiting.pop(origin, None)
        finally:
            self._inside -= 1
            self._inside_wildcard -= wildcard
