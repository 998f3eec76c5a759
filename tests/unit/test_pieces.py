"""Answers of megabytes leave the agent a piece at a time (agent/server/pieces.py): no write
larger than a piece reaches the TLS transport, whose buffer would keep that size for as long as
the connection lasts (bench/bench_memory.py measures what that keeps)."""

from __future__ import annotations

import pytest

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
