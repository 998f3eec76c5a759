"""Start at login: the tray's toggle, one implementation per OS.

* Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart/kyso-agent.desktop``
  (XDG Autostart specification).
* Windows: the ``Kyso Agent`` value under
  ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.
* macOS: ``~/Library/LaunchAgents/vn.kyso.agent.plist`` (RunAtLoad).

The command started is ``kyso-agent run`` (the tray), as this interpreter runs it.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Final, Protocol

from agent.files import write_atomically

APP_ID: Final = "kyso-agent"
WINDOWS_RUN_KEY: Final = r"Software\Microsoft\Windows\CurrentVersion\Run"
WINDOWS_VALUE: Final = "Kyso Agent"
MAC_LABEL: Final = "vn.kyso.agent"


class Autostart(Protocol):
    """One OS's start-at-login switch."""

    def is_enabled(self) -> bool:
        """Whether the agent starts at login."""

    def enable(self, command: Sequence[str]) -> None:
        """Start ``command`` at every login."""

    def disable(self) -> None:
        """Stop starting at login (no error when it was off)."""


def launch_command(executable: str | None = None) -> list[str]:
    """``kyso-agent run --at-login`` as this installation starts it (no console on Windows).

    ``--at-login``: when the machine-wide entry (MSI, Debian package) already started the
    agent, this one leaves quietly instead of opening the running agent's window.
    """
    python = Path(executable or sys.executable)
    if getattr(sys, "frozen", False):
        return [str(python), "run", "--at-login"]
    if python.name.lower() == "python.exe" and (python.parent / "pythonw.exe").exists():
        python = python.parent / "pythonw.exe"
    return [str(python), "-m", "agent", "run", "--at-login"]


def _desktop_quote(arg: str) -> str:
    """Quote one argument of a desktop entry's ``Exec`` key (XDG Desktop Entry spec)."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`="):
        return arg
    inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    # The whole value is then a desktop-entry string, where a backslash is written twice.
    return '"' + inner.replace("\\", "\\\\") + '"'


def desktop_entry(command: Sequence[str]) -> str:
    """The autostart ``.desktop`` file that runs ``command``."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Kyso Agent\n"
        "Comment=Ký số bằng USB token / Sign with your USB token\n"
        f"Exec={' '.join(_desktop_quote(a) for a in command)}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


class XdgAutostart:
    """``~/.config/autostart/kyso-agent.desktop``."""

    def __init__(self, config_home: Path) -> None:
        self.path = config_home / "autostart" / f"{APP_ID}.desktop"

    def is_enabled(self) -> bool:
        """The file exists and is neither hidden nor disabled."""
        try:
            lines = self.path.read_text("utf-8").splitlines()
        except OSError:
            return False
        return not any(
            line.strip().replace(" ", "") in ("Hidden=true", "X-GNOME-Autostart-enabled=false")
            for line in lines
        )

    def enable(self, command: Sequence[str]) -> None:
        """Write the desktop entry (atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Readable by others as the desktop expects; nothing secret in it.
        write_atomically(self.path, desktop_entry(command).encode("utf-8"), mode=0o644)

    def disable(self) -> None:
        """Remove the desktop entry."""
        self.path.unlink(missing_ok=True)


class WindowsAutostart:
    """The per-user ``Run`` registry key. ``winreg`` is injectable for tests."""

    def __init__(self, registry: ModuleType | Any | None = None) -> None:
        if registry is None:
            import winreg as registry  # type: ignore[import-not-found,no-redef,unused-ignore]
        self._reg: Any = registry

    def is_enabled(self) -> bool:
        """The value exists."""
        try:
            with self._reg.OpenKey(self._reg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
                self._reg.QueryValueEx(key, WINDOWS_VALUE)
        except OSError:
            return False
        return True

    def enable(self, command: Sequence[str]) -> None:
        """Set the value to the command line."""
        with self._reg.CreateKeyEx(
            self._reg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, self._reg.KEY_SET_VALUE
        ) as key:
            self._reg.SetValueEx(
                key, WINDOWS_VALUE, 0, self._reg.REG_SZ, subprocess.list2cmdline(command)
            )

    def disable(self) -> None:
        """Delete the value."""
        try:
            with self._reg.OpenKey(
                self._reg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, self._reg.KEY_SET_VALUE
            ) as key:
                self._reg.DeleteValue(key, WINDOWS_VALUE)
        except FileNotFoundError:
            pass


class MacAutostart:
    """A LaunchAgent property list with ``RunAtLoad``."""

    def __init__(self, home: Path) -> None:
        self.path = home / "Library" / "LaunchAgents" / f"{MAC_LABEL}.plist"

    def is_enabled(self) -> bool:
        """The property list exists."""
        return self.path.exists()

    def enable(self, command: Sequence[str]) -> None:
        """Write the property list."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        plist = {"Label": MAC_LABEL, "ProgramArguments": list(command), "RunAtLoad": True}
        self.path.write_bytes(plistlib.dumps(plist))

    def disable(self) -> None:
        """Remove the property list."""
        self.path.unlink(missing_ok=True)


def for_platform(
    platform: str | None = None, environ: Mapping[str, str] | None = None
) -> Autostart:
    """The start-at-login switch of this OS."""
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    if platform == "win32":
        return WindowsAutostart()
    if platform == "darwin":
        return MacAutostart(home)
    config_home = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return XdgAutostart(Path(config_home))
