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
