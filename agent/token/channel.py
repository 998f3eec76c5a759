"""Frames over a pipe between the agent and a module's worker process.

A frame is a 4-byte big-endian length and a pickle. Pickle is safe here because
both ends are this program: the pipe is the child's stdin/stdout, created by the
agent when it started the child, and nothing else can write to it.
"""

from __future__ import annotations

import pickle
import struct
from typing import IO, Final

#: A frame longer than this means the stream is out of step (or not ours): give up.
MAX_FRAME: Final = 256 * 1024 * 1024
_HEADER: Final = struct.Struct(">I")


class ChannelClosed(EOFError):
    """The other end closed the pipe, or sent something that is not a frame."""


def send(stream: IO[bytes], message: object) -> None:
    """Write one frame and flush it."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:  # an unbuffered pipe may take a large frame in several writes
        written = stream.write(view)
        view = view[written or 0 :]
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
