"""The token layer's face to the rest of the agent.

:class:`TokenService` knows every configured module, each behind its own
worker — a child process by default (:mod:`agent.token.process`), a thread in
this process when configured (:mod:`agent.token.worker`) — and answers in agent
terms (:mod:`agent.token.models`, the error tree). It never asks the user
anything: callers bring the PIN.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from agent.algorithms import HashAlgorithm, RsaScheme
from agent.errors import AgentError, CertificateNotFound, TokenModuleFailed
from agent.isolation import Isolation, WorkerLimits
from agent.pin import Login
from agent.token.calls import (
    Poll,
    ReadPinState,
    Release,
    Report,
    Request,
    SignHeld,
    sign_request,
    typed_pin_state,
    typed_report,
    typed_signatures,
)
from agent.token.discovery import discover_modules
from agent.token.models import Inventory, ModuleReport, PinState, TokenCertificate, TokenId
from agent.token.process import ProcessWorker
from agent.token.worker import ThreadWorker, Worker

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


class Tokens(Protocol):
    """What the signing service asks of the token layer. :class:`TokenService` is the real
    one; tests bring fakes with the same coroutines.

    Many signatures after one login: :meth:`sign` with ``keep``, then :meth:`sign_held` as
    often as needed, then :meth:`release` (:func:`agent.token.held.one_login` does all three).
    A batch of digests goes in steps (``step``): each call signs what it can in that many seconds,
    and the one that signs the last digest ends the login (:attr:`agent.token.calls.Sign.step`).
    """

    async def inventory(self, *, rescan: bool = False) -> Inventory:
        """Every module's tokens and certificates; ``rescan``: re-initialise modules first, for
        those that see a token plugged in beside another only then (SoftHSM, some vendors')."""
        ...

    async def pin_state(self, token: TokenId) -> PinState:
        """Fresh PIN state of ``token``."""
        ...

    async def sign(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        login: Login,
        *,
        keep: bool = False,
        step: float | None = None,
    ) -> list[bytes]:
        """Sign digests with the key of ``certificate``, with one login (kept with ``keep``);
        with ``step``, the first of them, the login kept while some remain."""
        ...

    async def sign_held(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        *,
        step: float | None = None,
    ) -> list[bytes]:
        """Sign digests in the login kept for ``certificate``, without logging in; with
        ``step``, the first of them, the login ended once none remain."""
        ...

    async def release(self, certificate: TokenCertificate) -> None:
        """Log out of the login kept for ``certificate`` (none kept: nothing to do)."""
        ...


class TokenService:
    """All modules of this agent, each with its worker (the real :class:`Tokens`)."""

    def __init__(
        self,
        module_paths: Sequence[Path],
        isolation: Isolation = Isolation.PROCESS,
        limits: WorkerLimits | None = None,
    ) -> None:
        paths = _unique(module_paths) if module_paths else discover_modules()
        if not paths:
            log.warning("no PKCS#11 module configured or found; no token can be used")
        self.isolation = isolation
        self._workers: dict[Path, Worker] = {
            path: ProcessWorker(path, limits)
            if isolation is Isolation.PROCESS
            else ThreadWorker(path)
            for path in paths
        }

    @property
    def module_paths(self) -> tuple[Path, ...]:
        """Modules in configuration order."""
        return tuple(self._workers)

    def _worker(self, path: Path) -> Worker:
        try:
            return self._workers[path]
        except KeyError:
            raise CertificateNotFound(f"module {path} is not configured") from None

    async def _report(self, worker: Worker, request: Request) -> ModuleReport:
        # One failing module (a crashed worker) must not hide the tokens of the others.
        try:
            return typed_report(await worker.call(request))
        except TokenModuleFailed as exc:
            return ModuleReport(worker.path, loaded=False, error=exc.detail, worker_failed=True)
        except AgentError as exc:
            return ModuleReport(worker.path, loaded=False, error=exc.detail)

    async def inventory(self, *, rescan: bool = False) -> Inventory:
        """Read every module (concurrently across modules, serially within each); ``rescan``
        re-initialises each first (not while a batch holds its login: ``Pkcs11Module.poll``)."""
        request: Request = Poll(rescan=True) if rescan else Report()
        reports = await asyncio.gather(
            *(self._report(worker, request) for worker in self._workers.values())
        )
        return Inventory(tuple(reports))

    async def poll(self, rescan: bool = False) -> Inventory:
        """The cheap, repeated :meth:`inventory` of the token monitor (``Pkcs11Module.poll``)."""
        reports = await asyncio.gather(
            *(self._report(worker, Poll(rescan)) for worker in self._workers.values())
        )
        return Inventory(tuple(reports))

    def inventory_sync(self) -> Inventory:
        """:meth:`inventory` for the command line."""
        reports: list[ModuleReport] = []
        for worker in self._workers.values():
            try:
                reports.append(typed_report(worker.call_sync(Report())))
            except TokenModuleFailed as exc:
                reports.append(
                    ModuleReport(worker.path, loaded=False, error=exc.detail, worker_failed=True)
                )
            except AgentError as exc:
                reports.append(ModuleReport(worker.path, loaded=False, error=exc.detail))
        return Inventory(tuple(reports))

    async def pin_state(self, token: TokenId) -> PinState:
        """Fresh PIN state of ``token``."""
        return typed_pin_state(await self._worker(token.module).call(ReadPinState(token)))

    async def sign(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        login: Login,
        *,
        keep: bool = False,
        step: float | None = None,
    ) -> list[bytes]:
        """Sign digests with one login (:mod:`agent.token.login` decides with what).

        With ``keep`` the module stays logged in afterwards, for :meth:`sign_held`, until
        :meth:`release`; without, it logs out (and releases a login it held before). With
        ``step``, a batch's first step (:attr:`agent.token.calls.Sign.step`).
        """
        worker = self._worker(certificate.token.module)
        request = sign_request(certificate, items, scheme, login, keep=keep, step=step)
        return typed_signatures(await worker.call(request), len(request.items), step=step)

    async def sign_held(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        *,
        step: float | None = None,
    ) -> list[bytes]:
        """Sign digests in the login a ``sign(..., keep=True)`` kept for ``certificate``; with
        ``step``, a batch's next step (:attr:`agent.token.calls.Sign.step`).

        :class:`~agent.errors.TokenFailure` when none is kept for it (or its worker
        process was restarted since); :class:`~agent.errors.TokenNotPresent` when the
        token went away, which also ends the kept login.
        """
        worker = self._worker(certificate.token.module)
        request = SignHeld(certificate, tuple(items), scheme, step)
        return typed_signatures(await worker.call(request), len(request.items), step=step)

    async def release(self, certificate: TokenCertificate) -> None:
        """Log out of the login kept for ``certificate``, if its module still keeps it."""
        await self._worker(certificate.token.module).call(Release(certificate))

    def interrupt(self) -> None:
        """Fail the calls still in a module (the agent is stopping and will not wait for them)."""
        for worker in self._workers.values():
            worker.interrupt()

    def close(self) -> None:
        """Finalise every module."""
        for worker in self._workers.values():
            worker.close()
