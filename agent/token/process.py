"""A module's worker in its own process: a vendor module that crashes or hangs costs one request.

Vendor PKCS#11 modules segfault, hang in USB reads and leak; loaded into the agent,
any of that takes the agent (and the document being signed) down. Here each module
lives in a child process (``python -m agent.token.host``) that the agent drives
over the child's stdin and stdout (:mod:`agent.child.channel`), one request at a
time from one thread, as in-process.

- A child that dies (a crash, an ``exit`` in the module) or misses a request's
  deadline (it is then killed) fails that request with
  :class:`~agent.errors.TokenModuleFailed`; nothing partial is returned.
- The next request starts a new child, but not before a back-off that doubles
  with each consecutive failure (0.5 s up to 30 s), so a module that crashes at
  load does not spin. A successful reply resets it.
- The PIN crosses the pipe once, inside the one :class:`~agent.token.calls.Sign`
  request that needs it; the agent's copy is wiped as soon as it is sent. A login held
  for later :class:`~agent.token.calls.SignHeld` requests lives in the child only, and
  ends with it.
- A child does not outlive the agent, even one stuck in a vendor call when the agent
  is killed: Linux kills it at the child's own request (:mod:`agent.token.host`), and
  on Windows the agent puts it in a job that ends with the agent
  (:mod:`agent.child.winjob`).

On POSIX the event loop writes the request and waits for the reply on the pipes
itself (no thread hand-off per call, which is a good part of a request's cost on a
fast token); starting and stopping the child, and everything on Windows, whose pipes
cannot be waited on by the loop, run on the worker's one thread. A worker is driven
either from one event loop (:meth:`ProcessWorker.call`) or synchronously
(:meth:`ProcessWorker.call_sync`, the command line), not both at once.
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
from typing import IO, Final

from agent.child import channel, winjob
from agent.errors import TokenModuleFailed
from agent.isolation import WorkerLimits
from agent.token.calls import Finalize, Release, Reply, Request, Sign, SignHeld, wipe
from agent.token.models import ModuleReport
from agent.token.worker import thread_name

log = logging.getLogger(__name__)

_LOOP_IO: Final = os.name != "nt"
"""Whether the event loop waits on the child's pipes itself."""


def deadline(limits: WorkerLimits, request: Request) -> float:
    """Seconds ``request`` may take. A step of a batch signs for ``step`` seconds, then at most
    the one signature that was under way (:attr:`~agent.token.calls.Sign.step`)."""
    if not isinstance(request, Sign | SignHeld):
        return limits.call_timeout
    signing = limits.sign_timeout_per_item * len(request.items)
    if request.step is not None:
        signing = min(signing, request.step + limits.sign_timeout_per_item)
    seconds = limits.sign_timeout + signing
    if isinstance(request, Sign) and request.pin is None:
        seconds += limits.pinpad_timeout
    return seconds


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


def _nothing_held(child: _Child | None, request: Request) -> bool:
    """``request`` is a :class:`Release` and no child runs that could hold a login: a child
    that ended took its sessions with it, and starting one only to release nothing is waste."""
    return isinstance(request, Release) and (
        child is None or child.abandoned or child.process.poll() is not None
    )


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _write(loop: asyncio.AbstractEventLoop, stream: IO[bytes], frame: bytearray) -> None:
    """Write ``frame`` to the child's (non-blocking) request pipe from the event loop, then
    wipe it, whatever happened (a Sign's frame holds the PIN)."""
    fd = stream.fileno()
    view = memoryview(frame)
    try:
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                writable: asyncio.Future[None] = loop.create_future()
                loop.add_writer(fd, _settle, writable)
                try:
                    await writable
                finally:
                    loop.remove_writer(fd)
    finally:
        view.release()
        channel.wipe_frame(frame)


async def _reply(loop: asyncio.AbstractEventLoop, stream: IO[bytes]) -> object:
    """The child's next reply, read by the event loop as it arrives.

    A closed or garbled pipe is an :class:`EOFError` *returned*, as :class:`_Replies` does.
    """
    fd = stream.fileno()
    frames = channel.Frames()
    done: asyncio.Future[object] = loop.create_future()

    def readable() -> None:
        if done.done():
            return
        try:
            data = os.read(fd, 1 << 16)
            messages = frames.feed(data) if data else [EOFError("the pipe closed")]
        except Exception as exc:  # noqa: BLE001 - whatever broke the stream, the worker failed
            messages = [EOFError(f"{type(exc).__name__}: {exc}")]
        if messages:
            done.set_result(messages[0])

    loop.add_reader(fd, readable)
    try:
        return await done
    finally:
        loop.remove_reader(fd)


