"""Answers of megabytes leave the agent a piece at a time (agent/server/pieces.py): no write
larger than a piece reaches the TLS transport, whose buffer would keep that size for as long as
the connection lasts (bench/bench_memory.py measures what that keeps)."""

from __future__ import annotations

import asyncio
import base64
import random
import socket as stdlib_socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import ClientSession, WSMsgType, web
from aiohttp.test_utils import TestServer

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
async def serving(text: str, *, cancel: bool = False) -> AsyncIterator[tuple[TestServer, Served]]:
    """A server whose socket answers its first message with ``text`` (by ``send_text``); with
    ``cancel``, the answer is cancelled at its first wait for the connection."""
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
    async with TestServer(app) as server:
        yield server, served


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
        serving(text) as (server, served),
        ClientSession() as session,
        session.ws_connect(server.make_url("/"), compress=compress, max_msg_size=0) as socket,
    ):
        await socket.send_str("go")
        message = await socket.receive(timeout=10)
    assert message.type is WSMsgType.TEXT
    assert message.data == text
    if len(text) > pieces.PIECE:
        assert max(served.writes) <= pieces.PIECE
        assert sum(served.writes) >= len(text.encode())


async def test_a_page_gone_in_the_middle_of_a_long_message_is_a_connection_error() -> None:
    async with serving(ASCII_LONG * 40) as (server, served), ClientSession() as session:
        socket = await session.ws_connect(server.make_url("/"))
        await socket.send_str("go")
        raw = socket.get_extra_info("socket")
        raw.shutdown(stdlib_socket.SHUT_RDWR)  # as a closed tab does, without a close frame
        await socket.close()
        for _ in range(100):
            if served.errors:
                break
            await asyncio.sleep(0.05)
    [error] = served.errors
    assert isinstance(error, ConnectionError)


async def test_a_long_message_cancelled_half_written_ends_the_connection() -> None:
    """Its frame cut short would garble whatever the socket sent next."""
    async with (
        serving(ASCII_LONG * 40, cancel=True) as (server, served),
        ClientSession() as session,
        session.ws_connect(server.make_url("/"), max_msg_size=0) as socket,
    ):
        await socket.send_str("go")
        message = await socket.receive(timeout=10)
    assert served.cut_short == [True]
    assert message.type in {WSMsgType.CLOSED, WSMsgType.CLOSE, WSMsgType.ERROR}
