"""Desktop notifications: the tray backend's own where it has them, else ``notify-send``.

Every notification is also logged (``notification: …``), so that the helpdesk and
the tests can see what the user was told even where no notification appears.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)

TITLE: Final = "Kyso Agent"
#: Seconds to wait for ``notify-send`` (it returns at once when a notification server runs).
NOTIFY_SEND_TIMEOUT: Final = 5.0


class Notifier:
    """Shows short messages to the user.

    ``backend`` is the tray icon's ``notify`` (pystray, when the backend supports it);
    without it ``notify-send`` is used when installed; the log line is written always.
    """

    def __init__(
        self,
        backend: Callable[[str, str], None] | None = None,
        notify_send: str | None = None,
    ) -> None:
        self._backend = backend
        self._notify_send = notify_send if notify_send is not None else shutil.which("notify-send")

    def notify(self, message: str) -> None:
        """Show ``message`` (never raises: a notification is not worth a crash)."""
        log.info("notification: %s", message.replace("\n", " "))
        if self._backend is not None:
            try:
                self._backend(message, TITLE)
            except Exception:
                log.debug("tray notification failed", exc_info=True)
            else:
                return
        if self._notify_send:
            try:
                subprocess.run(
                    [self._notify_send, "--app-name=Kyso Agent", TITLE, message],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=NOTIFY_SEND_TIMEOUT,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.debug("notify-send failed: %s", exc)
