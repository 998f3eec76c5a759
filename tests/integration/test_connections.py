"""The gate of the listening ports (agent/server/connections.py), on the real server: the
agent's own app, its local TLS, 127.0.0.1, with short limits so that timeouts show within seconds.

Clients are raw sockets, as an attacker's would be: idle after TLS, headers or a body that
trickle in, more connections than the cap, and (as root) connections from another OS user,
which must be closed before TLS, with the refusals logged a few times, not once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.app import make_service, server_settings
from agent.config import load_config
from agent.localtls import ca as tls
from agent.server import RunningServer, create_app, start_server
from agent.server.budget import MemoryBudget
from agent.server.connections import ConnectionGate, ConnectionLimits, RepeatLimiter, Work
from agent.server.peer import CallerCheck, TcpEndpoint
from agent.testing.prompter import ScriptedPrompter
from agent.token import TokenService

pytestmark = pytest.mark.integration

LIMITS = ConnectionLimits(
    max_connections=4, handshake_seconds=2, idle_seconds=1.5, body_seconds=1.5
)
NOBODY = 65534
PORTAL = "https://portal.example.gov.vn"


@contextlib.asynccontextmanager
async def serve(
    tmp_path: Path,
    limits: ConnectionLimits = LIMITS,
    budget: MemoryBudget | None = None,
    caller_check: CallerCheck | None = None,
) -> AsyncIterator[RunningServer]:
    config = load_config(
        {"data_dir": str(tmp_path / "data"), "allowed_origins": [PORTAL]},
        policy={},
        user_config_file=tmp_path / "none.toml",
    )
    tokens = TokenService([tmp_path / "no-such-module.so"])
    files = tls.ensure(config.tls_dir)
    app = create_app(
        make_service(config, tokens, ScriptedPrompter()),
        server_settings(config),
        caller_check,
        budget=budget,
    )
    server = await start_server(app, [0], tls.server_context(files), limits)
    try:
        yield server
    finally:
        await server.stop()
        tokens.close()


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # these tests are about the gate, not the certificate
    return context


async def open_tls(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, ssl=client_context())


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sent until it closed; fails when it is still open after
    ``within`` seconds."""
    received = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            received += chunk
    return received


def info_request(port: int) -> bytes:
    return f"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


async def test_a_connection_of_this_user_is_served(tmp_path: Path) -> None:
    async with serve(tmp_path) as server:
        reader, writer = await open_tls(server.port)
        writer.write(info_request(server.port))
        status = await reader.readline()
        assert status.startswith(b"HTTP/1.1 200"), status
        writer.close()


async def test_an_idle_connection_after_tls_is_closed(tmp_path: Path) -> None:
    async with serve(tmp_path) as server:
        reader, _writer = await open_tls(server.port)
        assert await closed_by_server(reader, within=LIMITS.idle_seconds + 5) == b""


async def test_headers_that_trickle_in_are_cut_off(tmp_path: Path) -> None:
    async with serve(tmp_path) as server:
        reader, writer = await open_tls(server.port)
        started = time.monotonic()
        with contextlib.suppress(ConnectionError):
            for byte in info_request(server.port)[:-2] * 10:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)
                if reader.at_eof() or time.monotonic() - started > LIMITS.idle_seconds + 5:
                    break
        await closed_by_server(reader, within=LIMITS.idle_seconds + 5)


async def test_a_body_that_trickles_in_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    async with serve(tmp_path) as server:
        reader, writer = await open_tls(server.port)
        writer.write(
            (
                "POST /v1/sign HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                f"Origin: {PORTAL}\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{"
            ).encode()
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), timeout=LIMITS.body_seconds + 10)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), head
        message = json.loads(body)["error"]["message"]
        assert json.loads(body)["error"]["code"] == "BAD_REQUEST", body
        assert "1.5 giây" in message, message  # what is wrong, in the default language
        writer.close()


async def test_past_the_cap_a_connection_is_closed_at_once_and_the_others_still_work(
    tmp_path: Path,
) -> None:
    async with serve(tmp_path, ConnectionLimits(max_connections=3, idle_seconds=30)) as server:
        held = [await open_tls(server.port) for _ in range(3)]
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            await asyncio.wait_for(open_tls(server.port), timeout=5)
        reader, writer = held[0]
        writer.write(info_request(server.port))
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        for _, w in held:
            w.close()

        # Closed connections give their places back.
        async def reopened() -> bool:
            try:
                r, w = await asyncio.wait_for(open_tls(server.port), timeout=5)
            except (ssl.SSLError, ConnectionError, OSError):
                return False
            w.write(info_request(server.port))
            ok = (await r.readline()).startswith(b"HTTP/1.1 200")
            w.close()
            return ok

        deadline = time.monotonic() + 10
        while not await reopened():
            assert time.monotonic() < deadline, "places were not given back"
            await asyncio.sleep(0.2)


async def test_a_tls_handshake_that_never_comes_is_given_up(tmp_path: Path) -> None:
    async with serve(tmp_path) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await closed_by_server(reader, within=LIMITS.handshake_seconds + 5) == b""
        writer.close()


