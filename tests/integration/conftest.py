"""Fixtures shared by the integration tests: a portal to play, and the agent of a test module's
plugin layer with a page's WebSocket to it. The session CA for the verifiers (``nss``,
``ca_pem``) is in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import (
    PORTAL,
    AgentProcess,
    SessionToken,
    eventually,
    start_layer_agent,
    stopping,
)
from tests.vgca_portal import Site, serving


@pytest.fixture(scope="module")
def portal() -> Iterator[Site]:
    """A portal on loopback, with download and upload handlers as .NET and PHP portals have."""
    yield from serving()


@pytest.fixture(scope="module")
def started_layer_agent(
    request: pytest.FixtureRequest,
    token: SessionToken,
    ca_pem: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AgentProcess]:
    """The agent with the test module's plugin layer (its ``LAYER``) on the test token,
    allowing the module's ``ORIGINS`` exactly (PORTAL always), trusting the test CA (so that
    a layer's verify call can say "trusted"), 20 s to answer, in Vietnamese, without the
    cancel back-off."""
    layer: str = request.module.LAYER
    origins: tuple[str, ...] = getattr(request.module, "ORIGINS", ())
    yield from stopping(
        start_layer_agent(
            tmp_path_factory.mktemp(f"{layer}-agent"),
            token.hsm,
            layer,
            *origins,
            prompt_timeout="20",
            lang="vi",
            trust_roots=[str(ca_pem)],
        )
    )


@pytest.fixture
def layer_agent(started_layer_agent: AgentProcess) -> AgentProcess:
    """The module's layer agent with an empty script and an empty prompt record."""
    started_layer_agent.script()
    return started_layer_agent


@asynccontextmanager
async def layer_socket(
    agent: AgentProcess, layer: str, path: str = "", origin: str = PORTAL
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A page's WebSocket to the ``layer``'s port at ``path``, opened from ``origin``."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"wss://127.0.0.1:{agent.layer_ports[layer]}{path}", ssl=agent.tls, origin=origin
        ) as socket,
    ):
        yield socket
    # Let the TLS transport finish closing before the test's loop ends.
    await asyncio.sleep(0.05)


async def closed_mid_question(
    agent: AgentProcess, page: aiohttp.ClientWebSocketResponse, call: str
) -> list[str]:
    """Send ``call`` (one that asks the user) on the page's socket, wait until the user is
    asked, then drop the connection as a closed tab does; the audit rows written after."""
    before = len(agent.audit_outcomes())
    await page.send_str(call)
    await asyncio.to_thread(eventually, agent.prompts, 15, "the user was asked")
    page.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
    # Well before the layer agent's 20 s prompt timeout, which would end it CONSENT_TIMEOUT.
    await asyncio.to_thread(
        eventually, lambda: not agent.open_dialogs(), 15, "the dialog closed with the page"
    )
    rows: list[str] = await asyncio.to_thread(
        eventually, lambda: agent.audit_outcomes()[before:], 15, "the question was audited"
    )
    return rows
