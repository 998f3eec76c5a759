"""The WebSocket side: ``wss://127.0.0.1:<bkav_port>`` (8443, as ``BkavCAPlugin.js`` tries).

The upgrade passes the checks every layer shares (:func:`~agent.compat.layer.compat_app`):
Host, the connection's OS user, then the page's ``Origin`` against the allow-list and pairing
policy; a refused upgrade is a 403 and never reaches the prompt or the token. An admitted
page keeps the socket and makes one call after the other on it, as the library does: each
call is put back together from its pieces (:mod:`agent.compat.bkav.wire`), answered
(:mod:`agent.compat.bkav.functions`), and the next one is read.

Memory: a frame is at most :data:`MAX_FRAME` bytes (the library's pieces are a tenth of
that), a call at most the agent's largest request (``largest_request``), and a call in
several pieces (or in one large frame) first reserves that much in the budget it shares with
the HTTPS API (:mod:`agent.server.budget`), until it is answered, counted in UTF-8 bytes. A
call must end within :data:`CALL_TIMEOUT` seconds (a piece at least every
:data:`PIECE_TIMEOUT`), so that a trickling page cannot hold its room for hours; a socket
silent for :data:`IDLE_TIMEOUT` seconds between calls is closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial
from typing import TYPE_CHECKING, Final

import aiohttp
from aiohttp import WSMsgType, web

from agent.compat.bkav.protocol import CHUNK, bad_message, info_frame, reply_frame
from agent.compat.bkav.wire import Complete, Reassembler
from agent.compat.layer import FirstUse, LayerContext, compat_app
from agent.errors import AgentError, BadRequest
from agent.messages import Phrase
from agent.server import pieces
from agent.server.budget import SMALL
from agent.server.keys import BUDGET, CALLER, MEMORY, SETTINGS
from agent.server.middlewares import memory_release

if TYPE_CHECKING:
    from agent.compat.bkav.functions import Answer, BkavFunctions

log = logging.getLogger(__name__)

MAX_FRAME: Final = 4 * 1024 * 1024
"""Largest frame read (bytes): the library's pieces are 114,271 characters."""
PIECE_TIMEOUT: Final = 60.0
CALL_TIMEOUT: Final = 300.0
"""Seconds one call's pieces may take in all: a page sending a piece a minute must not hold
its room in the memory budget for hours."""
IDLE_TIMEOUT: Final = 600.0
"""Seconds a socket may stay silent between calls (the library opens a new one when needed)."""
"""Seconds a page may stay silent in the middle of a call before it is forgotten."""

FUNCTIONS: Final[web.AppKey[FirstUse[BkavFunctions]]] = web.AppKey("bkav_functions")


def create_app(context: LayerContext) -> web.Application:
    """The BKAV WebSocket application (its functions made by the first admitted socket:
    :class:`~agent.compat.layer.FirstUse`)."""
    app = compat_app(context, websocket=True)

    def load() -> Callable[[], BkavFunctions]:
        from agent.compat.bkav.functions import BkavFunctions

        return partial(
            BkavFunctions,
            context.service,
            lang=context.settings.lang,
            max_document_bytes=context.settings.max_pdf_bytes,
        )

    app[FUNCTIONS] = FirstUse(load)
    app.cleanup_ctx.append(memory_release)
    # The library opens wss://localhost:8443 with no path; any path is the same socket.
    app.router.add_get("/{path:.*}", websocket)
    return app


async def websocket(request: web.Request) -> web.StreamResponse:
    """Calls one after the other until the page closes the socket."""
    socket = web.WebSocketResponse(max_msg_size=MAX_FRAME)
    if not socket.can_prepare(request).ok:
        raise BadRequest(Phrase.of("bkav_websocket_only"))
    await socket.prepare(request)
    await _Session(request, socket, await request.app[FUNCTIONS].get()).serve()
    return socket


class _Session:
    """One socket: its call in progress, its memory reservation, its settings."""

    def __init__(
        self, request: web.Request, socket: web.WebSocketResponse, functions: BkavFunctions
    ) -> None:
        from agent.compat.bkav.functions import Connection  # loaded with the functions

        app = request.app
        self._request = request
        self._socket = socket
        self._functions = functions
        self._budget = app[BUDGET]
        self._memory = app[MEMORY]
        self._limit = app[SETTINGS].largest_request
        self._connection = Connection(request[CALLER])
        self._assembler = Reassembler(self._limit)
        self._held: AsyncExitStack | None = None
        self._refused: AgentError | None = None
        self._clock = asyncio.get_running_loop().time
        self._deadline = 0.0
        """When the call in progress must have ended (:data:`CALL_TIMEOUT`)."""

    async def serve(self) -> None:
        try:
            while not self._socket.closed:
                pending = self._assembler.pending
                timeout = (
                    max(0.0, min(PIECE_TIMEOUT, self._deadline - self._clock()))
                    if pending
                    else IDLE_TIMEOUT
                )
                try:
                    message = await self._socket.receive(timeout=timeout)
                except TimeoutError:
                    if not pending:
                        await self._socket.close(
                            code=aiohttp.WSCloseCode.GOING_AWAY, message=b"idle"
                        )
                        break
                    log.info(
                        "bkav: %s stopped in the middle of a call (%d characters); forgotten",
                        self._connection.caller,
                        self._assembler.size,
                    )
                    self._assembler.reset()
                    await self._release()
                    continue
                if message.type is WSMsgType.BINARY:
                    refusal = bad_message(Phrase.of("bkav_binary"))
                    await self._send(self._functions.refused("", refusal))
                    continue
                if message.type is not WSMsgType.TEXT:
                    break  # closed by the page, or a frame over MAX_FRAME
                await self._piece(message.data)
        finally:
            await self._release()

    async def _piece(self, frame: str) -> None:
        if not self._assembler.pending:
            self._deadline = self._clock() + CALL_TIMEOUT
        if self._held is None and (len(frame) == CHUNK or len(frame) > SMALL):
            await self._reserve()
        done = self._assembler.feed(frame)
        if done is None:
            return
        if isinstance(done, Complete):
            answer = await self._functions.handle(done.text, self._connection)
        elif self._refused is not None:
            answer = self._functions.refused(done.text, self._refused)
        else:
            answer = self._functions.dropped(done.text, done.size, self._limit)
        await self._send(answer)
        await self._release()

    async def _reserve(self) -> None:
        """Room for the largest call, before its pieces are kept (a call in one small frame,
        a setting or a certificate list, is not counted, as small HTTPS bodies are not)."""
        held = AsyncExitStack()
        try:
            await held.enter_async_context(
                self._budget.hold(str(self._connection.caller), self._limit)
            )
        except AgentError as exc:
            self._refused = exc
            self._assembler.drop()
        self._held = held

    async def _release(self) -> None:
        self._refused = None
        if self._held is not None:
            held, self._held = self._held, None
            await held.aclose()
            # The call's text, its documents and their signed copies: handed back to the OS.
            self._memory.schedule()

    async def _send(self, answer: Answer) -> None:
        frames = [reply_frame(answer.reply.result, answer.callback)]
        if answer.reply.reason is not None:
            frames.insert(0, info_frame(answer.reply.reason))
        for frame in frames:
            if self._socket.closed:
                log.info("bkav: the page closed the socket before its answer")
                return
            try:
                await pieces.send_text(self._request, self._socket, frame)
            except ConnectionError:
                log.info("bkav: the page closed the socket before its answer")
                return
