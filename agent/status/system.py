"""The computer, for the support bundle: OS, Python, agent version, and each PKCS#11 module's file.

A helpdesk that hears "signing stopped working" asks first which Windows, which agent and which
version of the token maker's library: :func:`system_info` answers from this process (the one
making the bundle) and from the status report (which modules the agent loaded, and what each
library says it is). Nothing here reads the environment wholesale (it may hold anything): only
the few variables that say what kind of desktop session this is.
"""

from __future__ import annotations

import hashlib
import locale
import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from agent import PYTHON, __version__
from agent.status.model import ModuleStatus, StatusReport

#: The desktop session's variables the bundle shows (whether a tray and dialogs can appear).
SESSION_VARIABLES: Final = ("XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP", "DESKTOP_SESSION")
_CHUNK: Final = 1024 * 1024


@dataclass(frozen=True)
class ModuleFile:
    """One PKCS#11 module: what the agent made of it, and its file."""

    path: str
    """The module file."""
    loaded: bool
    """It loaded and initialised (in the agent that made the report)."""
    error: str | None
    """Why it did not load, or why reading it failed."""
    description: str | None
    """Library description and manufacturer, as the library reports them."""
    tokens: int
    """Tokens present in its slots."""
    exists: bool
    """The file is there (a module the configuration names may have been uninstalled)."""
    size: int | None
    """Its size in bytes."""
    modified: datetime | None
    """When the file was last written (an update of the token software)."""
    sha256: str | None
    """SHA-256 of the file, lower-case hex: tells two builds of one vendor's library apart."""


@dataclass(frozen=True)
class SystemInfo:
    """The computer and the program that made the bundle."""

    agent_version: str
    """Version of the code that made the bundle (the running agent's is in the report)."""
    python: str
    """The Python running it, e.g. ``CPython 3.13.1``."""
    python_executable: str
    """Its file: the MSI's own, the Debian package's virtualenv, a source checkout's."""
    frozen: bool
    """A frozen build (everything in one executable)."""
    os: str
    """``Windows``, ``Linux``, ``Darwin``."""
    os_release: str
    """``10``, ``11``, or the kernel release."""
    os_version: str
    """The build (``10.0.22631``) or the kernel's version string."""
    os_edition: str
    """Windows' edition (``Professional``), or the Linux distribution's name and version."""
    platform: str
    """Python's one-line summary of the platform."""
    machine: str
    """The architecture (``AMD64``, ``x86_64``, ``arm64``)."""
    hostname: str
    """The computer's name."""
    locale: str
    """The user's locale and the encoding files are read in (``vi_VN: UTF-8``)."""
    timezone: str
    """The local time zone's name and offset (days left count in it)."""
    display: bool
    """A graphical session is there (``DISPLAY``/``WAYLAND_DISPLAY``, or Windows/macOS)."""
    session: tuple[str, ...]
    """``NAME=value`` of :data:`SESSION_VARIABLES` that are set."""
    modules: tuple[ModuleFile, ...]
    """Every PKCS#11 module of the report, with its file."""


def _edition() -> str:
    if sys.platform == "win32":
        release, version, _sp, _kind = platform.win32_ver()
        return " ".join(p for p in (f"Windows {release}", platform.win32_edition(), version) if p)
    if sys.platform == "darwin":
        return f"macOS {platform.mac_ver()[0]}"
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return ""
    return release.get("PRETTY_NAME") or release.get("NAME", "")


def _locale() -> str:
    try:
        name = locale.getlocale()[0] or ""
    except ValueError:
        name = ""
    return f"{name or '?'}: {locale.getpreferredencoding(False)}"


def _timezone(now: datetime) -> str:
    local = now.astimezone()
    return f"{local.tzname()} (UTC{local:%z})"


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _digest(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def module_file(module: ModuleStatus) -> ModuleFile:
    """``module`` of the report, with what its file says."""
    path = Path(module.path)
    try:
        found = path.stat()
    except OSError:
        size, modified = None, None
    else:
        size, modified = found.st_size, datetime.fromtimestamp(found.st_mtime, UTC)
    return ModuleFile(
        path=module.path,
        loaded=module.loaded,
        error=module.error,
        description=module.description,
        tokens=module.tokens,
        exists=size is not None,
        size=size,
        modified=modified,
        sha256=_digest(path) if size is not None else None,
    )


def system_info(report: StatusReport, now: datetime) -> SystemInfo:
    """This computer and this program, and the report's modules with their files."""
    return SystemInfo(
        agent_version=__version__,
        python=PYTHON,
        python_executable=sys.executable,
        frozen=bool(getattr(sys, "frozen", False)),
        os=platform.system(),
        os_release=platform.release(),
        os_version=platform.version(),
        os_edition=_edition(),
        platform=platform.platform(),
        machine=platform.machine(),
        hostname=platform.node(),
        locale=_locale(),
        timezone=_timezone(now),
        display=_has_display(),
        session=tuple(f"{n}={os.environ[n]}" for n in SESSION_VARIABLES if os.environ.get(n)),
        modules=tuple(module_file(m) for m in report.modules),
    )
