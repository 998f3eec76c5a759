"""What the agent frees goes back to the OS (agent.malloc.tune): large buffers when freed, the
heap of a worker thread's work when trimmed; a streamed file's pieces reuse the heap.

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
from agent import malloc
if sys.argv[1] == "fixed":
    assert malloc.tune()

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


# A document parsed and canonicalised on a worker thread (as the XML routes do), then freed and
# the heap trimmed (as MemoryRelease does a moment after a large request): what stays.
THREAD_CHILD = """
import ctypes, gc, sys, threading
from agent import malloc
if sys.argv[1] == "tuned":
    assert malloc.tune()
else:  # the large buffers mapped alone, as the agent had them before: the heaps as glibc's
    assert ctypes.CDLL(None).mallopt(-3, malloc.MMAP_THRESHOLD)
from lxml import etree
from agent.xml.parse import parse_xml

def resident():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024

items = (b"<i n='%d'><a>%d</a><b>x%d</b></i>" % (k, k, k) for k in range(300_000))
document = b"<r>" + b"".join(items) + b"</r>"
before = resident()
made = []

def work():
    made.append(etree.tostring(parse_xml(document), method="c14n"))

worker = threading.Thread(target=work)
worker.start()
worker.join()
made.clear()
gc.collect()
ctypes.CDLL(None).malloc_trim(0)
print(resident() - before)
"""


def retained_after_thread_work(mode: str) -> int:
    """MiB a 12 MB document's tree leaves behind, parsed on a thread, freed and trimmed."""
    done = subprocess.run(
        [sys.executable, "-c", THREAD_CHILD, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_a_worker_threads_heap_goes_back_when_trimmed() -> None:
    assert retained_after_thread_work("threads") >= 30, "glibc's own: the thread's heap keeps it"
    assert retained_after_thread_work("tuned") <= 5


def test_kyso_agent_sets_the_allocator_before_anything_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A thread that has a heap of its own keeps it: the setting must come before any thread.
    from agent import cli, malloc

    calls: list[str] = []
    monkeypatch.setattr(malloc, "tune", lambda: calls.append("tune") or True)
    monkeypatch.setattr(cli, "route_to_log", lambda: calls.append("logging"))
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert calls[:2] == ["tune", "logging"]
