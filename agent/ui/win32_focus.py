"""Bring one of our windows to the foreground on Windows and give it the keyboard.

Why this exists: the consent dialog is started by the agent while the user works in the
browser that asked for a signature. Windows' foreground lock makes ``SetForegroundWindow``
(which Tk's ``focus -force`` calls) fail for a process that did not receive the last input
event: the dialog would open behind, or on top but without the keyboard, and a PIN typed
next would go into the web page. In order, each checked with ``GetForegroundWindow``:

1. ``BringWindowToTop`` and ``SetForegroundWindow`` alone: enough when the lock lets us
   (the tray's own windows after a click on its menu; Wine, which has no lock);
2. the documented way past the lock: attach our thread's input to the foreground window's
   thread (``AttachThreadInput``), then ``BringWindowToTop``, ``SetForegroundWindow``,
   ``SetActiveWindow``, ``SetFocus``, and detach;
3. if that was refused, a simulated Alt press around ``SetForegroundWindow`` (the system
   then counts our process as the one that received the last input event);
4. if still refused, flash the taskbar button (``FlashWindowEx``) so the user sees it.

``AllowSetForegroundWindow(ASFW_ANY)`` is for the other side: a process that owns the
foreground can hand it on with it; the background agent cannot.

Off Windows :func:`take_foreground` does nothing (X11 window managers give a new window the
keyboard themselves). Nothing here sees or logs a PIN: only window handles and outcomes.
"""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    import tkinter as tk

log = logging.getLogger(__name__)

VK_MENU: Final = 0x12
"""The Alt key."""
KEYEVENTF_EXTENDEDKEY: Final = 0x0001
KEYEVENTF_KEYUP: Final = 0x0002
_KEY_IS_DOWN: Final = 0x8000
FLASHW_ALL: Final = 0x0003
"""Flash both the caption and the taskbar button."""
FLASHW_TIMERNOFG: Final = 0x000C
"""Keep flashing until the window comes to the foreground."""


class ForegroundApi(Protocol):
    """The user32 and kernel32 calls of the technique, one method each (tests use a fake)."""

    def foreground_window(self) -> int:
        """``GetForegroundWindow()``; 0 when none."""

    def thread_of(self, hwnd: int) -> int:
        """``GetWindowThreadProcessId(hwnd, NULL)``: the thread that owns ``hwnd``."""

    def current_thread(self) -> int:
        """``GetCurrentThreadId()``."""

    def attach_thread_input(self, attach: int, to: int, on: bool) -> bool:
        """``AttachThreadInput(attach, to, on)``."""

    def bring_window_to_top(self, hwnd: int) -> bool:
        """``BringWindowToTop(hwnd)``."""

    def set_foreground_window(self, hwnd: int) -> bool:
        """``SetForegroundWindow(hwnd)``; false when the foreground lock refused it."""

    def set_active_window(self, hwnd: int) -> int:
        """``SetActiveWindow(hwnd)``: the previously active window."""

    def set_focus(self, hwnd: int) -> int:
        """``SetFocus(hwnd)``: the window that had the keyboard focus."""

    def key_is_down(self, key: int) -> bool:
        """``GetAsyncKeyState(key) & 0x8000``."""

    def key_event(self, key: int, flags: int) -> None:
        """``keybd_event(key, 0, flags, 0)``."""

    def flash(self, hwnd: int, flags: int) -> bool:
        """``FlashWindowEx`` with ``flags``, flashing until the window is in front."""


class Route(enum.Enum):
    """How the window reached the foreground, or that it did not."""

    ALREADY = "already"
    """It was the foreground window already."""
    PLAIN = "plain"
    """``SetForegroundWindow`` alone: the lock let us."""
    ATTACHED = "attached"
    """``SetForegroundWindow`` with our input attached to the foreground window's thread."""
    ALT_KEY = "alt-key"
    """``SetForegroundWindow`` inside a simulated Alt press."""
    FLASHED = "flashed"
    """Every attempt was refused: the taskbar button flashes instead."""


@dataclass(frozen=True)
class Foreground:
    """The outcome of :func:`bring_to_foreground`."""

    route: Route
    """The technique that worked, or ``FLASHED`` when none did."""
    foreground: bool
    """``GetForegroundWindow() == hwnd`` afterwards: the check, not the calls' return values."""


