"""``kyso-agent run``: the tray icon on the main thread, the agent in a worker thread.

Threads of a running tray:

* the **main thread** runs the pystray icon (required on macOS and Windows);
* ``kyso-agent`` runs the asyncio agent that :mod:`agent.app` (the composition root)
  hands over (:class:`AgentRunner`), with its HTTPS server, its signing service and the
  token monitor (a companion task polling the tokens every second);
* ``tray-ui`` is the only thread that touches the icon after start-up: it redraws
  icon, tooltip and menu and shows notifications, from a queue;
* each menu action runs in a short-lived thread, so the icon never waits; the
  windows it opens are separate processes (``python -m agent.ui.<module>``).

Quit (menu, SIGTERM or SIGINT) kills the windows and dialogs still open, stops the
agent (the port is released), waits for its thread and stops the icon.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from agent import __version__
from agent.config import AgentConfig
from agent.errors import AgentError
from agent.instance import AlreadyRunning
from agent.messages import Lang, format_date, text
from agent.pairing import PairingStore
from agent.protocol import PdfVerifyRequest, PdfVerifyResponse
from agent.token import Inventory
from agent.token.monitor import TokenEvent, TokenEventKind, TokenMonitor
from agent.ui import autostart
from agent.ui.clipboard import copy_text
from agent.ui.display import display_available, tray_backend_hint
from agent.ui.local_signing import LocalSigner, summary
from agent.ui.menu import (
    Action,
    MenuInputs,
    MenuItem,
    TrayActions,
    build_menu,
    dispatch,
)
from agent.ui.notify import Notifier
from agent.ui.prefs import TrayPrefs, load_prefs, prefs_path, save_prefs
from agent.ui.tray_state import (
    AgentHealth,
    TrayState,
    derive_state,
    holder,
    latin1_title,
    tooltip,
)

if TYPE_CHECKING:
    from agent.config import SourcedConfig
    from agent.server import RunningServer
    from agent.service import SigningService
    from agent.status import StatusSource
    from agent.status.bundle import ConfigReport
    from agent.token import TokenService

log = logging.getLogger(__name__)

T = TypeVar("T")

#: pystray's name for the icon: the X window class the tests (and window managers) see.
ICON_NAME: Final = "kyso-agent"
#: Seconds Quit waits for the agent thread before giving up on it.
AGENT_STOP_TIMEOUT: Final = 30.0
#: Seconds the icon's loop gets to end after ``Icon.stop``.
ICON_STOP_TIMEOUT: Final = 3.0
#: Seconds a window process gets to exit after SIGTERM before SIGKILL.
CHILD_GRACE: Final = 3.0


class StartedAgent(Protocol):
    """What the tray uses of a running agent (:class:`agent.app.StartedAgent` has it)."""

    @property
    def server(self) -> RunningServer:
        """The listening server."""

    @property
    def service(self) -> SigningService:
        """The signing service the API uses (the tray's own signing goes through it)."""

    @property
    def tokens(self) -> TokenService:
        """The token layer, which the token monitor polls."""

    @property
    def status(self) -> StatusSource:
        """What the status report is built from."""


class AgentRunner(Protocol):
    """Runs the agent until ``stop`` is set, calling ``on_ready`` once it listens: the
    composition root's :func:`agent.app.serve`, with the tray's controller as companion."""

    def __call__(
        self, *, on_ready: Callable[[RunningServer], None], stop: asyncio.Event
    ) -> Coroutine[Any, Any, None]:
        """The coroutine of the agent's whole life."""


def effective_lang(cli_lang: str | None, prefs: TrayPrefs, config: AgentConfig) -> Lang:
    """``--lang`` > the language picked in the tray > the configuration files > vi."""
    if cli_lang:
        return Lang(cli_lang)
    if prefs.lang is not None:
        return prefs.lang
    return config.lang


def child_pids(parent: int, proc: Path = Path("/proc")) -> list[int]:
    """Every process whose parent is ``parent`` (Linux ``/proc``; empty elsewhere)."""
    found = []
    try:
        entries = list(proc.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the parent pid; the command name (field 2) may hold spaces and ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(parent):
            found.append(int(entry.name))
    return found


class Children:
    """The window processes the tray started, so that Quit can end them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: list[subprocess.Popen[bytes]] = []

    def run(self, argv: Sequence[str], stdin: bytes | None = None) -> tuple[int, bytes]:
        """Start ``argv``, feed ``stdin``, wait; returns the exit status and stdout."""
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        with self._lock:
            self._running.append(process)
        try:
            out, _ = process.communicate(stdin)
            return process.returncode, out
        finally:
            with self._lock:
                self._running.remove(process)

    def end_all(self) -> None:
        """Terminate every tracked window, then any other child (the consent dialog)."""
        with self._lock:
            tracked = list(self._running)
        pids = {p.pid for p in tracked}
        if sys.platform.startswith("linux"):
            pids.update(child_pids(os.getpid()))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                continue
            log.info("ended window process %s", pid)
        for process in tracked:
            try:
                process.wait(CHILD_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()


class TrayController(TrayActions):
    """The tray's state and the menu's actions; knows nothing of pystray.

    ``post`` asks the UI thread to redraw; ``notifier`` shows messages. Tests drive
    the controller directly.
    """

    def __init__(
        self,
        config: AgentConfig,
        lang: Lang,
        *,
        cli_lang: bool = False,
        notifier: Notifier | None = None,
        switch: autostart.Autostart | None = None,
        children: Children | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.lang = lang
        self._cli_lang = cli_lang
        self.notifier = notifier or Notifier()
        self.autostart = switch or autostart.for_platform()
        self.children = children or Children()
        self.clock = clock
        self.inventory: Inventory | None = None
        self.health = AgentHealth(running=False)
        self.agent: StartedAgent | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_change: Callable[[], None] = lambda: None
        self.on_quit: Callable[[], None] = lambda: None
        self._state: TrayState | None = None
        self._forward = threading.Lock()  # held while a window asked for by a second start is open

    # What the icon shows.

    @property
    def state(self) -> TrayState:
        """The icon's state now."""
        return derive_state(self.inventory, self.health, self.clock())

    def tooltip(self) -> str:
        """The tooltip (and the xorg window name)."""
        return tooltip(self.state, self.inventory, self.health, self.clock(), self.lang)

    def menu(self) -> tuple[MenuItem, ...]:
        """The menu for the current state."""
        try:
            paired = tuple(p.origin for p in PairingStore(self.config.pairing_file).list())
        except OSError:
            paired = ()
        try:
            enabled = self.autostart.is_enabled()
            supported = True
        except (OSError, ImportError):
            enabled, supported = False, False
        return build_menu(
            MenuInputs(
                state=self.state,
                inventory=self.inventory,
                lang=self.lang,
                now=self.clock(),
                paired=paired,
                autostart=enabled,
                autostart_supported=supported,
                agent_running=self.health.running,
                listeners=tuple(self.agent.status.listeners.values()) if self.agent else (),
            )
        )

    def note_state(self) -> TrayState:
        """Log the state when it changes (``tray state: ready``): the helpdesk reads it."""
        state = self.state
        if state is not self._state:
            log.info("tray state: %s", state.value)
            self._state = state
        return state

    # Events from the agent thread.

    def agent_started(self, agent: StartedAgent) -> None:
        """The server listens (called on the agent's loop)."""
        self.agent = agent
        self.loop = asyncio.get_running_loop()
        self.health = AgentHealth(running=True)
        self.on_change()

    def agent_failed(self, error: str) -> None:
        """The agent stopped by itself."""
        self.health = AgentHealth(running=False, error=error)
        self.notifier.notify(text("tray_notify_agent_error", self.lang, reason=error))
        self.on_change()

    def tokens_changed(self, inventory: Inventory, events: Sequence[TokenEvent]) -> None:
        """The monitor's listener (called on the agent's loop; must not block)."""
        self.inventory = inventory
        for event in events:
            message = self.event_message(event)
            threading.Thread(
                target=self.notifier.notify, args=(message,), name="tray-notify", daemon=True
            ).start()
        self.on_change()

    def event_message(self, event: TokenEvent) -> str:
        """What the notification of ``event`` says."""
        label = event.token.id.label
        if event.kind is TokenEventKind.INSERTED:
            return text("tray_notify_inserted", self.lang, label=label)
        if event.kind is TokenEventKind.REMOVED:
            return text("tray_notify_removed", self.lang, label=label)
        assert event.certificate is not None  # noqa: S101 - EXPIRING events carry one
        days = event.days_left or 0
        key = "tray_notify_expired" if days < 0 else "tray_notify_expiring"
        return text(
            key,
            self.lang,
            holder=holder(event.certificate),
            days=days,
            date=format_date(event.certificate.not_after, self.lang),
        )

    async def companion(self, agent: StartedAgent) -> None:
        """Runs on the agent's loop beside the server: the token monitor."""
        self.agent_started(agent)
        await TokenMonitor(agent.tokens, self.tokens_changed).run()

    # Helpers for actions (run in action threads, never on the icon's thread).

    def _on_agent(self, job: Callable[[StartedAgent], Any]) -> Any:
        """Run coroutine ``job(agent)`` on the agent's loop and wait for its result."""
        if self.agent is None or self.loop is None or not self.health.running:
            raise AgentError("the agent is not running")
        future: Future[Any] = asyncio.run_coroutine_threadsafe(job(self.agent), self.loop)
        return future.result()

    def _window(self, module: str, *args: str, stdin: str | None = None) -> tuple[int, bytes]:
        argv = [sys.executable, "-m", f"agent.ui.{module}", "--lang", self.lang.value, *args]
        return self.children.run(argv, stdin.encode("utf-8") if stdin is not None else None)

    def show_text(self, title: str, body: str) -> None:
        """A read-only text window."""
        self._window("report_window", "--title", title, stdin=body)

    def choose_pdf(self, verify: bool) -> dict[str, Any] | None:
        """The file chooser (to sign: the files and the profile); ``None`` when cancelled."""
        status, out = self._window("sign_file", *(["--verify"] if verify else []))
        if status != 0:
            return None
        choice = json.loads(out)
        return choice if isinstance(choice, dict) else None

    def status_text(self) -> str:
        """The helpdesk report, from the running agent."""
        from agent.status import collect

        async def job(agent: StartedAgent) -> str:
            report = await collect(agent.status)
            return report.to_text(self.lang)

        try:
            result: str = self._on_agent(job)
        except AgentError:
            return self.tooltip()
        return result

    # The menu's actions.

    def show_status(self) -> None:
        """Show the status report."""
        self.show_text(text("tray_status_title", self.lang), self.status_text())

    def bring_forward(self) -> bool:
        """A second start of the agent asked for it: show the status report, one such window
        at a time. Called on the agent's loop, so the window opens from its own thread."""
        if not self._forward.acquire(blocking=False):
            log.info("the status report asked for by an earlier start is still open")
            return True

        def work() -> None:
            try:
                self.show_status()
            except Exception:
                log.exception("showing the status report failed")
            finally:
                self._forward.release()

        threading.Thread(target=work, name="tray-bring-forward", daemon=True).start()
        return True

    def sign_pdf(self) -> None:
        """Choose one or several files, sign them through the agent (its dialog asks consent
        and PIN once), save each beside its original."""
        choice = self.choose_pdf(verify=False)
        if choice is None:
            return
        paths = choice.get("paths") or [choice["path"]]
        self.sign_files([Path(p) for p in paths], choice.get("profile", "invisible"))

    def sign_file(self, source: Path, profile: str) -> Path | None:
        """Sign ``source`` as the local caller; the signed copy, or ``None`` on failure."""
        saved = self.sign_files([source], profile)
        return saved[0] if saved else None

    def sign_files(self, sources: Sequence[Path], profile: str) -> list[Path]:
        """Sign ``sources`` as the local caller, several after one question
        (:mod:`agent.ui.local_signing`), and say what was signed and what was not; the signed
        copies written."""
        signer = LocalSigner(
            lambda job: self._on_agent(lambda agent: job(agent.service)),
            lang=self.lang,
            tsa_url=self.config.tsa_url,
            max_pdf_bytes=self.config.max_pdf_bytes,
        )
        done = signer.sign(sources, profile)
        self.notifier.notify(summary(done, len(sources), self.lang))
        return list(done.saved)

    def verify_pdf(self) -> None:
        """Choose a PDF and show its report."""
        choice = self.choose_pdf(verify=True)
        if choice is None:
            return
        self.show_text(text("tray_verify_title", self.lang), self.verify_text(Path(choice["path"])))

    def verify_text(self, source: Path) -> str:
        """The verification report of ``source`` (or why there is none)."""
        try:
            with source.open("rb"):  # one that cannot be read is named here, in the user's words
                pass
            request = PdfVerifyRequest(source)  # the PDF worker reads what the checks need
            answer: PdfVerifyResponse = self._on_agent(
                lambda agent: agent.service.verify_pdf(request, self.lang)
            )
        except AgentError as exc:
            return exc.public_message(self.lang)
        except OSError as exc:
            return f"{source}: {exc.strerror or exc}"
        return answer.text

    def copy_status(self) -> None:
        """Copy the report; show it when there is no clipboard tool."""
        report = self.status_text()
        if copy_text(report):
            self.notifier.notify(text("tray_notify_copied", self.lang))
        else:
            self.notifier.notify(text("tray_notify_copy_failed", self.lang))
            self.show_text(text("tray_status_title", self.lang), report)

    def export_support_bundle(self) -> None:
        """Ask where to save the support bundle (its name on the Desktop proposed), save it
        there, and say where it went (docs/helpdesk.md)."""
        from agent.status import build_local, collect
        from agent.status.bundle import BundleError, BundleMaker, default_bundle_path, make_bundle

        status, out = self._window(
            "save_as",
            "--title",
            text("tray_bundle_save_title", self.lang),
            "--initial",
            str(default_bundle_path()),
            "--filetype",
            text("tray_bundle_zip_files", self.lang),
            "*.zip",
        )
        if status != 0:
            return
        target = Path(json.loads(out)["path"])
        try:
            report = self._on_agent(lambda agent: collect(agent.status))
        except AgentError:
            report = build_local(self.config)  # the agent stopped: the tokens are read here
        try:
            # The save dialog asked before replacing a file.
            saved = make_bundle(
                target,
                report,
                self.config,
                self._bundle_settings(),
                maker=BundleMaker.TRAY,
                lang=self.lang,
                overwrite=True,
            )
        except BundleError as exc:
            reason = exc.message(self.lang)
            self.notifier.notify(text("tray_notify_bundle_failed", self.lang, reason=reason))
            return
        self.notifier.notify(text("tray_notify_bundle_saved", self.lang, path=str(saved)))

    def _bundle_settings(self) -> ConfigReport:
        """The running agent's configuration for the bundle, each value with its source.

        The flags the agent was started with are not known here: a value the files do not give
        came from them (:func:`~agent.status.bundle.running_sources`), except the language the
        tray itself picked.
        """
        from agent.config import ValueSource, load_sourced_config
        from agent.errors import ConfigError
        from agent.status.bundle import config_report, running_sources

        files: SourcedConfig | None
        try:
            files, problems = load_sourced_config(), []
        except ConfigError as exc:
            files, problems = None, [f"configuration files: {exc}"]
        sources = running_sources(self.config, files)
        if not self._cli_lang and load_prefs(prefs_path(self.config.data_dir)).lang is not None:
            sources["lang"] = ValueSource.TRAY
        user_file = files.user_file if files is not None else None
        return config_report(self.config, sources, user_file=user_file, problems=problems)

    def revoke_origin(self, origin: str) -> None:
        """Forget a paired portal."""
        if PairingStore(self.config.pairing_file).revoke(origin):
            self.notifier.notify(text("tray_notify_revoked", self.lang, origin=origin))
        self.on_change()

    def open_logs(self) -> None:
        """Open the logs folder."""
        folder = self.config.log_dir
        folder.mkdir(parents=True, exist_ok=True)
        if sys.platform == "win32":
            os.startfile(folder)  # type: ignore[attr-defined,unused-ignore]  # noqa: S606
            return
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        try:
            self.children.run([opener, str(folder)])
        except OSError as exc:
            log.warning("cannot open %s: %s", folder, exc)
            self.show_text(text("tray_menu_open_logs", self.lang), str(folder))

    def set_autostart(self, enabled: bool) -> None:
        """Turn start at login on or off."""
        if enabled:
            self.autostart.enable(autostart.launch_command())
        else:
            self.autostart.disable()
        log.info("start at login: %s", "on" if enabled else "off")
        self.on_change()

    def set_lang(self, lang: Lang) -> None:
        """Switch the tray's language and remember it for the next start."""
        self.lang = lang
        save_prefs(prefs_path(self.config.data_dir), TrayPrefs(lang=lang))
        if self._cli_lang:
            log.info("--lang was given: the next start uses it again, not %s", lang.value)
        self.on_change()

    def about(self) -> None:
        """The About window."""
        url = self.agent.server.url if self.agent is not None else "-"
        body = text(
            "tray_about_text",
            self.lang,
            version=__version__,
            url=url,
            data_dir=str(self.config.data_dir),
        )
        self.show_text(text("tray_about_title", self.lang), body)

    def quit(self) -> None:
        """Stop everything (the tray does the work)."""
        self.on_quit()

    def act(self, action: Action) -> None:
        """Carry out a menu action in its own thread (the icon's thread never waits)."""

        def work() -> None:
            try:
                dispatch(action, self)
            except Exception:
                log.exception("tray action %s failed", action.kind.value)

        threading.Thread(target=work, name=f"tray-{action.kind.value}", daemon=True).start()


def pystray_menu(items: Sequence[MenuItem], act: Callable[[Action], None]) -> Any:
    """Translate the menu model into pystray's (imported here: it needs a display)."""
    import pystray

    def entry(item: MenuItem) -> Any:
        if item.is_separator:
            return pystray.Menu.SEPARATOR
        if item.submenu:
            return pystray.MenuItem(item.label, pystray.Menu(*map(entry, item.submenu)))
        action = item.action

        def chosen(_icon: Any, _item: Any) -> None:
            if action is not None:
                act(action)

        checked = item.checked
        return pystray.MenuItem(
            item.label,
            chosen,
            checked=(lambda _i: bool(checked)) if checked is not None else None,
            radio=item.radio,
            default=item.default,
            enabled=item.enabled and action is not None,
        )

    return pystray.Menu(*map(entry, items))


def _fix_xorg_backend(icon: Any) -> None:
    """Two defects of pystray 0.19's xorg icon, patched on its private attributes.

    It handles clicks but never asks the X server for them. And every icon update asks
    the tray host to dock the window again, round trip included; with trayer that
    round trip sometimes never returns, and the icon's event loop hangs for good (seen
    in about half of the runs under Xvfb). Docking only when not docked fixes it: an
    undocked icon (tray host restarted, icon hidden) still docks again on its next update.
    """
    import Xlib.X

    window = getattr(icon, "_window", None)
    if window is None:
        return
    window.change_attributes(
        event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
    )
    dock = icon._assert_docked  # noqa: SLF001 - the defect lives there

    def dock_once() -> None:
        if icon._systray_manager is None:  # noqa: SLF001
            dock()

    icon._assert_docked = dock_once  # noqa: SLF001


class Tray:
    """The icon, the agent thread and the UI thread of ``kyso-agent run``."""

    def __init__(
        self,
        controller: TrayController,
        agent: AgentRunner,
        on_ready: Callable[[RunningServer], None],
    ) -> None:
        self.controller = controller
        self._agent = agent
        self._on_ready = on_ready
        self.taken = False
        """Another agent took this user's lock while this one was starting."""
        self._stop = asyncio.Event()
        self._updates: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._quitting = threading.Event()
        self._ready = threading.Event()
        self._icon: Any = None
        self._agent_thread = threading.Thread(target=self._agent_main, name="kyso-agent")
        self._ui_thread = threading.Thread(target=self._ui_main, name="tray-ui", daemon=True)
        self._quit_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._icon_ended = threading.Event()
        self.exit_code = 0
        controller.on_change = lambda: self._updates.put(self._redraw)
        controller.on_quit = self.quit

    # The agent thread.

    def _agent_main(self) -> None:
        def ready(server: RunningServer) -> None:
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            self._on_ready(server)
            if self._quitting.is_set():  # Quit came while the agent was starting
                self._stop.set()

        try:
            asyncio.run(self._agent(on_ready=ready, stop=self._stop))
        except AlreadyRunning:
            self.taken = True
            self.quit()
            return
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            if not self._ready.is_set():
                print(f"kyso-agent: {reason}", file=sys.stderr, flush=True)
                self.exit_code = 2
                self.quit()
                return
            log.exception("the agent stopped")
            self.controller.agent_failed(reason)
            return
        if not self._quitting.is_set():
            self.controller.agent_failed("stopped")

    # The UI thread: the only one that touches the icon after start-up.

    def _ui_main(self) -> None:
        while True:
            job = self._updates.get()
            if job is None:
                return
            try:
                job()
            except Exception:
                log.exception("updating the tray icon failed")

    def _redraw(self) -> None:
        from agent.ui.icons import icon_image

        icon = self._icon
        state = self.controller.note_state()
        icon.icon = icon_image(state)
        title = self.controller.tooltip()
        # The xorg backend writes the window name as Latin-1 (and shows no tooltip).
        icon.title = title if icon.HAS_MENU else latin1_title(title)
        display = getattr(icon, "_display", None)
        if display is not None:
            # pystray's xorg loop sets the window name without flushing; the request would
            # wait in Xlib's buffer until some other traffic, leaving the old state shown.
            display.flush()
        if icon.HAS_MENU:
            icon.menu = pystray_menu(self.controller.menu(), self.controller.act)
            icon.update_menu()

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        self._ui_thread.start()
        self._updates.put(self._redraw)
        if not self._quitting.is_set():
            self._agent_thread.start()

    # Start and stop.

    def run(self) -> int:
        """Show the icon, start the agent; returns when Quit is done (exit status)."""
        import pystray

        from agent.ui.icons import icon_image

        self._icon = icon = pystray.Icon(
            ICON_NAME,
            icon_image(TrayState.NO_TOKEN),
            "Kyso Agent",
            menu=pystray_menu(self.controller.menu(), self.controller.act),
        )
        log.info("tray backend: %s", type(icon).__module__)
        if type(icon).__module__ == "pystray._xorg":
            _fix_xorg_backend(icon)
        if not icon.HAS_MENU:
            log.warning(
                "this tray backend (%s) has no menus: a click opens the status report; "
                "install PyGObject with AppIndicator or GTK for the full menu (docs/tray.md)",
                type(icon).__module__,
            )
        if icon.HAS_NOTIFICATION:
            self.controller.notifier = Notifier(backend=self._notify_on_ui)
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda _s, _f: self.quit())
            if hasattr(signal, "SIGUSR1"):
                # A frozen icon is a bug report: `kill -USR1 PID` writes every thread's stack.
                faulthandler.register(signal.SIGUSR1, all_threads=True)
        if not self._quitting.is_set():
            icon.run(setup=self._setup)
        self._icon_ended.set()
        self.quit()
        if self._quit_thread is not None:
            self._quit_thread.join()
        return self.exit_code

    def _notify_on_ui(self, message: str, title: str) -> None:
        self._updates.put(lambda: self._icon.notify(message, title))

    def quit(self) -> None:
        """Start shutting down (once); returns at once."""
        if self._quitting.is_set():
            return
        self._quitting.set()
        self._quit_thread = threading.Thread(target=self._shutdown, name="tray-quit")
        self._quit_thread.start()

    def _shutdown(self) -> None:
        log.info("quitting")
        self.controller.children.end_all()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._stop.set)
        if self._agent_thread.is_alive():
            self._agent_thread.join(AGENT_STOP_TIMEOUT)
            if self._agent_thread.is_alive():
                log.error("the agent did not stop within %.0f s", AGENT_STOP_TIMEOUT)
                self.exit_code = self.exit_code or 1
        if self._ui_thread.is_alive():
            self._updates.put(None)
            self._ui_thread.join(5)
        self.controller.children.end_all()
        if self._icon is not None and not self._icon_ended.is_set():
            self._icon.stop()
            if not self._icon_ended.wait(ICON_STOP_TIMEOUT):
                # pystray's xorg loop sometimes misses its own window's destruction and
                # waits forever; everything else has stopped by now, so leave without it.
                log.warning("the tray icon's loop did not stop; exiting without it")
                logging.shutdown()
                os._exit(self.exit_code)


