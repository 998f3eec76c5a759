"""Copy text to the clipboard without keeping a window open.

* Linux (X11): ``xclip -selection clipboard`` (it serves the selection in the
  background until something else is copied, as X11 requires); Wayland:
  ``wl-copy``.
* Windows and macOS: a short-lived Tk process (``python -m agent.ui.clipboard``);
  their clipboards keep the text after the process exits. macOS: ``pbcopy`` first.

Returns whether the text was copied; the tray shows the report in a window
instead when it was not (nothing else to fall back on).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger(__name__)

COPY_TIMEOUT = 10.0


def copy_command(
    platform: str | None = None,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str] | None:
    """The command that reads text on stdin and puts it on the clipboard, if any."""
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    find = which
    if platform == "darwin" and find("pbcopy"):
        return ["pbcopy"]
    if platform in ("win32", "darwin"):
        return [sys.executable, "-m", "agent.ui.clipboard"]
    if env.get("WAYLAND_DISPLAY") and find("wl-copy"):
        return ["wl-copy"]
    if env.get("DISPLAY") and find("xclip"):
        return ["xclip", "-selection", "clipboard", "-in"]
    return None


def copy_text(value: str, command: Sequence[str] | None = None) -> bool:
    """Put ``value`` on the clipboard."""
    argv = list(command) if command is not None else copy_command()
    if not argv:
        log.warning("no clipboard tool (install xclip); cannot copy")
        return False
    try:
        done = subprocess.run(
            argv,
            input=value.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=COPY_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("copying to the clipboard failed: %s", exc)
        return False
    return done.returncode == 0


def _tk_copy() -> int:
    import tkinter

    root = tkinter.Tk()
    root.withdraw()
    root.clipboard_clear()
    root.clipboard_append(sys.stdin.buffer.read().decode("utf-8"))
    root.update()
    root.destroy()
    return 0


if __name__ == "__main__":
    raise SystemExit(_tk_copy())
