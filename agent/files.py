"""Files written whole or not at all: the one atomic, durable write of the agent.

Every file the agent replaces (the local TLS key and certificates, the instance file, the
paired origins, the tray's preferences, a signed document kept for upload, the autostart
entry) goes through :func:`write_atomically`: a reader sees the old file or the new one, never
a part, and after a power loss the new one is either wholly there or not at all. A file that
must not replace anything (a signed copy the tray saves beside the user's original) goes
through :func:`create_atomically`, the same write that refuses a name already taken. What a
crash left half-written in a directory goes with :func:`discard_partial` when the agent starts.

Who may read the files is :mod:`agent.private`'s concern; this module only keeps the mode a
file is created with (private unless told otherwise).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from agent.private import FILE_MODE

log = logging.getLogger(__name__)

PARTIAL_SUFFIX: Final = ".part"
"""A file being written by :func:`write_atomically` is hidden (``.NAME.part``) until complete."""


def partial_path(path: Path) -> Path:
    """Where :func:`write_atomically` writes ``path``'s data before the rename."""
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def discard_partial(directory: Path) -> list[Path]:
    """Remove the partial files a crash left in ``directory``; the complete files stay.

    Only for a start of the agent: one agent per user (:mod:`agent.instance`), so no other
    writer is at work there.
    """
    removed = []
    try:
        leftovers = sorted(directory.glob(f".*{PARTIAL_SUFFIX}"))
    except OSError:
        return []
    for leftover in leftovers:
        try:
            leftover.unlink()
        except OSError as exc:
            log.warning("cannot remove the unfinished file %s: %s", leftover, exc)
            continue
        removed.append(leftover)
        log.warning("removed %s, left unfinished by a crash", leftover)
    return removed


def write_atomically(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` as a whole, durably.

    The data goes to ``.NAME.part`` in the same directory (created with ``mode``, by default
    readable by this user only; the umask may take more away), reaches the disk, and is
    renamed over ``path``; the directory is then synced so the rename survives a power loss
    too. A failure removes the partial file; a crash leaves at most that hidden file. One
    writer per ``path`` at a time. The directory must exist.
    """
    _write_then(path, data, mode, os.replace)


def create_atomically(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Write a new file ``path`` as a whole, durably, never replacing one that exists.

    As :func:`write_atomically`, except that the last step refuses to take the place of an
    existing ``path`` (:class:`FileExistsError`, the partial file removed): a hard link of the
    partial file, which fails when the name is taken, then the partial file's removal. On
    Windows the rename itself refuses an existing name. A file system without hard links
    (FAT, exFAT: USB drives) gets a rename after a check, which a writer racing for the same
    name in that instant could still lose to.
    """
    _write_then(path, data, mode, _rename_new)


def _write_then(path: Path, data: bytes, mode: int, rename: Callable[[Path, Path], None]) -> None:
    """``data`` to ``.NAME.part``, on the disk, then ``rename(partial, path)`` and the
    directory synced; a failure removes the partial file."""
    tmp = partial_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def _rename_new(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` unless that name is taken (:class:`FileExistsError`)."""
    if os.name == "nt":
        os.rename(tmp, path)  # refuses an existing target on Windows
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (FAT, exFAT, some network shares).
        if path.exists():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.rename(tmp, path)
        return
    tmp.unlink()


def sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; NTFS journals its metadata itself)."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
