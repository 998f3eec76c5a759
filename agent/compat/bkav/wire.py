"""Calls put back together from the library's pieces, within a size bound.

``BkavCAPlugin.js`` appends ``*end`` to a call and sends it in pieces of exactly
:data:`~agent.compat.bkav.protocol.CHUNK` characters and one last piece that is shorter
(empty when the length is a multiple). So a frame of exactly that length means "more
follows", and any other frame ends the call. Looking for ``*end`` alone would not do: an
argument may begin with ``end`` just after a piece boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from agent.compat.bkav.protocol import CALLBACK, CHUNK, END, SEPARATOR

_TAIL: Final = len(SEPARATOR + CALLBACK + SEPARATOR + END)
"""Characters kept from the end of a call while its middle is dropped."""
_HEAD: Final = 8
"""Characters kept from its start: the function number."""


@dataclass(frozen=True)
class Complete:
    """A whole call."""

    text: str


@dataclass(frozen=True)
class Dropped:
    """A call larger than the bound, read to its end and dropped: only its function number
    and its last characters are kept, to answer it (``head*…*tail``)."""

    head: str
    tail: str
    size: int
    """Characters it had."""

    @property
    def text(self) -> str:
        """What remains of it, as a call: its number, no arguments, its callback word."""
        number = self.head.split(SEPARATOR, 1)[0]
        answered = self.tail.endswith(SEPARATOR + CALLBACK + SEPARATOR + END)
        return SEPARATOR.join((number, *((CALLBACK,) if answered else ()), END))


Assembled = Complete | Dropped


class Reassembler:
    """One socket's call in progress (calls on a socket come one after the other)."""

    def __init__(self, limit: int) -> None:
        """``limit``: the most bytes (UTF-8) one call may have."""
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._head = ""
        self._tail = ""
        self._dropping = False

    @property
    def pending(self) -> bool:
        """A call has begun and not ended."""
        return self._size > 0 or self._dropping

    @property
    def size(self) -> int:
        """Bytes (UTF-8) received of the call in progress: what it holds in memory, at least
        (Python keeps a non-ASCII text at 2 or 4 bytes a character)."""
        return self._size

    def drop(self) -> None:
        """Keep reading the call in progress to its end, without keeping it (no room)."""
        self._parts.clear()
        self._dropping = True

    def reset(self) -> None:
        """Forget the call in progress (the page went silent in its middle)."""
        self._parts.clear()
        self._size = 0
        self._head = self._tail = ""
        self._dropping = False

    def feed(self, frame: str) -> Assembled | None:
        """Take one frame; the call when this frame ends it, else ``None``.

        An empty frame that ends nothing (the library's empty last piece arrives after a
        call whose length is a multiple of :data:`CHUNK`) is ignored.
        """
        if not frame and not self.pending:
            return None
        if not self._head:
            self._head = frame[:_HEAD]
        self._size += len(frame) if frame.isascii() else len(frame.encode("utf-8", "replace"))
        self._tail = (self._tail + frame)[-_TAIL:]
        if self._size > self._limit:
            self.drop()
        if not self._dropping:
            self._parts.append(frame)
        if len(frame) == CHUNK:
            return None
        if self._dropping:
            done: Assembled = Dropped(self._head, self._tail, self._size)
        else:
            done = Complete("".join(self._parts))
        self.reset()
        return done
