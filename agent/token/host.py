"""The inside of a module's worker process: one module, one thread, one pipe.

:class:`~agent.token.process.ProcessWorker` starts this in a child process. It
loads the module, then answers requests from the pipe one at a time with
:func:`~agent.token.calls.execute` — the same code the in-process worker runs.
Errors travel back as :class:`~agent.token.calls.Failure`, log records with the
reply, so the agent's log stays the one place to look. The child ends when the
pipe closes (the agent stopped or dropped it) and, on Linux, when the agent dies.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from agent.errors import AgentError
from agent.token.calls import Failure, Finalize, Reply, execute
from agent.token.module import Pkcs11Module

log = logging.getLogger(__name__)

#: Records kept per reply; a module that logs in a loop must not fill the pipe.
MAX_RECORDS = 200


class _Collector(logging.Handler):
    """Keeps the records of one request for its reply."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < MAX_RECORDS:
            self.records.append((record.levelno, record.name, record.getMessage()))

    def drain(self) -> tuple[tuple[int, str, str], ...]:
        records, self.records = tuple(self.records), []
        return records


def _die_with_agent() -> None:
    """Ask Linux to kill this process when the agent does (a ``kill -9`` leaves no orphan)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return


def serve(conn: Connection, module_path: str, log_level: int, parent_pid: int) -> None:
    """Answer requests for ``module_path`` until the pipe closes."""
    _die_with_agent()
    if os.getppid() != parent_pid:  # the agent died before the line above took effect
        return
    # Ctrl+C in a terminal reaches the whole process group; the agent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collector = _Collector()
    root = logging.getLogger()
    root.handlers[:] = [collector]
    root.setLevel(log_level)
    module = Pkcs11Module(Path(module_path))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            break
        if request is None:
            break
        value: object = None
        failure: Failure | None = None
        try:
            value = execute(module, request)
        except AgentError as exc:
            failure = Failure.of(exc)
        except Exception as exc:  # reported to the agent, never lost
            log.exception("worker request %s failed", type(request).__name__)
            failure = Failure("TokenFailure", f"{type(exc).__name__}: {exc}")
        finally:
            del request  # a Sign request carried the PIN; execute() wiped it
        try:
            conn.send(Reply(value, failure, collector.drain()))
        except (EOFError, OSError):
            break
    if module.loaded:
        execute(module, Finalize())
