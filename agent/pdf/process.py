"""Where the PDF work runs: short-lived child processes, or (in tests and benches) threads.

A PDF request's work (read and rehearse, the page preview, the signature) runs in a session
(:meth:`PdfWork.session`): one worker for the request's life, the question to the user
included, holding its prepared documents.

:class:`PdfProcesses` gives each session a child process (``python -m agent.pdf.host``): the
agent itself then never loads the PDF stack, and what a document costs in memory goes back to
the system when the child ends. A child whose session ended waits :data:`IDLE_SECONDS` for the
next one (documents signed one after the other pay its start once), then ends. A request the
child does not finish in :data:`CALL_SECONDS` (a document that hangs PDFium), a child that
dies, and a request whose caller went away end the child: that request fails, the agent goes
on. Children do not outlive the agent (:mod:`agent.child`, :mod:`agent.child.winjob`).

:class:`InThread` runs the same requests on a thread of the agent (no process start-up, no
isolation), which is what a service built without workers uses.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import IO, Final, Protocol

from agent.algorithms import HashAlgorithm
from agent.child import channel, winjob
from agent.errors import AgentError, SigningFailed
from agent.pdf.calls import (
    Documents,
    Done,
    Forget,
    NeedSignature,
    Request,
    Signature,
    SignDigest,
    SignDocument,
    execute,
)
from agent.pdf.models import RawSigner

log = logging.getLogger(__name__)

IDLE_SECONDS: Final = 3.0
"""How long a child with no session waits for the next one before it ends."""
CALL_SECONDS: Final = 120.0
"""Longest a request other than a signature may take (a signature waits for the token)."""


class PdfSession(Protocol):
    """One request's worker."""

    async def call(self, request: Request, raw: RawSigner | None = None) -> object:
        """``request``'s outcome (:func:`agent.pdf.calls.execute`); ``raw`` for a signature."""
        ...


class PdfWork(Protocol):
    """Gives out sessions."""

    def session(self) -> contextlib.AbstractAsyncContextManager[PdfSession]:
        """A worker for one request's PDF work, until the block ends."""
        ...

    async def close(self) -> None:
        """End every worker (the agent is stopping)."""
        ...


class _Blocking:
    """``raw`` for the worker's thread: run on ``loop``, awaited by the thread; :meth:`cancel`
    ends the wait (the caller went away: the token's wait ends too, and the thread is free)."""

    def __init__(self, raw: RawSigner | None, loop: asyncio.AbstractEventLoop) -> None:
        self._raw = raw
        self._loop = loop
        self._lock = threading.Lock()
        self._asked: concurrent.futures.Future[bytes] | None = None
        self._cancelled = False

    def __call__(self, digest: bytes, algorithm: HashAlgorithm) -> bytes:
        if self._raw is None:
            raise SigningFailed("a PDF request asked for a signature it was not given a key for")
        with self._lock:
            if self._cancelled:
                raise SigningFailed("the PDF request was cancelled")
            asked = asyncio.run_coroutine_threadsafe(self._raw(digest, algorithm), self._loop)
            self._asked = asked
        return asked.result()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._asked is not None:
                self._asked.cancel()


# --- threads -------------------------------------------------------------------------------


class _ThreadSession:
    def __init__(self) -> None:
        self._documents = Documents()

    async def call(self, request: Request, raw: RawSigner | None = None) -> object:
        sign = _Blocking(raw, asyncio.get_running_loop())
        try:
            return await asyncio.to_thread(execute, self._documents, request, sign)
        except asyncio.CancelledError:
            sign.cancel()  # else the thread signs, and writes, for a caller who went away
            raise


class InThread:
    """The PDF work on threads of the agent."""

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[PdfSession]:
        yield _ThreadSession()

    async def close(self) -> None:
        return None


# --- processes -----------------------------------------------------------------------------


