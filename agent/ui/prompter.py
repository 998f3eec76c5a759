"""The default prompter on a desktop: the Kyso Agent dialog, one at a time.

Each question starts ``python -m agent.ui.dialog --timeout N``, a separate process
that speaks exactly the external prompter protocol (docs/prompter-protocol.md),
so the HTTP server never waits on Tk and a crashed dialog counts as a cancel. The same
command shows the wait for the token and a batch's progress (:mod:`agent.ui.activity`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from agent.consent.activity import ActivityRequest, ActivityState
from agent.consent.external import ExternalPrompter
from agent.consent.prompter import PromptAnswer, PromptRequest


def dialog_command(timeout: float) -> list[str]:
    """The command line of the dialog process."""
    return [sys.executable, "-m", "agent.ui.dialog", "--timeout", f"{timeout:g}"]


class DialogPrompter:
    """Asks through the Tk dialog; only one of its dialogs is open at a time.

    The composition root makes one per agent (:func:`agent.app.make_prompter`), which the
    signing service and the VGCA compatibility share: one dialog on the screen.
    """

    shows_documents = True

    def __init__(self, timeout: float, command: Sequence[str] | None = None) -> None:
        self._external = ExternalPrompter(command or dialog_command(timeout), timeout)
        # Bound to the running loop at its first wait, not here (asyncio.Lock since 3.10).
        self._screen = asyncio.Lock()

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Wait for the screen, then show the dialog and return its answer.

        The timeout counts from the moment the dialog starts, not while waiting for
        another one to close.
        """
        async with self._screen:
            return await self._external.ask(request)

    @asynccontextmanager
    async def activity(self, request: ActivityRequest) -> AsyncIterator[ActivityState]:
        """The wait or progress window, holding the screen as a question does."""
        async with self._screen, self._external.activity(request) as shown:
            yield shown
