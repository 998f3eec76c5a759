"""Files written whole or not at all: the one atomic, durable write of the agent.

Every file the agent replaces (the local TLS key and certificates, the instance file, the
paired origins, the tray's preferences, a signed document kept for upload, the autostart
entry) goes through :func:`write_atomically`: a reader sees the old file or the new one, never
a part, and after a power loss the new one is either wholly there or not at all.

Who may read the files is :mod:`agent.private`'s concern; this module only keeps the mode a
file is created with (private unless told otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from agent.private import FILE_MODE

PARTIAL_SUFFIX: Final = ".part"
"""A file being written by :func:`write_atomically` is hidden (``.NAME.part``) until complete."""


def partial_path(path: Path) -> Path:
    """Where :func:`write_atomically` writes ``path``'s data before the rename."""
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def write_atomically(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` as a whole, durably.

    The data goes to ``.NAME.part`` in the same directory (created with ``mode``, by default
    readable by this user only; the umask may take more away), reaches the disk, and is
    renamed over ``path``; the directory is then synced so the rename survives a power loss
    too. A failure removes the partial file; a crash leaves at most that hidden file. One
    writer per ``path`` at a time. The directory must exist.
    """
    tmp = partial_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; NTFS journals its metadata itself)."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
