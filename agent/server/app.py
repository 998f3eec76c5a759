"""The aiohttp application factory and the runner that binds it to 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from agent.server.budget import BudgetLimits, MemoryBudget
from agent.server.connections import (
    ConnectionGate,
    ConnectionLimits,
    Work,
    raise_open_file_limit,
)
from agent.server.control import ControlChannel, register_control
from agent.server.keys import (
    BODY_SECONDS,
    BUDGET,
    CALLER_CHECK,
    GATE,
    SERVICE,
    SETTINGS,
    SPOOL,
    STATUS,
    ServerSettings,
)
from agent.server.middlewares import (
    budget_middleware,
    caller_middleware,
    errors_middleware,
    host_middleware,
    in_progress_middleware,
    memory_middleware,
    memory_release,
    origin_middleware,
    protocol_errors_in_json,
)
from agent.server.peer import CallerCheck
from agent.server.routes import routes
from agent.server.status_page import navigation_middleware, status_routes
from agent.service import SigningService
from agent.spool import Spool
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
    budget: MemoryBudget | None = None,
    spool: Spool | None = None,
) -> web.Application:
    """Build the API application; with ``status``, also the helpdesk page.

    The page (``GET /``, ``GET /status.json``) is not part of API v1: see
    :mod:`agent.server.status_page`. With ``control``, a second start of the agent may ask
    this one to show its window (:mod:`agent.server.control`). ``spool`` (swept by the caller)
    takes the PDFs of forms and raw bodies; an app without one answers those INTERNAL.
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
            in_progress_middleware(Work.REQUEST),
            budget_middleware,
        ],
        # Handlers read bodies themselves, each with its own limit (JSON 1 MiB, PDF 100 MiB).
        client_max_size=settings.max_body_bytes,
    )
    app[SERVICE] = service
    app[SETTINGS] = settings
    app[CALLER_CHECK] = caller_check or CallerCheck()
    app[BUDGET] = budget or MemoryBudget(BudgetLimits.for_largest(settings.largest_request))
    if spool is not None:
        app[SPOOL] = spool
    app.cleanup_ctx.append(memory_release)
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
    listener: asyncio.Server
    """The listening socket (behind the gate)."""
    gate: ConnectionGate
    """Who may connect, and the work in progress."""

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"https://{BIND_ADDRESS}:{self.port}"

    async def drain(self) -> None:
        """Close the listening socket and give the requests in progress the gate's
        ``stop_seconds`` to finish (:meth:`~agent.server.connections.ConnectionGate.settle`)."""
        self.listener.close()
        await self.gate.settle(self.gate.limits.stop_seconds)

    async def stop(self) -> None:
        """:meth:`drain` (at once if done already), end the work still in progress, close
        the open connections."""
        self.listener.close()
        await self.gate.finish(self.gate.limits.stop_seconds)
        await self.runner.cleanup()


def listening_socket(port: int) -> socket.socket:
    """A socket bound to ``127.0.0.1:port`` that a restarted agent can bind again at once.

    POSIX: ``SO_REUSEADDR``, so that connections of the previous run still in TIME_WAIT do not
    keep the port for a minute (two listeners on one port remain impossible). Windows: there
    ``SO_REUSEADDR`` would let another program bind the same port and take connections, so
    ``SO_EXCLUSIVEADDRUSE`` instead, which Windows lets rebind over TIME_WAIT.

    Raises ``OSError`` when the port is taken.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if sys.platform == "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((BIND_ADDRESS, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def start_server(
    app: web.Application,
    ports: Sequence[int],
    tls: ssl.SSLContext,
    limits: ConnectionLimits = ConnectionLimits(),  # noqa: B008 - frozen, shared safely
) -> RunningServer:
    """Listen on ``127.0.0.1`` at the first of ``ports`` that is free (0 = any), behind a
    :class:`~agent.server.connections.ConnectionGate` that judges each connection at accept
    and then speaks TLS.

    Raises the last ``OSError`` when no port is free.
    """
    check = app[CALLER_CHECK] if app[SETTINGS].check_caller else None
    raise_open_file_limit()
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=limits.idle_seconds,
        shutdown_timeout=limits.stop_seconds,
    )
    # The gate must be in the app before setup() freezes it; the server it feeds comes after.
    gate_box: list[ConnectionGate] = []
    app[GATE] = lambda: gate_box[0] if gate_box else None
    app[BODY_SECONDS] = limits.body_seconds
    await runner.setup()
    assert runner.server is not None  # noqa: S101 - setup() made it
    gate = ConnectionGate(
        protocol_errors_in_json(runner.server, app[SETTINGS].lang), tls, check, limits
    )
    gate_box.append(gate)
    loop = asyncio.get_running_loop()
    failure: OSError | None = None
    for port in ports:
        try:
            server = await loop.create_server(gate, sock=listening_socket(port), backlog=128)
        except OSError as exc:
            failure = exc
            continue
        break
    else:
        await runner.cleanup()
        raise failure or OSError("no port to listen on")
    bound = server.sockets[0].getsockname()[1]
    return RunningServer(runner, int(bound), server, gate)
