"""A layer's port that another program holds at start is tried again, and the status report says
so meanwhile (agent/app.py); in process, with the retry period shortened. Then, a layer whose
vendor port is held listens on the next one that vendor's library tries, and says so."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

import agent.app as agent_app
from agent.app import make_service, server_settings
from agent.compat.layer import LayerContext, start_layer
from agent.compat.vgca.layer import LAYER as VGCA
from agent.compat.vnpt.layer import LAYER as VNPT
from agent.config import load_config
from agent.localtls import ca as tls
from agent.messages import Lang
from agent.pairing import PairingStore
from agent.server import RunningServer
from agent.server.budget import BudgetLimits, MemoryBudget
from agent.status import StatusSource, collect
from agent.status.model import StatusReport
from agent.status.render import report_lines
from agent.testing.prompter import ScriptedPrompter
from agent.token import TokenService

pytestmark = pytest.mark.integration


async def test_a_taken_vgca_port_is_reported_then_taken_when_it_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_app, "LAYER_RETRY_SECONDS", 0.3)
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
    announced: list[tuple[str, str]] = []
    layers = LayerContext(
        service,
        settings,
        MemoryBudget(BudgetLimits.for_largest(settings.largest_request)),
        config.data_dir,
    )
    retry = asyncio.create_task(
        agent_app.retry_layer(
            VGCA, config, layers, context, status, started, lambda *a: announced.append(a)
        )
    )
    try:
        await asyncio.sleep(1.0)
        report = await collect(status)
        assert any(f"VGCA Sign Service port {port}" in p for p in report.problems), report.problems
        assert started == []
        squatter.close()
        async with asyncio.timeout(10):
            await retry
        [server] = started
        assert server.port == port
        assert announced == [("vgca", f"wss://127.0.0.1:{port}")]
        [listener] = (await collect(status)).listeners
        assert listener.url == f"wss://127.0.0.1:{port}" and listener.held == ()
        assert not any("VGCA" in p for p in (await collect(status)).problems)
        await server.stop()
    finally:
        squatter.close()
        retry.cancel()
        tokens.close()


async def test_a_layer_whose_first_port_is_held_listens_on_the_next_and_says_so(
    tmp_path: Path,
) -> None:
    squatter = socket.create_server(("127.0.0.1", 0))  # the vendor's own plugin, say
    held = squatter.getsockname()[1]
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free = probe.getsockname()[1]
    config = load_config(
        {"data_dir": str(tmp_path / "data"), "lang": "en"},
        policy={},
        user_config_file=tmp_path / "none.toml",
    )
    tokens = TokenService([tmp_path / "no-such-module.so"])
    settings = server_settings(config)
    layers = LayerContext(
        make_service(config, tokens, ScriptedPrompter()),
        settings,
        MemoryBudget(BudgetLimits.for_largest(settings.largest_request)),
        config.data_dir,
    )
    context = tls.server_context(tls.ensure(config.tls_dir))
    started = await start_layer(VNPT, layers, context, (held, free))
    try:
        assert started.server is not None and started.server.port == free
        assert started.state.url == f"wss://127.0.0.1:{free}"
        assert started.state.held == (held,)
        status = StatusSource(config, tokens, PairingStore(config.pairing_file))
        status.listeners["vnpt"] = started.state
        report = await collect(status)
        assert report.listeners == (started.state,)
        text = "\n".join(report_lines(report, Lang.EN))
        assert (
            f"  VNPT-CA Plugin: wss://127.0.0.1:{free} (port {held} held by another program)"
            in text
        )
        vi = "\n".join(report_lines(report, Lang.VI))
        assert f"(cổng {held} do chương trình khác giữ)" in vi
        # The JSON form carries it, and reads back the same.
        assert StatusReport.from_json(report.to_json()).listeners == report.listeners
        # Every port held: no server, the agent keeps running, the report says which.
        await started.server.stop()
        blocked = await start_layer(VNPT, layers, context, (held,))
        assert blocked.server is None
        assert blocked.state.url is None and blocked.state.held == (held,)
    finally:
        squatter.close()
        tokens.close()
