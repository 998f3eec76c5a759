"""One compatibility layer: a vendor plugin's protocol on the ports that vendor's library tries.

Every layer (VGCA, VNPT-CA Plugin, BKAV, FPT) is an aiohttp application made by
:func:`compat_app`, so each one checks, in the same order as the HTTPS API: the ``Host``
header (DNS rebinding), the connection's OS user, then the page's ``Origin`` against the
same allow-list and pairing policy (:func:`admit_upgrade` for WebSocket upgrades; a POST
layer calls :func:`~agent.server.middlewares.admit` itself). A refused request is a 403 with
the API's JSON error, before any prompt, token or network. What a page sends in its
messages (VNPT's ``domain``, a licence) never stands in for its ``Origin``.

Ports. Each vendor's JavaScript tries a fixed list of ports; the layer listens on the first of
them no other program holds. When the vendor's own plugin runs beside the agent, the pages find
that plugin first at its usual port, and the agent at the next one the library tries.
:class:`~agent.status.model.ListenerStatus` says which port each layer got and which ones it
found taken, for the status report and the tray.

Memory. What answers a vendor's calls (its functions or endpoints, and what they import:
cryptography, lxml, the XML and PDF layers) is made when the first admitted page calls
(:class:`FirstUse`), not when the layer starts listening: an agent no page of that vendor uses
keeps none of it (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Generic, TypeVar

from aiohttp import WSCloseCode, WSMessage, web
from aiohttp.typedefs import Handler, Middleware

from agent.errors import OriginNotAllowed
from agent.messages import Lang
from agent.origin import Admitted
from agent.server.app import RunningServer, start_server
from agent.server.budget import MemoryBudget
from agent.server.connections import Work
from agent.server.keys import BUDGET, CALLER, CALLER_CHECK, SERVICE, SETTINGS, ServerSettings
from agent.server.middlewares import (
    admit,
    caller_middleware,
    errors_middleware,
    host_middleware,
    in_progress_middleware,
)
from agent.server.peer import CallerCheck
from agent.service import SigningService
from agent.status.model import ListenerStatus

log = logging.getLogger(__name__)

#: ``errno`` values that mean "another program holds this port" (Linux, macOS, Windows).
_PORT_TAKEN: Final = frozenset({errno.EADDRINUSE, errno.EACCES, 10048, 10013})

T = TypeVar("T")


class FirstUse(Generic[T]):
    """One object of a layer's application, made by the first call that needs it.

    ``load`` imports what the object needs and returns how to make it; it runs once, on a
    worker thread (an import of cryptography or lxml takes tens of milliseconds, which the
    event loop does not wait for). The object is then made on the event loop, once: every
    later call, of any page, gets the same one.
    """

    def __init__(self, load: Callable[[], Callable[[], T]]) -> None:
        self._load = load
        self._made: T | None = None

    async def get(self) -> T:
        """The object, made now if no call has made it yet."""
        if self._made is None:
            make = await asyncio.to_thread(self._load)
            if self._made is None:  # another page's first call may have made it meanwhile
                self._made = make()
        return self._made


@dataclass(frozen=True)
class LayerContext:
    """What every layer's application is built from: the agent's one service and settings."""

    service: SigningService
    """Consent, PIN, token and audit: the same path as the HTTPS API."""
    settings: ServerSettings
    """Origin policy, body limits, language."""
    budget: MemoryBudget
    """Bytes of documents held at once, shared with the HTTPS API."""
    data_dir: Path
    """The agent's data directory (VGCA keeps signed files for upload there)."""
    pick_local: Callable[[Lang], Awaitable[Path | None]] | None = None
    """The agent's own file chooser, when there is a display."""
    caller_check: CallerCheck | None = None
    """Who owns a connection (tests replace it); ``None``: the real check."""


@dataclass(frozen=True)
class CompatLayer:
    """A vendor plugin's protocol, as the agent speaks it."""

    name: str
    """Short name: ``vgca``, ``vnpt``, ``bkav``, ``fpt``. The settings are
    ``NAME_enabled`` and ``NAME_port``; logs and the status report use it."""
    product: str
    """The plugin it stands in for, as users know it: "VNPT-CA Plugin"."""
    scheme: str
    """``wss`` (WebSocket) or ``https`` (HTTP POST)."""
    ports: tuple[int, ...]
    """The ports the vendor's library tries, in its order."""
    create_app: Callable[[LayerContext], web.Application]
    """The application answering the protocol (made with :func:`compat_app`)."""
    largest_request: Callable[[int], int] | None = None
    """The largest body the layer reads for PDFs of ``max_pdf_bytes``, when it is larger than
    the HTTPS API's (FPT's base64 of a base64): the shared memory budget is sized for it."""


