"""The worker pipe's frames (agent/child/channel.py): the PIN never enters an immutable copy.

A pickle is ``bytes``: whatever goes in-band cannot be wiped and lingers in freed memory until
reused (test_pin_memory.py caught such a copy in the agent once). The PIN of a Sign travels out
of band, in the frame only, and the frame is wiped once written.
"""

from __future__ import annotations

import io
import struct

import pytest

from agent.child import channel
from agent.token.calls import Reply, Sign
from agent.token.mechanisms import RsaScheme

PIN = b"80471326"


def sign_request() -> Sign:
    return Sign(None, (), RsaScheme.PKCS1V15, bytearray(PIN))  # type: ignore[arg-type]


def test_the_pin_is_out_of_the_pickle_and_comes_back_whole() -> None:
    frame = channel.encode(sign_request())
    size, count = struct.unpack_from(">II", frame)
    pickled = bytes(frame[8 : 8 + size])
    assert PIN not in pickled
    assert count == 1
    received = channel.receive(io.BytesIO(bytes(frame)))
    assert isinstance(received, Sign)
    assert received.pin == bytearray(PIN)


def test_a_frame_is_wiped_once_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    frames: list[bytearray] = []
    encode = channel.encode

    def keep(message: object) -> bytearray:
        frames.append(encode(message))
        return frames[-1]

    monkeypatch.setattr(channel, "encode", keep)
    out = io.BytesIO()
    channel.send(out, sign_request())
    assert PIN in out.getvalue()  # it did travel
    [frame] = frames
    assert frame == bytearray(len(frame))


def test_frames_arriving_in_pieces_are_rebuilt() -> None:
    whole = bytes(channel.encode(Reply("ok", None, (), False)) + channel.encode(sign_request()))
    frames = channel.Frames()
    messages = [m for i in range(0, len(whole), 7) for m in frames.feed(whole[i : i + 7])]
    assert isinstance(messages[0], Reply) and messages[0].value == "ok"
    assert isinstance(messages[1], Sign) and messages[1].pin == bytearray(PIN)


def test_a_header_out_of_step_closes_the_channel() -> None:
    with pytest.raises(channel.ChannelClosed):
        channel.receive(io.BytesIO(struct.pack(">II", channel.MAX_FRAME + 1, 0)))
