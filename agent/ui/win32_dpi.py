"""Sharp windows on high-DPI screens: per-monitor DPI awareness on Windows, and Tk's scale.

A process that does not declare itself DPI aware is drawn at 96 DPI and stretched by
Windows: on a 150 % laptop screen the dialog and the tray's menu come out blurred. The
awareness is per process and fixed by its first window, so every process of ours that shows
one (the tray's, each dialog's) calls :func:`make_dpi_aware` before it makes any. Unless the
process is aware already (a manifest, an earlier call, or Wine, where every process is), the
newest mode Windows offers wins:

* ``SetProcessDpiAwarenessContext(PER_MONITOR_AWARE_V2)``: Windows 10 1703 and later;
* ``SetProcessDpiAwareness(PROCESS_PER_MONITOR_DPI_AWARE)`` (shcore): Windows 8.1;
* ``SetProcessDPIAware()``: system DPI, Vista and later.

Tk turns point sizes into pixels with its ``tk scaling`` (pixels per point), which it reads
once from the system DPI; :func:`scale_tk` sets it from the DPI of the monitor the window
is on (``GetDpiForWindow``) before the window's fonts are made. Off Windows both do nothing.
"""

from __future__ import annotations

import enum
import logging
import sys
from typing import TYPE_CHECKING, Any, Final, Protocol

from agent.ui.win32_focus import toplevel_hwnd

if TYPE_CHECKING:
    import tkinter as tk

log = logging.getLogger(__name__)

DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2: Final = -4
PROCESS_PER_MONITOR_DPI_AWARE: Final = 2
POINTS_PER_INCH: Final = 72


class DpiAwareness(enum.Enum):
    """A process's DPI awareness (Windows' ``DPI_AWARENESS``, V2 told apart)."""

    UNAWARE = "unaware"
    """Drawn at 96 DPI and stretched by Windows."""
    SYSTEM = "system"
    """Drawn at the primary monitor's DPI at sign-in, stretched on the others."""
    PER_MONITOR = "per-monitor"
    """Drawn at each monitor's DPI."""
    PER_MONITOR_V2 = "per-monitor-v2"
    """Per monitor, with Windows scaling the title bar, menus and dialogs too."""


class DpiApi(Protocol):
    """The calls, one method each; ``None`` when this Windows lacks the function."""

    def awareness(self) -> DpiAwareness | None:
        """This thread's awareness (``GetThreadDpiAwarenessContext``, Windows 10 1607)."""

    def set_awareness_context(self, context: int) -> bool | None:
        """``SetProcessDpiAwarenessContext(context)``."""

    def set_awareness(self, value: int) -> bool | None:
        """``SetProcessDpiAwareness(value) == S_OK`` (shcore.dll)."""

    def set_aware(self) -> bool | None:
        """``SetProcessDPIAware()``."""

    def dpi_for_window(self, hwnd: int) -> int | None:
        """``GetDpiForWindow(hwnd)``; 0 for a bad window."""


def choose_awareness(api: DpiApi) -> DpiAwareness:
    """Leave an aware process alone; ask for the newest awareness first otherwise."""
    before = api.awareness()
    if before is not None and before is not DpiAwareness.UNAWARE:
        return before
    if api.set_awareness_context(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2):
        chosen = DpiAwareness.PER_MONITOR_V2
    elif api.set_awareness(PROCESS_PER_MONITOR_DPI_AWARE):
        chosen = DpiAwareness.PER_MONITOR
    elif api.set_aware():
        chosen = DpiAwareness.SYSTEM
    else:
        chosen = DpiAwareness.UNAWARE
    # What the process has now, where Windows can say: a call may succeed and change nothing.
    return api.awareness() or chosen


def make_dpi_aware(api: DpiApi | None = None) -> DpiAwareness | None:
    """Make this process DPI aware (before its first window); ``None`` off Windows."""
    if api is None:
        if sys.platform != "win32":
            return None
        api = dpi_api()
    awareness = choose_awareness(api)
    log.info("DPI awareness: %s", awareness.value)
    return awareness


def scale_tk(root: tk.Misc, api: DpiApi | None = None) -> float | None:
    """Set Tk's pixels per point from ``root``'s monitor; the new scale, or ``None`` when
    left as it was (off Windows, or a Windows without ``GetDpiForWindow``)."""
    if api is None:
        if sys.platform != "win32":
            return None
        api = dpi_api()
    dpi = api.dpi_for_window(toplevel_hwnd(root))
    if not dpi:
        return None
    scaling = dpi / POINTS_PER_INCH
    root.tk.call("tk", "scaling", scaling)
    log.info("Tk scaling %.3f for %d DPI", scaling, dpi)
    return scaling


def dpi_api() -> DpiApi:
    """The real calls (Windows only)."""
    if sys.platform == "win32":
        return _Win32Dpi()
    raise OSError("the DPI functions need Windows")


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _AWARENESS: Final = {
        0: DpiAwareness.UNAWARE,
        1: DpiAwareness.SYSTEM,
        2: DpiAwareness.PER_MONITOR,
    }

    def _function(dll: str, name: str, restype: Any, *argtypes: Any) -> Any:
        """``dll!name`` declared, or ``None`` when this Windows lacks it."""
        try:
            # Private WinDLLs: argtypes set on ctypes.windll's shared ones would change them
            # for every other user of the DLL in the process.
            function = getattr(ctypes.WinDLL(dll, use_last_error=True), name)
        except (OSError, AttributeError):
            return None
        function.restype = restype
        function.argtypes = list(argtypes)
        return function

    class _Win32Dpi:
        """user32 and shcore through ctypes, every function with its argument types."""

        def __init__(self) -> None:
            handle = wintypes.HANDLE
            self._thread_context = _function("user32", "GetThreadDpiAwarenessContext", handle)
            self._equal = _function(
                "user32", "AreDpiAwarenessContextsEqual", wintypes.BOOL, handle, handle
            )
            self._awareness_of = _function(
                "user32", "GetAwarenessFromDpiAwarenessContext", ctypes.c_int, handle
            )
            self._context = _function(
                "user32", "SetProcessDpiAwarenessContext", wintypes.BOOL, handle
            )
            self._awareness = _function(
                "shcore", "SetProcessDpiAwareness", ctypes.c_long, ctypes.c_int
            )
            self._aware = _function("user32", "SetProcessDPIAware", wintypes.BOOL)
            self._window_dpi = _function("user32", "GetDpiForWindow", wintypes.UINT, wintypes.HWND)

        def awareness(self) -> DpiAwareness | None:
            if None in (self._thread_context, self._equal, self._awareness_of):
                return None
            context = self._thread_context()
            v2 = wintypes.HANDLE(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2)
            if self._equal(context, v2):
                return DpiAwareness.PER_MONITOR_V2
            return _AWARENESS.get(int(self._awareness_of(context)))

        def set_awareness_context(self, context: int) -> bool | None:
            if self._context is None:
                return None
            return bool(self._context(wintypes.HANDLE(context)))

        def set_awareness(self, value: int) -> bool | None:
            if self._awareness is None:
                return None
            return int(self._awareness(value)) == 0  # S_OK

        def set_aware(self) -> bool | None:
            return None if self._aware is None else bool(self._aware())

        def dpi_for_window(self, hwnd: int) -> int | None:
            return None if self._window_dpi is None else int(self._window_dpi(hwnd))
