"""One agent per user: a second ``kyso-agent run``/``serve`` on the same data directory stops.

Windows may start the agent from the MSI's machine-wide Run entry and from the user's own
start-at-login entry; on Linux the package's XDG autostart and a user's own can both fire.
Two agents would take two ports and two token workers; the second one therefore exits
with a clear message. The lock is an OS file lock, released by the OS when the process
ends however it ends (no stale lock file after a crash or ``kill -9``).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import IO

from agent.errors import ConfigError

LOCK_NAME = "agent.lock"


class InstanceLock:
    """Held for the life of a running agent (``with InstanceLock(data_dir): …``)."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / LOCK_NAME
        self._file: IO[bytes] | None = None

    def __enter__(self) -> InstanceLock:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+b")
        try:
            _lock(handle)
        except OSError:
            handle.close()
            raise ConfigError(
                f"Kyso Agent is already running for this user (lock {self._path}); "
                "use the running one (its tray icon, or `kyso-agent status`)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._file = handle
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock
            self._file = None


def _lock(handle: IO[bytes]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
