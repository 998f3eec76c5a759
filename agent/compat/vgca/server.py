"""The WebSocket side: ``wss://127.0.0.1:<vgca_port>/<Endpoint>``, one message each way.

The upgrade request passes the checks every layer shares
(:func:`~agent.compat.layer.compat_app`): Host, the connection's OS user, then the page's
``Origin`` against the same allow-list and pairing policy; a refused upgrade is a 403 with the
API's JSON error and never reaches the prompt, the token or the network. An admitted page
sends one text message of at most ``max_body_bytes``, within :data:`MESSAGE_TIMEOUT` seconds,
gets one text reply, and the agent closes the socket.

The layer's wire format and its transfers (:mod:`agent.compat.vgca.endpoints`, ``protocol``,
``transfer``) load with the first message (:class:`~agent.compat.layer.FirstUse`): an agent
that no portal calls through this plugin holds only this module and its settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Final

import aiohttp
from aiohttp import WSMsgType, web

from agent.compat.layer import FirstUse, LayerContext, compat_app, next_message
from agent.compat.vgca.settings import VgcaSettings, pending_dir
from agent.errors import BadRequest
from agent.files import discard_partial
from agent.messages import Phrase
from agent.server import pieces
from agent.server.budget import BudgetLimits, MemoryBudget
from agent.server.connections import Work
from agent.server.keys import BUDGET, CALLER, SERVICE, SETTINGS, ServerSettings
from agent.server.middlewares import MemoryRelease
from agent.server.peer import CallerCheck
from agent.service import SigningService

if TYPE_CHECKING:
    from agent.compat.vgca.endpoints import VgcaEndpoints
    from agent.compat.vgca.transfer import Transfers

log = logging.getLogger(__name__)

MESSAGE_TIMEOUT: Final = 30.0
"""Seconds an open socket may stay silent before its one message."""


VGCA_SETTINGS = web.AppKey("vgca_settings", VgcaSettings)
ENDPOINTS: Final[web.AppKey[FirstUse[VgcaEndpoints]]] = web.AppKey("vgca_endpoints")


async def _endpoints(app: web.Application) -> AsyncIterator[None]:
    """The app's endpoints and their downloads and uploads
    (:class:`~agent.compat.vgca.transfer.Transfers`), made by the first message and closed
    with the app.

    What a crash left half-written among the signed files waiting for their upload is removed
    now, as the agent starts (:func:`~agent.files.discard_partial`)."""
    settings = app[SETTINGS]
    vgca = app[VGCA_SETTINGS]
    discard_partial(pending_dir(vgca.data_dir))
    memory = MemoryRelease()
    service, budget = app[SERVICE], app[BUDGET]
    made: list[Transfers] = []  # by the endpoints' one maker, once (FirstUse)

    def load() -> Callable[[], VgcaEndpoints]:
        from agent.compat.vgca.endpoints import VgcaEndpoints
        from agent.compat.vgca.transfer import Transfers

        def make() -> VgcaEndpoints:
            transfers = Transfers(
                settings.origin_policy,
                vgca.limits,
                vgca.data_dir,
                allow_pairing=settings.allow_user_pairing,
                is_paired=service.is_paired,
            )
            made.append(transfers)
            return VgcaEndpoints(
                service,
                transfers,
                lang=settings.lang,
                max_pdf_bytes=settings.max_pdf_bytes,
                budget=budget,
                pick_local=vgca.pick_local,
                memory=memory,
            )

        return make

    app[ENDPOINTS] = FirstUse(load)
    try:
        yield
    finally:
        memory.cancel()
        for transfers in made:
            await transfers.close()


async def websocket(request: web.Request) -> web.StreamResponse:
    """One request, one reply, close."""
    socket = web.WebSocketResponse(max_msg_size=request.app[SETTINGS].max_body_bytes)
    if not socket.can_prepare(request).ok:
        raise BadRequest(Phrase.of("vgca_websocket_only"))
    await socket.prepare(request)
    message = await next_message(
        socket, MESSAGE_TIMEOUT, aiohttp.WSCloseCode.POLICY_VIOLATION, b"no request"
    )
    if message is None:
        return socket
    if message.type is WSMsgType.TEXT:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = int(sockname[1]) if sockname else 0
        endpoints = await request.app[ENDPOINTS].get()
        reply = await endpoints.handle(
            request.match_info["endpoint"], message.data, request[CALLER], port
        )
    elif message.type is WSMsgType.BINARY:
        reply = (await request.app[ENDPOINTS].get()).binary_message()
    else:  # closed by the page, or a message over the size limit
        return socket
    if socket.closed:
        return socket
    try:
        await pieces.send_text(request, socket, json.dumps(reply.body(), ensure_ascii=False))
    except ConnectionError:
        log.info("vgca: %s closed its socket before the answer", request[CALLER])
        return socket
    await socket.close()
    return socket


def create_vgca_app(
    service: SigningService,
    settings: ServerSettings,
    vgca: VgcaSettings,
    caller_check: CallerCheck | None = None,
    budget: MemoryBudget | None = None,
) -> web.Application:
    """The VGCA WebSocket application; ``budget``: the one the HTTPS API holds its bodies in."""
    context = LayerContext(
        service,
        settings,
        budget or MemoryBudget(BudgetLimits.for_largest(settings.largest_request)),
        vgca.data_dir,
        pick_local=vgca.pick_local,
        caller_check=caller_check,
    )
    # A signed file is uploaded to the portal's server whether or not its page is still open.
    app = compat_app(context, websocket=True, work=Work.DETACHED)
    app[VGCA_SETTINGS] = vgca
    app.cleanup_ctx.append(_endpoints)
    app.router.add_get("/{endpoint}", websocket)
    return app
