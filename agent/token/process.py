"""A module's worker in its own process: a vendor module that crashes or hangs costs one request.

Vendor PKCS#11 modules segfault, hang in USB reads and leak; loaded into the agent,
any of that takes the agent (and the document being signed) down. Here each module
lives in a child process (``python -m agent.token.host``) that the agent drives
over the child's stdin and stdout (:mod:`agent.token.channel`), one request at a
time from one thread, as in-process.

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
import contextlib
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agent.errors import TokenModuleFailed
from agent.isolation import WorkerLimits
from agent.token import channel
from agent.token.calls import Finalize, Reply, Request, Sign, wipe
from agent.token.worker import thread_name

log = logging.getLogger(__name__)


def deadline(limits: WorkerLimits, request: Request) -> float:
    """Seconds ``request`` may take."""
    if isinstance(request, Sign):
        seconds = limits.sign_timeout + limits.sign_timeout_per_item * len(request.items)
        return seconds + (limits.pinpad_timeout if request.pin is None else 0.0)
    return limits.call_timeout


def _how_it_ended(process: subprocess.Popen[bytes]) -> str:
    code = process.poll()
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class _Replies:
    """The child's replies, each waited for with a deadline.

    On POSIX the worker thread waits on the pipe itself (``select``), which saves a thread
    hand-off per call; Windows cannot select on a pipe, so there a reader thread hands the
    replies over through a queue. A closed pipe is an :class:`EOFError` *returned*.
    """

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream = stream
        self._queue: queue.Queue[object] | None = None
        if os.name == "nt":
            self._queue = queue.Queue()
            threading.Thread(target=self._pump, name=name, daemon=True).start()

    def _read(self) -> object:
        try:
            return channel.receive(self._stream)
        except (EOFError, OSError, ValueError) as exc:
            return EOFError(str(exc))

    def _pump(self) -> None:
        assert self._queue is not None  # noqa: S101 - started only with a queue
        while True:
            reply = self._read()
            self._queue.put(reply)
            if isinstance(reply, EOFError):
                return

    def next(self, timeout: float) -> object:
        """The next reply; :class:`TimeoutError` when none came within ``timeout`` seconds."""
        if self._queue is not None:
            try:
                return self._queue.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError from None
        ready, _, _ = select.select([self._stream], [], [], timeout)
        if not ready:
            raise TimeoutError
        return self._read()


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    requests: IO[bytes]
    replies: _Replies
    fresh: bool = True


class ProcessWorker:
    """Owns the child process of one module and the one thread that talks to it."""

    def __init__(self, path: Path, limits: WorkerLimits | None = None) -> None:
        self.path = path
        self.limits = limits or WorkerLimits()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name(path))
        self._child: _Child | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._last_failure = ""
        self._in_flight = False

    async def call(self, request: Request) -> object:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, request)

    def call_sync(self, request: Request) -> object:
        return self._executor.submit(self._call, request).result()

    # Everything below runs on the worker thread only (which is also why a child started
    # here is killed by Linux if this thread's process dies: see agent.token.host).

    def _start(self) -> _Child:
        child = self._child
        if child is not None:
            if child.process.poll() is None:
                return child
            self._last_failure = _how_it_ended(child.process)
            log.warning(
                "worker process of %s ended between requests (%s); starting another",
                self.path,
                self._last_failure,
            )
            self._discard()
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            raise TokenModuleFailed(
                f"{self.path}: {self._last_failure}; restarting the module in {wait:.1f} s"
            )
        level = logging.getLogger().getEffectiveLevel()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent.token.host",
                str(self.path),
                str(level),
                str(os.getpid()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Unbuffered: no read-ahead may hide a reply from select().
            bufsize=0,
            stderr=None if sys.stderr is not None else subprocess.DEVNULL,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
        if process.stdin is None or process.stdout is None:  # pragma: no cover - PIPE given
            raise TokenModuleFailed(f"{self.path}: no pipe to the worker process")
        replies = _Replies(process.stdout, f"{thread_name(self.path)}-replies")
        log.info("started worker process %s for %s", process.pid, self.path)
        self._child = _Child(process, process.stdin, replies)
        return self._child

    def _call(self, request: Request) -> object:
        self._in_flight = True
        try:
            return self._exchange(request)
        finally:
            self._in_flight = False

    def _exchange(self, request: Request) -> object:
        try:
            child = self._start()
        except BaseException:
            if isinstance(request, Sign):
                wipe(request.pin)
            raise
        seconds = deadline(self.limits, request)
        if child.fresh:
            seconds += self.limits.start_timeout
        try:
            channel.send(child.requests, request)
        except (OSError, ValueError) as exc:
            raise self._failed(f"the worker process could not be reached ({exc})") from None
        finally:
            if isinstance(request, Sign):
                wipe(request.pin)
        try:
            reply = child.replies.next(seconds)
        except TimeoutError:
            raise self._failed(f"the module did not answer within {seconds:.0f} s") from None
        if isinstance(reply, EOFError):
            raise self._failed("the module's worker process ended")
        if not isinstance(reply, Reply):
            raise self._failed(f"the worker answered {type(reply).__name__}")
        child.fresh = False
        self._failures = 0
        for level, name, message in reply.logs:
            logging.getLogger(name).log(level, "%s", message)
        if reply.failure is not None:
            raise reply.failure.rebuild()
        return reply.value

    def _failed(self, reason: str) -> TokenModuleFailed:
        """Stop the child, schedule the restart, and describe what happened."""
        child = self._child
        ended = "not started"
        if child is not None:
            if child.process.poll() is None:
                child.process.kill()
            try:
                child.process.wait(5)
            except subprocess.TimeoutExpired:
                log.warning("worker process %s of %s does not die", child.process.pid, self.path)
            ended = _how_it_ended(child.process)
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
        child, self._child = self._child, None
        if child is None:
            return
        for stream in (child.process.stdin, child.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if child.process.poll() is not None:
            child.process.wait()

    def _stop(self) -> None:
        child = self._child
        if child is None:
            return
        process = child.process
        if process.poll() is None:
            try:
                channel.send(child.requests, Finalize())
                child.replies.next(5)
                channel.send(child.requests, None)
            except (OSError, ValueError, TimeoutError):
                pass
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                log.warning("worker process of %s did not stop; killing it", self.path)
                process.kill()
                process.wait(5)
        self._discard()

    def interrupt(self) -> None:
        """End the child under a request still in the module (the agent is stopping).

        A hung vendor call or a PIN pad waiting for the user would hold the stop back until
        its deadline; the request fails instead, as for any crash.
        """
        child = self._child
        if self._in_flight and child is not None and child.process.poll() is None:
            log.warning(
                "stopping: ending the worker process of %s in the middle of a call", self.path
            )
            child.process.kill()

    def close(self) -> None:
        self.interrupt()
        try:
            self._executor.submit(self._stop).result()
        finally:
            self._executor.shutdown(wait=True)