@dataclass(frozen=True)
class FocusReport:
    """Whether a dialog has the keyboard: for tests and the Windows CI, never for a PIN."""

    foreground_is_dialog: bool
    """Windows: ``GetForegroundWindow()`` is the dialog's toplevel; elsewhere: Tk says this
    application has the input focus."""
    focus_widget_class: str
    """Tk's class of the widget with the focus (``Entry`` for the PIN field); empty if none."""


def bring_to_foreground(hwnd: int, api: ForegroundApi) -> Foreground:
    """Make ``hwnd`` (a toplevel of the calling thread) the foreground window, past the lock."""
    before = api.foreground_window()
    if before == hwnd:
        return _logged(Foreground(Route.ALREADY, foreground=True))
    attempts: tuple[tuple[Route, Callable[[], None]], ...] = (
        (Route.PLAIN, lambda: _plain_attempt(hwnd, api)),
        (Route.ATTACHED, lambda: _attached_attempt(hwnd, before, api)),
        (Route.ALT_KEY, lambda: _alt_key_attempt(hwnd, api)),
    )
    for route, attempt in attempts:
        attempt()
        if api.foreground_window() == hwnd:
            return _logged(Foreground(route, foreground=True))
    api.flash(hwnd, FLASHW_ALL | FLASHW_TIMERNOFG)
    return _logged(Foreground(Route.FLASHED, foreground=api.foreground_window() == hwnd))


def _plain_attempt(hwnd: int, api: ForegroundApi) -> None:
    api.bring_window_to_top(hwnd)
    api.set_foreground_window(hwnd)


def _attached_attempt(hwnd: int, before: int, api: ForegroundApi) -> None:
    ours = api.current_thread()
    theirs = api.thread_of(before) if before else 0
    # Attached, the two threads share one input state: our SetForegroundWindow counts as
    # coming from the thread that has the foreground, so the lock lets it through.
    attached = theirs not in (0, ours) and api.attach_thread_input(ours, theirs, True)
    try:
        api.bring_window_to_top(hwnd)
        api.set_foreground_window(hwnd)
        api.set_active_window(hwnd)
        api.set_focus(hwnd)
    finally:
        if attached:
            # Left attached, a hung browser would hang our dialog's input too.
            api.attach_thread_input(ours, theirs, False)


def _alt_key_attempt(hwnd: int, api: ForegroundApi) -> None:
    # Injected input counts as our process having received the last input event. The key
    # goes up after SetForegroundWindow: once we are in front the release is ours, and the
    # browser, which saw only the press, opens no menu (menus open on the release). An Alt
    # the user holds is left alone.
    press = not api.key_is_down(VK_MENU)
    if press:
        api.key_event(VK_MENU, KEYEVENTF_EXTENDEDKEY)
    try:
        api.set_foreground_window(hwnd)
    finally:
        if press:
            api.key_event(VK_MENU, KEYEVENTF_EXTENDEDKEY | KEYEVENTF_KEYUP)
    api.set_focus(hwnd)


def _logged(outcome: Foreground) -> Foreground:
    if outcome.foreground:
        log.info("window in the foreground (%s)", outcome.route.value)
    else:
        log.warning("window could not take the foreground (%s)", outcome.route.value)
    return outcome


def toplevel_hwnd(root: tk.Misc) -> int:
    """The real Windows handle of ``root``'s toplevel: Tk's wrapper window, not its client."""
    # `wm frame` gives Tk's wrapper, the window Windows knows as the toplevel; winfo_id is
    # Tk's client area inside it, a child window, which SetForegroundWindow would not take.
    return int(str(root.winfo_toplevel().wm_frame()), 16)


def take_foreground(root: tk.Misc) -> Foreground | None:
    """Bring ``root``'s toplevel to the foreground on Windows; ``None`` elsewhere.

    The caller then gives its widget the focus (``entry.focus_force()``): Tk keeps the
    keyboard focus per toplevel and hands the keys to that widget.
    """
    if sys.platform != "win32":
        return None
    return bring_to_foreground(toplevel_hwnd(root), user32())


def focus_in_front(widget: tk.Misc) -> None:
    """:func:`take_foreground` for ``widget``'s toplevel, then the keyboard to ``widget``."""
    take_foreground(widget)
    widget.focus_force()


