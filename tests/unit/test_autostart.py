"""Start at login: the XDG desktop entry, the Windows Run key (through a fake winreg), macOS."""

from __future__ import annotations

import plistlib
import shlex
from pathlib import Path
from types import TracebackType
from typing import Any

from agent.ui.autostart import (
    WINDOWS_RUN_KEY,
    WINDOWS_VALUE,
    MacAutostart,
    WindowsAutostart,
    XdgAutostart,
    desktop_entry,
    for_platform,
    launch_command,
)


def test_xdg_entry_written_and_removed(tmp_path: Path) -> None:
    switch = XdgAutostart(tmp_path)
    assert not switch.is_enabled()
    switch.enable(["/opt/kyso agent/bin/python", "-m", "agent", "run"])
    entry = (tmp_path / "autostart" / "kyso-agent.desktop").read_text()
    assert entry.startswith("[Desktop Entry]\nType=Application\n")
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    assert exec_line == 'Exec="/opt/kyso agent/bin/python" -m agent run'
    assert switch.is_enabled()
    switch.disable()
    assert not switch.is_enabled()
    switch.disable()  # twice is fine


def test_xdg_exec_quoting_survives_special_characters() -> None:
    entry = desktop_entry(['/home/an/100% "x"/python', "-m", "agent"])
    exec_value = next(v for v in entry.splitlines() if v.startswith("Exec="))[5:]
    # Undo the desktop-entry string escape, then the Exec quoting, then %%.
    unescaped = exec_value.replace("\\\\", "\\")
    assert [a.replace("%%", "%") for a in shlex.split(unescaped)] == [
        '/home/an/100% "x"/python',
        "-m",
        "agent",
    ]


def test_xdg_hidden_entry_counts_as_off(tmp_path: Path) -> None:
    switch = XdgAutostart(tmp_path)
    switch.path.parent.mkdir(parents=True)
    switch.path.write_text("[Desktop Entry]\nHidden=true\n")
    assert not switch.is_enabled()


class FakeKey:
    def __init__(self, registry: FakeWinreg, path: str) -> None:
        self.registry = registry
        self.path = path

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None


class FakeWinreg:
    """The part of ``winreg`` the agent uses, over a dict."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[int, str]] = {}
        self.keys: set[str] = set()

    def OpenKey(self, root: str, path: str, reserved: int = 0, access: int = 0) -> FakeKey:  # noqa: N802
        full = f"{root}\\{path}"
        if full not in self.keys:
            raise FileNotFoundError(full)
        return FakeKey(self, full)

    def CreateKeyEx(self, root: str, path: str, reserved: int, access: int) -> FakeKey:  # noqa: N802
        full = f"{root}\\{path}"
        self.keys.add(full)
        return FakeKey(self, full)

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[str, int]:  # noqa: N802
        try:
            kind, value = self.values[(key.path, name)]
        except KeyError:
            raise FileNotFoundError(name) from None
        return value, kind

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, value: Any) -> None:  # noqa: N802
        self.values[(key.path, name)] = (kind, value)

    def DeleteValue(self, key: FakeKey, name: str) -> None:  # noqa: N802
        try:
            del self.values[(key.path, name)]
        except KeyError:
            raise FileNotFoundError(name) from None


def test_windows_run_key() -> None:
    registry = FakeWinreg()
    switch = WindowsAutostart(registry)
    assert not switch.is_enabled()
    switch.enable([r"C:\Program Files\Kyso Agent\pythonw.exe", "-m", "agent", "run"])
    assert switch.is_enabled()
    kind, value = registry.values[(f"HKCU\\{WINDOWS_RUN_KEY}", WINDOWS_VALUE)]
    assert kind == FakeWinreg.REG_SZ
    assert value == '"C:\\Program Files\\Kyso Agent\\pythonw.exe" -m agent run'
    switch.disable()
    assert not switch.is_enabled()
    switch.disable()  # no value: no error


def test_macos_launch_agent(tmp_path: Path) -> None:
    switch = MacAutostart(tmp_path)
    switch.enable(["/usr/bin/python3", "-m", "agent", "run"])
    plist = plistlib.loads(switch.path.read_bytes())
    assert plist["RunAtLoad"] is True
    assert plist["ProgramArguments"] == ["/usr/bin/python3", "-m", "agent", "run"]
    switch.disable()
    assert not switch.is_enabled()


def test_platform_choice(tmp_path: Path) -> None:
    linux = for_platform("linux", {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c")})
    assert isinstance(linux, XdgAutostart)
    assert linux.path == tmp_path / "c" / "autostart" / "kyso-agent.desktop"
    default = for_platform("linux", {"HOME": str(tmp_path)})
    assert isinstance(default, XdgAutostart)
    assert default.path == tmp_path / ".config" / "autostart" / "kyso-agent.desktop"
    assert isinstance(for_platform("darwin", {"HOME": str(tmp_path)}), MacAutostart)


def test_launch_command_runs_the_tray(tmp_path: Path) -> None:
    assert launch_command("/usr/bin/python3") == [
        "/usr/bin/python3",
        "-m",
        "agent",
        "run",
        "--at-login",
    ]
    (tmp_path / "python.exe").touch()
    (tmp_path / "pythonw.exe").touch()
    assert launch_command(str(tmp_path / "python.exe"))[0] == str(tmp_path / "pythonw.exe")
