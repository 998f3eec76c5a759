"""How the dialog takes the foreground on Windows, and the DPI set-up, without Windows.

agent/ui/win32_focus.py and win32_dpi.py keep their logic apart from the ctypes calls: the
logic takes an object with one method per user32 function. ``FakeUser32`` below is a fake of
those functions, not Windows: it keeps one "foreground window" and refuses
``SetForegroundWindow`` the way the documented foreground lock does, unless our thread is
attached to the foreground thread's input or an Alt press is in progress. It is here because
the order of the calls (attach, bring to top, set, detach; Alt down, set, Alt up) is the part
that can be got wrong and that Linux cannot run for real; tests/windows/test_dialog_focus_wine.py
runs the real calls under Wine, and the Windows CI on Windows.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.ui import win32_dpi, win32_focus
from agent.ui.win32_dpi import DpiAwareness, choose_awareness, make_dpi_aware, scale_tk
from agent.ui.win32_focus import (
    FLASHW_ALL,
    FLASHW_TIMERNOFG,
    KEYEVENTF_EXTENDEDKEY,
    KEYEVENTF_KEYUP,
    VK_MENU,
    FocusReport,
    Foreground,
    Route,
    bring_to_foreground,
    focus_report,
    take_foreground,
)

DIALOG = 0x1F00
BROWSER = 0x2A00
OUR_THREAD = 11
BROWSER_THREAD = 22


@dataclass
class FakeUser32:
    """A fake of the user32/kernel32 calls, with a foreground lock (see the module's doc).

    ``lock``: ``"none"`` (Wine: every call succeeds), ``"attach"`` (attaching gets past it),
    ``"alt"`` (only a simulated Alt does), ``"total"`` (nothing does).
    """

    foreground: int = BROWSER
    lock: str = "attach"
    alt_held_by_user: bool = False
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    attached: bool = False
    alt_down: bool = False

    def _allowed(self) -> bool:
        return (
            self.lock == "none"
            or (self.lock == "attach" and self.attached)
            or (self.lock == "alt" and self.alt_down)
        )

    def foreground_window(self) -> int:
        self.calls.append(("GetForegroundWindow",))
        return self.foreground

    def thread_of(self, hwnd: int) -> int:
        self.calls.append(("GetWindowThreadProcessId", hwnd))
        return {DIALOG: OUR_THREAD, BROWSER: BROWSER_THREAD}[hwnd]

    def current_thread(self) -> int:
        self.calls.append(("GetCurrentThreadId",))
        return OUR_THREAD

    def attach_thread_input(self, attach: int, to: int, on: bool) -> bool:
        self.calls.append(("AttachThreadInput", attach, to, on))
        assert attach != to, "Windows refuses to attach a thread to itself"
        self.attached = on
        return True

    def bring_window_to_top(self, hwnd: int) -> bool:
        self.calls.append(("BringWindowToTop", hwnd))
        return True

    def set_foreground_window(self, hwnd: int) -> bool:
        self.calls.append(("SetForegroundWindow", hwnd))
        if self._allowed():
            self.foreground = hwnd
            return True
        return False

    def set_active_window(self, hwnd: int) -> int:
        self.calls.append(("SetActiveWindow", hwnd))
        return 0

    def set_focus(self, hwnd: int) -> int:
        self.calls.append(("SetFocus", hwnd))
        return 0

    def key_is_down(self, key: int) -> bool:
        self.calls.append(("GetAsyncKeyState", key))
        return key == VK_MENU and (self.alt_held_by_user or self.alt_down)

    def key_event(self, key: int, flags: int) -> None:
        self.calls.append(("keybd_event", key, flags))
        if key == VK_MENU:
            self.alt_down = not flags & KEYEVENTF_KEYUP

    def flash(self, hwnd: int, flags: int) -> bool:
        self.calls.append(("FlashWindowEx", hwnd, flags))
        return True

    def made(self) -> list[tuple[Any, ...]]:
        """The calls that act, without the GetForegroundWindow checks between them."""
        return [c for c in self.calls if c[0] != "GetForegroundWindow"]


# --- the foreground -------------------------------------------------------------------------


def test_a_window_already_in_front_is_left_alone() -> None:
    user32 = FakeUser32(foreground=DIALOG)
    assert bring_to_foreground(DIALOG, user32) == Foreground(Route.ALREADY, foreground=True)
    assert user32.made() == []


def test_without_a_lock_set_foreground_window_alone_is_enough() -> None:
    user32 = FakeUser32(lock="none")
    assert bring_to_foreground(DIALOG, user32) == Foreground(Route.PLAIN, foreground=True)
    assert user32.made() == [("BringWindowToTop", DIALOG), ("SetForegroundWindow", DIALOG)]


def test_the_lock_is_passed_attached_to_the_foreground_thread_which_is_then_let_go() -> None:
    user32 = FakeUser32(lock="attach")
    assert bring_to_foreground(DIALOG, user32) == Foreground(Route.ATTACHED, foreground=True)
    assert user32.made() == [
        ("BringWindowToTop", DIALOG),
        ("SetForegroundWindow", DIALOG),  # refused: the lock
        ("GetCurrentThreadId",),
        ("GetWindowThreadProcessId", BROWSER),
        ("AttachThreadInput", OUR_THREAD, BROWSER_THREAD, True),
        ("BringWindowToTop", DIALOG),
        ("SetForegroundWindow", DIALOG),
        ("SetActiveWindow", DIALOG),
        ("SetFocus", DIALOG),
        ("AttachThreadInput", OUR_THREAD, BROWSER_THREAD, False),
    ]
    assert not user32.attached


def test_the_input_is_detached_even_when_a_call_fails() -> None:
    class Failing(FakeUser32):
        def set_active_window(self, hwnd: int) -> int:
            if self.attached:
                raise OSError("the window went away")
            return 0

    user32 = Failing(lock="attach")
    with pytest.raises(OSError, match="went away"):
        bring_to_foreground(DIALOG, user32)
    assert user32.calls[-1] == ("AttachThreadInput", OUR_THREAD, BROWSER_THREAD, False)


def test_with_no_foreground_window_there_is_nothing_to_attach_to() -> None:
    user32 = FakeUser32(foreground=0, lock="alt")
    assert bring_to_foreground(DIALOG, user32).route is Route.ALT_KEY
    assert not [
        c for c in user32.calls if c[0] in ("AttachThreadInput", "GetWindowThreadProcessId")
    ]


def test_an_alt_press_surrounds_set_foreground_window_when_attaching_is_not_enough() -> None:
    user32 = FakeUser32(lock="alt")
    assert bring_to_foreground(DIALOG, user32) == Foreground(Route.ALT_KEY, foreground=True)
    alt = user32.made()[user32.made().index(("GetAsyncKeyState", VK_MENU)) :]
    assert alt == [
        ("GetAsyncKeyState", VK_MENU),
        ("keybd_event", VK_MENU, KEYEVENTF_EXTENDEDKEY),
        ("SetForegroundWindow", DIALOG),
        # Up only once the dialog is in front: the browser never sees a lone Alt (its menu).
        ("keybd_event", VK_MENU, KEYEVENTF_EXTENDEDKEY | KEYEVENTF_KEYUP),
        ("SetFocus", DIALOG),
    ]
    assert not user32.alt_down


def test_an_alt_the_user_holds_is_neither_pressed_nor_released() -> None:
    user32 = FakeUser32(lock="total", alt_held_by_user=True)
    bring_to_foreground(DIALOG, user32)
    assert not [c for c in user32.calls if c[0] == "keybd_event"]


def test_refused_everywhere_the_taskbar_button_flashes_and_the_log_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    user32 = FakeUser32(lock="total")
    with caplog.at_level(logging.INFO, logger="agent.ui.win32_focus"):
        outcome = bring_to_foreground(DIALOG, user32)
    assert outcome == Foreground(Route.FLASHED, foreground=False)
    assert user32.made()[-1] == ("FlashWindowEx", DIALOG, FLASHW_ALL | FLASHW_TIMERNOFG)
    assert user32.foreground == BROWSER
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert caplog.records[0].getMessage() == "window could not take the foreground (flashed)"


def test_success_is_logged_with_the_technique_that_worked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="agent.ui.win32_focus"):
        bring_to_foreground(DIALOG, FakeUser32(lock="attach"))
    assert [r.getMessage() for r in caplog.records] == ["window in the foreground (attached)"]


# --- Tk's side, with a stand-in for the Tk root (no display needed) -------------------------


class FakeTk:
    """The few Tk calls win32_focus and win32_dpi make, answered as Windows' Tk would."""

    def __init__(self, focus: str = ".!frame.!entry", widget_class: str = "Entry") -> None:
        self.tk = self
        self._focus = focus
        self._class = widget_class
        self.scaling: float | None = None

    def winfo_toplevel(self) -> FakeTk:
        return self

    def wm_frame(self) -> str:
        return hex(DIALOG)

    def __str__(self) -> str:
        return "."

    def call(self, *args: Any) -> Any:
        if args == ("focus",):
            return self._focus
        if args[:2] == ("winfo", "class"):
            return self._class
        if args[:2] == ("winfo", "toplevel"):
            return "."
        if args[:2] == ("tk", "scaling"):
            self.scaling = args[2]
            return ""
        raise AssertionError(f"unexpected Tk call {args}")


def test_the_report_says_whether_the_dialog_is_in_front_and_what_has_the_focus() -> None:
    root: Any = FakeTk()
    assert focus_report(root, FakeUser32(foreground=DIALOG)) == FocusReport(True, "Entry")
    assert focus_report(root, FakeUser32(foreground=BROWSER)) == FocusReport(False, "Entry")
    unfocused: Any = FakeTk(focus="")
    assert focus_report(unfocused, FakeUser32()) == FocusReport(False, "")


@pytest.mark.skipif(sys.platform == "win32", reason="the path off Windows")
def test_off_windows_the_report_asks_tk_whether_the_application_has_the_focus() -> None:
    focused: Any = FakeTk()
    unfocused: Any = FakeTk(focus="", widget_class="")
    assert focus_report(focused) == FocusReport(True, "Entry")
    assert focus_report(unfocused) == FocusReport(False, "")


@pytest.mark.skipif(sys.platform == "win32", reason="the path off Windows")
def test_off_windows_nothing_is_called() -> None:
    nothing: Any = object()  # any use of it would raise
    assert take_foreground(nothing) is None
    assert make_dpi_aware() is None
    assert scale_tk(nothing) is None
    with pytest.raises(OSError, match="Windows"):
        win32_focus.user32()
    with pytest.raises(OSError, match="Windows"):
        win32_dpi.dpi_api()


# --- DPI awareness --------------------------------------------------------------------------


@dataclass
class FakeDpi:
    """A fake of the DPI functions: each answers ``True``/``False``, or ``None`` (missing)."""

    now: DpiAwareness | None = DpiAwareness.UNAWARE
    context: bool | None = True
    shcore: bool | None = True
    system: bool | None = True
    dpi: int | None = 144
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def awareness(self) -> DpiAwareness | None:
        return self.now

    def set_awareness_context(self, context: int) -> bool | None:
        self.calls.append(("SetProcessDpiAwarenessContext", context))
        if self.context and self.now is not None:
            self.now = DpiAwareness.PER_MONITOR_V2
        return self.context

    def set_awareness(self, value: int) -> bool | None:
        self.calls.append(("SetProcessDpiAwareness", value))
        if self.shcore and self.now is not None:
            self.now = DpiAwareness.PER_MONITOR
        return self.shcore

    def set_aware(self) -> bool | None:
        self.calls.append(("SetProcessDPIAware",))
        if self.system and self.now is not None:
            self.now = DpiAwareness.SYSTEM
        return self.system

    def dpi_for_window(self, hwnd: int) -> int | None:
        self.calls.append(("GetDpiForWindow", hwnd))
        return self.dpi


def test_per_monitor_v2_is_asked_for_first() -> None:
    api = FakeDpi()
    assert choose_awareness(api) is DpiAwareness.PER_MONITOR_V2
    assert api.calls == [("SetProcessDpiAwarenessContext", -4)]


def test_older_windows_fall_back_to_shcore_then_to_system_dpi() -> None:
    windows_81 = FakeDpi(now=None, context=None)  # no GetThreadDpiAwarenessContext either
    assert choose_awareness(windows_81) is DpiAwareness.PER_MONITOR
    assert windows_81.calls == [
        ("SetProcessDpiAwarenessContext", -4),
        ("SetProcessDpiAwareness", 2),
    ]
    vista = FakeDpi(now=None, context=None, shcore=None)
    assert choose_awareness(vista) is DpiAwareness.SYSTEM
    assert [c[0] for c in vista.calls][-1] == "SetProcessDPIAware"


def test_every_call_refused_leaves_the_process_unaware() -> None:
    api = FakeDpi(context=False, shcore=False, system=False)
    assert choose_awareness(api) is DpiAwareness.UNAWARE
    assert len(api.calls) == 3


def test_an_aware_process_is_left_as_it_is() -> None:
    """Wine starts every process per-monitor aware; a manifest can do the same."""
    api = FakeDpi(now=DpiAwareness.PER_MONITOR)
    assert choose_awareness(api) is DpiAwareness.PER_MONITOR
    assert api.calls == []


def test_a_call_that_succeeds_without_effect_is_not_believed() -> None:
    """Wine's SetProcessDPIAware answers TRUE on a process that is per-monitor aware already:
    what counts is what the process has afterwards."""

    class Quirky(FakeDpi):
        def set_aware(self) -> bool | None:
            self.calls.append(("SetProcessDPIAware",))
            return True  # and changes nothing

    api = Quirky(context=False, shcore=False)
    assert choose_awareness(api) is DpiAwareness.UNAWARE


def test_tk_scaling_follows_the_window_monitor_dpi() -> None:
    root: Any = FakeTk()
    api = FakeDpi(dpi=144)
    assert scale_tk(root, api) == 2.0
    assert root.scaling == 2.0
    assert api.calls == [("GetDpiForWindow", DIALOG)]


def test_tk_scaling_is_left_alone_without_get_dpi_for_window() -> None:
    root: Any = FakeTk()
    assert scale_tk(root, FakeDpi(dpi=None)) is None
    assert scale_tk(root, FakeDpi(dpi=0)) is None
    assert root.scaling is None
