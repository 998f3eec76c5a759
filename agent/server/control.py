"""The running agent's control request: ``POST /control/show`` from a second start.

A second ``kyso-agent run`` or ``serve`` of the same user asks the running agent to show its
window (the tray's status report; a headless agent logs the request) instead of starting a
second server (:mod:`agent.instance`). Not part of API v1, and not for web pages:

* it is answered by :func:`control_middleware`, placed after the Host and caller (same OS
  user) checks and before the origin/CORS middleware: its answers never carry
  ``Access-Control-Allow-Origin``, and the API's allow-list plays no part;
* a request carrying ``Origin`` or any ``Sec-Fetch-*`` header (a browser sends them) is
  refused, ``ORIGIN_NOT_ALLOWED``;
* the request must carry the secret of ``DATA_DIR/agent.instance.json`` in the
  ``Kyso-Control-Secret`` header, compared in constant time; without it,
  ``CALLER_NOT_ALLOWED``. A browser cannot attach that header to a cross-origin request
  without a preflight, which is refused like any request with ``Origin``;
* it shows a window and nothing else: no PIN, no consent, no token, no signature.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from agent.errors import CallerNotAllowed, MethodNotAllowed, OriginNotAllowed
from agent.instance import SECRET_HEADER, SHOW_PATH
from agent.server.middlewares import caller_middleware, json_response

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControlChannel:
    """What the control request needs from the running agent."""

    secret: str
    """The secret published in ``agent.instance.json``."""
    show: Callable[[], bool] | None = None
    """Shows the agent's window, returning at once (runs on the event loop); ``None`` for
    the headless agent."""


CONTROL = web.AppKey("control", ControlChannel)


def _from_browser(request: web.Request) -> bool:
    return "Origin" in request.headers or any(
        name.lower().startswith("sec-fetch-") for name in request.headers
    )


def _has_secret(request: web.Request, secret: str) -> bool:
    given = request.headers.get(SECRET_HEADER, "")
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


@web.middleware
async def control_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer ``/control/show`` here; pass everything else on."""
    if request.path != SHOW_PATH:
        return await handler(request)
    if _from_browser(request):
        raise OriginNotAllowed("a web page sent a control request")
    if request.method != "POST":
        raise MethodNotAllowed(f"method {request.method} is not allowed on {request.path}")
    channel = request.app[CONTROL]
    if not _has_secret(request, channel.secret):
        raise CallerNotAllowed("control request without this agent's secret")
    if channel.show is None:
        log.info("another start of Kyso Agent asked for this agent's window; it has none (serve)")
        return json_response({"window": False})
    log.info("another start of Kyso Agent asked for this agent's window; showing the status")
    return json_response({"window": channel.show()})


def register_control(app: web.Application, channel: ControlChannel) -> None:
    """Answer the control request on ``app`` (before it starts).

    The middleware goes right after the caller check, so that Host and OS-user checks
    apply and the page-facing middlewares after it (status page, origin/CORS) never see
    the request.
    """
    app[CONTROL] = channel
    app.middlewares.insert(app.middlewares.index(caller_middleware) + 1, control_middleware)
