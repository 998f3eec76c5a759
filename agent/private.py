"""The agent's data directory belongs to its user alone.

It holds the audit trail (who signed what, for which portal), the log, the local TLS key and
the paired origins: another user of the same computer reading them learns what this official
signs, and the TLS key lets them impersonate the agent to this user's browser. So the long-
running agent (``kyso-agent run`` / ``serve``) makes its data directory and log directory
``0700`` and its log files ``0600`` when it starts, repairing a directory an older version or
another program left readable; a log file made later (at rotation) is made ``0600``
(:class:`PrivateLogFile`). Everything else lives below the data directory, which no other user
may enter.

On Windows modes mean nothing, so the data directory gets a protected ACL instead: full
control for the user and for SYSTEM (the OS itself: backup, indexing, antivirus), inherited by
everything below, nothing inherited from above. The profile's own ACL (``%LOCALAPPDATA%``)
would also let the Administrators group in and follows whatever a roaming-profile tool or an
older program set; a directory given as ``--data-dir`` or by policy may lie anywhere. Files
made later inherit the ACL, so log rotation needs nothing more there.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import sys
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

DIR_MODE: Final = 0o700
"""A private directory: its user alone may enter it."""
FILE_MODE: Final = 0o600
"""A private file: its user alone may read and write it."""


def private_dir(directory: Path) -> Path:
    """Create ``directory`` (and missing parents) for this user alone, or repair its mode."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if sys.platform == "win32":
        _restrict_acl(directory)
    else:
        _repair(directory, DIR_MODE)
    return directory


def private_files(directory: Path, pattern: str) -> None:
    """Make the files of ``directory`` matching ``pattern`` readable by this user alone."""
    if sys.platform == "win32":
        return
    for path in directory.glob(pattern):
        if path.is_file() and not path.is_symlink():
            _repair(path, FILE_MODE)


class PrivateLogFile(RotatingFileHandler):
    """A rotating log whose files are created ``0600`` (the default would follow the umask)."""

    def _open(self) -> io.TextIOWrapper:
        # Created private before the handler writes its first line into it.
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        os.close(fd)
        if sys.platform == "win32":
            # Windows gives it the directory's inheritable entries already; Wine does not.
            _restrict_acl(Path(self.baseFilename))
        else:
            _repair(Path(self.baseFilename), FILE_MODE)
        return super()._open()


def _repair(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        path.chmod(mode)
        log.info("%s was readable by other users (%o); now %o", path, current, mode)


# -- Windows: a protected DACL instead of modes ------------------------------------------------

_DACL_SECURITY_INFORMATION = 0x4
_PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000
_SDDL_REVISION_1 = 1
_SE_FILE_OBJECT = 1
_TOKEN_QUERY = 0x8
_TOKEN_USER = 1
_SYSTEM = "SY"


def user_only_sddl(user_sid: str, *, directory: bool) -> str:
    """The DACL of private data: the user and SYSTEM with full access, none from above.

    ``P`` protects the DACL from the parent's entries; on a directory ``OICI`` passes each
    entry on to the files and subdirectories made in it later; ``FA`` is full access.
    """
    inherit = "OICI" if directory else ""
    return f"D:P(A;{inherit};FA;;;{user_sid})(A;{inherit};FA;;;{_SYSTEM})"


def allowed_trustees(sddl: str) -> set[str]:
    """Whom the access-allowed entries of an SDDL DACL name (SIDs or aliases like ``WD``)."""
    return {ace.split(";")[-1] for ace in re.findall(r"\(([^)]*)\)", sddl) if ace[:2] == "A;"}


def _restrict_acl(top: Path) -> None:
    """Give ``top`` and what it holds the user-only DACL, where anyone else is let in.

    Each existing entry is set on its own (``SetFileSecurityW``): setting the directory does
    not reach into what it already holds (an older version's log, the audit trail), and Wine,
    where the tests run, ignores ``SetNamedSecurityInfoW`` on directories.
    """
    if sys.platform != "win32":
        return
    sid = current_user_sid()
    for path in (top, *(top.rglob("*") if top.is_dir() else ())):
        if path.is_symlink():
            continue
        current = dacl_sddl(path)
        if allowed_trustees(current) <= {sid, _SYSTEM}:
            continue
        _set_dacl(path, user_only_sddl(sid, directory=path.is_dir()))
        log.info("%s let other users in (%s); now the user and SYSTEM alone", path, current)


def current_user_sid() -> str:
    """The SID of the user this process runs as (``S-1-5-21-…``)."""
    if sys.platform != "win32":
        raise OSError("Windows only")
    import ctypes
    from ctypes import wintypes

    api = _Api()
    token = wintypes.HANDLE()
    if not api.advapi32.OpenProcessToken(
        api.kernel32.GetCurrentProcess(), _TOKEN_QUERY, ctypes.byref(token)
    ):
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        size = wintypes.DWORD()
        api.advapi32.GetTokenInformation(token, _TOKEN_USER, None, 0, ctypes.byref(size))
        buffer = ctypes.create_string_buffer(size.value)
        if not api.advapi32.GetTokenInformation(
            token, _TOKEN_USER, buffer, size, ctypes.byref(size)
        ):
            raise ctypes.WinError(ctypes.get_last_error())
        # TOKEN_USER starts with SID_AND_ATTRIBUTES, whose first field is the SID pointer.
        sid = ctypes.c_void_p.from_buffer(buffer)
        return api.text(lambda out: api.advapi32.ConvertSidToStringSidW(sid, out))
    finally:
        api.kernel32.CloseHandle(token)


def dacl_sddl(path: Path) -> str:
    """``path``'s DACL as SDDL text (``D:P(A;OICI;FA;;;S-1-5-…)…``)."""
    if sys.platform != "win32":
        raise OSError("Windows only")
    import ctypes

    api = _Api()
    descriptor = ctypes.c_void_p()
    rc = api.advapi32.GetNamedSecurityInfoW(
        str(path),
        _SE_FILE_OBJECT,
        _DACL_SECURITY_INFORMATION,
        None,
        None,
        None,
        None,
        ctypes.byref(descriptor),
    )
    if rc:
        raise ctypes.WinError(rc)
    try:
        return api.text(
            lambda out: api.advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW(
                descriptor, _SDDL_REVISION_1, _DACL_SECURITY_INFORMATION, out, None
            )
        )
    finally:
        api.kernel32.LocalFree(descriptor)


def _set_dacl(path: Path, sddl: str) -> None:
    if sys.platform != "win32":
        return
    import ctypes

    api = _Api()
    descriptor = ctypes.c_void_p()
    if not api.advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
        sddl, _SDDL_REVISION_1, ctypes.byref(descriptor), None
    ):
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        flags = _DACL_SECURITY_INFORMATION | _PROTECTED_DACL_SECURITY_INFORMATION
        if not api.advapi32.SetFileSecurityW(str(path), flags, descriptor):
            raise ctypes.WinError(ctypes.get_last_error())
    finally:
        api.kernel32.LocalFree(descriptor)


