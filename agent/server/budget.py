"""How many bytes of documents the agent holds at once, for all callers and for each origin.

Request bodies (a PDF in base64 can be 137 MiB) and VGCA downloads are read whole before the
question is asked, and stay in memory until it is answered. Without a bound, a page of an
admitted origin that sends twenty of them at once takes gigabytes before anyone is asked
anything. So each large read first reserves its size here (the declared ``Content-Length``, or
the most it may grow to): past the origin's share or the agent's total it waits for room, in
order of arrival, for at most :attr:`BudgetLimits.wait_seconds`, then gets ``BUSY``. The
reservation is held until the request is answered, since the document stays in memory until
then. A read that could never fit (larger than an origin's share) is ``PAYLOAD_TOO_LARGE``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from agent.errors import Busy, PayloadTooLarge

SMALL: Final = 1024 * 1024
"""Reads up to this size (every ordinary JSON request) are not counted."""


@dataclass(frozen=True)
class BudgetLimits:
    """The agent's bounds on documents held in memory."""

    per_origin: int
    """Bytes one origin's requests may hold at once: room for its largest request."""
    total: int
    """Bytes all requests together may hold at once."""
    wait_seconds: float = 30.0
    """How long a request waits for room before it gets ``BUSY``."""

    @classmethod
    def for_largest(cls, largest: int) -> BudgetLimits:
        """One largest request per origin, two in all."""
        return cls(per_origin=largest, total=2 * largest)


class MemoryBudget:
    """Reservations of bytes, per origin and in total (one instance for the whole agent)."""

    def __init__(self, limits: BudgetLimits) -> None:
        self.limits = limits
        self.held = 0
        """Bytes reserved now, in total."""
        self._by_origin: defaultdict[str, int] = defaultdict(int)
        self._room = asyncio.Condition()

    def _fits(self, origin: str, size: int) -> bool:
        return (
            self.held + size <= self.limits.total
            and self._by_origin[origin] + size <= self.limits.per_origin
        )

    @asynccontextmanager
    async def hold(self, origin: str, size: int) -> AsyncIterator[None]:
        """Reserve ``size`` bytes for ``origin`` while the block runs.

        Raises:
            PayloadTooLarge: ``size`` is more than an origin may ever hold.
            Busy: no room came within :attr:`BudgetLimits.wait_seconds`.
        """
        if size <= SMALL:
            yield
            return
        if size > self.limits.per_origin:
            raise PayloadTooLarge(self.limits.per_origin)
        async with self._room:
            try:
                async with asyncio.timeout(self.limits.wait_seconds):
                    await self._room.wait_for(lambda: self._fits(origin, size))
            except TimeoutError:
                raise Busy(
                    f"{self.held} bytes of documents are already held; {size} more must wait"
                ) from None
            self.held += size
            self._by_origin[origin] += size
        try:
            yield
        finally:
            async with self._room:
                self.held -= size
                self._by_origin[origin] -= size
                if not self._by_origin[origin]:
                    del self._by_origin[origin]
                self._room.notify_all()
