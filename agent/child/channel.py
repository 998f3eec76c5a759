"""Frames over a pipe between the agent and a module's worker process.

A frame is an 8-byte big-endian header (the pickle's length, the number of out-of-band
buffers), a pickle (protocol 5), then each out-of-band buffer as a 4-byte length and its bytes.
Pickle is safe here because both ends are this program: the pipe is the child's stdin/stdout,
created by the agent when it started the child, and nothing else can write to it.

A message's pickle buffers (the PIN of a :class:`~agent.token.calls.Sign`, which pickles it
as one) travel out of band: their bytes are copied only into the frame, a ``bytearray`` the
sender wipes once it is written, and on the receiving side into buffers wiped once the message
is rebuilt. An in-band pickle would have copied the PIN into immutable ``bytes`` that no one can
wipe and that linger in freed memory until reused.
"""

from __future__ import annotations

import io
import pickle
import select
import struct
from typing import IO, Final

#: A frame longer than this means the stream is out of step (or not ours): give up.
MAX_FRAME: Final = 256 * 1024 * 1024
_HEADER: Final = struct.Struct(">II")
_LENGTH: Final = struct.Struct(">I")


class ChannelClosed(EOFError):
    """The other end closed the pipe, or sent something that is not a frame."""


def encode(message: object) -> bytearray:
    """One frame, in a buffer the caller wipes (:func:`wipe_frame`) once it is written."""
    buffers: list[pickle.PickleBuffer] = []
    stream = io.BytesIO()
    pickle.Pickler(stream, protocol=5, buffer_callback=buffers.append).dump(message)
    data = stream.getbuffer()
    raws = [b.raw() for b in buffers]
    frame = bytearray(_HEADER.size + len(data) + sum(_LENGTH.size + len(r) for r in raws))
    _HEADER.pack_into(frame, 0, len(data), len(raws))
    at = _HEADER.size
    frame[at : at + len(data)] = data
    at += len(data)
    for raw in raws:
        _LENGTH.pack_into(frame, at, len(raw))
        at += _LENGTH.size
        frame[at : at + len(raw)] = raw
        at += len(raw)
    data.release()
    return frame


def wipe_frame(frame: bytearray) -> None:
    """Overwrite a frame that may hold a PIN."""
    frame[:] = bytes(len(frame))


def send(stream: IO[bytes], message: object) -> None:
    """Write one frame and flush it."""
    frame = encode(message)
    try:
        view = memoryview(frame)
        while view:  # an unbuffered pipe may take a large frame in several writes
            written = stream.write(view)
            if written is None:  # a non-blocking pipe that is full
                select.select([], [stream], [])
                continue
            view = view[written:]
        view.release()
        stream.flush()
    finally:
        wipe_frame(frame)


def receive(stream: IO[bytes]) -> object:
    """Read one frame (blocks); :class:`ChannelClosed` at the end of the stream."""
    size, count = _HEADER.unpack(_read_exactly(stream, _HEADER.size))
    if size > MAX_FRAME:
        raise ChannelClosed(f"a frame of {size} bytes: the stream is out of step")
    data = _read_exactly(stream, size)
    buffers: list[bytearray] = []
    try:
        for _ in range(count):
            (length,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))
            if length > MAX_FRAME:
                raise ChannelClosed(f"a buffer of {length} bytes: the stream is out of step")
            buffer = bytearray(length)
            _read_into(stream, buffer)
            buffers.append(buffer)
        return pickle.loads(data, buffers=buffers)  # noqa: S301 - our own child, our own pipe
    finally:
        for buffer in buffers:
            wipe_frame(buffer)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise ChannelClosed("the pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_into(stream: IO[bytes], buffer: bytearray) -> None:
    view = memoryview(buffer)
    try:
        while view:
            got = stream.readinto(view)  # type: ignore[attr-defined]
            if not got:
                raise ChannelClosed("the pipe closed")
            view = view[got:]
    finally:
        view.release()


class Frames:
    """Frames out of a stream that arrives in pieces (read by the event loop as it comes)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[object]:
        """The messages completed by ``data``; :class:`ChannelClosed` when out of step."""
        self._buffer += data
        messages: list[object] = []
        while (parsed := self._next()) is not None:
            message, end = parsed
            messages.append(message)
            self._buffer[:end] = bytes(end)  # wiped before it goes (replies carry no PIN today)
            del self._buffer[:end]
        return messages

    def _next(self) -> tuple[object, int] | None:
        if len(self._buffer) < _HEADER.size:
            return None
        size, count = _HEADER.unpack_from(self._buffer)
        if size > MAX_FRAME:
            raise ChannelClosed(f"a frame of {size} bytes: the stream is out of step")
        at = _HEADER.size + size
        spans = []
        for _ in range(count):
            if len(self._buffer) < at + _LENGTH.size:
                return None
            (length,) = _LENGTH.unpack_from(self._buffer, at)
            if length > MAX_FRAME:
                raise ChannelClosed(f"a buffer of {length} bytes: the stream is out of step")
            spans.append((at + _LENGTH.size, at + _LENGTH.size + length))
            at += _LENGTH.size + length
        if len(self._buffer) < at:
            return None
        buffers = [bytearray(self._buffer[a:b]) for a, b in spans]
        try:
            message = pickle.loads(  # noqa: S301 - as receive()
                self._buffer[_HEADER.size : _HEADER.size + size], buffers=buffers
            )
        finally:
            for buffer in buffers:
                wipe_frame(buffer)
        return message, at
