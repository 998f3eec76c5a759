"""The door of both listening ports: who may connect, decided when the connection is accepted.

A connection is judged once, at accept time, on the raw TCP connection and before any TLS:

1. **Its OS user.** The client socket must belong to the user running the agent
   (:class:`~agent.server.peer.CallerCheck`), looked up while the connection is certainly open:
   only an ESTABLISHED socket table entry whose local end is the connecting socket counts. A
   later lookup could race: a client that sends its request and closes at once leaves a socket
   that Linux reports in a closing state as owned by uid 0, which an agent running as root took
   for its own user.
2. **How many connections are open.** At most :attr:`ConnectionLimits.max_connections` at once for
   the port; a browser opens a handful. Past that a new one is closed at once instead of
   taking a file descriptor the owner's next request needs.
3. **The TLS handshake** must finish within :attr:`ConnectionLimits.handshake_seconds`.

Refused connections are closed without a byte sent and never reach TLS, aiohttp, the prompt or
the token; each refusal is logged, repeated lines rate-limited (:class:`RepeatLimiter`), so a
flood cannot rotate the log's history away. After the handshake the connection belongs to
aiohttp, whose keep-alive timer closes it when no complete request arrives in time (idle or
slow headers, :attr:`ConnectionLimits.idle_seconds`); the routes bound the time to read a body.

The gate also knows the work in progress on its connections (:meth:`ConnectionGate.serving`,
registered by :func:`~agent.server.middlewares.in_progress_middleware`), so that work ends when
its page goes away (the connection is lost) and when the agent stops
(:meth:`ConnectionGate.finish`), each as its :class:`Work` says.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, Final

from agent.server.peer import CallerCheck, TcpEndpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    """How much one listening port lets in."""

    max_connections: int = 512
    """Connections open at once (TLS or not yet); more are closed at accept. A browser opens
    a handful per profile; a portal's burst of a few hundred requests fits. Other users'
    connections are closed at accept and take no place; the agent raises its own open-file
    limit above what both ports may hold (:func:`raise_open_file_limit`)."""
    handshake_seconds: float = 60.0
    """Time for a client to finish the TLS handshake (asyncio's own default: a burst of a few
    hundred handshakes on a busy two-core machine takes over 10 s; a client that never
    finishes holds its place no longer than this)."""
    idle_seconds: float = 15.0
    """Time for a complete request to arrive: after the handshake, and after each answer."""
    body_seconds: float = 60.0
    """Time to read a request body, however large (loopback moves 100 MiB in well under 1 s)."""
    stop_seconds: float = 5.0
    """When the agent stops, time the requests in progress get to finish (a signature the token
    is making is still answered); then they are cancelled: an open question closes and is
    audited as abandoned. aiohttp's own minute is more than Windows gives a program at log-off,
    and would keep a quitting agent's dialog on the screen."""


OPEN_FILES: Final = 4096
"""The open-file limit the agent asks for: two full ports, their TLS, workers and files."""


def raise_open_file_limit(wanted: int = OPEN_FILES) -> int:
    """Raise this process's soft limit of open files towards ``wanted`` (never above the hard
    limit, never lower than it was); returns the limit in force. Desktops start programs
    with 1,024, which a port's connections alone could fill. Windows has no such limit."""
    try:
        import resource
    except ImportError:  # Windows
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
            return soft
        return target
    return soft