class _Child:
    """One ``agent.pdf.host`` process and its pipes; driven by one thread at a time."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None  # noqa: S101 - PIPE
        self.process = process
        self._requests: IO[bytes] = process.stdin
        self._replies: IO[bytes] = process.stdout
        self.broken = False
        self.idle_since = 0.0
        # A child nobody ends (its loop stopped before the idle timer fired, the agent exiting)
        # is ended when this object goes, or at exit: no worker, and no open pipe, is left.
        weakref.finalize(self, _terminate, process)

    @classmethod
    def start(cls) -> _Child:
        """A new child. Started from the event loop's thread, which lives as long as the agent:
        Linux ends the child when the thread that started it ends (:mod:`agent.child`)."""
        process = subprocess.Popen(
            [
                sys.executable,
                "-P",  # the installed agent, not a directory's "agent" (see agent.token.process)
                "-m",
                "agent.pdf.host",
                str(logging.getLogger().getEffectiveLevel()),
                str(os.getpid()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if sys.stderr is not None else subprocess.DEVNULL,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
        winjob.contain(process)
        log.info("started PDF worker process %s", process.pid)
        return cls(process)

    def exchange(self, request: Request, sign: Callable[[bytes, HashAlgorithm], bytes]) -> object:
        """Send ``request``, answer its signature questions with ``sign``, return its outcome.

        Blocking. A token error raised by ``sign`` is raised here once the child has ended the
        request (so the pipe stays in step). :class:`channel.ChannelClosed` when the child died.
        """
        token_error: BaseException | None = None
        channel.send(self._requests, request)
        while True:
            message = channel.receive(self._replies)
            if isinstance(message, NeedSignature):
                value: bytes | None = None
                try:
                    value = sign(message.digest, message.algorithm)
                except BaseException as exc:  # noqa: BLE001 - the token's, raised below
                    token_error = exc
                channel.send(self._requests, Signature(value))
                continue
            if not isinstance(message, Done):
                raise channel.ChannelClosed(f"not a reply: {type(message).__name__}")
            for level, name, text in message.records:
                logging.getLogger(name).log(level, "%s", text)
            if token_error is not None:
                raise token_error
            return message.value

    def end(self) -> None:
        """Close the child's request pipe (it then exits), killing it if it does not."""
        with contextlib.suppress(OSError):
            self._requests.close()
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self._close_replies()

    def kill(self) -> None:
        """End the child now (a thread blocked on its pipe then sees it closed)."""
        self.broken = True
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self._close_replies()

    def _close_replies(self) -> None:
        for stream in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                stream.close()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """End ``process`` if it runs, and close its pipes."""
    if process.poll() is None:
        with contextlib.suppress(OSError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class _ProcessSession:
    def __init__(self, child: _Child) -> None:
        self._child = child

    async def call(self, request: Request, raw: RawSigner | None = None) -> object:
        child = self._child
        if child.broken:
            raise SigningFailed("the PDF worker of this request has ended")
        sign = _Blocking(raw, asyncio.get_running_loop())
        work = asyncio.ensure_future(asyncio.to_thread(child.exchange, request, sign))
        signing = isinstance(request, SignDocument | SignDigest)
        try:
            async with asyncio.timeout(None if signing else CALL_SECONDS):
                return await asyncio.shield(work)
        except AgentError:
            raise  # the token's own error (the child is fine and in step)
        except TimeoutError:
            log.warning("PDF worker %s took over %.0f s; ended", child.process.pid, CALL_SECONDS)
            await _ended(child, work, request, sign)
            raise SigningFailed(f"the PDF work took over {CALL_SECONDS:.0f} s") from None
        except asyncio.CancelledError:
            # The caller went away: no half-done work left running.
            await _ended(child, work, request, sign)
            raise
        except (channel.ChannelClosed, OSError) as exc:
            code = child.process.poll()
            log.warning("PDF worker %s ended (%s, exit %s)", child.process.pid, exc, code)
            await _ended(child, work, request, sign)
            raise SigningFailed("the PDF worker ended unexpectedly") from exc


async def _ended(
    child: _Child, work: asyncio.Future[object], request: Request, sign: _Blocking
) -> None:
    """Kill ``child``, end a wait for the token, and let the thread see the pipe close; remove
    what the child was writing (killed, it cannot, as :mod:`agent.pdf.calls` does)."""
    child.kill()
    sign.cancel()
    with contextlib.suppress(BaseException):
        await work
    if isinstance(request, SignDocument) and request.output is not None:
        with contextlib.suppress(OSError):
            request.output.unlink(missing_ok=True)


class PdfProcesses:
    """The PDF work in child processes: one per session at a time, kept :data:`IDLE_SECONDS`."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._idle_seconds = idle_seconds
        self._idle: list[_Child] = []
        self._reaper: asyncio.TimerHandle | None = None
        self._closed = False

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[PdfSession]:
        child = self._take()
        session = _ProcessSession(child)
        try:
            yield session
        finally:
            if not child.broken:
                await self._give_back(session, child)

    def _take(self) -> _Child:
        while self._idle:
            child = self._idle.pop()
            if child.process.poll() is None:
                return child
            child.kill()
        return _Child.start()

    async def _give_back(self, session: _ProcessSession, child: _Child) -> None:
        """Keep ``child`` for the next session, its documents dropped; or end it."""
        if not self._closed:
            with contextlib.suppress(AgentError):
                await session.call(Forget(None))
        if self._closed or child.broken:
            await asyncio.to_thread(child.end)
            return
        loop = asyncio.get_running_loop()
        child.idle_since = loop.time()
        self._idle.append(child)
        if self._reaper is None:
            self._reaper = loop.call_later(self._idle_seconds, self._reap)

    def _reap(self) -> None:
        """End the children idle for :data:`IDLE_SECONDS`; look again for the others."""
        loop = asyncio.get_running_loop()
        self._reaper = None
        now = loop.time()
        due = [c for c in self._idle if now - c.idle_since >= self._idle_seconds]
        self._idle = [c for c in self._idle if c not in due]
        for child in due:
            log.info("PDF worker process %s idle; ended", child.process.pid)
            loop.run_in_executor(None, child.end)
        if self._idle:
            wait = min(c.idle_since for c in self._idle) + self._idle_seconds - now
            self._reaper = loop.call_later(max(wait, 0.05), self._reap)

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        idle, self._idle = self._idle, []
        await asyncio.gather(*(asyncio.to_thread(c.end) for c in idle))
