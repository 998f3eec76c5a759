"""Cross-cutting checks, outermost first: errors → Host → caller (OS user) → Origin/CORS →
work in progress → memory budget.

A request from a disallowed origin is answered here and never reaches a
handler, the prompter or the token. An admitted one is registered as work in progress
(:func:`in_progress_middleware`): it ends with its page, and when the agent stops. Outermost of
all, :func:`memory_middleware` hands the memory of large requests back to the OS once they are
answered (through the app's :data:`~agent.server.keys.MEMORY`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, Final

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.typedefs import Handler, Middleware

from agent import malloc
from agent.errors import (
    AgentError,
    BadRequest,
    CallerNotAllowed,
    HostNotAllowed,
    InternalError,
    MethodNotAllowed,
    NotFound,
    OriginNotAllowed,
    PayloadTooLarge,
)
from agent.messages import Lang, Phrase, pick_lang
from agent.origin import Admitted
from agent.server.connections import Work
from agent.server.keys import BUDGET, CALLER, GATE, MEMORY, SETTINGS, ServerSettings

log = logging.getLogger(__name__)

RELEASE_AFTER_BYTES: Final = 256 * 1024
"""A request body at least this large leaves megabytes of freed memory behind it: a PDF its
buffers, an XML document its tree, 25 to 35 times its size (a 1 MB e-invoice left 22 MB with the
agent until the next release, docs/performance.md); smaller ones leave less than the release
is worth."""
RELEASE_DELAY: Final = 2.0
"""Seconds after such a request before the memory is handed back: the answer is sent by then."""


class MemoryRelease:
    """Hands memory back to the OS a moment after a large request, once per quiet spell
    (one per app: :data:`~agent.server.keys.MEMORY`, set up by :func:`memory_release`).

    A signed PDF passes through several buffers of its own size (the body, its base64, the
    document, the signed document, the answer's base64 and JSON), allocated on worker
    threads. Freed, they stay with the process: reference cycles in pyHanko's objects wait
    for the cyclic collector, and glibc keeps freed pages in its heap (:mod:`agent.malloc`). Without
    this, an agent that signed one 20 MB PDF would idle at several hundred megabytes.
    """

    def __init__(self) -> None:
        self._pending: asyncio.TimerHandle | None = None
        self._trim = malloc.malloc_trim()
        malloc.tune()  # process-wide and idempotent; kyso-agent's main set it before any thread

    def schedule(self) -> None:
        """Release in :data:`RELEASE_DELAY` seconds, unless a release is already due."""
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.call_later(RELEASE_DELAY, self.release)

    def release(self) -> None:
        """Collect cycles and trim the heap (tens of milliseconds, on the event loop: the
        collector holds the interpreter lock wherever it runs)."""
        self._pending = None
        gc.collect()
        if self._trim is not None:
            self._trim(0)

    def cancel(self) -> None:
        """Drop a release still due (the app is stopping)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


async def memory_release(app: web.Application) -> AsyncIterator[None]:
    """The app's :class:`MemoryRelease`, for its life (a cleanup context)."""
    memory = app[MEMORY] = MemoryRelease()
    yield
    memory.cancel()


@web.middleware
async def memory_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After a large request, schedule :meth:`MemoryRelease.release`."""
    try:
        return await handler(request)
    finally:
        if (request.content_length or 0) >= RELEASE_AFTER_BYTES:
            request.app[MEMORY].schedule()


def in_progress_middleware(work: Work) -> Middleware:
    """A middleware that registers each request as ``work`` in progress with the connection
    gate (:meth:`~agent.server.connections.ConnectionGate.serving`), so that it ends with its
    page and when the agent stops.

    A page that goes away takes its request with it, wherever it is: waiting its turn, no dialog
    comes up later for a closed tab; in the question, the dialog closes; waiting for the token,
    its window closes; in a worker, that call ends as when the agent stops; reading a body, its
    spooled file is removed. The audit keeps a question that was shown as ``abandoned``.
    aiohttp's ``handler_cancellation`` would cancel every handler alike; the gate knows that
    VGCA's work outlives its page (:attr:`~agent.server.connections.Work.DETACHED`).
    """

    @web.middleware
    async def in_progress(request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        gate = request.app[GATE]()
        if task is None or gate is None:  # an app served without the gate (a test's own)
            return await handler(request)
        transport = request.transport
        if transport is None:  # the client went away before its request got here
            raise asyncio.CancelledError
        with gate.serving(transport, task, work):
            return await handler(request)

    return in_progress


@web.middleware
async def budget_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Reserve room for the body before it is read, for as long as the request runs
    (:mod:`agent.server.budget`); after the origin is known, before anything is read."""
    caller = request.get(CALLER)
    if caller is None or not request.body_exists:
        return await handler(request)
    size = request.content_length
    if size is None:  # chunked: it may grow to the largest any route accepts
        size = request.app[SETTINGS].largest_request
    async with request.app[BUDGET].hold(str(caller), size):
        return await handler(request)


def json_response(data: dict[str, Any], status: int = 200) -> web.Response:
    """JSON with UTF-8 text as is (Vietnamese stays readable on the wire)."""
    return web.json_response(
        data, status=status, dumps=lambda value: json.dumps(value, ensure_ascii=False)
    )


PAGE_ORIGIN_HEADER: Final = "Kyso-Page-Origin"
"""Set by the Kyso browser extension: the origin of the page it relays for. Honoured only
when the request's own Origin is a trusted extension; web pages cannot send it cross-origin
without a preflight, which refuses it."""
CERTIFICATE_HEADER: Final = "Kyso-Certificate"
"""On a signed PDF sent as itself (``POST /v1/pdf/sign`` with a raw ``application/pdf`` body):
the signer's certificate, base64 DER, which a JSON answer carries as ``certificate``."""
_EXPOSED_HEADERS: Final = CERTIFICATE_HEADER
"""Response headers beyond the CORS-safelisted ones that an admitted page may read."""
_ALLOWED_METHODS: Final = "GET, POST, OPTIONS"
_ALLOWED_HEADERS: Final = frozenset({"content-type", "accept-language"})
_SECURITY_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The API serves no HTML; should a browser ever render a response, it may load and
    # frame nothing.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def error_response(exc: BaseException, request: web.Request) -> web.Response:
    """The JSON error response for ``exc``; unexpected errors become INTERNAL."""
    if isinstance(exc, web.HTTPException):
        exc = _from_http_exception(exc, request)
    if not isinstance(exc, AgentError):
        log.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
        exc = InternalError()
    elif exc.http_status >= 500:
        log.error("%s on %s: %s", exc.code.value, request.path, exc.detail)
    else:
        log.info("%s on %s %s: %s", exc.code.value, request.method, request.path, exc.detail)
    lang = pick_lang(request.headers.get("Accept-Language"), request.app[SETTINGS].lang)
    response = json_response(exc.to_wire(lang), status=exc.http_status)
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = _ALLOWED_METHODS
    return response


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> AgentError:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge(request.app[SETTINGS].max_body_bytes)
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(f"method {request.method} is not allowed on {request.path}")
    if isinstance(exc, web.HTTPNotFound):
        return NotFound(f"no route for {request.path}")
    # aiohttp's reason is English and about its own parsing: the log keeps it.
    log.info("HTTP %s on %s %s: %s", exc.status, request.method, request.path, exc.reason)
    return BadRequest(Phrase.of("bad_http", status=exc.status))


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the documented JSON error body."""
    try:
        response = await handler(request)
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        response = error_response(exc, request)
    secure(response)
    return response


MAX_LINE_BYTES: Final = 8190
"""aiohttp's limit on the request line and on each header (its default, kept)."""


def protocol_errors_in_json(
    factory: Callable[[], web.RequestHandler], default_lang: Lang
) -> Callable[[], web.RequestHandler]:
    """``factory`` (aiohttp's per-connection protocol), its own answers made the documented JSON.

    aiohttp answers a request it cannot parse (a request line or header over its 8 KiB
    limits, a malformed line) from ``RequestHandler.handle_error``, before any middleware, as
    ``text/plain`` in English. aiohttp's server makes each connection's handler itself and the
    class has ``__slots__``: the handler becomes a :class:`_JsonErrors`, the same object with
    that one method overridden.
    """

    # The same layout as aiohttp's class (no slot of its own), the language as a class value.
    answering = type("JsonErrors", (_JsonErrors,), {"__slots__": (), "default_lang": default_lang})

    def make() -> web.RequestHandler:
        handler = factory()
        handler.__class__ = answering
        return handler

    return make


class _JsonErrors(web.RequestHandler):
    """aiohttp's handler answering its own refusals with the agent's error body."""

    __slots__ = ()
    default_lang: ClassVar[Lang] = Lang.VI

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own still logs, and refuses to answer a request whose answer has begun.
        super().handle_error(request, status, exc, message)
        lang = pick_lang(request.headers.get("Accept-Language"), self.default_lang)
        error = _protocol_error(status, exc)
        response = json_response(error.to_wire(lang), status=error.http_status)
        secure(response)
        response.force_close()
        return response


def _protocol_error(status: int, exc: BaseException | None) -> AgentError:
    if status >= 500:
        return InternalError()
    if isinstance(exc, LineTooLong):
        return BadRequest(Phrase.of("request_line_too_long", limit=MAX_LINE_BYTES))
    return BadRequest(Phrase.of("bad_http", status=status))


def secure(response: web.StreamResponse) -> None:
    """Give ``response`` the security headers every answer of the agent carries."""
    for name, value in _SECURITY_HEADERS.items():
        # A handler's own value stands (the status page's CSP admits its inline style).
        response.headers.setdefault(name, value)


def headers_before_sending(request: web.Request, response: web.StreamResponse) -> None:
    """Give ``response`` the headers the middlewares add on its way out (security, CORS for
    the admitted origin), for a handler that sends its answer itself (a signed PDF streamed
    from the spool): once it is prepared, its headers are sent and the middlewares' come too
    late."""
    secure(response)
    origin = request.headers.get("Origin")
    if origin is not None and CALLER in request:  # admitted by origin_middleware
        _api_cors(response, origin)


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse any Host but the loopback names on our own port (DNS rebinding)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else None
    host = (request.headers.get("Host") or "").lower()
    allowed = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    if port is None or host not in allowed:
        raise HostNotAllowed(f"Host {host!r} refused")
    return await handler(request)


@web.middleware
async def caller_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve only connections the port's gate let in.

    The gate judged the connection's OS user when it was accepted, before TLS
    (:mod:`agent.server.connections`); connections of other users never get this far. This is the
    second lock: an app served some other way, without the gate, answers nobody.
    """
    if request.app[SETTINGS].check_caller:
        gate = request.app[GATE]()
        if gate is None or not gate.admitted(request.transport):
            raise CallerNotAllowed("the connection was not admitted by the agent's gate")
    return await handler(request)


def _is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight_response(
    request: web.Request,
    methods: str = _ALLOWED_METHODS,
    headers: frozenset[str] = _ALLOWED_HEADERS,
) -> web.Response:
    """The answer to a CORS preflight of an admitted origin (the caller adds its CORS
    headers): the ``methods``, and the request headers asked for, if all are ``headers``."""
    if isinstance(request.match_info.http_exception, web.HTTPNotFound):
        raise NotFound(f"preflight for unknown path {request.path}")
    requested = request.headers.get("Access-Control-Request-Headers", "")
    asked = {h.strip().lower() for h in requested.split(",") if h.strip()}
    if not asked <= headers:
        refused = ", ".join(sorted(asked - headers))
        raise BadRequest(Phrase.of("bad_cors_headers", headers=refused))
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = methods
    if asked:
        response.headers["Access-Control-Allow-Headers"] = ", ".join(sorted(asked))
    response.headers["Access-Control-Max-Age"] = "600"
    if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
        response.headers["Access-Control-Allow-Private-Network"] = "true"
    return response


def admit(settings: ServerSettings, origin: str) -> Admitted:
    """The caller for a page ``origin``, or :class:`OriginNotAllowed` when the allow-list
    (or policy against pairing) refuses it."""
    decision = settings.origin_policy.check(origin)
    if not decision.allowed or decision.origin is None:
        raise OriginNotAllowed(f"origin {origin!r} is not allowed")
    if decision.via_wildcard and not settings.allow_user_pairing:
        raise OriginNotAllowed(f"origin {origin!r} needs pairing, which policy forbids")
    return Admitted(decision.origin, decision.via_wildcard)


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admit allowed origins only; answer CORS for them and nobody else."""
    origin = request.headers.get("Origin")
    if origin is None:
        if request.method != "GET":
            # Browsers always send Origin on POST; local tools use the command line.
            raise OriginNotAllowed(f"{request.method} {request.path} without Origin")
        return await handler(request)
    settings = request.app[SETTINGS]
    asker = origin
    if settings.origin_policy.is_bridge(origin):
        # The extension took the page's origin from the browser (the tab that sent the
        # message), not from the page: that origin is the one allowed, paired and asked about.
        page = request.headers.get(PAGE_ORIGIN_HEADER)
        if page is None:
            if request.method == "GET":
                return with_cors(await handler(request), origin)
            raise OriginNotAllowed(f"{origin} relayed {request.path} without naming the page")
        asker = page
    request[CALLER] = admit(settings, asker)
    try:
        response = preflight_response(request) if _is_preflight(request) else await handler(request)
    except Exception as exc:  # noqa: BLE001 - errors must carry CORS headers to be readable
        response = error_response(exc, request)
    return _api_cors(response, origin)


def with_cors(response: web.StreamResponse, origin: str) -> web.StreamResponse:
    """``response`` readable by the page of ``origin`` (an admitted one) and no other."""
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    return response


def _api_cors(response: web.StreamResponse, origin: str) -> web.StreamResponse:
    """:func:`with_cors` for an answer of API v1, whose own headers the page may read."""
    response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
    return with_cors(response, origin)
