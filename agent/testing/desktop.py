"""A desktop for the tray: a private X server (``Xvfb``) and a system tray host (``trayer``).

The desktop tests and the start-up benchmark (``kyso-agent run``'s idle memory) use the same
two helpers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
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
        _end(process)


@contextmanager
def system_tray(display: str, timeout: float = 10.0) -> Iterator[None]:
    """``trayer`` (an XEmbed system tray, where pystray docks its icon) on ``display``, once
    its window is there; ``FileNotFoundError`` when trayer or xdotool is not installed.

    A trayer that exits before its window shows is started once more: on a two-core machine
    running two test runs, it has been seen to end at start on a display just created (CI,
    2026-12-07); a second failure, or no window in ``timeout`` seconds, is an error that says
    what trayer wrote."""
    for tool in ("trayer", "xdotool"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(f"{tool} is not installed (Debian: apt-get install {tool})")
    env = {**os.environ, "DISPLAY": display}
    with tempfile.TemporaryFile("w+") as said:
        for attempt in (1, 2):
            host = subprocess.Popen(
                ["trayer", "--edge", "bottom", "--height", "26"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=said,
            )
            try:
                shown = _shown(env, host, timeout)
                exited = host.poll() is not None
                if shown:
                    yield
                    return
            finally:
                _end(host)
            if not exited or attempt == 2:
                break
        said.seek(0)
        raise RuntimeError(f"trayer did not show its window: {said.read().strip()!r}")


def _end(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process``; kill it if it has not ended 10 s later."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _shown(env: dict[str, str], host: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether trayer's window shows within ``timeout`` seconds (``False`` once it exits)."""
    deadline = time.monotonic() + timeout
    while not _windows(env, "trayer"):
        if host.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _windows(env: dict[str, str], window_class: str) -> list[str]:
    done = subprocess.run(
        ["xdotool", "search", "--class", window_class],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout.split() if done.returncode == 0 else []
