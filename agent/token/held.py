"""Many signatures, one login: a batch of documents signed with one PIN entry.

pyHanko signs a PDF in one call that needs one raw signature, and a batch of twenty PDFs
is twenty such calls, with progress shown between them. :func:`one_login` gives the
signing service one coroutine for the whole batch: its first call logs in (the PIN typed
once, or the reader's keypad used once) and keeps the login; every later call signs in that
login without a PIN; leaving the block logs out, whatever ended it::

    async with one_login(tokens, certificate, scheme, login) as sign:
        for document in documents:
            signature, = await sign([(digest_of(document), HashAlgorithm.SHA256)])

A batch of digests is signed in steps (``step``): each call signs what it can in that many
seconds and answers the first of its digests, so that the caller shows progress in between::

    async with one_login(tokens, certificate, scheme, login) as sign:
        while len(signatures) < len(work):
            signatures += await sign(work[len(signatures) :], step=0.5)

The step that signs the last digest also ends the login, in the same call to the module.

The login is held in the certificate's module (its worker owns it, as every PKCS#11 call):
at most one per module, and a plain signature in between ends it. Only one batch per
module can therefore run at a time; the service serialises signing already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from agent.algorithms import HashAlgorithm, RsaScheme
from agent.errors import AgentError, PinIncorrect, TokenFailure
from agent.pin import Login
from agent.token.calls import ends_login
from agent.token.models import TokenCertificate
from agent.token.service import Tokens

log = logging.getLogger(__name__)


class SignDigests(Protocol):
    """Sign ``(digest, hash algorithm)`` pairs, answering the signatures in the same order;
    with ``step``, those of the first pairs only (:attr:`agent.token.calls.Sign.step`)."""

    async def __call__(
        self, items: Sequence[tuple[bytes, HashAlgorithm]], *, step: float | None = None
    ) -> list[bytes]: ...


# Releases still running after the request that started them was cancelled (the loop keeps
# only weak references to tasks).
_releasing: set[asyncio.Task[None]] = set()


@asynccontextmanager
async def one_login(
    tokens: Tokens, certificate: TokenCertificate, scheme: RsaScheme, login: Login
) -> AsyncIterator[SignDigests]:
    """A signing coroutine for ``certificate`` that logs in with ``login`` only once.

    - The first call signs with ``login`` and keeps the login
      (``tokens.sign(..., keep=True)``); later calls sign in it (``tokens.sign_held``),
      no PIN involved. The context keeps no reference to ``login`` after that first
      successful call: the caller may wipe its PIN then.
    - An error of the first call (wrong PIN, cancelled on the keypad, token absent) is
      raised unchanged, and nothing is held; a later call tries the login again, except
      after :class:`~agent.errors.PinIncorrect`: a refused PIN is never tried twice (each
      try costs one of the token's few), later calls raise ``PinIncorrect`` without
      touching the token. The service asks again and opens a new ``one_login``.
    - Calls are serialised (a second call waits for the first's login, never logs in too).
    - A call with ``step`` that signs all its items has ended the login in the module: the
      block is then over for signing (a later call is :class:`TokenFailure`), and leaving it
      releases nothing.
    - Leaving the block releases the login, also after an error or a cancellation: the
      release is shielded, so a cancelled request still logs out (in the background if
      the cancellation comes while it runs). A failed release is logged, not raised: the
      block's own outcome stands (a release fails only when the module's worker did, which
      ends its sessions anyway).
    """
    lock = asyncio.Lock()
    pending: Login | None = login
    held = False
    started = False
    ended = False
    refused = False
    del login

    async def sign(
        items: Sequence[tuple[bytes, HashAlgorithm]], *, step: float | None = None
    ) -> list[bytes]:
        nonlocal pending, held, started, ended, refused
        async with lock:
            if held:
                signatures = await tokens.sign_held(certificate, items, scheme, step=step)
            elif refused:
                raise PinIncorrect("the token refused this batch's PIN; not trying it again")
            elif pending is None:
                raise TokenFailure("signing after the end of its one_login block or its login")
            else:
                started = True
                try:
                    signatures = await tokens.sign(
                        certificate, items, scheme, pending, keep=True, step=step
                    )
                except PinIncorrect:
                    refused = True
                    raise
                held = True
                pending = None
            if ends_login(step, len(signatures), len(items)):
                held, ended = False, True  # the module ended the login with the last step
            return signatures

    try:
        yield sign
    finally:
        pending, held = None, False
        if started and not ended:
            await _release(tokens, certificate)


async def _release(tokens: Tokens, certificate: TokenCertificate) -> None:
    """``tokens.release(certificate)``, run to its end even if the caller is cancelled."""
    task = asyncio.ensure_future(tokens.release(certificate))
    _releasing.add(task)
    task.add_done_callback(_released)
    with contextlib.suppress(AgentError):  # logged by _released()
        await asyncio.shield(task)


def _released(task: asyncio.Task[None]) -> None:
    _releasing.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if isinstance(error, AgentError):
        log.warning("logging out after a batch failed: %s", error.detail)
    elif error is not None:
        log.error("logging out after a batch failed", exc_info=error)