class _Replies:
    """The child's replies, each waited for with a deadline, for calls made on the worker
    thread (the command line, stopping, Windows).

    On POSIX the worker thread waits on the pipe itself (``select``); Windows cannot select
    on a pipe, so there a reader thread hands the replies over through a queue. A closed
    pipe is an :class:`EOFError` *returned*.
    """

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.stream = stream
        self._queue: queue.Queue[object] | None = None
        if os.name == "nt":
            self._queue = queue.Queue()
            threading.Thread(target=self._pump, name=name, daemon=True).start()

    def _read(self) -> object:
        try:
            return channel.receive(self.stream)
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
        ready, _, _ = select.select([self.stream], [], [], timeout)
        if not ready:
            raise TimeoutError
        return self._read()


def _unusable(reply: object) -> str:
    """Why ``reply``, which is not a :class:`Reply`, means the child does not work."""
    if isinstance(reply, EOFError):
        return "the module's worker process ended"
    return f"the worker answered {type(reply).__name__}"


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    requests: IO[bytes]
    replies: _Replies
    fresh: bool = True
    report: ModuleReport | None = None
    """The last module report received, which a reply marked ``same`` stands for."""
    abandoned: bool = False
    """A call gave up in the middle of an exchange: the pipe is out of step."""


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
        self._turn = asyncio.Lock()

    async def call(self, request: Request) -> object:
        loop = asyncio.get_running_loop()
        if not _LOOP_IO:
            return await loop.run_in_executor(self._executor, self._call, request)
        async with self._turn:
            self._in_flight = True
            try:
                return await self._exchange_on_loop(loop, request)
            finally:
                self._in_flight = False

    def call_sync(self, request: Request) -> object:
        return self._executor.submit(self._call, request).result()

    async def _exchange_on_loop(self, loop: asyncio.AbstractEventLoop, request: Request) -> object:
        child = self._child
        if _nothing_held(child, request):
            return None
        try:
            if child is None or child.abandoned or child.process.poll() is not None:
                child = await loop.run_in_executor(self._executor, self._start)
            seconds = self._seconds(child, request)
            frame = channel.encode(request)
        finally:
            if isinstance(request, Sign):
                wipe(request.pin)
        try:
            async with asyncio.timeout(seconds):
                try:
                    await _write(loop, child.requests, frame)
                except OSError as exc:
                    reason = f"the worker process could not be reached ({exc})"
                else:
                    reply = await _reply(loop, child.replies.stream)
                    if isinstance(reply, Reply):
                        return self._answer(child, reply)
                    reason = _unusable(reply)
        except TimeoutError:
            reason = f"the module did not answer within {seconds:.0f} s"
        except asyncio.CancelledError:
            # The reply may still come and would answer the next request: end this child.
            child.abandoned = True
            if child.process.poll() is None:
                log.warning(
                    "ending the worker process of %s: its request ended in the middle of a call",
                    self.path,
                )
                child.process.kill()
            raise
        raise await loop.run_in_executor(self._executor, self._failed, reason)

    def _seconds(self, child: _Child, request: Request) -> float:
        seconds = deadline(self.limits, request)
        return seconds + self.limits.start_timeout if child.fresh else seconds

    def _answer(self, child: _Child, reply: Reply) -> object:
        """The value of ``reply`` (from either way of waiting), or the error it carries."""
        child.fresh = False
        self._failures = 0
        value = child.report if reply.same else reply.value
        if isinstance(value, ModuleReport):
            child.report = value
        for level, name, message in reply.logs:
            logging.getLogger(name).log(level, "%s", message)
        if reply.failure is not None:
            raise reply.failure.rebuild()
        return value

    # Everything below runs on the worker thread (the event loop's exchange above is the
    # exception), which is also why a child started here is killed by Linux if this
    # thread's process dies: see agent.token.host. (On Windows the job that does this
    # belongs to the process, whichever thread starts the child: see winjob.)

    def _start(self) -> _Child:
        child = self._child
        if child is not None:
            if child.abandoned:
                log.info("the worker process of %s was ended by a call that gave up", self.path)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(5)  # killed already: reap it
            elif child.process.poll() is None:
                return child
            else:
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
                # -P: not the current directory's "agent" (a command run from Downloads) but
                # the installed one, as the MSI's launcher does for the agent itself.
                "-P",
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
        # The child is already running (Popen cannot start it suspended and resume it), so
        # an agent killed before this line leaves it outside the job. Harmless: it has not
        # loaded the module yet (the first request, sent after this, does), so nothing holds
        # it and it ends by itself when it finds its request pipe closed.
        winjob.contain(process)
        if process.stdin is None or process.stdout is None:  # pragma: no cover - PIPE given
            raise TokenModuleFailed(f"{self.path}: no pipe to the worker process")
        if _LOOP_IO:
            # A large request must not block the event loop on a child that reads slowly.
            os.set_blocking(process.stdin.fileno(), False)
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
        if _nothing_held(self._child, request):
            return None
        try:
            child = self._start()
        except BaseException:
            if isinstance(request, Sign):
                wipe(request.pin)
            raise
        seconds = self._seconds(child, request)
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
        if isinstance(reply, Reply):
            return self._answer(child, reply)
        raise self._failed(_unusable(reply))

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
