"""Start a private X server (:func:`agent.testing.desktop.virtual_display`) and drive it."""

from __future__ import annotations

import subprocess

from agent.testing.desktop import SCREEN, virtual_display

__all__ = ["SCREEN", "virtual_display", "xdotool"]


def xdotool(display: str, *args: str) -> str:
    """What ``xdotool ARGS`` prints on ``display`` (empty when it finds nothing).

    In a UTF-8 locale: without one, ``type`` stops at the first letter beyond ASCII (a
    Vietnamese file name)."""
    done = subprocess.run(
        ["xdotool", *args],
        env={"DISPLAY": display, "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return done.stdout
