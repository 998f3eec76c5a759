"""The default prompter on a desktop: the Kyso Agent dialog, one at a time.

Each question starts ``python -m agent.ui.dialog --timeout N``, a separate process
that speaks exactly the external prompter protocol (docs/prompter-protocol.md),
so the HTTP server never waits on Tk and a crashed dialog counts as a cancel.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections.abc import Sequence

from agent.consent.external import ExternalPrompter
from agent.consent.prompter import PromptAnswer, PromptRequest

# One lock per event loop: the agent runs a single loop, so this is one dialog on the
# screen per process, whatever the number of SigningService instances. (An asyncio.Lock
# cannot be shared between loops; tests run one loop per test.)
_SCREEN: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _screen_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _SCREEN.get(loop)
    if lock is None:
        lock = _SCREEN[loop] = asyncio.Lock()
    return lock


def dialog_command(timeout: float) -> list[str]:
    """The command line of the dialog process."""
    return [sys.executable, "-m", "agent.ui.dialog", "--timeout", f"{timeout:g}"]


class DialogPrompter:
    """Asks through the Tk dialog; only one dialog is open at a time."""

    def __init__(self, timeout: float, command: Sequence[str] | None = None) -> None:
        self._external = ExternalPrompter(command or dialog_command(timeout), timeout)

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Wait for the screen, then show the dialog and return its answer.

        The timeout counts from the moment the dialog starts, not while waiting for
        another one to close.
        """
        async with _screen_lock():
            return await self._external.ask(request)
