"""glibc's allocator, set for a process that stays resident: what it frees goes back to the OS.

Linux only (elsewhere, and on a C library that is not glibc, these do nothing). :func:`tune` is
called first thing in ``kyso-agent``'s ``main``, before any thread exists; the app calls it
again (idempotent) for agents built without ``main`` (the benches, the tests).
:func:`malloc_trim` is what :class:`~agent.server.middlewares.MemoryRelease` calls a moment
after a large request.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Final

MMAP_THRESHOLD: Final = 4 * 1024 * 1024
"""Buffers at least this large are mapped on their own and unmapped when freed; smaller ones
come from the heap, which keeps and reuses them."""
ARENA_MAX: Final = 1
"""Heaps (glibc "arenas") that all the process's threads share."""
TRIM_THRESHOLD: Final = 64 * 1024 * 1024
"""Free memory at the heap's top that glibc keeps rather than hands back the moment it is
freed; :func:`malloc_trim`, a moment after a large request, hands it back."""
_M_TRIM_THRESHOLD: Final = -1
"""``mallopt``'s parameter number for the trim threshold (glibc's malloc.h)."""
_M_MMAP_THRESHOLD: Final = -3
"""``mallopt``'s parameter number for the mmap threshold (glibc's malloc.h)."""
_M_ARENA_MAX: Final = -8
"""``mallopt``'s parameter number for the most arenas (glibc's malloc.h)."""


def _glibc(name: str) -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):  # not glibc (musl has neither mallopt nor malloc_trim)
        return None
    return function


def tune() -> bool:
    """One heap for every thread, kept between requests and trimmed after them, and every
    allocation of :data:`MMAP_THRESHOLD` or more mapped on its own; ``False`` where there is
    no glibc.

    **One heap.** glibc gives threads heaps of their own (up to eight per CPU), and
    ``malloc_trim`` does not hand back the top of those: a 12 MB XML document parsed on a worker
    thread left 60 MB with the agent after it was freed and trimmed, a 50 MB e-invoice signed
    through ``/v1/xml/sign`` 51 MB, for the agent's whole life (``tests/unit/test_malloc.py``,
    docs/performance.md). In the main heap they go back. The threads that allocate at the same
    time are few (the event loop, a worker thread, the audit's) and take turns for the
    interpreter lock anyway. Set before any thread starts: a thread that has a heap keeps it.

    **Kept between requests.** The one heap is glibc's main heap, which hands its top back as
    soon as 128 KiB of it are free: a streamed file's pieces then came from fresh pages each
    time, and a 20 MB body in and out of the spool took 113 ms instead of 84 ms
    (``bench/transfer_host.py``; 99.5 ms with a heap per thread). Up to :data:`TRIM_THRESHOLD`
    stays for the next request, and the release a moment after a request of 256 KiB or more
    hands it back (:class:`~agent.server.middlewares.MemoryRelease`).

    **Large buffers mapped.** glibc starts with a 128 KiB threshold, but raises it to the size of
    each mapped block freed, up to 32 MiB: after the first large PDF in JSON, the next one's
    buffers (megabytes each: the body, its base64, the decoded document) come from the heap,
    which fragments and keeps them after ``malloc_trim``. Fixing the threshold (which also ends
    the dynamic adjustment) hands each such buffer back to the OS the moment it is freed: the
    peak of a 20 MB ``/v1/pdf/sign`` went from 397 to 313 MB (docs/performance.md). Fixed at
    4 MiB, not at glibc's starting 128 KiB: a file streamed through the agent passes as pieces
    of 256 KiB to 1 MiB (TLS records joined, the spool's reads, base64 pieces), and mapping
    each of those on its own cost a fresh mapping and its page faults every time, which halved
    the speed of an upload (20 MB: 83 ms instead of 40 ms at the server).
    """
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    done = [
        mallopt(_M_ARENA_MAX, ARENA_MAX),
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
    ]
    return all(done)


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, which returns the heap's free pages to the OS; ``None`` where
    there is none."""
    return _glibc("malloc_trim")
