"""The consent dialog takes the foreground and the keyboard from another window: under Wine.

The installed agent's ``python.exe`` runs this checkout's dialog (dialog_focus_probe.py) while
Notepad is the window in front, as the browser would be; the probe says whether the dialog came
to the front (``GetForegroundWindow``) with its PIN field focused (Tk), and whether key presses
land in that field.

What Wine 8.0 does, found by hand before this test:

* There is no foreground lock. ``SetForegroundWindow`` from a background process always
  succeeds, ``SystemParametersInfo(SPI_GETFOREGROUNDLOCKTIMEOUT)`` is 0,
  ``LockSetForegroundWindow`` and ``AllowSetForegroundWindow`` return TRUE and change nothing.
  So the dialog is in front as soon as Tk shows it; the lock itself is the Windows CI's to
  check (.github/workflows/windows.yml).
* ``AttachThreadInput`` works, but detaching hands nothing back: while attached,
  ``BringWindowToTop`` makes the dialog the foreground window, and after the detach
  ``GetForegroundWindow()`` is 0. Hence agent/ui/win32_focus.py tries ``SetForegroundWindow``
  alone first and checks ``GetForegroundWindow`` after each technique.
* ``keybd_event`` is real input: ``GetAsyncKeyState(VK_MENU)`` sees the simulated Alt, and
  keys pressed so reach the foreground window's focused widget. ``FlashWindowEx`` is a
  "semi-stub" that returns TRUE.
* Windows' foreground and the X keyboard focus are separate things. winex11 8.0 never asks
  for the X focus for a managed window (it has no ``_NET_ACTIVE_WINDOW`` request and waits for
  a window manager's ``WM_TAKE_FOCUS``), and Xvfb has no window manager: X key presses keep
  going to Notepad's X window, and Wine drops them (neither Notepad nor the dialog gets them).
  The test gives the dialog the X focus as a window manager would (``xdotool windowfocus``),
  then types, to check that the keys reach the PIN field and not a button.
* Every process starts per-monitor DPI aware (context 0x12): ``SetProcessDpiAwarenessContext``
  answers ERROR_INVALID_PARAMETER for PER_MONITOR_AWARE_V2 (-4, unknown to Wine 8) and
  ERROR_ACCESS_DENIED for the older contexts, shcore's ``SetProcessDpiAwareness`` E_ACCESSDENIED,
  and ``SetProcessDPIAware`` TRUE while changing nothing (agent/ui/win32_dpi.py therefore asks
  what the process has). ``GetDpiForWindow`` follows the prefix's LogPixels (96; set to 144 it
  gave 144, and Tk's own scale was then 2.0 already).

The dialog is the installed agent's (the MSI of tests/windows/conftest.py, in its prefix).
Without Wine, Xvfb or xdotool the test is skipped, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.windows.installed import WindowsAgent, on_display, windows_path
from tests.wine import PYTHON

PROBE = Path(__file__).with_name("dialog_focus_probe.py")
NOTEPAD_TITLE = "Untitled - Notepad"
DIALOG_TITLE = "Kyso Agent"
INJECTED = "2468"
TYPED = "1357"


@dataclass
class WineDesktop:
    """Wine programs on a private X server, and xdotool to act as the user."""

    loader: str
    python: str
    env: dict[str, str]
    display: str
    started: list[subprocess.Popen[str]]

    def start(self, *argv: str) -> subprocess.Popen[str]:
        """A Windows program, its output on a pipe (python.exe cannot write to a file handle)."""
        process = subprocess.Popen(
            [self.loader, *argv],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self.started.append(process)
        return process

    def xdotool(self, *args: str) -> str:
        """Run xdotool on the display; its output."""
        done = on_display(self.display, "xdotool", *args)
        assert done.returncode == 0, f"xdotool {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    def window(self, title: str) -> str:
        """The X window whose name starts with ``title``, once it is on screen.

        Polled rather than ``search --sync``, which exits on BadWindow when another window
        closes while it walks the tree.
        """
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = on_display(
                self.display, "xdotool", "search", "--onlyvisible", "--name", f"^{title}"
            )
            if done.stdout.split():
                return done.stdout.split()[0]
            time.sleep(0.2)
        raise AssertionError(f"no window titled {title} came on screen")


@pytest.fixture
def wine_desktop(windows_agent: WindowsAgent) -> Iterator[WineDesktop]:
    """The installed agent's python.exe on the Windows tests' display."""
    wine = windows_agent.wine
    # Notepad's title in English, whatever this machine's language.
    env = {**wine.env, "LC_ALL": "C.UTF-8"}
    desktop = WineDesktop(wine.loader, PYTHON, env, windows_agent.display, [])
    try:
        yield desktop
    finally:
        for process in desktop.started:
            if process.poll() is None:
                process.kill()
            process.wait(30)
            if process.stdout is not None:
                process.stdout.close()


class Probe:
    """dialog_focus_probe.py's report, read line by line as the dialog goes on."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def next(self, event: str, timeout: float = 120) -> dict[str, Any]:
        """The next report line of ``event``; other output is kept for the failure message."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line.rstrip())
            if line.startswith("{"):
                report: dict[str, Any] = json.loads(line)
                if report["event"] == event:
                    return report
        raise AssertionError(f"no {event!r} from the probe:\n" + "\n".join(self.output))


def test_dialog_takes_the_foreground_and_its_pin_field_the_keys(
    wine_desktop: WineDesktop,
) -> None:
    desktop = wine_desktop
    desktop.start("notepad")
    notepad = desktop.window(NOTEPAD_TITLE)
    # The user works in another program: a click activates it in Wine, the X focus follows.
    desktop.xdotool("mousemove", "--window", notepad, "200", "200", "click", "1")
    desktop.xdotool("windowfocus", "--sync", notepad)

    probe = Probe(
        desktop.start(
            desktop.python, "-B", windows_path(PROBE), "--inject", INJECTED, "--await-typed", TYPED
        )
    )
    assert probe.next("before")["foreground"] == NOTEPAD_TITLE
    shown = probe.next("shown")
    assert shown["foreground_is_dialog"], shown
    assert shown["focus_widget_class"] == "TEntry", shown
    assert shown["foreground"].startswith(DIALOG_TITLE), shown
    injected = probe.next("injected")
    assert injected["landed"], injected

    probe.next("ready")
    dialog = desktop.window(DIALOG_TITLE)
    # What a window manager does for a new window; Wine 8 never asks for it (see above).
    desktop.xdotool("windowfocus", "--sync", dialog)
    assert desktop.xdotool("getwindowfocus", "getwindowname").startswith(DIALOG_TITLE)
    desktop.xdotool("type", "--delay", "50", TYPED)
    typed = probe.next("typed")
    assert typed["landed"], typed
    assert probe.process.wait(60) == 0, "\n".join(probe.output)


#: Runs in python.exe: the awareness the agent's windows get, and the Tk scale set from it.
DPI = """
import json, tkinter
from agent.ui.win32_dpi import dpi_api, make_dpi_aware, scale_tk
from agent.ui.win32_focus import toplevel_hwnd
awareness = make_dpi_aware()
root = tkinter.Tk()
root.withdraw()
scaling = scale_tk(root)
dpi = dpi_api().dpi_for_window(toplevel_hwnd(root))
print(json.dumps({"awareness": awareness.value, "scaling": scaling, "dpi": dpi,
                  "tk": float(root.tk.call("tk", "scaling"))}))
root.destroy()
"""


def test_windows_processes_are_dpi_aware_and_tk_scales_to_the_monitor(
    wine_desktop: WineDesktop,
) -> None:
    process = wine_desktop.start(wine_desktop.python, "-B", "-c", DPI)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    result = json.loads(output.strip().splitlines()[-1])
    assert result["awareness"] in ("per-monitor", "per-monitor-v2"), result
    assert result["dpi"] >= 96, result
    assert result["scaling"] == pytest.approx(result["dpi"] / 72), result
    # Tk keeps the scale as the screen's size in whole millimetres: it reads back rounded.
    assert result["tk"] == pytest.approx(result["scaling"], rel=0.005), result
