"""Start a private X server: ``Xvfb`` on a display number it picks itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

#: Screen of the virtual display.
SCREEN = "1280x800x24"


@contextmanager
def virtual_display(screen: str = SCREEN) -> Iterator[str]:
    """Start ``Xvfb -displayfd``; yield ``":N"``; stop it."""
    binary = shutil.which("Xvfb")
    if binary is None:
        raise FileNotFoundError("Xvfb is not installed (Debian: apt-get install xvfb)")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            number = pipe.readline().strip().decode()
        if not number.isdigit():
            raise RuntimeError("Xvfb did not report its display number")
        yield f":{number}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
