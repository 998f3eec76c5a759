"""A private copy of a PDF for the user's own viewer, made for one consent question.

The consent dialog's "Mở tài liệu…" button opens the document being signed in the computer's
default PDF viewer, so that the user can read all of it before approving. What the agent holds
(in memory, or in its spool) is not for a viewer to open; for the question it writes a copy
(:func:`make_viewer_copy`) into a directory of its own made by :func:`tempfile.mkdtemp`
(created atomically under a fresh name, ``0700``; on Windows also given the user-only ACL of
:func:`agent.private.private_dir`). The copy is read-only, so that no viewer offers to save
changes the signature would not contain, and it is removed when the request ends
(:func:`remove_viewer_copy`); a copy a Windows viewer still held open then is removed by a
later request (:data:`STALE_AFTER`).

The dialog opens a path only when :func:`is_viewer_copy` says it is such a copy: a ``.pdf``
regular file, directly inside a directory of this user named with :data:`PREFIX` in the
temporary directory, closed to other users. Nothing else a question could name (a program, a
shortcut, another user's file) is ever handed to the viewer.

Standard library only: the dialog process imports this module without the PDF stack.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Final

from agent.private import FILE_MODE, private_dir

log = logging.getLogger(__name__)

PREFIX: Final = "kyso-agent-view-"
"""Start of the name of every directory holding a viewer's copy."""
STALE_AFTER: Final = 3600.0
"""Seconds after which a copy left behind (a viewer held it open) is removed by the next one."""
MAX_NAME: Final = 80
"""Longest file name kept from the document's name (the viewer shows it in its title)."""
_READ_ONLY: Final = 0o400
_COPY_CHUNK: Final = 1024 * 1024
_UNSAFE: Final = re.compile(r"[^\w .,()+\-]")
"""Characters replaced in a file name: separators, wildcards, quotes, control characters."""
_RESERVED: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
"""Names Windows keeps for devices."""


def copy_name(name: str | None) -> str:
    """The copy's file name: the document's name made safe for any file system, ``.pdf``.

    ``QĐ-123/UBND.pdf`` becomes ``QĐ-123_UBND.pdf``; a name with nothing left becomes
    ``document.pdf``.
    """
    stem = unicodedata.normalize("NFC", name or "")
    if stem.lower().endswith(".pdf"):
        stem = stem[: -len(".pdf")]
    stem = _UNSAFE.sub("_", stem).strip(" ._-")[:MAX_NAME].rstrip(" .")
    if not stem or stem.split(".")[0].upper() in _RESERVED:
        stem = "document"
    return stem + ".pdf"


def make_viewer_copy(pdf: bytes | Path, name: str | None) -> Path:
    """Write ``pdf`` (its bytes, or a file to copy) to a fresh private directory; the copy's
    path.

    Blocking (a large document takes a moment to write): call it from a worker thread.

    :raises OSError: the temporary directory cannot take it (the directory is removed again).
    """
    _sweep(time.time())
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        private_dir(folder)
        path = folder / copy_name(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(path, flags, _READ_ONLY), "wb") as out:
            if isinstance(pdf, Path):
                with pdf.open("rb") as original:
                    shutil.copyfileobj(original, out, _COPY_CHUNK)
            else:
                out.write(pdf)
    except OSError:
        _remove_folder(folder)
        raise
    return path


def remove_viewer_copy(path: Path) -> None:
    """Remove the copy and its directory; a copy a viewer holds open (Windows) stays for a
    later :func:`make_viewer_copy` to remove."""
    try:
        _remove_folder(path.parent)
    except OSError as exc:
        log.info("the viewer's copy %s stays until later: %s", path.parent, exc.strerror)


def is_viewer_copy(path: Path) -> bool:
    """Whether ``path`` is a copy :func:`make_viewer_copy` made for this user (what the dialog
    checks before handing a path to the viewer)."""
    try:
        if not path.is_absolute() or ".." in path.parts or path.suffix.lower() != ".pdf":
            return False
        folder = path.parent
        if not folder.name.startswith(PREFIX) or not _same(folder.parent, _temp_dir()):
            return False
        # lstat: a symbolic link, to the file or in its place, is not a copy.
        folder_stat, file_stat = folder.lstat(), path.lstat()
        if not stat.S_ISDIR(folder_stat.st_mode) or not stat.S_ISREG(file_stat.st_mode):
            return False
        if sys.platform != "win32":
            uid = os.getuid()
            if folder_stat.st_uid != uid or file_stat.st_uid != uid:
                return False
            if stat.S_IMODE(folder_stat.st_mode) & 0o077:
                return False
    except (OSError, ValueError):
        return False
    return True


def _temp_dir() -> Path:
    return Path(tempfile.gettempdir())


def _same(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _remove_folder(folder: Path) -> None:
    """Remove a copy's directory and the files in it (read-only ones too)."""
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(FILE_MODE)  # Windows refuses to delete a read-only file
        entry.unlink()
    folder.rmdir()


def _sweep(now: float) -> None:
    """Remove this user's copies older than :data:`STALE_AFTER` (a viewer held them open)."""
    try:
        candidates = list(_temp_dir().glob(PREFIX + "*"))
    except OSError:
        return
    for folder in candidates:
        try:
            info = folder.lstat()
            if not stat.S_ISDIR(info.st_mode) or now - info.st_mtime < STALE_AFTER:
                continue
            if sys.platform != "win32" and info.st_uid != os.getuid():
                continue
            _remove_folder(folder)
        except OSError:
            continue
