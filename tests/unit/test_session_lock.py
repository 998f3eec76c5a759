"""The session-lock watcher calls back once per unlocked → locked transition."""

from __future__ import annotations

import asyncio

from agent.session_lock import watch_session_lock


async def test_lock_transitions_trigger_the_callback_once_each() -> None:
    states = iter([False, True, True, False, None, True, False])
    seen: list[int] = []
    done = asyncio.Event()

    def probe() -> bool | None:
        try:
            return next(states)
        except StopIteration:
            done.set()
            return False

    task = asyncio.create_task(watch_session_lock(lambda: seen.append(1), probe, interval=0))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    assert len(seen) == 2


async def test_no_probe_means_no_watching() -> None:
    import agent.session_lock as module

    original = module.default_probe
    module.default_probe = lambda: None
    try:
        await asyncio.wait_for(watch_session_lock(lambda: None), 1)
    finally:
        module.default_probe = original
