"""Notice when the user's desktop session locks (so that a cached PIN is forgotten).

Polling is crude but portable: logind's ``LockedHint`` on Linux, the input desktop on
Windows. It runs only while a PIN cache is enabled by policy.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

LockProbe = Callable[[], bool | None]
"""Returns whether the session is locked, or ``None`` when it cannot tell."""


def _logind_probe() -> LockProbe | None:
    loginctl = shutil.which("loginctl")
    session = os.environ.get("XDG_SESSION_ID")
    if not loginctl or not session:
        return None

    def probe() -> bool | None:
        try:
            done = subprocess.run(
                [loginctl, "show-session", session, "-p", "LockedHint", "--value"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        value = done.stdout.strip()
        return value == "yes" if value in ("yes", "no") else None

    return probe


def _windows_probe() -> LockProbe | None:  # pragma: no cover - exercised on Windows only
    import ctypes

    user32 = ctypes.windll.user32  # type: ignore[attr-defined]
    desktop_switchdesktop = 0x0100

    def probe() -> bool | None:
        # While the lock screen shows, the input desktop cannot be opened by the user.
        handle = user32.OpenInputDesktop(0, False, desktop_switchdesktop)
        if not handle:
            return True
        user32.CloseDesktop(handle)
        return False

    return probe


def default_probe() -> LockProbe | None:
    """The probe for this platform, or ``None`` when there is none."""
    if sys.platform == "win32":
        return _windows_probe()
    if sys.platform.startswith("linux"):
        return _logind_probe()
    return None


async def watch_session_lock(
    on_lock: Callable[[], None], probe: LockProbe | None = None, interval: float = 5.0
) -> None:
    """Call ``on_lock`` each time the session goes from unlocked to locked."""
    probe = probe or default_probe()
    if probe is None:
        log.debug("no way to see session locks on this system")
        return
    was_locked = False
    while True:
        locked = await asyncio.to_thread(probe)
        if locked and not was_locked:
            on_lock()
        was_locked = bool(locked)
        await asyncio.sleep(interval)
