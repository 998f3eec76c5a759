"""Waiting for the token: "Hãy cắm USB token…" until it is plugged in, cancelled, or too late.

A request came and no token holding a usable certificate is in (or not the one holding the
certificate the portal named). Rather than answer ``TOKEN_NOT_PRESENT`` at once, the agent shows
the wait (:class:`~agent.consent.activity.ActivityKind.WAIT_TOKEN`), looks again every second
and goes on by itself when the token appears, as Web eID does with a card.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from agent.consent.activity import ActivityRequest
from agent.consent.prompter import Prompter
from agent.errors import AgentError, CertificateNotFound, TokenNotPresent, UserCancelled

log = logging.getLogger(__name__)

T = TypeVar("T")

TOKEN_POLL_SECONDS: Final = 1.0
"""While the user is asked to plug the token in, how often the agent looks for it."""

MISSING: Final = (TokenNotPresent, CertificateNotFound)
"""The refusals a token plugged in can mend (others, a failed module or an expired
certificate, it cannot: they are answered at once)."""


async def wait_for_token(
    prompter: Prompter,
    request: ActivityRequest,
    look: Callable[[bool], Awaitable[T]],
    missing: AgentError,
) -> T:
    """Show ``request`` and call ``look(rescan)`` every second until it finds what it needs.

    ``look`` raises one of :data:`MISSING` while the token is not there; ``rescan`` asks it to
    re-initialise the modules first (some see a token plugged in beside another only then).
    The user's Cancel is ``USER_CANCELLED``; nothing found within ``request.seconds`` raises the
    last refusal ``look`` gave (``missing`` at first).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + request.seconds
    async with prompter.activity(request) as shown:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise missing
            try:
                async with asyncio.timeout(min(TOKEN_POLL_SECONDS, remaining)):
                    await shown.wait_stopped()
            except TimeoutError:
                pass
            else:
                raise UserCancelled(f"user cancelled waiting for the token ({request.origin})")
            try:
                # A token beside the wrong one: some modules only see it after re-initialising
                # (with none in, every read does that already).
                found = await look(isinstance(missing, CertificateNotFound))
            except MISSING as still:
                missing = still
            else:
                log.info("token plugged in while %s waited", request.origin)
                return found