def _connect_as(uid: int, port: int, hold: float) -> int:
    """Fork a child that becomes ``uid``, connects, sends a TLS ClientHello and waits."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                try:
                    with client_context().wrap_socket(raw) as wrapped:
                        wrapped.settimeout(hold)
                        wrapped.recv(1)
                        status = 3  # served: the gate let another user in
                except (ssl.SSLError, OSError):
                    status = 0  # closed before or during the handshake: refused
        finally:
            os._exit(status)
    return pid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
async def test_another_users_connections_are_closed_before_tls_and_logged_a_few_times(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent.server.connections")
    async with serve(tmp_path, ConnectionLimits(max_connections=4, idle_seconds=30)) as server:
        children = [_connect_as(NOBODY, server.port, hold=5) for _ in range(20)]
        statuses = []
        for pid in children:
            _, status = await asyncio.to_thread(os.waitpid, pid, 0)
            statuses.append(os.waitstatus_to_exitcode(status))
        assert statuses == [0] * 20, statuses
        # None of them took a place: this user's requests are still served.
        reader, writer = await open_tls(server.port)
        writer.write(info_request(server.port))
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        writer.close()
    refusals = [r for r in caplog.records if "another user" in r.getMessage()]
    assert 1 <= len(refusals) <= 5


class LaggingOwnerTable(CallerCheck):
    """Windows' owner table as Wine 8 fills it: a client's socket is listed with its process
    only a moment after the accept (tests/windows shows the real one). A fake of the table
    alone; the gate, the server and the client are real."""

    def __init__(self, misses: int) -> None:
        super().__init__(platform="win32")
        self.misses = misses
        self.looks = 0

    @property
    def owner_may_lag(self) -> bool:
        return True

    def is_same_user(self, peer: TcpEndpoint, local: TcpEndpoint) -> bool:
        self.looks += 1
        return self.looks > self.misses


async def test_a_caller_missing_from_the_owner_table_at_first_is_looked_at_again(
    tmp_path: Path,
) -> None:
    table = LaggingOwnerTable(misses=1)
    async with serve(tmp_path, caller_check=table) as server:
        reader, writer = await open_tls(server.port)
        writer.write(info_request(server.port))
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        writer.close()
    assert table.looks == 2


async def test_a_caller_still_missing_at_the_second_look_is_refused_before_tls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent.server.connections")
    table = LaggingOwnerTable(misses=2)
    async with serve(tmp_path, caller_check=table) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await closed_by_server(reader, within=5) == b""
        writer.close()
    assert table.looks == 2
    assert [r.getMessage() for r in caplog.records] == [
        "a connection from another user of this computer was refused"
    ]


def test_repeated_log_lines_are_limited_and_the_dropped_ones_counted() -> None:
    now = [0.0]
    limiter = RepeatLimiter(burst=3, window=60, clock=lambda: now[0])
    assert [limiter.allow("x")[0] for _ in range(10)] == [True] * 3 + [False] * 7
    assert limiter.allow("y") == (True, 0)
    now[0] = 61
    assert limiter.allow("x") == (True, 7)


async def test_a_lost_connection_is_told_once_to_each_watcher_still_watching() -> None:
    gate = ConnectionGate(asyncio.Protocol, ssl.create_default_context(), None, ConnectionLimits())
    doorway = gate()
    assert isinstance(doorway, asyncio.Protocol)
    told: list[str] = []
    doorway.watch(lambda: told.append("request"))
    stop = doorway.watch(lambda: told.append("answered"))
    stop()  # its request ended before the client went away
    gate.on_lost(None, lambda: told.append("no transport"))()  # not the gate's: never told
    doorway.connection_lost(None)
    doorway.connection_lost(None)  # told once
    assert told == ["request"]
    # A watcher that comes after the loss is told at once (on the next turn of the loop).
    doorway.watch(lambda: told.append("late"))
    await asyncio.sleep(0)
    assert told == ["request", "late"]


async def test_stopping_lets_requests_end_then_cancels_the_others_and_waits_for_them() -> None:
    gate = ConnectionGate(asyncio.Protocol, ssl.create_default_context(), None, ConnectionLimits())
    unwound: list[str] = []

    async def request(name: str, seconds: float, work: Work = Work.REQUEST) -> None:
        task = asyncio.current_task()
        assert task is not None
        with gate.serving(None, task, work):
            try:
                await asyncio.sleep(seconds)
            finally:
                await asyncio.sleep(0)  # a dialog being closed, an audit row being written
                unwound.append(name)

    quick = asyncio.create_task(request("signature", 0.01))
    waiting = asyncio.create_task(request("question", 3600))
    page = asyncio.create_task(request("idle socket", 3600, Work.SOCKET))
    await asyncio.sleep(0)
    await gate.finish(1.0)
    assert quick.done() and not quick.cancelled()  # it ended within the grace
    assert waiting.cancelled() and page.cancelled()  # ended, and wound down by then
    assert unwound == ["signature", "question", "idle socket"]
    # Work that comes once the agent is stopping ends at once.
    late = asyncio.create_task(request("late", 3600))
    with pytest.raises(asyncio.CancelledError):
        await late
    assert unwound[-1] == "late"
