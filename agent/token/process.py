"""A module's worker in its own process: a vendor module that crashes or hangs costs one request.

Vendor PKCS#11 modules segfault, hang in USB reads and leak; loaded into the agent,
any of that takes the agent (and the document being signed) down. Here each module
lives in a child process (:mod:`agent.token.host`) that the agent drives over a
private pipe, one request at a time from one thread, as in-process.

- A child that dies (a crash, an ``exit`` in the module) or misses a request's
  deadline (it is then killed) fails that request with
  :class:`~agent.errors.TokenModuleFailed`; nothing partial is returned.
- The next request starts a new child, but not before a back-off that doubles
  with each consecutive failure (0.5 s up to 30 s), so a module that crashes at
  load does not spin. A successful reply resets it.
- The PIN crosses the pipe once, inside the one :class:`~agent.token.calls.Sign`
  request that needs it; the agent's copy is wiped as soon as it is sent.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from agent.errors import TokenModuleFailed
from agent.token import host
from agent.token.calls import Finalize, Reply, Request, Sign, wipe
from agent.token.worker import thread_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerLimits:
    """Deadlines and back-off of module worker processes."""

    call_timeout: float = 20.0
    """Seconds for a read (token list, certificates, PIN state)."""
    sign_timeout: float = 30.0
    """Seconds for a signing request, before the allowance per item."""
    sign_timeout_per_item: float = 2.0
    """Extra seconds per digest: real USB tokens take up to a second per RSA signature."""
    pinpad_timeout: float = 120.0
    """Extra seconds when the PIN is typed on the reader's keypad."""
    start_timeout: float = 20.0
    """Extra seconds for the first request of a new child (it loads the module)."""
    backoff_initial: float = 0.5
    """Seconds before the first restart after a failure."""
    backoff_max: float = 30.0
    """Longest wait between restarts."""

    def deadline(self, request: Request) -> float:
        """Seconds ``request`` may take."""
        if isinstance(request, Sign):
            seconds = self.sign_timeout + self.sign_timeout_per_item * len(request.items)
            return seconds + (self.pinpad_timeout if request.pin is None else 0.0)
        return self.call_timeout

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures."""
        return min(self.backoff_max, self.backoff_initial * 2.0 ** max(0, failures - 1))


def _how_it_ended(process: BaseProcess) -> str:
    code = process.exitcode
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class ProcessWorker:
    """Owns the child process of one module and the one thread that talks to it."""

    def __init__(self, path: Path, limits: WorkerLimits | None = None) -> None:
        self.path = path
        self.limits = limits or WorkerLimits()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name(path))
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._fresh = False
        self._failures = 0
        self._retry_at = 0.0
        self._last_failure = ""
        self.restarts = 0
        """Children started after the first (for the status report)."""

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    async def call(self, request: Request) -> object:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, request)

    def call_sync(self, request: Request) -> object:
        return self._executor.submit(self._call, request).result()

    # Everything below runs on the worker thread only.

    def _start(self) -> Connection:
        if self._conn is not None and self._process is not None:
            if self._process.is_alive():
                return self._conn
            log.warning(
                "worker process of %s ended between requests (%s); starting another",
                self.path,
                _how_it_ended(self._process),
            )
            self._last_failure = _how_it_ended(self._process)
        self._discard()
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            raise TokenModuleFailed(
                f"{self.path}: {self._last_failure}; restarting the module in {wait:.1f} s"
            )
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=host.serve,
            args=(theirs, str(self.path), logging.getLogger().getEffectiveLevel(), os.getpid()),
            name=f"kyso-{thread_name(self.path)}",
            daemon=True,
        )
        process.start()
        theirs.close()
        if self._last_failure:
            self.restarts += 1
        log.info("started worker process %s for %s", process.pid, self.path)
        self._process, self._conn, self._fresh = process, ours, True
        return ours

    def _call(self, request: Request) -> object:
        try:
            conn = self._start()
        except BaseException:
            if isinstance(request, Sign):
                wipe(request.pin)
            raise
        seconds = self.limits.deadline(request)
        if self._fresh:
            seconds += self.limits.start_timeout
        try:
            conn.send(request)
        except (OSError, ValueError) as exc:
            raise self._failed(f"the worker process could not be reached ({exc})") from None
        finally:
            if isinstance(request, Sign):
                wipe(request.pin)
        try:
            if not conn.poll(seconds):
                raise self._failed(f"the module did not answer within {seconds:.0f} s")
            reply = conn.recv()
        except (EOFError, OSError):
            raise self._failed("the module's worker process ended") from None
        if not isinstance(reply, Reply):
            raise self._failed(f"the worker answered {type(reply).__name__}")
        self._fresh = False
        self._failures = 0
        for level, name, message in reply.logs:
            logging.getLogger(name).log(level, "%s", message)
        if reply.failure is not None:
            raise reply.failure.rebuild()
        return reply.value

    def _failed(self, reason: str) -> TokenModuleFailed:
        """Stop the child, schedule the restart, and describe what happened."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)
        ended = _how_it_ended(process) if process is not None else "not started"
        self._discard()
        self._failures += 1
        backoff = self.limits.backoff(self._failures)
        self._retry_at = time.monotonic() + backoff
        self._last_failure = f"{reason} ({ended})"
        log.error(
            "PKCS#11 module %s failed: %s; the next request restarts it (not before %.1f s)",
            self.path,
            self._last_failure,
            backoff,
        )
        return TokenModuleFailed(f"{self.path}: {self._last_failure}")

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and not self._process.is_alive():
            self._process.join(0)
            self._process.close()
        self._conn, self._process = None, None

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        if process is None or conn is None:
            return
        if process.is_alive():
            try:
                conn.send(Finalize())
                if conn.poll(5):
                    conn.recv()
                conn.send(None)
            except (EOFError, OSError, ValueError):
                pass
            process.join(5)
            if process.is_alive():
                log.warning("worker process of %s did not stop; killing it", self.path)
                process.kill()
                process.join(5)
        self._discard()

    def close(self) -> None:
        try:
            self._executor.submit(self._stop).result()
        finally:
            self._executor.shutdown(wait=True)
