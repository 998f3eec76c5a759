"""The inside of a module's worker process: one module, one thread, one pipe.

:class:`~agent.token.process.ProcessWorker` starts ``python -m agent.token.host
MODULE LOG_LEVEL AGENT_PID``. The child loads the module, then answers requests
read from its stdin, one at a time, with :func:`~agent.token.calls.execute` — the
same code the in-process worker runs — and writes each reply to the pipe that was
its stdout. Errors travel back as :class:`~agent.token.calls.Failure`, log records
with the reply, so the agent's log stays the one place to look. A module report that
did not change since the last one sent is not sent again (``Reply.same``). The child ends
when the pipe closes (the agent stopped or dropped it), and is killed when the agent dies,
even in the middle of a vendor call: on Linux because it asks the kernel to
(:func:`agent.child.die_with_agent`), on Windows because the agent put it in a job that Windows ends
with the agent (:mod:`agent.child.winjob`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import IO

from agent.child import RecordCollector, channel, die_with_agent, private_channel
from agent.errors import AgentError
from agent.pywarnings import route_to_log
from agent.token.calls import REQUEST_TYPES, Failure, Finalize, Reply, Request, execute
from agent.token.models import ModuleReport
from agent.token.module import Pkcs11Module

log = logging.getLogger(__name__)


def _checked(request: object) -> Request:
    if not isinstance(request, REQUEST_TYPES):
        raise TypeError(f"not a worker request: {type(request).__name__}")
    return request


def serve(requests: IO[bytes], replies: IO[bytes], module_path: Path, log_level: int) -> None:
    """Answer requests for ``module_path`` until the request stream closes."""
    collector = RecordCollector()
    root = logging.getLogger()
    root.handlers[:] = [collector]
    root.setLevel(log_level)
    module = Pkcs11Module(module_path)
    last_report: ModuleReport | None = None
    while True:
        try:
            request = channel.receive(requests)
        except channel.ChannelClosed:
            break
        if request is None:
            break
        value: object = None
        failure: Failure | None = None
        try:
            value = execute(module, _checked(request))
        except AgentError as exc:
            failure = Failure.of(exc)
        except Exception as exc:  # reported to the agent, never lost
            log.exception("worker request %s failed", type(request).__name__)
            failure = Failure("TokenFailure", f"{type(exc).__name__}: {exc}")
        finally:
            del request  # a Sign request carried the PIN; execute() wiped it
        same = isinstance(value, ModuleReport) and value is last_report
        if isinstance(value, ModuleReport):
            last_report = value
        try:
            channel.send(replies, Reply(None if same else value, failure, collector.drain(), same))
        except OSError:
            break
    if module.loaded:
        execute(module, Finalize())


def main(argv: list[str]) -> int:
    """``python -m agent.token.host MODULE LOG_LEVEL AGENT_PID``."""
    route_to_log()
    module_path, log_level, agent_pid = argv
    die_with_agent()
    if sys.platform.startswith("linux") and os.getppid() != int(agent_pid):
        return 0  # the agent died before the line above took effect
    # Ctrl+C in a terminal reaches the whole process group; the agent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, replies = private_channel()
    serve(requests, replies, Path(module_path), int(log_level))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
