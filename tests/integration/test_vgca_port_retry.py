"""A VGCA port that another program holds at start is tried again, and the status report says
so meanwhile (agent/app.py); in process, with the retry period shortened."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

import agent.app as agent_app
from agent.app import make_service, server_settings
from agent.config import load_config
from agent.localtls import ca as tls
from agent.pairing import PairingStore
from agent.server import RunningServer
from agent.server.budget import BudgetLimits, MemoryBudget
from agent.status import StatusSource, collect
from agent.testing.prompter import ScriptedPrompter
from agent.token import TokenService

pytestmark = pytest.mark.integration


async def test_a_taken_vgca_port_is_reported_then_taken_when_it_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_app, "VGCA_RETRY_SECONDS", 0.3)
    squatter = socket.create_server(("127.0.0.1", 0))
    port = squatter.getsockname()[1]
    config = load_config(
        {"data_dir": str(tmp_path / "data"), "vgca_port": port, "lang": "en"},
        policy={},
        user_config_file=tmp_path / "none.toml",
    )
    tokens = TokenService([tmp_path / "no-such-module.so"])
    settings = server_settings(config)
    service = make_service(config, tokens, ScriptedPrompter())
    context = tls.server_context(tls.ensure(config.tls_dir))
    status = StatusSource(config, tokens, PairingStore(config.pairing_file))
    started: list[RunningServer] = []
    announced: list[str] = []
    retry = asyncio.create_task(
        agent_app._retry_vgca(  # noqa: SLF001 - the retry itself is what is tested
            config,
            service,
            settings,
            context,
            MemoryBudget(BudgetLimits.for_largest(settings.largest_request)),
            status,
            started,
            announced.append,
        )
    )
    try:
        await asyncio.sleep(1.0)
        report = await collect(status)
        assert any(f"VGCA port {port}" in p for p in report.problems), report.problems
        assert started == []
        squatter.close()
        async with asyncio.timeout(10):
            await retry
        [server] = started
        assert server.port == port
        assert announced == [f"wss://127.0.0.1:{port}"]
        assert not any("VGCA" in p for p in (await collect(status)).problems)
        await server.stop()
    finally:
        squatter.close()
        retry.cancel()
        tokens.close()
