"""Which pystray backend the agent forces (agent.ui.display.tray_backend_hint)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.ui.display import tray_backend_hint

pytestmark = pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="X11 desktops only")


def test_without_a_session_bus_the_plain_x11_backend_is_forced(tmp_path: Path) -> None:
    # GTK and AppIndicator need the bus; without one the tray would never come up.
    assert tray_backend_hint({"DISPLAY": ":0", "XDG_RUNTIME_DIR": str(tmp_path)}) == "xorg"


def test_a_session_bus_leaves_the_choice_to_pystray(tmp_path: Path) -> None:
    assert tray_backend_hint({"DISPLAY": ":0", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}) is None
    (tmp_path / "bus").touch()
    assert tray_backend_hint({"DISPLAY": ":0", "XDG_RUNTIME_DIR": str(tmp_path)}) is None


def test_an_explicit_choice_and_wayland_are_left_alone() -> None:
    assert tray_backend_hint({"DISPLAY": ":0", "PYSTRAY_BACKEND": "gtk"}) is None
    assert tray_backend_hint({"WAYLAND_DISPLAY": "wayland-0"}) is None
