"""How PKCS#11 modules are run: in worker processes or threads, with which deadlines.

Settings of the token layer that configuration names (``module_isolation``,
``module_timeout``). Kept apart from :mod:`agent.token` so that reading the
configuration loads no PKCS#11 or cryptography code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Isolation(StrEnum):
    """Where a module's worker runs."""

    PROCESS = "process"
    """A child process per module: a crash or hang in the module fails one request."""
    THREAD = "thread"
    """A thread of the agent: no process start-up, but a crash in the module ends the agent."""


@dataclass(frozen=True)
class WorkerLimits:
    """Deadlines and back-off of module worker processes."""

    call_timeout: float = 20.0
    """Seconds for a read (token list, certificates, PIN state)."""
    sign_timeout: float = 30.0
    """Seconds for a signing request, before the allowance per item."""
    sign_timeout_per_item: float = 2.0
    """Extra seconds per digest: real USB tokens take up to a second per RSA signature."""
    pinpad_timeout: float = 120.0
    """Extra seconds when the PIN is typed on the reader's keypad."""
    start_timeout: float = 20.0
    """Extra seconds for the first request of a new child (it loads the module)."""
    backoff_initial: float = 0.5
    """Seconds before the first restart after a failure."""
    backoff_max: float = 30.0
    """Longest wait between restarts."""

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures."""
        return min(self.backoff_max, self.backoff_initial * 2.0 ** max(0, failures - 1))