def with_lang(config: AgentConfig, lang: Lang) -> AgentConfig:
    """The configuration the agent runs with, in the tray's language."""
    return replace(config, lang=lang)


def tray_unavailable() -> str:
    """Why no tray icon can show here (no display, no pystray backend); empty when one can.

    Picks pystray's backend first where the desktop's choice would fail
    (:func:`~agent.ui.display.tray_backend_hint`), then loads pystray: loading it connects
    to the display.
    """
    if not display_available():
        return "no display (DISPLAY/WAYLAND_DISPLAY unset)"
    backend = tray_backend_hint()
    if backend is not None:
        log.info("no session bus: using the %s tray backend", backend)
        os.environ["PYSTRAY_BACKEND"] = backend
    try:
        import pystray  # noqa: F401 - probing the backend: it connects to the display
    except Exception as exc:  # noqa: BLE001 - any backend failure means: no tray
        return f"no tray backend ({type(exc).__name__}: {exc})"
    return ""


def desktop_controller(
    config: AgentConfig, cli_lang: str | None
) -> tuple[AgentConfig, TrayController]:
    """The tray's controller, and the configuration in the language it speaks
    (:func:`effective_lang`: the one picked in the tray is remembered)."""
    lang = effective_lang(cli_lang, load_prefs(prefs_path(config.data_dir)), config)
    config = with_lang(config, lang)
    return config, TrayController(config, lang, cli_lang=cli_lang is not None)
