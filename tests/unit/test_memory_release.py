"""The memory of a large request (a PDF) is handed back once it is answered."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from agent.server.keys import MEMORY
from agent.server.middlewares import (
    RELEASE_AFTER_BYTES,
    MemoryRelease,
    memory_middleware,
    memory_release,
)


async def _answer(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


def _released_after(size: int) -> bool:
    """Whether a request of ``size`` body bytes left a release scheduled."""

    async def run() -> bool:
        app = web.Application()
        app[MEMORY] = memory = MemoryRelease()  # a fresh scheduler per case
        request = make_mocked_request(
            "POST", "/v1/pdf/sign", headers={"Content-Length": str(size)}, app=app
        )
        await memory_middleware(request, _answer)
        pending = memory._pending  # noqa: SLF001
        memory.cancel()
        return pending is not None

    return asyncio.run(run())


def test_a_large_request_schedules_a_release_and_a_small_one_does_not() -> None:
    assert _released_after(RELEASE_AFTER_BYTES)
    assert not _released_after(RELEASE_AFTER_BYTES - 1)
    assert not _released_after(300)


class _Node:
    def __init__(self) -> None:
        self.buffer = bytes(8 * 1024 * 1024)
        self.me = self


def test_release_frees_buffers_held_only_by_reference_cycles() -> None:
    gc.disable()  # the automatic collector must not do the release's work
    try:
        node = _Node()
        alive = weakref.ref(node)
        del node
        assert alive() is not None
        MemoryRelease().release()
        assert alive() is None
    finally:
        gc.enable()


def test_each_app_has_its_own_release_and_cancels_it_when_it_stops() -> None:
    async def run() -> None:
        app = web.Application()
        context = memory_release(app)
        await anext(context)
        app[MEMORY].schedule()
        pending = app[MEMORY]._pending  # noqa: SLF001
        assert pending is not None
        assert web.Application().get(MEMORY) is None  # no module-wide scheduler
        with contextlib.suppress(StopAsyncIteration):
            await anext(context)
        assert pending.cancelled()

    asyncio.run(run())
