"""The aiohttp application factory and the runner that binds it to 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, cast

from aiohttp import web

from agent.server.control import ControlChannel, register_control
from agent.server.keys import CALLER_CHECK, SERVICE, SETTINGS, STATUS, ServerSettings
from agent.server.middlewares import (
    caller_middleware,
    errors_middleware,
    host_middleware,
    memory_middleware,
    origin_middleware,
)
from agent.server.peer import CallerCheck
from agent.server.routes import routes
from agent.server.status_page import navigation_middleware, status_routes
from agent.service import SigningService
from agent.status import StatusSource

#: Loopback only: the agent must never be reachable from the network.
BIND_ADDRESS: Final = "127.0.0.1"


def create_app(
    service: SigningService,
    settings: ServerSettings,
    caller_check: CallerCheck | None = None,
    *,
    status: StatusSource | None = None,
    control: ControlChannel | None = None,
) -> web.Application:
    """Build the API application; with ``status``, also the helpdesk page.

    The page (``GET /``, ``GET /status.json``) is not part of API v1: see
    :mod:`agent.server.status_page`. With ``control``, a second start of the agent may ask
    this one to show its window (:mod:`agent.server.control`).
    """
    # Status requests from web pages are refused before the origin middleware adds CORS.
    checks = [navigation_middleware] if status is not None else []
    app = web.Application(
        middlewares=[
            memory_middleware,
            errors_middleware,
            host_middleware,
            caller_middleware,
            *checks,
            origin_middleware,
        ],
        # Handlers read bodies themselves, each with its own limit (JSON 1 MiB, PDF 100 MiB).
        client_max_size=settings.max_body_bytes,
    )
    app[SERVICE] = service
    app[SETTINGS] = settings
    app[CALLER_CHECK] = caller_check or CallerCheck()
    app.add_routes(routes)
    if status is not None:
        app[STATUS] = status
        app.add_routes(status_routes)
    if control is not None:
        register_control(app, control)
    return app


@dataclass
class RunningServer:
    """A started server and the port it got."""

    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"https://{BIND_ADDRESS}:{self.port}"

    async def stop(self) -> None:
        """Close the listening socket and open connections."""
        await self.runner.cleanup()


async def start_server(
    app: web.Application, ports: Sequence[int], tls: ssl.SSLContext
) -> RunningServer:
    """Listen with TLS on ``127.0.0.1`` at the first of ``ports`` that is free (0 = any).

    Raises the last ``OSError`` when none is.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    failure: OSError | None = None
    for port in ports:
        site = web.TCPSite(runner, BIND_ADDRESS, port, ssl_context=tls, reuse_address=False)
        try:
            await site.start()
        except OSError as exc:
            failure = exc
            continue
        break
    else:
        await runner.cleanup()
        raise failure or OSError("no port to listen on")
    server = cast(asyncio.Server | None, site._server)  # noqa: SLF001 - the only place with the port
    assert server is not None and server.sockets  # noqa: S101
    bound = server.sockets[0].getsockname()[1]
    return RunningServer(runner, int(bound))
