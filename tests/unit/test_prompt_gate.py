"""The prompt gate's places (agent/consent/gate.py): the cap over all origins is real, and
origins admitted through a wildcard entry can never fill it ahead of an exactly named portal."""

from __future__ import annotations

import asyncio

import pytest

from agent.consent.gate import GateLimits, PromptGate
from agent.errors import Busy

PORTAL = "https://dichvucong.gov.vn"


async def hold(gate: PromptGate, origin: str, release: asyncio.Event, *, wildcard: bool) -> None:
    async with gate.turn(origin, wildcard=wildcard):
        await release.wait()


async def fill(
    gate: PromptGate, origins: list[str], *, wildcard: bool
) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    release = asyncio.Event()
    tasks = [asyncio.create_task(hold(gate, o, release, wildcard=wildcard)) for o in origins]
    await asyncio.sleep(0.01)  # every request is in the gate: on screen or waiting
    return release, tasks


async def test_the_cap_over_all_origins_counts_requests_waiting_for_the_screen() -> None:
    """40 different origins, one request each: each gets its origin's turn at once and then
    waits for the screen. Those waits count; the 33rd request is BUSY."""
    gate = PromptGate(GateLimits(waiting_total=32, waiting_wildcard=64))
    origins = [f"https://portal-{i}.example.gov.vn" for i in range(32)]
    release, tasks = await fill(gate, origins, wildcard=False)
    with pytest.raises(Busy):
        async with gate.turn("https://late.example.gov.vn"):
            pass
    release.set()
    await asyncio.gather(*tasks)
    # Places are given back when the questions are answered.
    async with gate.turn("https://late.example.gov.vn"):
        pass


async def test_wildcard_origins_share_a_few_places_and_a_named_portal_still_gets_in() -> None:
    gate = PromptGate(GateLimits(waiting_total=32, waiting_wildcard=8))
    made_up = [f"https://x{i}.tinh.gov.vn" for i in range(40)]
    release, tasks = await fill(gate, made_up[:8], wildcard=True)
    busy = 0
    for origin in made_up[8:]:
        try:
            async with gate.turn(origin, wildcard=True):
                pass
        except Busy:
            busy += 1
    assert busy == 32, "every made-up subdomain past the wildcard share is refused at once"
    # The portal IT named is not refused: it waits for the screen behind at most 8 questions.
    portal = asyncio.create_task(hold(gate, PORTAL, asyncio.Event(), wildcard=False))
    await asyncio.sleep(0.01)
    assert not portal.done()
    portal.cancel()
    release.set()
    await asyncio.gather(*tasks)
