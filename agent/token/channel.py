"""Frames over a pipe between the agent and a module's worker process.

A frame is a 4-byte big-endian length and a pickle. Pickle is safe here because
both ends are this program: the pipe is the child's stdin/stdout, created by the
agent when it started the child, and nothing else can write to it.
"""

from __future__ import annotations

import pickle
import select
import struct
from typing import IO, Final

#: A frame longer than this means the stream is out of step (or not ours): give up.
MAX_FRAME: Final = 256 * 1024 * 1024
_HEADER: Final = struct.Struct(">I")


class ChannelClosed(EOFError):
    """The other end closed the pipe, or sent something that is not a frame."""


def encode(message: object) -> bytes:
    """One frame."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def send(stream: IO[bytes], message: object) -> None:
    """Write one frame and flush it."""
    view = memoryview(encode(message))
    while view:  # an unbuffered pipe may take a large frame in several writes
        written = stream.write(view)
        if written is None:  # a non-blocking pipe that is full
            select.select([], [stream], [])
            continue
        view = view[written:]
    stream.flush()


def receive(stream: IO[bytes]) -> object:
    """Read one frame (blocks); :class:`ChannelClosed` at the end of the stream."""
    header = _read_exactly(stream, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ChannelClosed(f"a frame of {size} bytes: the stream is out of step")
    return pickle.loads(_read_exactly(stream, size))  # noqa: S301 - our own child, our own pipe


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


class Frames:
    """Frames out of a stream that arrives in pieces (read by the event loop as it comes)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[object]:
        """The messages completed by ``data``; :class:`ChannelClosed` when out of step."""
        self._buffer += data
        messages: list[object] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME:
                raise ChannelClosed(f"a frame of {size} bytes: the stream is out of step")
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            messages.append(pickle.loads(self._buffer[_HEADER.size : end]))  # noqa: S301 - as receive()
            del self._buffer[:end]
        return messages
