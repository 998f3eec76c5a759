"""The HTTP side: ``POST https://127.0.0.1:<fpt_port>/process``, one form in, one text out.

Checks, in order: Host and the connection's OS user (:func:`~agent.compat.layer.compat_app`),
then the page's ``Origin`` against the allow-list and pairing policy
(:func:`~agent.compat.layer.admit_page`). A request without an ``Origin``, or from an origin
the agent does not allow (or from the browser extension, which relays the HTTPS API only), is
a 403 with the API's JSON error and no CORS header, so that page cannot even read it; it
never reaches the prompt or the token. Only then is the body read: at most
:func:`body_limit` bytes, within the connection's body deadline, its size reserved in the
memory budget shared with the HTTPS API.

The pages read the answer with ``XMLHttpRequest``: an admitted origin gets
``Access-Control-Allow-Origin`` on every answer (errors included), and preflights (a page
that sends another ``Content-Type``, Chrome's private-network check) are answered for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Final

from aiohttp import web

from agent.compat.layer import FirstUse, LayerContext, admit_page, compat_app
from agent.errors import PayloadTooLarge
from agent.origin import Admitted
from agent.server import pieces
from agent.server.keys import BUDGET, SERVICE, SETTINGS, pdf_json_limit
from agent.server.middlewares import (
    RELEASE_AFTER_BYTES,
    MemoryRelease,
    preflight_response,
    with_cors,
)
from agent.server.routes import body_deadline, read_limited

if TYPE_CHECKING:
    from agent.compat.fpt.endpoints import FptEndpoints
    from agent.compat.fpt.protocol import Reply

log = logging.getLogger(__name__)

PATH: Final = "/process"
"""The one path the vendor library posts to."""
_METHODS: Final = "POST, OPTIONS"
_HEADERS: Final = frozenset({"content-type", "accept-language"})
_OFF_LOOP_BYTES: Final = 1024 * 1024
"""Documents in a reply from this size on are base64-encoded off the event loop."""

ENDPOINTS: Final[web.AppKey[FirstUse[FptEndpoints]]] = web.AppKey("fpt_endpoints")
MEMORY = web.AppKey("fpt_memory", MemoryRelease)


def body_limit(max_pdf_bytes: int) -> int:
    """The largest form the protocol needs: the HTTPS API's largest JSON body (a PDF in base64,
    room for the stamp image), base64-encoded once more, as the library sends it. A request is
    also held to one origin's share of the memory budget (:func:`process`)."""
    return pdf_json_limit(max_pdf_bytes) * 4 // 3 + 64 * 1024


def _admitted(request: web.Request) -> tuple[Admitted, str]:
    """The caller and its Origin header, or :class:`OriginNotAllowed` (a 403, no CORS)."""
    caller = admit_page(request)
    return caller, request.headers["Origin"]


async def preflight(request: web.Request) -> web.StreamResponse:
    """``OPTIONS /process`` from an admitted origin: what its real request may carry."""
    _caller, origin = _admitted(request)
    if "Access-Control-Request-Method" not in request.headers:
        return with_cors(web.Response(status=204, headers={"Allow": _METHODS}), origin)
    return with_cors(preflight_response(request, _METHODS, _HEADERS), origin)


async def process(request: web.Request) -> web.StreamResponse:
    """``POST /process``: one SignPlugin request, answered in the plugin's shape."""
    caller, origin = _admitted(request)
    # No larger than one origin's share of the memory budget, which the read must fit in.
    limit = min(
        body_limit(request.app[SETTINGS].max_pdf_bytes), request.app[BUDGET].limits.per_origin
    )
    size = request.content_length if request.content_length is not None else limit
    try:
        text = await _answer(request, caller, size, limit)
    except Exception as exc:  # noqa: BLE001 - too large, busy, slow: still the plugin's reply
        endpoints = await request.app[ENDPOINTS].get()
        text = endpoints.failure(exc, caller).to_bytes()
    finally:
        if size >= RELEASE_AFTER_BYTES:
            request.app[MEMORY].schedule()
    response = web.StreamResponse()
    response.content_type = "text/plain"
    response.charset = "utf-8"
    # A signed PDF's base64: written a piece at a time, kept by nobody after (agent.server.pieces).
    return await pieces.send_bytes(request, with_cors(response, origin), text)


async def _answer(request: web.Request, caller: Admitted, size: int, limit: int) -> bytes:
    """Read the body and answer it."""
    if size > limit:
        raise PayloadTooLarge(limit)
    # The body, its decoded copies and the signed document stay in memory until the answer
    # is written: room for the declared size first, shared with the HTTPS API.
    async with request.app[BUDGET].hold(str(caller), size):
        body = await _read_body(request, limit)
        endpoints = await request.app[ENDPOINTS].get()
        reply = await endpoints.handle(body, caller)
        del body
        return await _render(reply)


async def _render(reply: Reply) -> bytes:
    """The reply's bytes; a signed document's base64 is made off the event loop."""
    if sum(len(blob) for blob in reply.blobs.values()) >= _OFF_LOOP_BYTES:
        return await asyncio.to_thread(reply.to_bytes)
    return reply.to_bytes()


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` or outlasts the body deadline."""
    async with body_deadline(request):
        return await read_limited(request, limit, limit)


async def _endpoints(app: web.Application) -> AsyncIterator[None]:
    """The endpoints (made by the first request: :class:`~agent.compat.layer.FirstUse`) and
    the memory release, for the app's life."""
    memory = app[MEMORY] = MemoryRelease()
    service, lang = app[SERVICE], app[SETTINGS].lang

    def load() -> Callable[[], FptEndpoints]:
        from agent.compat.fpt.endpoints import FptEndpoints

        return partial(FptEndpoints, service, lang=lang)

    app[ENDPOINTS] = FirstUse(load)
    yield
    memory.cancel()


def create_app(context: LayerContext) -> web.Application:
    """The SignPlugin application: ``POST /process`` and its preflight."""
    limit = body_limit(context.settings.max_pdf_bytes)
    app = compat_app(context, websocket=False, client_max_size=limit)
    app.cleanup_ctx.append(_endpoints)
    app.router.add_post(PATH, process)
    app.router.add_route("OPTIONS", PATH, preflight)
    return app
