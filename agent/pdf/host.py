"""The inside of a PDF worker process: the PDF stack, one session's documents, one pipe.

:class:`~agent.pdf.process.PdfProcesses` starts ``python -m agent.pdf.host LOG_LEVEL
AGENT_PID`` and sends it :mod:`agent.pdf.calls` requests, one at a time. A signing request
needs one signature from the token: the child asks the agent for it (:class:`NeedSignature`)
and waits for the answer (:class:`Signature`) on the same pipe, so the PIN and the token never
come near this process. Replies carry the request's log records, so the agent's log stays the
one place to look.

Why a process: the PDF stack (pyHanko, fontTools, Pillow, PDFium) and what a large document
leaves in the heaps are given back to the system when the child ends, a few seconds after its
last document (docs/performance.md); and a document that crashes PDFium costs one request, not
the agent.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import IO

from agent.algorithms import HashAlgorithm
from agent.child import RecordCollector, channel, die_with_agent, private_channel
from agent.pdf.calls import (
    REQUEST_TYPES,
    Documents,
    Done,
    Failed,
    NeedSignature,
    Signature,
    TokenGaveUp,
    execute,
)
from agent.pdf.lean import defer_aiohttp_clients
from agent.pywarnings import route_to_log

log = logging.getLogger(__name__)


def serve(requests: IO[bytes], replies: IO[bytes], log_level: int) -> None:
    """Answer requests until the request stream closes."""
    collector = RecordCollector()
    root = logging.getLogger()
    root.handlers[:] = [collector]
    root.setLevel(log_level)
    documents = Documents()

    def raw(digest: bytes, algorithm: HashAlgorithm) -> bytes:
        channel.send(replies, NeedSignature(digest, algorithm))
        answer = channel.receive(requests)
        if not isinstance(answer, Signature) or answer.value is None:
            raise TokenGaveUp
        return answer.value

    while True:
        try:
            request = channel.receive(requests)
        except channel.ChannelClosed:
            return
        if not isinstance(request, REQUEST_TYPES):
            log.error("not a PDF request: %s", type(request).__name__)
            return
        try:
            value = execute(documents, request, raw)
        except TokenGaveUp:
            value = None  # the agent has the token's error; it does not read this reply's value
        except Exception as exc:  # reported to the agent, never lost
            log.exception("PDF request %s failed", type(request).__name__)
            value = Failed(f"{type(exc).__name__}: {exc}")
        try:
            channel.send(replies, Done(value, collector.drain()))
        except OSError:
            return


def main(argv: list[str]) -> int:
    """``python -m agent.pdf.host LOG_LEVEL AGENT_PID``."""
    route_to_log()
    defer_aiohttp_clients()
    log_level, agent_pid = argv
    die_with_agent()
    if sys.platform.startswith("linux") and os.getppid() != int(agent_pid):
        return 0  # the agent died before the line above took effect
    # Ctrl+C in a terminal reaches the whole process group; the agent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, replies = private_channel()
    serve(requests, replies, int(log_level))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
