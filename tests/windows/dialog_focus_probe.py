"""Show the real consent dialog on Windows and say whether it took the foreground and keyboard.

Run with the agent's own Python: the installed agent on the Windows CI (``-P`` keeps this
checkout off ``sys.path``), or this checkout under Wine (``PYTHONPATH``), as
tests/windows/test_dialog_focus_wine.py does::

    python.exe -P tests/windows/dialog_focus_probe.py [--inject 2468] [--await-typed 1357] [--check]

It prints one JSON object per line, each flushed as it happens:

* ``{"event": "before", "foreground": TITLE}``: the window in front before the dialog;
* ``{"event": "shown", "foreground_is_dialog": …, "focus_widget_class": "Entry",
  "routes": [...]}``: :func:`agent.ui.win32_focus.focus_report` once the dialog settled,
  and how it came to the front (the module's log);
* with ``--inject DIGITS``: ``{"event": "injected", "landed": …}``: DIGITS sent as key
  presses through Windows' input (``keybd_event``), which go to whichever window has the
  keyboard; ``landed`` says whether the PIN field then holds exactly DIGITS;
* with ``--await-typed TEXT``: ``{"event": "ready"}``, then someone else types (xdotool
  under Wine) and ``{"event": "typed", "landed": …, "length": N}``.

Then it cancels the dialog. The field's content is compared, never printed. ``--check``
exits 1 unless the dialog was in front with the PIN field focused and every text landed.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import sys
import time
import tkinter as tk
from collections.abc import Callable
from typing import Any

from agent.ui.dialog import ConsentDialog
from agent.ui.dialog_model import describe, parse_question
from agent.ui.win32_dpi import make_dpi_aware
from agent.ui.win32_focus import focus_report

QUESTION: dict[str, Any] = {
    "action": "sign",
    "origin": "https://portal.example.gov.vn",
    "documents": [{"name": "QĐ-123.pdf", "digest": "2c" * 32, "algorithm": "SHA-256"}],
    "certificates": [
        {
            "id": "758fa153" + "0" * 48 + "b9b3",
            "subject": "CN=Nguyễn Văn An,O=UBND tỉnh Thừa Thiên Huế,C=VN",
            "issuer": "CN=Kyso Test CA,O=Kyso,C=VN",
            "notAfter": "2028-11-28T06:37:07+00:00",
            "token": "KYSO-TEST",
        }
    ],
    "pin": {"required": True, "pinpad": False, "triesLeft": "ok", "cached": False},
    "firstUse": False,
    "lang": "vi",
}
SETTLE_MS = 1500
TYPING_SECONDS = 30.0


def say(event: str, **fields: Any) -> None:
    """One line of the probe's report."""
    print(json.dumps({"event": event, **fields}), flush=True)  # ASCII: any console code page


class Routes(logging.Handler):
    """Collects how agent.ui.win32_focus brought the window forward (its log records)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


def foreground_title() -> str:
    """The title of the foreground window, as Windows (or Wine) sees it."""
    user32 = ctypes.WinDLL("user32")  # type: ignore[attr-defined]
    user32.GetForegroundWindow.restype = ctypes.c_void_p
    user32.GetWindowTextW.argtypes = [ctypes.c_void_p, ctypes.c_wchar_p, ctypes.c_int]
    buffer = ctypes.create_unicode_buffer(256)
    user32.GetWindowTextW(user32.GetForegroundWindow(), buffer, 256)
    return buffer.value


def press_keys(digits: str) -> None:
    """Each of ``digits`` pressed and released through Windows' input."""
    user32 = ctypes.WinDLL("user32")  # type: ignore[attr-defined]
    user32.keybd_event.argtypes = [ctypes.c_ubyte, ctypes.c_ubyte, ctypes.c_uint32, ctypes.c_size_t]
    for char in digits:  # the virtual-key codes of 0-9 are their ASCII codes
        user32.keybd_event(ord(char), 0, 0, 0)
        user32.keybd_event(ord(char), 0, 2, 0)  # KEYEVENTF_KEYUP
        time.sleep(0.03)


def pin_entry(widget: tk.Misc) -> tk.Entry | None:
    """The dialog's one Entry (the PIN field), found through Tk's widget tree."""
    for child in widget.winfo_children():
        if isinstance(child, tk.Entry):
            return child
        found = pin_entry(child)
        if found is not None:
            return found
    return None


def wait_for(root: tk.Misc, condition: Callable[[], bool], seconds: float) -> bool:
    """Run Tk's loop until ``condition`` holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        root.update()
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def probe(inject: str | None, await_typed: str | None) -> bool:
    """Show the dialog, report, cancel it; whether everything asked for held."""
    routes = Routes()
    logging.getLogger("agent.ui.win32_focus").addHandler(routes)
    logging.getLogger("agent.ui.win32_focus").setLevel(logging.INFO)
    make_dpi_aware()
    say("before", foreground=foreground_title())
    dialog = ConsentDialog(describe(parse_question(QUESTION)), timeout=120)
    root = dialog.root
    entry = pin_entry(root)
    ok = entry is not None
    wait_for(root, lambda: False, SETTLE_MS / 1000)
    report = focus_report(root)
    say(
        "shown",
        foreground_is_dialog=report.foreground_is_dialog,
        focus_widget_class=report.focus_widget_class,
        foreground=foreground_title(),
        routes=routes.seen,
    )
    ok = ok and report.foreground_is_dialog and report.focus_widget_class == "TEntry"
    if inject and entry is not None:
        press_keys(inject)
        landed = wait_for(root, lambda: entry.get() == inject, 5)
        say("injected", landed=landed, length=len(entry.get()))
        ok = ok and landed
        entry.delete(0, "end")
    if await_typed and entry is not None:
        say("ready")
        landed = wait_for(root, lambda: entry.get() == await_typed, TYPING_SECONDS)
        say("typed", landed=landed, length=len(entry.get()))
        ok = ok and landed
    dialog.cancel()
    root.destroy()
    return ok


def main() -> int:
    """Entry point; see the module's doc."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inject", help="press these digits through Windows' input")
    parser.add_argument("--await-typed", help="wait until the PIN field holds this text")
    parser.add_argument("--check", action="store_true", help="exit 1 unless everything held")
    args = parser.parse_args()
    if args.inject is not None and not args.inject.isdigit():
        parser.error("--inject takes digits")
    ok = probe(args.inject, args.await_typed)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
