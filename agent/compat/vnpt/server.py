"""The WebSocket side: ``wss://localhost:<port>/plugin``, one socket per page, many calls.

The upgrade passes the checks every layer shares (:func:`~agent.compat.layer.compat_app`):
``Host``, the connection's OS user, then the page's ``Origin`` against the allow-list and
pairing policy; a refused upgrade is a 403 with the API's JSON error, before any prompt or
token. An admitted page keeps its socket open, as ``vnpt-plugin.js`` does, and sends one
call after another; each is answered in turn, in order (the library matches answers to calls
by order alone), so a page never has two calls of one socket in flight. A message larger than
the largest PDF request the API takes closes the socket; a socket silent for
:data:`IDLE_TIMEOUT` seconds is closed, and the library opens a new one for its next call.

Memory: aiohttp reads a whole message before the agent sees it, so the budget
(:mod:`agent.server.budget`) is reserved only once a call has arrived. What bounds the
messages being read at once is the number of sockets: :data:`SOCKETS_PER_ORIGIN` for one page
origin (a portal keeps one socket per tab) and :data:`SOCKETS` in all; one more is refused
at the upgrade (429, ``BUSY``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Final

import aiohttp
from aiohttp import WSMsgType, web

from agent.compat.layer import FirstUse, LayerContext, compat_app, next_message
from agent.errors import BadRequest, Busy
from agent.messages import Phrase, text
from agent.origin import Admitted
from agent.server import pieces
from agent.server.keys import BUDGET, CALLER, SERVICE, SETTINGS
from agent.server.middlewares import MemoryRelease

if TYPE_CHECKING:
    from agent.compat.vnpt.functions import VnptFunctions

log = logging.getLogger(__name__)

PATH: Final = "/plugin"
IDLE_TIMEOUT: Final = 600.0
"""Seconds a socket may stay silent between calls (a page keeps its socket for its life)."""

SOCKETS_PER_ORIGIN: Final = 3
"""Open sockets of one page origin (each tab of a portal keeps one)."""
SOCKETS: Final = 8
"""Open sockets in all."""

FUNCTIONS: Final[web.AppKey[FirstUse[VnptFunctions]]] = web.AppKey("vnpt_functions")
OPEN = web.AppKey("vnpt_open", Counter[str])
"""Open sockets by page origin."""


async def _functions(app: web.Application) -> AsyncIterator[None]:
    """The app's :class:`VnptFunctions`, with a memory release of its own, for its life (made
    by the first call: :class:`~agent.compat.layer.FirstUse`)."""
    memory = MemoryRelease()
    service, lang, budget = app[SERVICE], app[SETTINGS].lang, app[BUDGET]

    def load() -> Callable[[], VnptFunctions]:
        from agent.compat.vnpt.functions import VnptFunctions

        return partial(VnptFunctions, service, lang=lang, budget=budget, memory=memory)

    app[FUNCTIONS] = FirstUse(load)
    yield
    memory.cancel()


async def plugin_socket(request: web.Request) -> web.StreamResponse:
    """Answer the page's calls until it closes the socket or falls silent."""
    settings = request.app[SETTINGS]
    socket = web.WebSocketResponse(max_msg_size=settings.largest_request)
    if not socket.can_prepare(request).ok:
        raise BadRequest(Phrase.of("vnpt_websocket_only"))
    caller = request[CALLER]
    origin = str(caller)
    opened = request.app[OPEN]
    if opened[origin] >= SOCKETS_PER_ORIGIN or opened.total() >= SOCKETS:
        raise Busy(f"{origin} has {opened[origin]} VNPT sockets open, {opened.total()} in all")
    opened[origin] += 1
    try:
        await socket.prepare(request)
        await _serve(socket, request, caller)
    finally:
        opened[origin] -= 1
        if not opened[origin]:
            del opened[origin]
    return socket


async def _serve(socket: web.WebSocketResponse, request: web.Request, caller: Admitted) -> None:
    going_on = True
    while going_on and not socket.closed:
        going_on = await _exchange(socket, request, caller)


async def _exchange(socket: web.WebSocketResponse, request: web.Request, caller: Admitted) -> bool:
    """Read one call and answer it; whether the socket goes on. One call per invocation, so
    that neither the call nor its answer (a PDF in base64: megabytes) stays referenced while
    the page is idle, which it may be all day."""
    settings = request.app[SETTINGS]
    message = await next_message(socket, IDLE_TIMEOUT, aiohttp.WSCloseCode.GOING_AWAY, b"idle")
    if message is None:
        return False
    if message.type is WSMsgType.TEXT:
        reply = await (await request.app[FUNCTIONS].get()).handle(message.data, caller)
    elif message.type is WSMsgType.BINARY:
        # The plugin's wire format, for this refusal alone: the functions (made by the
        # first text call) load it with everything else they need.
        from agent.compat.vnpt import protocol as wire

        detail = Phrase.of("vnpt_binary").render(settings.lang)
        refusal = text("compat_bad_message", settings.lang, product=wire.PRODUCT, detail=detail)
        result = wire.Result(wire.Code.BAD_INPUT, error=refusal).to_text()
        reply = wire.reply_text(result, wire.DEFAULT_CALLBACK)
    else:  # closed by the page, or a message over the size limit (aiohttp closes)
        return False
    del message
    if socket.closed:
        return False
    try:
        await pieces.send_text(request, socket, reply)
    except ConnectionError:
        log.info("vnpt: %s closed its socket before the answer", caller)
        return False
    return True


def create_app(context: LayerContext) -> web.Application:
    """The VNPT-CA Plugin's WebSocket application."""
    app = compat_app(context, websocket=True)
    app[OPEN] = Counter()
    app.cleanup_ctx.append(_functions)
    app.router.add_get(PATH, plugin_socket)
    return app
