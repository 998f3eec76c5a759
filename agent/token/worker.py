"""One thread per PKCS#11 module: the only thread that ever calls into it.

PKCS#11 promises thread safety only when the application asks for OS locking,
and vendor modules (and SoftHSM) break under concurrent calls anyway. Each
module therefore gets a single-thread executor; asyncio code reaches it through
``run_in_executor`` and the command line through :meth:`ModuleWorker.run_sync`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from agent.token.module import Pkcs11Module

T = TypeVar("T")


class ModuleWorker:
    """Owns one :class:`Pkcs11Module` and the thread that drives it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"pkcs11-{name}")
        self._module = Pkcs11Module(path)

    async def run(self, job: Callable[[Pkcs11Module], T]) -> T:
        """Run ``job(module)`` on the worker thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, job, self._module)

    def run_sync(self, job: Callable[[Pkcs11Module], T]) -> T:
        """Run ``job(module)`` on the worker thread and wait (for the command line)."""
        return self._executor.submit(job, self._module).result()

    def close(self) -> None:
        """Finalise the module on its own thread, then stop the thread."""
        try:
            self._executor.submit(Pkcs11Module.finalize, self._module).result()
        finally:
            self._executor.shutdown(wait=True)
