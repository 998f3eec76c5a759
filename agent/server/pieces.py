"""Answers of megabytes, written a piece at a time.

Two things keep a large answer in the agent after it is sent, when it is handed over whole:

* aiohttp keeps a connection's last answer, body and all, until the connection's next request;
* asyncio's TLS transport encrypts everything one ``write`` gives it into OpenSSL's memory buffer
  before sending any of it, and that buffer keeps its largest size for as long as the
  connection lasts. One 27 MB answer (a 20 MB document in base64) left 28-34 MB in the agent
  after every memory release, for as long as the portal kept its connection open.

So a signed document, in base64 or not, is never a body handed to aiohttp: :func:`send` writes
it, :data:`PIECE` bytes at a time at most, each write waiting until the connection has taken
the ones before (aiohttp's ``drain``), and nothing is left behind once the handler returns.
A plugin layer's WebSocket answer of megabytes (VNPT's, BKAV's, VGCA's: a signed PDF in base64)
goes the same way (:func:`send_text`): aiohttp writes a message to TLS whole, and a page keeps
its socket open all day.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final

from aiohttp import web
from aiohttp.http_writer import StreamWriter

from agent.server.middlewares import secure

log = logging.getLogger(__name__)

PIECE: Final = 256 * 1024
"""Most bytes written at a time. Pieces this small (and what TLS makes of them) come from the
heap and are reused (:data:`~agent.malloc.MMAP_THRESHOLD`); pieces of a megabyte
left the agent 3-6 MB larger at its peak for no measurable speed."""


async def send(
    request: web.Request,
    response: web.StreamResponse,
    head: bytes,
    pieces: AsyncIterator[bytes],
    tail: bytes,
) -> web.StreamResponse:
    """Send ``response`` now, its headers as they are and its body ``head``, ``pieces`` (each
    at most :data:`PIECE`) and ``tail``, all of it before the handler ends (and removes the file
    the pieces may come from). The security headers every answer carries are added here: once
    the answer is sent, the middleware that adds them comes too late."""
    first = await anext(pieces, b"")  # a file that cannot be read is still an error answer
    secure(response)
    try:
        await response.prepare(request)
        await response.write(head + first)
        async for piece in pieces:
            await response.write(piece)
        await response.write(tail)
        await response.write_eof()
    except ConnectionError:
        log.info(
            "%s %s: the client went away before the answer was sent", request.method, request.path
        )
    except Exception:  # the status is sent: all that is left is to cut the body short
        log.exception("%s %s: the answer could not be sent whole", request.method, request.path)
        if request.transport is not None:
            request.transport.close()  # a shorter body than its Content-Length: the client sees it
    return response


async def send_bytes(
    request: web.Request, response: web.StreamResponse, body: bytes
) -> web.StreamResponse:
    """``body`` as the whole answer of ``response`` (its ``Content-Length`` set here), sent with
    :func:`send`."""
    response.content_length = len(body)
    return await send(request, response, b"", of(body), b"")


async def of(body: bytes) -> AsyncGenerator[bytes, None]:
    """``body`` in pieces of :data:`PIECE` bytes (an empty body: none)."""
    for at in range(0, len(body), PIECE):
        yield body[at : at + PIECE]


_TEXT_FRAME: Final = struct.Struct("!BBQ")
"""The head of a WebSocket frame whose length needs 64 bits (RFC 6455, 5.2): FIN and the text
opcode, no mask (a server's frames have none), 127, the length."""
_FIN_TEXT: Final = 0x81
_LENGTH_64: Final = 127


async def send_text(request: web.Request, socket: web.WebSocketResponse, text: str) -> None:
    """``text`` as one WebSocket text message on ``socket`` (prepared for ``request``).

    Up to :data:`PIECE` characters, aiohttp sends it. A longer one is the same single frame
    aiohttp would write, not compressed (RFC 7692 lets any message go uncompressed), written
    here: its head, then its bytes a piece at a time, each write waiting for the connection to
    take the ones before. A connection that closes meanwhile raises :class:`ConnectionError`
    (``send_str`` returned as if the message had gone); anything else that stops the message
    half-written (a cancelled request) closes the connection, whose stream would be garbled.
    Nothing else writes to the socket meanwhile: the layers answer one call at a time, aiohttp
    answers a ping only when the next message is read, and no layer's socket has a heartbeat
    (whose pings would land inside the message).
    """
    if len(text) <= PIECE:
        await socket.send_str(text)
        return
    if text.isascii():  # base64 and JSON: as many bytes as characters, encoded piece by piece
        size, chunks = len(text), _ascii_pieces(text)
    else:
        data = text.encode()
        size, chunks = len(data), of(data)
    writer = StreamWriter(request.protocol, asyncio.get_running_loop())
    try:
        await writer.write(_TEXT_FRAME.pack(_FIN_TEXT, _LENGTH_64, size))
        async for chunk in chunks:
            await writer.write(chunk)
    except BaseException:
        if request.transport is not None:
            request.transport.close()
        raise


async def _ascii_pieces(text: str) -> AsyncGenerator[bytes, None]:
    """:func:`of` for ASCII text, each piece encoded only when it is written."""
    for at in range(0, len(text), PIECE):
        yield text[at : at + PIECE].encode("ascii")
