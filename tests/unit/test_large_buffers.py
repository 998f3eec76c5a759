"""Large buffers go back to the OS when freed; a streamed file's pieces reuse the heap
(agent.server.middlewares.map_large_buffers).

glibc raises its mmap threshold to the size of each mapped block freed: after one large PDF,
the next one's multi-megabyte buffers come from the heap, which fragments and keeps them. In a
child process, after one 16 MiB buffer freed, six 6 MiB buffers grow the heap by 36 MiB; with
the threshold fixed they are mapped on their own (and unmapped when freed), and the heap does
not grow. The pieces a file is streamed in (256 KiB to 1 MiB) stay below the fixed threshold:
they come from the heap, which reuses them, instead of costing a new mapping and its page
faults each (which halved the speed of an upload, docs/performance.md).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

CHILD = """
import sys
from agent.server.middlewares import map_large_buffers
if sys.argv[1] == "fixed":
    assert map_large_buffers()

def heap():
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            return end - start
    return 0

first = bytearray(16 * 2**20)
del first  # glibc now takes blocks below 16 MiB from the heap
before = heap()
blocks = [bytearray(int(sys.argv[2]) * 2**20) for _ in range(int(sys.argv[3]))]
print((heap() - before) // 2**20)
"""


def heap_growth(mode: str, mib: int, count: int) -> int:
    """How many MiB the heap grows by for ``count`` buffers of ``mib`` MiB held at once."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(mib), str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_with_the_threshold_fixed_document_sized_buffers_never_come_from_the_heap() -> None:
    assert heap_growth("default", 6, 6) >= 34, "glibc's own behaviour: the heap takes them"
    assert heap_growth("fixed", 6, 6) == 0


def test_the_pieces_of_a_streamed_file_come_from_the_heap() -> None:
    # Sixteen 1 MiB pieces held at once: the heap holds them, as it will the next request's.
    assert heap_growth("fixed", 1, 16) >= 15