class RepeatLimiter:
    """Lets the same log message through at most ``burst`` times per ``window`` seconds, then
    once more with the number that were dropped."""

    def __init__(
        self, burst: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``clock``: seconds, for tests."""
        self._burst = burst
        self._window = window
        self._clock = clock
        self._seen: dict[str, tuple[float, int, int]] = {}

    def allow(self, key: str) -> tuple[bool, int]:
        """Whether to log ``key`` now, and how many were dropped since the last one logged."""
        now = self._clock()
        start, count, dropped = self._seen.get(key, (now, 0, 0))
        if now - start >= self._window:
            start, count = now, 0
        if count < self._burst:
            self._seen[key] = (start, count + 1, 0)
            return True, dropped
        self._seen[key] = (start, count, dropped + 1)
        if len(self._seen) > 256:  # keys are a few fixed reasons; never let them pile up
            self._seen = {key: self._seen[key]}
        return False, 0


LAST_WORDS: Final = 1.0
"""Seconds a request gets, once the agent has ended the calls still in its token, to answer
that error before the agent cancels it (:meth:`ConnectionGate.finish`)."""


class Work(Enum):
    """What runs on a connection, for when its page goes away and when the agent stops."""

    REQUEST = auto()
    """An HTTP request (the API, FPT's port): it ends when its page goes away; when the agent
    stops, it gets :attr:`ConnectionLimits.stop_seconds` to finish (a signature the token is
    making is still answered)."""
    SOCKET = auto()
    """A plugin's WebSocket (VNPT, BKAV), open for as long as its page: it ends when the page
    goes away, and at once when the agent stops (an idle page must not hold the agent up)."""
    DETACHED = auto()
    """A WebSocket whose work goes on after its page (VGCA uploads what it signed to the
    portal's server): it ends only when the agent stops, at once."""


class Verdict(Enum):
    """What the gate says of a connection just accepted."""

    ADMIT = auto()
    REFUSE = auto()
    LOOK_AGAIN = auto()
    """Its owner was not found (yet): ask once more, :data:`LOOK_AGAIN_SECONDS` later."""


LOOK_AGAIN_SECONDS: Final = 0.2
"""How long a connection whose owner was not found waits for a second look before it is
refused. Where the owner tables can lag the accept (Windows: under Wine a socket is listed with
its process only once that process holds it, which a client that connected asynchronously has
not yet done at that instant), this keeps a legitimate caller from being refused; a connection
from another user or from outside is refused all the same, a moment later. Nothing is read
from it meanwhile."""

_REFUSED_OTHER_USER: Final = "a connection from another user of this computer was refused"
_REFUSED_FULL: Final = "a connection was refused: %d connections are open already"


class ConnectionGate:
    """Admits connections to one port and hands them, upgraded to TLS, to aiohttp."""

    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        tls: ssl.SSLContext,
        caller_check: CallerCheck | None,
        limits: ConnectionLimits,
    ) -> None:
        """``caller_check``: None admits every OS user (``check_caller = false``)."""
        self._factory = protocol_factory
        self._tls = tls
        self._caller_check = caller_check
        self.limits = limits
        self.open = 0
        """Connections admitted and not yet closed."""
        self._admitted: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
        self._log_limiter = RepeatLimiter()
        self._work: dict[asyncio.Task[Any], tuple[Work, asyncio.Future[None]]] = {}
        """Work in progress (its connection's task): what it is, and what says it ended."""
        self._stopping = False

    def __call__(self) -> asyncio.Protocol:
        """A protocol for one accepted connection (the factory ``create_server`` takes)."""
        return _Doorway(self)

    def admitted(self, transport: asyncio.BaseTransport | None) -> bool:
        """Whether aiohttp's ``transport`` is a connection this gate let in."""
        return transport is not None and transport in self._admitted

    @contextmanager
    def serving(
        self, transport: asyncio.BaseTransport | None, task: asyncio.Task[Any], work: Work
    ) -> Iterator[None]:
        """While ``work`` runs in ``task`` on aiohttp's ``transport``: cancel it when its page
        goes away (unless it is :attr:`Work.DETACHED`), and let :meth:`finish` find it. Work
        that comes while the agent is stopping is cancelled at once."""
        if self._stopping:
            task.cancel()
        stop = _unwatched if work is Work.DETACHED else self.on_lost(transport, task.cancel)
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._work[task] = (work, ended)
        try:
            yield
        finally:
            stop()
            self._work.pop(task, None)
            ended.set_result(None)

    async def settle(self, grace: float) -> None:
        """The agent is stopping: from now on new work is cancelled as it comes, and the
        requests in progress get ``grace`` seconds to end by themselves (a signature the token
        is making is still answered). Called again, it returns at once."""
        if self._stopping:
            return
        self._stopping = True
        requests = [ended for work, ended in self._work.values() if work is Work.REQUEST]
        if requests:
            await asyncio.wait(requests, timeout=grace)

    async def finish(self, grace: float) -> None:
        """:meth:`settle`; then, after :data:`LAST_WORDS` more for the requests whose token
        calls the agent has ended meanwhile to answer their error, cancel all work still in
        progress, as if its pages had gone away, and wait for it to wind down (``grace``
        seconds at most): an open question closes, and its audit row is written before the
        agent closes the audit log."""
        await self.settle(grace)
        requests = [ended for work, ended in self._work.values() if work is Work.REQUEST]
        if requests:
            await asyncio.wait(requests, timeout=min(grace, LAST_WORDS))
        left = list(self._work.items())
        for task, _ in left:
            task.cancel()
        if left:
            await asyncio.wait([ended for _, (_, ended) in left], timeout=grace)

    def on_lost(
        self, transport: asyncio.BaseTransport | None, callback: Callable[[], object]
    ) -> Callable[[], None]:
        """Call ``callback`` when the client of aiohttp's ``transport`` (a connection this
        gate let in) goes away; the function returned stops watching. Another transport is
        not watched."""
        if transport is None or not self.admitted(transport):
            return _unwatched
        protocol = transport.get_protocol()
        if not isinstance(protocol, _Doorway):  # pragma: no cover - admitted: one of ours
            return _unwatched
        return protocol.watch(callback)

    def _judge(self, transport: asyncio.BaseTransport, *, again: bool = False) -> Verdict:
        if self.open >= self.limits.max_connections:
            self._log(_REFUSED_FULL, self.open)
            return Verdict.REFUSE
        if self._caller_check is None:
            return Verdict.ADMIT
        peer, local = _endpoint(transport, "peername"), _endpoint(transport, "sockname")
        if peer is None or local is None:
            self._log(_REFUSED_OTHER_USER)
            return Verdict.REFUSE
        if self._caller_check.is_same_user(peer, local):
            return Verdict.ADMIT
        if not again and self._caller_check.owner_may_lag:
            return Verdict.LOOK_AGAIN
        self._log(_REFUSED_OTHER_USER)
        return Verdict.REFUSE

    def _log(self, message: str, *args: object) -> None:
        allowed, dropped = self._log_limiter.allow(message)
        if allowed:
            suffix = f" ({dropped} more like it not logged)" if dropped else ""
            log.warning(message + suffix, *args)


def _endpoint(transport: asyncio.BaseTransport, name: str) -> TcpEndpoint | None:
    info = transport.get_extra_info(name)
    if isinstance(info, tuple) and len(info) >= 2:
        return TcpEndpoint(str(info[0]), int(info[1]))
    return None


class _Doorway(asyncio.Protocol):
    """One accepted TCP connection: judged, upgraded to TLS, then relayed to aiohttp."""

    def __init__(self, gate: ConnectionGate) -> None:
        self._gate = gate
        self._inner: asyncio.Protocol | None = None
        # What TLS decrypted before start_tls() returned: the handshake completes and the
        # first request is passed up in the same loop iteration, before this coroutine resumes.
        self._early: list[bytes] = []
        self._early_eof = False
        self._counted = False
        self._upgrade: asyncio.Task[None] | None = None
        self._lost = False
        self._watchers: dict[object, Callable[[], object]] = {}

    # -- before TLS --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - create_server's transports
        # Nothing is read until the verdict: the ClientHello waits in the kernel.
        transport.pause_reading()
        self._decide(transport, self._gate._judge(transport))  # noqa: SLF001 - its own protocol

    def _decide(self, transport: asyncio.Transport, verdict: Verdict) -> None:
        if verdict is Verdict.LOOK_AGAIN:
            asyncio.get_running_loop().call_later(LOOK_AGAIN_SECONDS, self._look_again, transport)
            return
        if verdict is Verdict.REFUSE:
            transport.abort()
            return
        self._gate.open += 1
        self._counted = True
        self._upgrade = asyncio.get_running_loop().create_task(self._start_tls(transport))

    def _look_again(self, transport: asyncio.Transport) -> None:
        if transport.is_closing():
            return
        self._decide(transport, self._gate._judge(transport, again=True))  # noqa: SLF001

    async def _start_tls(self, transport: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(
                transport,
                self,
                self._gate._tls,  # noqa: SLF001
                server_side=True,
                ssl_handshake_timeout=self._gate.limits.handshake_seconds,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            log.debug("TLS handshake failed: %s", exc)
            transport.abort()
            self._release()
            return
        if tls is None:  # the client went away during the handshake
            self._release()
            return
        self._gate._admitted.add(tls)  # noqa: SLF001
        inner = self._gate._factory()  # noqa: SLF001
        self._inner = inner
        inner.connection_made(tls)
        early, self._early = self._early, []
        for data in early:
            inner.data_received(data)
        if self._early_eof:
            inner.eof_received()

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            self._gate.open -= 1

    # -- after TLS: everything goes to aiohttp -----------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)
        else:
            self._early.append(data)

    def eof_received(self) -> bool | None:
        if self._inner is None:
            self._early_eof = True  # passed on once the relay is set up
            return None
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self._inner is not None:
            self._inner.connection_lost(exc)
        self._lost = True
        watchers, self._watchers = self._watchers, {}
        for callback in watchers.values():
            callback()

    def watch(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call ``callback`` once when this connection is lost (soon, if it is already); the
        function returned stops watching."""
        if self._lost:
            handle = asyncio.get_running_loop().call_soon(callback)
            return handle.cancel
        key = object()
        self._watchers[key] = callback

        def stop() -> None:
            self._watchers.pop(key, None)

        return stop


def _unwatched() -> None:
    """Nothing to stop."""
