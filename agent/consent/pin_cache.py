"""An optional, policy-controlled PIN cache (off unless IT sets ``pin_cache_minutes``).

Kept per token, for a bounded time, and forgotten when the token is removed, when the
user's session locks, and after any wrong PIN (a cached PIN is never retried). Each use
hands out a fresh :class:`~agent.pin.Pin`, so wiping one use never damages the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.pin import Pin

TokenKey = tuple[str, str, str]
"""(module path, token serial, token label)."""


@dataclass
class _Entry:
    secret: bytes
    expires: float


class PinCache:
    """PINs by token, each until its deadline."""

    def __init__(self, minutes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = minutes * 60.0
        self._clock = clock
        self._entries: dict[TokenKey, _Entry] = {}

    @property
    def enabled(self) -> bool:
        """Whether the policy turned caching on."""
        return self._ttl > 0

    def get(self, token: TokenKey) -> Pin | None:
        """A fresh copy of the cached PIN, or ``None``."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        if self._clock() >= entry.expires:
            del self._entries[token]
            return None
        return Pin(entry.secret.decode("utf-8"))

    def put(self, token: TokenKey, pin: Pin) -> None:
        """Remember a PIN that just logged in successfully."""
        if self.enabled:
            self._entries[token] = _Entry(pin.reveal(), self._clock() + self._ttl)

    def clear(self) -> None:
        """Forget everything (wrong PIN anywhere, session locked)."""
        self._entries.clear()

    def retain(self, present: Iterable[TokenKey]) -> None:
        """Forget the PINs of tokens that are no longer present."""
        keep = set(present)
        for token in [t for t in self._entries if t not in keep]:
            del self._entries[token]

    def __len__(self) -> int:
        return len(self._entries)
