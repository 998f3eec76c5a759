"""Is there a screen to show a window on?"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping


def display_available(environ: Mapping[str, str] | None = None) -> bool:
    """Windows and macOS always have one; elsewhere ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set.

    Also false when Python was built without Tk (Debian's ``python3-tk`` missing):
    the dialog could not open. Tk itself is not loaded here.
    """
    if importlib.util.find_spec("_tkinter") is None:
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    env = os.environ if environ is None else environ
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def tray_backend_hint(environ: Mapping[str, str] | None = None) -> str | None:
    """The pystray backend to force, or ``None`` to let pystray choose.

    pystray's GTK and AppIndicator backends need the desktop's session bus for their
    notifications, and without one the tray never comes up; its plain X11 backend needs none.
    A choice made by ``PYSTRAY_BACKEND`` is left alone.
    """
    env = os.environ if environ is None else environ
    if sys.platform in ("win32", "darwin") or env.get("PYSTRAY_BACKEND"):
        return None
    bus = env.get("DBUS_SESSION_BUS_ADDRESS")
    runtime = env.get("XDG_RUNTIME_DIR")
    if bus or (runtime and os.path.exists(os.path.join(runtime, "bus"))):
        return None
    return "xorg" if env.get("DISPLAY") else None
