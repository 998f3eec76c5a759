"""What the user sees while the agent waits or works, and their one way out.

Two moments are not questions but still the user's to end:

* **waiting for the token** (:attr:`ActivityKind.WAIT_TOKEN`): a request came and no token
  holding a usable certificate is plugged in. The agent says "Hãy cắm USB token…", looks for
  it every second up to the prompt timeout, and goes on to the question by itself when it
  appears; Cancel ends the request (``USER_CANCELLED``).
* **signing many documents** (:attr:`ActivityKind.PROGRESS`): after the one consent, "n of N"
  and the current document's name; Stop ends the batch after the current document, and the
  answer says which were signed.

A prompter shows an activity as ``async with prompter.activity(request) as activity``; the agent
calls :meth:`Activity.progress` and looks at :attr:`Activity.stopped`. The wire form (an
external prompter's standard input and output) is in ``docs/prompter-protocol.md``: the request
as the first line, updates as further lines, ``{"stop": true}`` back when the user ends it,
and standard input closed when the agent is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol

from agent.messages import Lang

MAX_ACTIVITY_NAME: Final = 255
"""Longest document name sent in an update (the protocol's names are at most this long)."""


class ActivityKind(StrEnum):
    """What the agent is doing while the window shows."""

    WAIT_TOKEN = "wait-token"  # noqa: S105 - an action name, not a secret
    PROGRESS = "progress"


@dataclass(frozen=True)
class ActivityRequest:
    """The first line of an activity: what to show."""

    kind: ActivityKind
    """Waiting for the token, or signing many documents."""
    origin: str
    """The web origin whose request this is (shown as in a question)."""
    lang: Lang = Lang.VI
    """Language to speak."""
    total: int = 0
    """Progress: the number of documents."""
    seconds: float = 0.0
    """Waiting: how long the agent waits before it gives up (the prompt timeout)."""
    certificate: str | None = None
    """Waiting: the subject (RFC 4514) of the certificate the portal asked for, when it named
    one: "plug in the token holding this certificate"."""
    appear_after: float = 0.0
    """Seconds of work before the window shows at all (a hash batch that ends sooner never
    flashes one). Not on the wire: the agent starts the prompter then."""

    def to_wire(self) -> dict[str, Any]:
        """The JSON object of the first line."""
        wire: dict[str, Any] = {
            "action": self.kind.value,
            "origin": self.origin,
            "lang": self.lang.value,
        }
        if self.kind is ActivityKind.PROGRESS:
            wire["total"] = self.total
        else:
            wire["seconds"] = round(self.seconds)
            if self.certificate is not None:
                wire["certificate"] = self.certificate
        return wire


@dataclass(frozen=True)
class Step:
    """One progress update: ``done`` documents finished, ``current`` being signed now."""

    done: int
    """Documents signed so far."""
    current: str | None = None
    """Name of the document being signed (``None``: unnamed, or the batch is finished)."""

    def to_wire(self) -> dict[str, Any]:
        """The JSON object of an update line."""
        wire: dict[str, Any] = {"done": self.done}
        if self.current is not None:
            wire["current"] = self.current[:MAX_ACTIVITY_NAME]
        return wire


class Activity(Protocol):
    """An activity on screen (or in the terminal)."""

    def progress(self, step: Step) -> None:
        """Show how far the work is (progress only; never blocks)."""
        ...

    @property
    def stopped(self) -> bool:
        """The user pressed Stop (or Cancel while waiting)."""
        ...

    async def wait_stopped(self) -> None:
        """Return when the user presses Stop or Cancel (never, when they do not)."""
        ...


class ActivityState:
    """The state every activity keeps: the stop flag and the last step shown.

    Prompters that cannot show anything (the refusing one, a terminal without a keyboard to
    stop from) use it as it is; the others set :meth:`stop` from the user's button.
    """

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self.last: Step | None = None
        """The last step given (for a terminal's or a test's eyes)."""

    def progress(self, step: Step) -> None:
        """Remember the step."""
        self.last = step

    @property
    def stopped(self) -> bool:
        """The user asked to stop."""
        return self._stop.is_set()

    def stop(self) -> None:
        """The user asked to stop."""
        self._stop.set()

    async def wait_stopped(self) -> None:
        """Return once :meth:`stop` was called."""
        await self._stop.wait()


@asynccontextmanager
async def unseen_activity(_request: ActivityRequest) -> AsyncIterator[ActivityState]:
    """An activity nobody sees (and so nobody stops): the work goes on to its end."""
    yield ActivityState()