def compat_app(
    context: LayerContext,
    *,
    websocket: bool,
    client_max_size: int = 4096,
    work: Work | None = None,
) -> web.Application:
    """An application with the checks every layer shares.

    ``websocket``: every request must be an upgrade from an admitted ``Origin``
    (:func:`admit_upgrade` checks it, after the caller). Otherwise the layer's handlers
    call :func:`~agent.server.middlewares.admit` on the ``Origin`` themselves.

    ``work``: what a request (or a socket) of the layer is when its page goes away and when the
    agent stops (:class:`~agent.server.connections.Work`); by default a socket's or a
    request's, as ``websocket`` says. VGCA's is :attr:`~agent.server.connections.Work.DETACHED`.
    """
    middlewares: list[Middleware] = [errors_middleware, host_middleware, caller_middleware]
    if websocket:
        middlewares.append(admit_upgrade)
    chosen = work or (Work.SOCKET if websocket else Work.REQUEST)
    middlewares.append(in_progress_middleware(chosen))
    app = web.Application(middlewares=middlewares, client_max_size=client_max_size)
    app[SERVICE] = context.service
    app[SETTINGS] = context.settings
    app[CALLER_CHECK] = context.caller_check or CallerCheck()
    app[BUDGET] = context.budget
    return app


def admit_page(request: web.Request) -> Admitted:
    """The page calling a layer, by the ``Origin`` its browser set, or
    :class:`~agent.errors.OriginNotAllowed` (a 403, before anything else happens).

    The browser extension relays HTTPS API calls only: its own origin may not call a plugin
    port (a page calls it itself, and its ``Origin`` is the one the browser sets).
    """
    origin = request.headers.get("Origin")
    settings = request.app[SETTINGS]
    if origin is None:
        raise OriginNotAllowed(f"{request.method} {request.path} without Origin")
    if settings.origin_policy.is_bridge(origin):
        raise OriginNotAllowed(f"{origin} may not call plugin ports; pages call them themselves")
    return admit(settings, origin)


@web.middleware
async def admit_upgrade(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admit a WebSocket upgrade only for an allowed page ``Origin`` (:func:`admit_page`)."""
    request[CALLER] = admit_page(request)
    return await handler(request)


async def next_message(
    socket: web.WebSocketResponse, seconds: float, code: WSCloseCode, reason: bytes
) -> WSMessage | None:
    """The page's next message on ``socket``; ``None`` once the socket is closed with ``code``
    and ``reason`` because none came within ``seconds`` (a silent page holds a connection)."""
    try:
        return await socket.receive(timeout=seconds)
    except TimeoutError:
        await socket.close(code=code, message=reason)
        return None


@dataclass(frozen=True)
class Started:
    """A layer's start: its server (``None`` when every port was taken) and what it found."""

    server: RunningServer | None
    state: ListenerStatus


async def start_layer(
    layer: CompatLayer,
    context: LayerContext,
    tls: ssl.SSLContext,
    ports: Sequence[int] | None = None,
) -> Started:
    """Listen on the first free port of ``ports`` (the vendor's list by default).

    A port another program holds is skipped and remembered; when all are held the layer does
    not listen (``server`` is ``None``, logged), and the agent keeps running.
    """
    tried = tuple(ports) if ports is not None else layer.ports
    held: list[int] = []
    for port in tried:
        app = layer.create_app(context)
        try:
            server = await start_server(app, [port], tls)
        except OSError as exc:
            if exc.errno not in _PORT_TAKEN and getattr(exc, "winerror", None) not in _PORT_TAKEN:
                log.error(  # noqa: TRY400 - the reason is in the line; no traceback for the user
                    "%s compatibility cannot listen on 127.0.0.1:%d: %s", layer.name, port, exc
                )
            held.append(port)
            continue
        url = f"{layer.scheme}://127.0.0.1:{server.port}"
        if held:
            log.info(
                "%s compatibility listening on %s (port %s held by another program)",
                layer.name,
                url,
                ", ".join(map(str, held)),
            )
        else:
            log.info("%s compatibility listening on %s", layer.name, url)
        return Started(server, ListenerStatus(layer.name, layer.product, True, url, tuple(held)))
    log.error(  # the vendor's own plugin, or a previous agent, holds every port its pages try
        "%s compatibility cannot listen: every port its pages try (%s) is held by another "
        "program; the HTTPS API keeps running",
        layer.name,
        ", ".join(map(str, tried)),
    )
    return Started(None, ListenerStatus(layer.name, layer.product, True, None, tuple(held)))