class _Api:
    """advapi32 and kernel32 with the argument types these calls need.

    Private WinDLL instances (setting argtypes on the shared ``ctypes.windll`` would change
    them for every other user); typed arguments, because a DWORD flag above 2**31 or a
    64-bit handle does not fit ctypes' default C ``int``.
    """

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("Windows only")
        import ctypes
        from ctypes import wintypes

        pointer = ctypes.c_void_p
        out = ctypes.POINTER(ctypes.c_void_p)
        self.advapi32 = advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
        self.kernel32 = kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        kernel32.GetCurrentProcess.argtypes = ()
        kernel32.LocalFree.argtypes = (pointer,)
        kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
        advapi32.OpenProcessToken.argtypes = (
            wintypes.HANDLE,
            wintypes.DWORD,
            ctypes.POINTER(wintypes.HANDLE),
        )
        advapi32.GetTokenInformation.argtypes = (
            wintypes.HANDLE,
            ctypes.c_int,
            pointer,
            wintypes.DWORD,
            ctypes.POINTER(wintypes.DWORD),
        )
        advapi32.ConvertSidToStringSidW.argtypes = (pointer, ctypes.POINTER(wintypes.LPWSTR))
        advapi32.GetNamedSecurityInfoW.argtypes = (
            wintypes.LPCWSTR,
            ctypes.c_int,
            wintypes.DWORD,
            out,
            out,
            out,
            out,
            out,
        )
        advapi32.GetNamedSecurityInfoW.restype = wintypes.DWORD
        advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW.argtypes = (
            pointer,
            wintypes.DWORD,
            wintypes.DWORD,
            ctypes.POINTER(wintypes.LPWSTR),
            pointer,
        )
        advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.argtypes = (
            wintypes.LPCWSTR,
            wintypes.DWORD,
            out,
            pointer,
        )
        advapi32.SetFileSecurityW.argtypes = (wintypes.LPCWSTR, wintypes.DWORD, pointer)

    def text(self, convert: Callable[[Any], int]) -> str:
        """The string a ``Convert…ToString…W`` call returns in memory the caller must free."""
        if sys.platform != "win32":
            raise OSError("Windows only")
        import ctypes
        from ctypes import wintypes

        text = wintypes.LPWSTR()
        if not convert(ctypes.byref(text)):
            raise ctypes.WinError(ctypes.get_last_error())
        try:
            return str(text.value)
        finally:
            self.kernel32.LocalFree(text)
