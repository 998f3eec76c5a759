"""One question on screen at a time, and a bounded line of callers behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agent.errors import Busy


class PromptGate:
    """Serialises prompts; refuses with :class:`Busy` once ``max_waiting`` callers queue."""

    def __init__(self, max_waiting: int = 16) -> None:
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._max_waiting = max_waiting

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for this caller's turn to ask the user."""
        if self._lock.locked() and self._waiting >= self._max_waiting:
            raise Busy(f"{self._waiting} requests already wait for the user")
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()
