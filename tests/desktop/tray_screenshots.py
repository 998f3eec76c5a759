"""Pictures of the tray for the user guide, from the real ``kyso-agent run``.

    python -m tests.desktop.tray_screenshots docs/tray [--lang vi] [--lang en]

starts a private Xvfb with ``trayer`` as the notification area and a private D-Bus
session bus, provisions real SoftHSM tokens, and for each state runs the agent with
its tray, waits until the icon says that state, and photographs the screen:

* ``tray-ready.png``, ``tray-no-token.png``, ``tray-expiring.png`` (a certificate
  ending in 10 days), ``tray-error.png`` (a PKCS#11 module that does not load): the
  notification area, cropped and enlarged twice. The icon has no text, so one set
  serves every language;
* ``icon-pin-locked.png``: SoftHSM never locks a PIN, so this one is drawn by
  :mod:`agent.ui.icons` itself, at the size the icon has in the pictures above;
* per language: ``menu-LANG.png`` (right click), ``status-report-LANG.png`` (left
  click, a certificate ending soon), ``status-no-token-LANG.png``, and signing and
  checking a PDF from the menu: ``sign-pdf-LANG.png`` (the window that chooses the
  file and the appearance), ``sign-pdf-dialog-LANG.png`` (the agent's own consent and
  PIN dialog, PIN typed), ``verify-report-LANG.png`` (the report on the file just
  signed; the test CA is a trusted root for the agent).

The agent runs with pystray's GTK backend, the one with a menu on Linux (Windows has
the same menu). It needs PyGObject and GTK 3 (``apt-get install python3-gi
gir1.2-gtk-3.0 dbus``); Debian's PyGObject is lent to the venv's Python when that has
none. Windows have no frame: there is no window manager, as in ``docs/dialog/``.
Input goes through ``xdotool``, the keyboard mostly (GTK menus and Tk windows take it
without a window manager).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from PIL import Image, ImageGrab
from Xlib import X
from Xlib import display as xdisplay

from agent.messages import Lang, text
from agent.testing.samples import sample_pdf
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, provision
from agent.ui.icons import icon_image
from agent.ui.tray_state import TrayState
from tests.conftest import PIN, AgentProcess, eventually, start_agent
from tests.desktop.xvfb import virtual_display

#: The desktop behind the windows (Xvfb's is black).
DESKTOP: Final = 0x3B6E8F
#: Height of the notification area (trayer), pixels; the icon gets two less.
TRAY_HEIGHT: Final = 32
#: Enlargement of the notification-area pictures.
ZOOM: Final = 2
#: Width of notification area shown left of the icon, pixels (before enlarging).
TRAY_CONTEXT: Final = 40
#: The sample PDF, under the work folder (the sign window shows its path).
PDF_FOLDER: Final = "Văn bản"
PDF_NAME: Final = "QD-123-UBND.pdf"
SIGNED_NAME: Final = "QD-123-UBND-signed.pdf"
HOLDER: Final = "Nguyễn Văn An"
#: Down-arrow presses from a freshly opened menu to an entry (GTK skips the disabled
#: token and certificate lines): 1 is "Show status report…".
MENU_SIGN: Final = 2
MENU_VERIFY: Final = 3
#: Seconds to wait for anything on screen (a window, a state).
WAIT: Final = 30.0


@dataclass(frozen=True)
class Box:
    """A rectangle on the screen."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        """First column past the box."""
        return self.x + self.width

    @property
    def bottom(self) -> int:
        """First row past the box."""
        return self.y + self.height

    def union(self, other: Box) -> Box:
        """The smallest box holding both."""
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    def grown(self, margin: int) -> Box:
        """``margin`` more on every side, kept on the screen's top-left."""
        x, y = max(0, self.x - margin), max(0, self.y - margin)
        return Box(x, y, self.right + margin - x, self.bottom + margin - y)


@dataclass(frozen=True)
class Window:
    """A viewable X window."""

    id: int
    title: str
    box: Box