def focus_report(root: tk.Misc, api: ForegroundApi | None = None) -> FocusReport:
    """Is ``root``'s toplevel in the foreground, and which kind of widget has the focus?"""
    focused = str(root.tk.call("focus"))  # "" when this application has no keyboard focus
    widget_class = str(root.tk.call("winfo", "class", focused)) if focused else ""
    if api is None and sys.platform == "win32":
        api = user32()
    if api is not None:
        foreground = api.foreground_window() == toplevel_hwnd(root)
    else:
        toplevel = str(root.winfo_toplevel())
        foreground = bool(focused) and str(root.tk.call("winfo", "toplevel", focused)) == toplevel
    return FocusReport(foreground, widget_class)


def user32() -> ForegroundApi:
    """The real calls (Windows only)."""
    if sys.platform == "win32":
        return _User32()
    raise OSError("user32 needs Windows")


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    class _FlashInfo(ctypes.Structure):
        _fields_ = (
            ("cbSize", wintypes.UINT),
            ("hwnd", wintypes.HWND),
            ("dwFlags", wintypes.DWORD),
            ("uCount", wintypes.UINT),
            ("dwTimeout", wintypes.DWORD),
        )

    def _declare(function: Any, restype: Any, *argtypes: Any) -> Any:
        function.restype = restype
        function.argtypes = list(argtypes)
        return function

    class _User32:
        """user32 and kernel32 through ctypes, every function with its argument types."""

        def __init__(self) -> None:
            # Private WinDLLs: argtypes set on ctypes.windll's shared ones would change them
            # for pystray and every other user of user32 in the process.
            user = ctypes.WinDLL("user32", use_last_error=True)
            kernel = ctypes.WinDLL("kernel32", use_last_error=True)
            hwnd, dword = wintypes.HWND, wintypes.DWORD
            self._foreground = _declare(user.GetForegroundWindow, hwnd)
            self._thread_of = _declare(
                user.GetWindowThreadProcessId, dword, hwnd, ctypes.POINTER(dword)
            )
            self._current = _declare(kernel.GetCurrentThreadId, dword)
            self._attach = _declare(
                user.AttachThreadInput, wintypes.BOOL, dword, dword, wintypes.BOOL
            )
            self._to_top = _declare(user.BringWindowToTop, wintypes.BOOL, hwnd)
            self._set_foreground = _declare(user.SetForegroundWindow, wintypes.BOOL, hwnd)
            self._set_active = _declare(user.SetActiveWindow, hwnd, hwnd)
            self._set_focus = _declare(user.SetFocus, hwnd, hwnd)
            self._key_state = _declare(user.GetAsyncKeyState, wintypes.SHORT, ctypes.c_int)
            self._keybd_event = _declare(
                user.keybd_event, None, ctypes.c_ubyte, ctypes.c_ubyte, dword, ctypes.c_size_t
            )
            self._flash = _declare(user.FlashWindowEx, wintypes.BOOL, ctypes.POINTER(_FlashInfo))

        def foreground_window(self) -> int:
            return int(self._foreground() or 0)

        def thread_of(self, hwnd: int) -> int:
            return int(self._thread_of(hwnd, None))

        def current_thread(self) -> int:
            return int(self._current())

        def attach_thread_input(self, attach: int, to: int, on: bool) -> bool:
            return bool(self._attach(attach, to, on))

        def bring_window_to_top(self, hwnd: int) -> bool:
            return bool(self._to_top(hwnd))

        def set_foreground_window(self, hwnd: int) -> bool:
            return bool(self._set_foreground(hwnd))

        def set_active_window(self, hwnd: int) -> int:
            return int(self._set_active(hwnd) or 0)

        def set_focus(self, hwnd: int) -> int:
            return int(self._set_focus(hwnd) or 0)

        def key_is_down(self, key: int) -> bool:
            return bool(self._key_state(key) & _KEY_IS_DOWN)

        def key_event(self, key: int, flags: int) -> None:
            self._keybd_event(key, 0, flags, 0)

        def flash(self, hwnd: int, flags: int) -> bool:
            info = _FlashInfo(ctypes.sizeof(_FlashInfo), hwnd, flags, 0, 0)
            return bool(self._flash(ctypes.byref(info)))
