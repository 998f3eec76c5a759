"""Large buffers go back to the OS when freed (agent.server.middlewares.map_large_buffers).

glibc raises its mmap threshold to the size of each mapped block freed: after one large PDF,
the next one's multi-megabyte buffers come from the heap, which fragments and keeps them. In a
child process, after one 16 MiB buffer freed, eight 4 MiB buffers grow the heap by 32 MiB;
with the threshold fixed they are mapped on their own (and unmapped when freed), and the heap
does not grow.
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
blocks = [bytearray(4 * 2**20) for _ in range(8)]
print((heap() - before) // 2**20)
"""


def heap_growth(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_with_the_threshold_fixed_megabyte_buffers_never_come_from_the_heap() -> None:
    assert heap_growth("default") >= 30, "glibc's own behaviour: the heap takes them"
    assert heap_growth("fixed") == 0
