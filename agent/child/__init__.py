"""The inside of a worker process the agent started: its pipe, and its end with the agent.

Token modules (:mod:`agent.token.host`) and the PDF work (:mod:`agent.pdf.host`) each run in
children the agent drives over their stdin and stdout; both need the pipe kept clear of
anything else printed, their log records sent back with each reply, and neither may outlive
the agent.

Here, what every worker shares: :mod:`agent.child.channel` (the framed pickles on the pipe),
:mod:`agent.child.winjob` (the Windows job that ends a worker with the agent), and in this
module the worker's side of both.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import IO


def die_with_agent() -> None:
    """Ask Linux to kill this process when the agent dies (a ``kill -9`` leaves no orphan)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return


def private_channel() -> tuple[IO[bytes], IO[bytes]]:
    """The request and reply streams, with fds 0 and 1 pointed away from them.

    Vendor modules print debug output to stdout; that must not land in the middle
    of a reply frame, so the reply pipe moves to a new descriptor and fd 1 goes to
    stderr (or nowhere, under ``pythonw``).
    """
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    nowhere = os.open(os.devnull, os.O_RDWR)
    os.dup2(nowhere, 0)
    try:
        os.dup2(2, 1)
    except OSError:
        os.dup2(nowhere, 1)
    os.close(nowhere)
    return requests, replies


MAX_RECORDS = 200
"""Log records kept per reply; a module that logs in a loop must not fill the pipe."""


class RecordCollector(logging.Handler):
    """Keeps the log records of one request, to travel back with its reply (the agent's log
    stays the one place to look)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < MAX_RECORDS:
            self.records.append((record.levelno, record.name, record.getMessage()))

    def drain(self) -> tuple[tuple[int, str, str], ...]:
        """The records so far, forgotten here."""
        records, self.records = tuple(self.records), []
        return records
