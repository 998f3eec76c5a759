"""The agent's data directory belongs to its user alone.

It holds the audit trail (who signed what, for which portal), the log, the local TLS key and
the paired origins: another user of the same computer reading them learns what this official
signs, and the TLS key lets them impersonate the agent to this user's browser. So the long-
running agent (``kyso-agent run`` / ``serve``) makes its data directory and log directory
``0700`` and its log files ``0600`` when it starts, repairing a directory an older version or
another program left readable; a log file made later (at rotation) is made ``0600``
(:class:`PrivateLogFile`). Everything else lives below the data directory, which no other user
may enter.

On Windows the data directory lies in the user's profile (``%LOCALAPPDATA%``), whose ACL
already grants the user alone (and SYSTEM and Administrators); the modes here do not apply.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

log = logging.getLogger(__name__)

_DIR_MODE = 0o700
_FILE_MODE = 0o600


def private_dir(directory: Path) -> Path:
    """Create ``directory`` (and missing parents) for this user alone, or repair its mode."""
    directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    if sys.platform != "win32":
        _repair(directory, _DIR_MODE)
    return directory


def private_files(directory: Path, pattern: str) -> None:
    """Make the files of ``directory`` matching ``pattern`` readable by this user alone."""
    if sys.platform == "win32":
        return
    for path in directory.glob(pattern):
        if path.is_file() and not path.is_symlink():
            _repair(path, _FILE_MODE)


class PrivateLogFile(RotatingFileHandler):
    """A rotating log whose files are created ``0600`` (the default would follow the umask)."""

    def _open(self) -> io.TextIOWrapper:
        if sys.platform != "win32":
            # Created private before the handler writes its first line into it.
            fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, _FILE_MODE)
            os.close(fd)
            _repair(Path(self.baseFilename), _FILE_MODE)
        return super()._open()


def _repair(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        path.chmod(mode)
        log.info("%s was readable by other users (%o); now %o", path, current, mode)
