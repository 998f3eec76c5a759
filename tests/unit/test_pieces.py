"""Answers of megabytes leave the agent a piece at a time (agent/server/pieces.py): no write
larger than a piece reaches the TLS transport, whose buffer would keep that size for as long as
the connection lasts (bench/bench_memory.py measures what that keeps)."""

from __future__ import annotations

import asyncio
import base64
import random
import socket as stdlib_socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import ClientSession, WSMsgType, web
from yarl import URL

from agent.server import pieces


async def collected(body: bytes) -> list[bytes]:
    return [piece async for piece in pieces.of(body)]


@pytest.mark.parametrize(
    "size", [0, 1, pieces.PIECE - 1, pieces.PIECE, pieces.PIECE + 1, 5 * pieces.PIECE + 7]
)
async def test_a_body_is_cut_into_pieces_that_join_to_it(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    got = await collected(body)
    assert b"".join(got) == body
    assert all(0 < len(piece) <= pieces.PIECE for piece in got)
    assert len(got) == -(-size // pieces.PIECE)


# --- a WebSocket message of megabytes --------------------------------------------------------


@dataclass
class Served:
    """What the handler of :func:`serving` saw."""

    writes: list[int] = field(default_factory=list)
    """The size of every write that reached the connection's transport."""
    errors: list[BaseException] = field(default_factory=list)
    cut_short: list[bool] = field(default_factory=list)
    """With ``cancel``: whether the connection was closing once the message was cancelled."""


@asynccontextmanager
async def serving(text: str, *, cancel: bool = False) -> AsyncIterator[tuple[str, Served]]:
    """A server whose socket answers its first message with ``text`` (by ``send_text``), and
    its URL; with ``cancel``, the answer is cancelled at its first wait for the connection.
    A page that goes away cancels nothing here (aiohttp's test server would): the error the
    answer meets is seen, as where a request outlives its page (VGCA's)."""
    served = Served()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        transport = request.transport
        assert transport is not None
        write = transport.write

        def recorded(data: bytes | bytearray | memoryview) -> None:
            served.writes.append(len(data))
            write(data)

        transport.write = recorded  # type: ignore[method-assign]
        await socket.receive()
        sending = asyncio.ensure_future(pieces.send_text(request, socket, text))
        if cancel:
            await asyncio.sleep(0)  # the answer runs until it waits for the connection
            sending.cancel()
        try:
            await sending
        except ConnectionError as exc:
            served.errors.append(exc)
        except asyncio.CancelledError:
            served.cut_short.append(transport.is_closing())
        return socket

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/", served
    finally:
        await runner.cleanup()


# Noise, so that a page that offers compression cannot shrink it below a piece.
_NOISE = random.Random(20261207)
ASCII_LONG = base64.b64encode(_NOISE.randbytes(pieces.PIECE)).decode()
UNICODE_LONG = "".join(_NOISE.choices("Kýsốvănbảnđiệntử ", k=pieces.PIECE + 9))


@pytest.mark.parametrize("compress", [15, 0], ids=["deflate offered", "no deflate"])
@pytest.mark.parametrize(
    "text", ["ok", ASCII_LONG, UNICODE_LONG], ids=["short", "ascii", "unicode"]
)
async def test_a_long_message_arrives_whole_and_leaves_a_piece_at_a_time(
    text: str, compress: int
) -> None:
    async with (
        serving(text) as (url, served),
        ClientSession() as session,
        session.ws_connect(url, compress=compress, max_msg_size=0) as socket,
    ):
        await socket.send_str("go")
        message = await socket.receive(timeout=10)
    assert message.type is WSMsgType.TEXT
    assert message.data == text
    if len(text) > pieces.PIECE:
        assert max(served.writes) <= pieces.PIECE
        assert sum(served.writes) >= len(text.encode())


async def test_a_page_gone_in_the_middle_of_a_long_message_is_a_connection_error() -> None:
    """A page that reads the start of the answer and is gone: a client of its own, whose small
    buffers keep the answer from fitting in the connection, so that it is gone mid-message."""
    async with serving(ASCII_LONG * 40) as (url, served):
        host, port = URL(url).host, URL(url).port
        raw = stdlib_socket.socket()
        raw.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 16 * 1024)
        raw.setblocking(False)
        await asyncio.get_running_loop().sock_connect(raw, (host, port))
        reader, writer = await asyncio.open_connection(sock=raw)
        key = base64.b64encode(random.randbytes(16)).decode()
        writer.write(
            f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        mask = random.randbytes(4)
        go = bytes(byte ^ mask[n % 4] for n, byte in enumerate(b"go"))
        writer.write(bytes([0x81, 0x80 | len(go)]) + mask + go)  # a client's frames are masked
        await reader.readexactly(64 * 1024)  # the answer has begun
        # Closed with the rest unread: the connection is reset, as a killed tab's may be.
        raw.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
        for _ in range(200):
            if served.errors:
                break
            await asyncio.sleep(0.05)
    [error] = served.errors
    assert isinstance(error, ConnectionError)


async def test_a_long_message_cancelled_half_written_ends_the_connection() -> None:
    """Its frame cut short would garble whatever the socket sent next."""
    async with (
        serving(ASCII_LONG * 40, cancel=True) as (url, served),
        ClientSession() as session,
        session.ws_connect(url, max_msg_size=0) as socket,
    ):
        await socket.send_str("go")
        message = await socket.receive(timeout=10)
    assert served.cut_short == [True]
    assert message.type in {WSMsgType.CLOSED, WSMsgType.CLOSE, WSMsgType.ERROR}
