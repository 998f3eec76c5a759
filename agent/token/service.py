"""The token layer's face to the rest of the agent.

:class:`TokenService` knows every configured module, each behind its own
worker, and answers in agent terms (:mod:`agent.token.models`, the error tree).
It never asks the user anything: callers bring the PIN.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from agent.algorithms import HashAlgorithm, RsaScheme
from agent.errors import CertificateNotFound
from agent.pin import Pin
from agent.token.discovery import discover_modules
from agent.token.models import Inventory, ModuleReport, PinState, TokenCertificate, TokenId
from agent.token.module import Pkcs11Module
from agent.token.worker import ModuleWorker

log = logging.getLogger(__name__)


def _unique(paths: Sequence[Path]) -> tuple[Path, ...]:
    """Paths without repeats of one library file (symlinks resolved): one file, one worker."""
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in paths:
        real = path.resolve()
        if real in seen:
            log.info("module %s is listed twice (as %s); loading it once", real, path)
            continue
        seen.add(real)
        unique.append(path)
    return tuple(unique)


class TokenService:
    """All modules of this agent, each with its worker thread."""

    def __init__(self, module_paths: Sequence[Path]) -> None:
        paths = _unique(module_paths) if module_paths else discover_modules()
        if not paths:
            log.warning("no PKCS#11 module configured or found; no token can be used")
        self._workers = {path: ModuleWorker(path) for path in paths}

    @property
    def module_paths(self) -> tuple[Path, ...]:
        """Modules in configuration order."""
        return tuple(self._workers)

    def _worker(self, path: Path) -> ModuleWorker:
        try:
            return self._workers[path]
        except KeyError:
            raise CertificateNotFound(f"module {path} is not configured") from None

    async def inventory(self) -> Inventory:
        """Read every module (concurrently across modules, serially within each)."""
        reports = await asyncio.gather(
            *(worker.run(Pkcs11Module.report) for worker in self._workers.values())
        )
        return Inventory(tuple(reports))

    async def poll(self, rescan: bool = False) -> Inventory:
        """The cheap, repeated :meth:`inventory` of the token monitor (``Pkcs11Module.poll``)."""
        reports = await asyncio.gather(
            *(worker.run(lambda m: m.poll(rescan)) for worker in self._workers.values())
        )
        return Inventory(tuple(reports))

    def inventory_sync(self) -> Inventory:
        """:meth:`inventory` for the command line."""
        reports: list[ModuleReport] = [
            worker.run_sync(Pkcs11Module.report) for worker in self._workers.values()
        ]
        return Inventory(tuple(reports))

    async def pin_state(self, token: TokenId) -> PinState:
        """Fresh PIN state of ``token``."""
        return await self._worker(token.module).run(lambda m: m.pin_state(token))

    async def sign(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        pin: Pin | None,
    ) -> list[bytes]:
        """Sign digests with one login; ``pin`` is ``None`` on a PIN pad."""
        worker = self._worker(certificate.token.module)
        return await worker.run(lambda m: m.sign(certificate, items, scheme, pin))

    def close(self) -> None:
        """Finalise every module."""
        for worker in self._workers.values():
            worker.close()