class Screen:
    """The virtual display: find windows, send input (xdotool), take pictures."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._x = xdisplay.Display(name)
        self._root = self._x.screen().root
        self._net_wm_name = self._x.intern_atom("_NET_WM_NAME")
        self._utf8 = self._x.intern_atom("UTF8_STRING")

    def close(self) -> None:
        """Drop the X connection."""
        self._x.close()

    def paint_desktop(self) -> None:
        """A plain colour behind the windows (Xvfb's root is black)."""
        self._root.change_attributes(background_pixel=DESKTOP)
        self._root.clear_area()
        self._x.sync()

    def _title(self, window: Any) -> str:
        prop = window.get_full_property(self._net_wm_name, self._utf8)
        if prop is not None:
            value = prop.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        legacy = window.get_wm_name()
        return legacy if isinstance(legacy, str) else ""

    def _window(self, window: Any) -> Window | None:
        try:
            if window.get_attributes().map_state != X.IsViewable:
                return None
            geometry = window.get_geometry()
            origin = window.translate_coords(self._root, 0, 0)
            box = Box(-origin.x, -origin.y, geometry.width, geometry.height)
            return Window(window.id, self._title(window), box)
        except Exception:  # noqa: BLE001 - the window went away meanwhile
            return None

    def windows(self, top_only: bool = False) -> list[Window]:
        """Every viewable window (any depth, or only the top level)."""
        found = []
        pending = [self._root]
        while pending:
            parent = pending.pop()
            try:
                children = parent.query_tree().children
            except Exception:  # noqa: BLE001, S112 - the window went away meanwhile
                continue
            for child in children:
                window = self._window(child)
                if window is not None:
                    found.append(window)
                    if not top_only:
                        pending.append(child)
        return found

    def find(self, title: str, prefix: bool = False) -> Window | None:
        """The viewable window titled ``title`` (or whose title starts so)."""
        for window in self.windows():
            if window.title == title or (prefix and window.title.startswith(title)):
                return window
        return None

    def wait(self, title: str, what: str, prefix: bool = False) -> Window:
        """The window titled ``title``, once it is there."""
        return eventually(lambda: self.find(title, prefix), WAIT, what)

    def wait_gone(self, title: str, what: str) -> None:
        """Until no window is titled ``title``."""
        eventually(lambda: self.find(title) is None, WAIT, what)

    def popups(self) -> set[Box]:
        """Top-level windows larger than a speck: menus, windows, the tray's panel."""
        return {
            w.box for w in self.windows(top_only=True) if w.box.width > 40 and w.box.height > 40
        }

    def xdotool(self, *args: str) -> None:
        """Run ``xdotool`` on this display."""
        subprocess.run(
            ["xdotool", *args],
            env={**os.environ, "DISPLAY": self.name},
            check=True,
            capture_output=True,
            timeout=30,
        )

    def click(self, box: Box, button: int = 1) -> None:
        """Click the middle of ``box``."""
        self.xdotool("mousemove", str(box.x + box.width // 2), str(box.y + box.height // 2))
        self.xdotool("click", str(button))

    def park_pointer(self) -> None:
        """Out of the way of every window (no hover highlight in the pictures)."""
        self.xdotool("mousemove", "1000", "100")

    def focus(self, window: Window) -> None:
        """Give ``window`` the keyboard (there is no window manager to do it)."""
        self.xdotool("windowfocus", "--sync", str(window.id))
        time.sleep(0.3)  # Tk moves its own focus shortly after mapping; let it

    def keys(self, *keys: str) -> None:
        """Press keys, one after the other."""
        self.xdotool("key", "--delay", "80", *keys)

    def type(self, value: str) -> None:
        """Type ``value`` (Unicode too: xdotool maps spare keycodes)."""
        self.xdotool("type", "--delay", "30", value)

    def shoot(self, box: Box, out: Path, zoom: int = 1) -> Path:
        """Save the part of the screen in ``box`` as a small PNG."""
        self._x.sync()
        time.sleep(0.8)  # the last redraw reaches the screen
        picture = ImageGrab.grab(bbox=(box.x, box.y, box.right, box.bottom), xdisplay=self.name)
        if zoom != 1:
            size = (box.width * zoom, box.height * zoom)
            picture = picture.resize(size, Image.Resampling.NEAREST)
        picture.quantize(colors=64).save(out, optimize=True)
        return out


@contextmanager
def session_bus() -> Iterator[str]:
    """A private D-Bus session bus; its address."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise RuntimeError("dbus-daemon is not installed (Debian: apt-get install dbus)")
    process = subprocess.Popen(
        [daemon, "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None  # PIPE was asked for
        address = process.stdout.readline().strip()
        if not address:
            raise RuntimeError("dbus-daemon did not print its address")
        yield address
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def gtk_pythonpath(work: Path) -> str:
    """A ``PYTHONPATH`` under which this Python imports PyGObject ("" when it already does).

    Debian's ``python3-gi`` is built for ``/usr/bin/python3``; a venv of the same minor
    version loads it too. Only the ``gi`` package is lent, not the whole of dist-packages,
    whose other packages would shadow the venv's.
    """
    if importlib.util.find_spec("gi") is not None:
        return ""
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    system = Path("/usr/lib/python3/dist-packages/gi")
    if not any(system.glob(f"_gi.{tag}*.so")):
        raise RuntimeError(
            f"no PyGObject for this Python ({tag}): apt-get install python3-gi gir1.2-gtk-3.0 "
            "with a venv of the system's Python version, or pip install PyGObject"
        )
    shim = work / "gi-only"
    shim.mkdir(exist_ok=True)
    link = shim / "gi"
    if not link.exists():
        link.symlink_to(system)
    return str(shim)


def gtk_missing(work: Path) -> str | None:
    """Why the GTK tray cannot run here, or ``None`` when it can."""
    if shutil.which("dbus-daemon") is None:
        return "dbus-daemon is not installed (Debian: apt-get install dbus)"
    try:
        path = gtk_pythonpath(work)
    except RuntimeError as exc:
        return str(exc)
    probe = "import gi; gi.require_version('Gtk', '3.0'); from gi.repository import Gtk"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        return "no GTK 3 for PyGObject (Debian: apt-get install gir1.2-gtk-3.0)"
    return None


@dataclass(frozen=True)
class Tokens:
    """A SoftHSM set-up per state, and the CA that issued their certificates."""

    ready: SoftHsm
    expiring: SoftHsm
    empty: SoftHsm
    broken_module: Path
    ca_pem: Path

    @classmethod
    def provision(cls, work: Path) -> Tokens:
        """Ready (valid two years), expiring (10 days), none, a module that does not load."""
        ca = TestCa.create("Kyso Test CA")
        hsms = {}
        for name, key in (
            ("ready", KeySpec("01", "EC", HOLDER, "UBND tỉnh Thừa Thiên Huế")),
            ("expiring", KeySpec("01", "EC", "Trần Thị Bình", "Sở Nội vụ", valid_days=10)),
        ):
            hsms[name] = SoftHsm(work / f"hsm-{name}").create()
            provision(hsms[name], ca, work / "ca", TokenSpec("KYSO-TOKEN", PIN, keys=(key,)))
        broken = work / "vendor" / "libvendor-pkcs11.so"
        broken.parent.mkdir(parents=True, exist_ok=True)
        broken.write_bytes(b"not a shared library\n")  # found (it exists), fails to load
        empty = SoftHsm(work / "hsm-empty").create()
        return cls(hsms["ready"], hsms["expiring"], empty, broken, work / "ca" / "ca.pem")


class TrayDesktop:
    """``kyso-agent run`` on the screen, one state at a time, driven like a user would."""

    def __init__(self, screen: Screen, bus: str, work: Path, tokens: Tokens) -> None:
        self.screen = screen
        self.bus = bus
        self.work = work
        self.tokens = tokens
        self.gi_path = gtk_pythonpath(work)
        self._runs = 0

    def start(self, hsm: SoftHsm, lang: Lang, modules: list[Path] | None = None) -> AgentProcess:
        """The agent with its GTK tray and its real consent dialog; the test CA trusted."""
        self._runs += 1
        env = {
            "DISPLAY": self.screen.name,
            "DBUS_SESSION_BUS_ADDRESS": self.bus,
            "PYSTRAY_BACKEND": "gtk",
            "GDK_BACKEND": "x11",
            "NO_AT_BRIDGE": "1",  # no accessibility bus to start on the private bus
        }
        if self.gi_path:
            env["PYTHONPATH"] = self.gi_path
        return start_agent(
            self.work / f"agent-{self._runs}",
            hsm,
            "--lang",
            lang.value,
            modules=modules,
            scripted=False,
            policy={"trust_roots": [str(self.tokens.ca_pem)]},
            env=env,
            command="run",
        )

    def icon(self, state: TrayState, lang: Lang) -> Box:
        """The icon, once its title (GTK's copy of the tooltip) says ``state``."""
        headline = text(f"tray_state_{state.value.replace('-', '_')}", lang)
        found = self.screen.wait(f"Kyso Agent — {headline}", f"the icon in {state}", prefix=True)
        return found.box

    def panel(self, icon: Box) -> Box:
        """The notification area holding ``icon`` (trayer's window is named "panel")."""
        for window in self.screen.windows(top_only=True):
            box = window.box
            if window.title == "panel" and box.y <= icon.y < box.bottom:
                return box
        raise RuntimeError("the icon is not in trayer's panel")

    def tray_picture(self, icon: Box, out: Path) -> Path:
        """The notification area around the icon, enlarged."""
        self.screen.park_pointer()
        panel = self.panel(icon)
        left = max(panel.x, icon.x - TRAY_CONTEXT)
        right = min(panel.right, icon.right + 8)
        return self.screen.shoot(Box(left, panel.y, right - left, panel.height), out, ZOOM)

    def open_menu(self, icon: Box) -> Box:
        """Right click on the icon; the menu's place."""
        before = self.screen.popups()
        self.screen.click(icon, button=3)
        return eventually(lambda: next(iter(self.screen.popups() - before), None), WAIT, "the menu")

    def choose(self, icon: Box, downs: int, title: str) -> Window:
        """Open the menu, take the entry ``downs`` down; the window it opens, focused."""
        self.open_menu(icon)
        self.screen.keys(*["Down"] * downs, "Return")
        window = self.screen.wait(title, f"the window {title!r}")
        self.screen.focus(window)
        return window

    def pick_file(self, path: Path, lang: Lang, *, several: bool = False) -> None:
        """In the sign or check window: Choose…, type the path into Tk's file dialog. The sign
        window's dialog takes several files, a Tcl list: the path in braces (it has a space)."""
        title = text("tray_choose_pdf", lang)
        self.screen.keys("Tab", "space")  # the first widget is the Choose button
        self.screen.focus(self.screen.wait(title, "the file dialog"))
        self.screen.type(f"{{{path}}}" if several else str(path))
        self.screen.keys("Return")
        self.screen.wait_gone(title, "the file dialog closed")


def source_pdf(work: Path) -> Path:
    """The sample PDF to sign, fresh (no signed copy beside it)."""
    folder = work / PDF_FOLDER
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*-signed*.pdf"):
        old.unlink()
    source = folder / PDF_NAME
    source.write_bytes(sample_pdf())
    return source


def shoot_ready(desk: TrayDesktop, folder: Path, lang: Lang, tray: bool = True) -> list[Path]:
    """Ready: the tray (if ``tray``), the menu; then sign a PDF from the menu and check it."""
    written: list[Path] = []
    screen = desk.screen
    source = source_pdf(desk.work)
    signed = source.with_name(SIGNED_NAME)
    agent = desk.start(desk.tokens.ready, lang)
    try:
        icon = desk.icon(TrayState.READY, lang)
        if tray:
            written.append(desk.tray_picture(icon, folder / "tray-ready.png"))

        area = desk.open_menu(icon).union(icon)
        area = Box(area.x, area.y, area.width, desk.panel(icon).bottom - area.y)
        written.append(screen.shoot(area.grown(8), folder / f"menu-{lang.value}.png"))
        screen.keys("Escape")

        sign_title = text("tray_sign_title", lang)
        desk.choose(icon, MENU_SIGN, sign_title)
        desk.pick_file(source, lang, several=True)
        screen.keys("Tab", "Tab", "space")  # the second appearance: personal signature
        window = screen.wait(sign_title, "the Sign a PDF window")
        written.append(screen.shoot(window.box, folder / f"sign-pdf-{lang.value}.png"))
        screen.keys("Return")

        dialog = screen.wait(text("dialog_title_sign", lang), "the consent and PIN dialog")
        screen.focus(dialog)
        screen.type(PIN)
        screen.park_pointer()
        written.append(screen.shoot(dialog.box, folder / f"sign-pdf-dialog-{lang.value}.png"))
        screen.keys("Return")
        eventually(
            lambda: signed.exists() and signed.stat().st_size > 0, WAIT, f"{signed.name} written"
        )

        verify_title = text("tray_verify_title", lang)
        desk.choose(icon, MENU_VERIFY, verify_title)
        desk.pick_file(signed, lang)
        screen.keys("Return")
        # The chooser closes; the report opens under the same title.
        report = eventually(
            lambda: next(
                (w for w in screen.windows() if w.title == verify_title and w.box.height > 300),
                None,
            ),
            WAIT,
            "the verification report",
        )
        screen.park_pointer()
        written.append(screen.shoot(report.box, folder / f"verify-report-{lang.value}.png"))
    finally:
        agent.stop()
    return written


def shoot_states(desk: TrayDesktop, folder: Path, lang: Lang, tray: bool = True) -> list[Path]:
    """No token, expiring, error: the tray (if ``tray``) and, left click, the status report."""
    written: list[Path] = []
    tokens = desk.tokens
    status_title = text("tray_status_title", lang)
    for state, hsm, modules, report in (
        (TrayState.NO_TOKEN, tokens.empty, None, f"status-no-token-{lang.value}.png"),
        (TrayState.EXPIRING, tokens.expiring, None, f"status-report-{lang.value}.png"),
        (TrayState.ERROR, tokens.empty, [tokens.broken_module], None),
    ):
        if report is None and not tray:
            continue
        agent = desk.start(hsm, lang, modules)
        try:
            icon = desk.icon(state, lang)
            if tray:
                written.append(desk.tray_picture(icon, folder / f"tray-{state.value}.png"))
            if report is not None:
                desk.screen.click(icon)  # GTK: a left click is the default entry
                window = desk.screen.wait(status_title, "the status report window")
                desk.screen.park_pointer()
                written.append(desk.screen.shoot(window.box, folder / report))
        finally:
            agent.stop()
    return written


def pin_locked_icon(folder: Path) -> Path:
    """The PIN-locked icon as the agent draws it, at its size in the tray pictures."""
    out = folder / "icon-pin-locked.png"
    size = (TRAY_HEIGHT - 2) * ZOOM
    picture = icon_image(TrayState.PIN_LOCKED).resize((size, size), Image.Resampling.LANCZOS)
    picture.save(out, optimize=True)
    return out


@contextmanager
def tray_desktop(display: str, work: Path) -> Iterator[TrayDesktop]:
    """trayer and a session bus on ``display``, tokens provisioned under ``work``."""
    tokens = Tokens.provision(work)
    screen = Screen(display)
    host = subprocess.Popen(
        ["trayer", "--edge", "bottom", "--align", "right", "--height", str(TRAY_HEIGHT)],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        screen.paint_desktop()
        screen.wait("panel", "trayer's panel")
        with session_bus() as bus:
            yield TrayDesktop(screen, bus, work, tokens)
    finally:
        host.terminate()
        host.wait(10)
        screen.close()


def render_all(folder: Path, display: str, langs: list[Lang], work: Path) -> list[Path]:
    """Every picture into ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tray_desktop(display, work) as desk:
        for index, lang in enumerate(langs):
            written += shoot_ready(desk, folder, lang, tray=index == 0)
            written += shoot_states(desk, folder, lang, tray=index == 0)
    written.append(pin_locked_icon(folder))
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tests.desktop.tray_screenshots FOLDER [--lang L]…``."""
    parser = argparse.ArgumentParser(prog="python -m tests.desktop.tray_screenshots")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--lang", action="append", choices=["vi", "en"], help="vi and en if none")
    args = parser.parse_args(argv)
    langs = [Lang(value) for value in args.lang or ["vi", "en"]]
    with tempfile.TemporaryDirectory(prefix="kyso-") as scratch:
        work = Path(scratch)
        missing = gtk_missing(work)
        if missing is not None:
            print(f"python -m tests.desktop.tray_screenshots: {missing}", file=sys.stderr)
            return 2
        with virtual_display() as display:
            written = render_all(args.folder, display, langs, work)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
