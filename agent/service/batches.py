"""Many documents after one consent: one login, progress shown, and the user's Stop.

The service asks once and logs in once (:func:`agent.token.held.one_login`); these do the
signing that follows, telling the activity (:mod:`agent.consent.activity`) how far they are
and looking at its Stop between documents.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from agent.algorithms import HashAlgorithm, RsaScheme
from agent.consent.activity import Activity, ActivityRequest, Step
from agent.consent.prompter import Prompter
from agent.errors import AgentError, BadRequest, InternalError, UserCancelled
from agent.messages import Phrase
from agent.pin import Login
from agent.token import TokenCertificate
from agent.token.held import one_login
from agent.token.service import Tokens

log = logging.getLogger(__name__)

T = TypeVar("T")

PROGRESS_AFTER_SECONDS: Final = 1.0
"""A hash or XML batch shows its progress only once it has run this long (no window flashes):
a batch of two or more is signed in steps (one login), with progress and Stop between them."""
STEP_SECONDS: Final = 0.5
"""How long each step signs for (:attr:`agent.token.calls.Sign.step`): the progress moves twice
a second on a slow token, and a fast one (SoftHSM: thousands a second) signs the whole batch in
one call to its module, which logs out with it."""


async def sign_digests_in_steps(
    prompter: Prompter,
    tokens: Tokens,
    request: ActivityRequest,
    cert: TokenCertificate,
    work: Sequence[tuple[bytes, HashAlgorithm]],
    *,
    names: Sequence[str | None],
    scheme: RsaScheme,
    login: Login,
) -> list[bytes]:
    """Sign ``work`` (``names[i]``: whose ``work[i]`` is) in steps of one login, showing
    ``request`` between them (on a real token a thousand RSA signatures take minutes): each step
    signs what the token signs in :data:`STEP_SECONDS` and the next carries on from there. Stop
    ends it with ``USER_CANCELLED`` and gives nothing back: the portal asked for all of them."""
    signatures: list[bytes] = []
    async with (
        prompter.activity(request) as shown,
        one_login(tokens, cert, scheme, login) as sign,
    ):
        while len(signatures) < len(work):
            done = len(signatures)
            if shown.stopped:
                raise UserCancelled(f"the user stopped the batch after {done} signatures")
            shown.progress(Step(done, names[done]))
            signatures += await sign(work[done:], step=STEP_SECONDS)
        shown.progress(Step(len(signatures)))
    return signatures


@dataclass(frozen=True)
class BatchOutcome(Generic[T]):
    """How a batch of documents signed one by one ended."""

    signed: tuple[T, ...]
    """The first ``len(signed)`` documents, signed."""
    stopped: bool = False
    """The user pressed Stop."""
    error: AgentError | None = None
    """Signing the next document failed (after at least one was signed)."""


async def sign_one_by_one(
    shown: Activity,
    names: Sequence[str | None],
    sign_one: Callable[[int], Awaitable[T]],
) -> BatchOutcome[T]:
    """``sign_one(i)`` for each document in order, ``shown`` told before each; Stop ends it after
    the document being signed.

    A failure at the first document is raised (the request's own error; a wrong PIN asks
    again). A failure after documents were signed ends the batch and is returned with them:
    what the user signed is never lost, whatever went wrong next.
    """
    signed: list[T] = []
    stopped, error = False, None
    for index, name in enumerate(names):
        if shown.stopped:
            stopped = True
            log.info("the user stopped the batch after %d of %d", index, len(names))
            break
        shown.progress(Step(index, name))
        try:
            signed.append(await sign_one(index))
        except AgentError as exc:
            if not signed:
                raise
            log.warning("document %d of the batch failed: %s", index, exc.detail)
            error = exc
            break
        except Exception as exc:
            if not signed:
                raise
            log.exception("document %d of the batch failed", index)
            error = InternalError(f"{type(exc).__name__} in document {index} of a batch")
            break
    shown.progress(Step(len(signed)))
    return BatchOutcome(tuple(signed), stopped, error)


async def in_batch(index: int, work: Awaitable[T]) -> T:
    """``work`` for document ``index`` of a batch; a refusal says which document it is about."""
    try:
        return await work
    except BadRequest as exc:
        if exc.phrase is None:
            raise
        raise BadRequest(
            Phrase.of("bad_pdf_batch_document", index=index, reason=exc.phrase)
        ) from exc
