"""One thread per PKCS#11 module: the only thread that ever calls into it.

PKCS#11 promises thread safety only when the application asks for OS locking,
and vendor modules (and SoftHSM) break under concurrent calls anyway. Each
module therefore gets a single-thread executor. This is the in-process worker
(``module_isolation = "thread"``); :mod:`agent.token.process` puts the same
thread in a child process so that a crashing module cannot take the agent down.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent.token.calls import Finalize, Request, execute

if TYPE_CHECKING:
    from agent.token.module import Pkcs11Module


class Worker(Protocol):
    """What :class:`~agent.token.service.TokenService` needs of a module's worker."""

    path: Path

    async def call(self, request: Request) -> object:
        """Answer ``request`` on the module's one thread."""
        ...

    def call_sync(self, request: Request) -> object:
        """:meth:`call` for the command line (blocks)."""
        ...

    def interrupt(self) -> None:
        """Abandon a call still in the module, if the worker can (the agent is stopping)."""
        ...

    def close(self) -> None:
        """Finalise the module and stop the worker."""
        ...


def thread_name(path: Path) -> str:
    """A readable thread name for ``path``'s worker."""
    return "pkcs11-" + re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)


class ThreadWorker:
    """Owns one :class:`Pkcs11Module` and the thread in this process that drives it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # python-pkcs11 is imported by the agent only when a module is driven in its own
        # process: with worker processes (the default) the agent never loads it.
        from agent.token.module import Pkcs11Module

        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name(path))
        self._module: Pkcs11Module = Pkcs11Module(path)

    async def call(self, request: Request) -> object:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, execute, self._module, request)

    def call_sync(self, request: Request) -> object:
        return self._executor.submit(execute, self._module, request).result()

    def interrupt(self) -> None:
        # A call in this process cannot be abandoned; the stop waits for it.
        return

    def close(self) -> None:
        try:
            self._executor.submit(execute, self._module, Finalize()).result()
        finally:
            self._executor.shutdown(wait=True)
