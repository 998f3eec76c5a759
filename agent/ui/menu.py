"""The tray menu as data: built from the state, dispatched to a controller.

Pure (no pystray, no Tk): :func:`build_menu` turns what the tray knows into frozen
:class:`MenuItem` trees, :func:`dispatch` turns a chosen :class:`Action` into one
call on a :class:`TrayActions` controller. The tray translates the tree into
pystray's menu; the tests read it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from agent.messages import Lang, format_date, text
from agent.pin import TriesLeft
from agent.status.model import ListenerStatus
from agent.token import Inventory, TokenCertificate
from agent.ui.tray_state import TrayState, holder


class ActionKind(StrEnum):
    """What a menu entry does."""

    SHOW_STATUS = "show-status"
    SIGN_PDF = "sign-pdf"
    VERIFY_PDF = "verify-pdf"
    COPY_STATUS = "copy-status"
    EXPORT_BUNDLE = "export-bundle"
    REVOKE_ORIGIN = "revoke-origin"
    OPEN_LOGS = "open-logs"
    SET_AUTOSTART = "set-autostart"
    SET_LANG = "set-lang"
    ABOUT = "about"
    QUIT = "quit"


@dataclass(frozen=True)
class Action:
    """A menu entry's action and its argument."""

    kind: ActionKind
    """What to do."""
    arg: str = ""
    """The origin to revoke, ``on``/``off`` for autostart, ``vi``/``en`` for the language."""


@dataclass(frozen=True)
class MenuItem:
    """One entry; an entry with a ``submenu`` opens it instead of acting."""

    label: str
    """Text shown (from the catalogue, in the tray's language)."""
    action: Action | None = None
    """What choosing it does; ``None`` for information lines and submenus."""
    enabled: bool = True
    """Greyed out when false."""
    checked: bool | None = None
    """``None``: no check mark; otherwise a check box (or radio button) in this state."""
    radio: bool = False
    """Shown as a radio button (one of a group) rather than a check box."""
    default: bool = False
    """The entry a left click (or the xorg backend's only click) triggers."""
    submenu: tuple[MenuItem, ...] = ()
    """Entries of the submenu."""

    @property
    def is_separator(self) -> bool:
        """A separator line."""
        return self is SEPARATOR


SEPARATOR = MenuItem("-", enabled=False)


@dataclass(frozen=True)
class MenuInputs:
    """Everything the menu depends on."""

    state: TrayState
    """The icon's state."""
    inventory: Inventory | None
    """Tokens and certificates (``None`` before the first poll)."""
    lang: Lang
    """Language of the labels."""
    now: datetime
    """For expiry dates."""
    paired: tuple[str, ...] = ()
    """Origins the user approved on first use."""
    autostart: bool = False
    """Start at login is on."""
    autostart_supported: bool = True
    """This OS has a start-at-login mechanism the agent knows."""
    agent_running: bool = True
    """The HTTPS server (and so the signing service) is up."""
    listeners: tuple[ListenerStatus, ...] = ()
    """Where each plugin compatibility layer listens (for the helpdesk)."""


def _certificate_line(cert: TokenCertificate, inputs: MenuInputs) -> MenuItem:
    expired = cert.not_after < inputs.now
    key = "tray_menu_cert_expired" if expired else "tray_menu_cert"
    label = text(
        key, inputs.lang, holder=holder(cert), date=format_date(cert.not_after, inputs.lang)
    )
    return MenuItem("    " + label, enabled=False)


def _token_lines(inputs: MenuInputs) -> list[MenuItem]:
    inventory = inputs.inventory
    if inventory is None or not inventory.tokens:
        key = "tray_no_module" if inventory is not None and not inventory.modules else None
        return [MenuItem(text(key or "tray_state_no_token", inputs.lang), enabled=False)]
    lines = []
    for token in inventory.tokens:
        locked = token.pin.tries_left is TriesLeft.LOCKED
        key = "tray_menu_token_locked" if locked else "tray_menu_token"
        lines.append(
            MenuItem(
                text(key, inputs.lang, label=token.id.label, serial=token.id.serial),
                enabled=False,
            )
        )
        certs = [c for c in inventory.signing_certificates if c.token == token.id]
        lines += [_certificate_line(c, inputs) for c in sorted(certs, key=lambda c: c.not_after)]
    return lines


def _portals(inputs: MenuInputs) -> MenuItem:
    lang = inputs.lang
    if not inputs.paired:
        entries: tuple[MenuItem, ...] = (
            MenuItem(text("tray_menu_portals_none", lang), None, False),
        )
    else:
        entries = tuple(
            MenuItem(
                origin,
                submenu=(
                    MenuItem(
                        text("tray_menu_revoke", lang), Action(ActionKind.REVOKE_ORIGIN, origin)
                    ),
                ),
            )
            for origin in inputs.paired
        )
    return MenuItem(text("tray_menu_portals", lang), submenu=entries)


def _listeners(inputs: MenuInputs) -> MenuItem:
    """One line per plugin layer: the port it answers on, held ports, or off by policy."""
    lang = inputs.lang
    lines = []
    for listener in inputs.listeners:
        held = ", ".join(map(str, listener.held))
        if not listener.enabled:
            label = text("tray_listener_off", lang, product=listener.product)
        elif listener.url is None:
            label = text("tray_listener_waiting", lang, product=listener.product, ports=held)
        else:
            port = listener.url.rsplit(":", 1)[1]
            key = "tray_listener_held" if held else "tray_listener_on"
            label = text(key, lang, product=listener.product, port=port, ports=held)
        lines.append(MenuItem(label, enabled=False))
    return MenuItem(text("tray_menu_listeners", lang), submenu=tuple(lines))


def build_menu(inputs: MenuInputs) -> tuple[MenuItem, ...]:
    """The whole menu, top to bottom."""
    lang = inputs.lang
    can_sign = inputs.agent_running and inputs.state not in (
        TrayState.NO_TOKEN,
        TrayState.ERROR,
    )
    items: list[MenuItem] = [
        MenuItem(text("tray_menu_status", lang), Action(ActionKind.SHOW_STATUS), default=True),
        SEPARATOR,
        *_token_lines(inputs),
        SEPARATOR,
        MenuItem(text("tray_menu_sign_pdf", lang), Action(ActionKind.SIGN_PDF), enabled=can_sign),
        MenuItem(text("tray_menu_verify_pdf", lang), Action(ActionKind.VERIFY_PDF)),
        MenuItem(text("tray_menu_copy_status", lang), Action(ActionKind.COPY_STATUS)),
        MenuItem(text("tray_menu_support_bundle", lang), Action(ActionKind.EXPORT_BUNDLE)),
        _portals(inputs),
        *([_listeners(inputs)] if inputs.listeners else []),
        MenuItem(text("tray_menu_open_logs", lang), Action(ActionKind.OPEN_LOGS)),
        SEPARATOR,
        MenuItem(
            text("tray_menu_autostart", lang),
            Action(ActionKind.SET_AUTOSTART, "off" if inputs.autostart else "on"),
            enabled=inputs.autostart_supported,
            checked=inputs.autostart,
        ),
        MenuItem(
            text("tray_menu_language", lang),
            submenu=(
                MenuItem(
                    "Tiếng Việt",
                    Action(ActionKind.SET_LANG, "vi"),
                    checked=lang is Lang.VI,
                    radio=True,
                ),
                MenuItem(
                    "English",
                    Action(ActionKind.SET_LANG, "en"),
                    checked=lang is Lang.EN,
                    radio=True,
                ),
            ),
        ),
        MenuItem(text("tray_menu_about", lang), Action(ActionKind.ABOUT)),
        SEPARATOR,
        MenuItem(text("tray_menu_quit", lang), Action(ActionKind.QUIT)),
    ]
    return tuple(items)


def actions(items: Sequence[MenuItem]) -> list[Action]:
    """Every enabled action in the tree (for tests and the xorg menu window)."""
    found: list[Action] = []
    for item in items:
        if item.action is not None and item.enabled:
            found.append(item.action)
        found += actions(item.submenu)
    return found


class TrayActions(Protocol):
    """What the menu can ask of the tray (the real tray, or a fake in the tests)."""

    def show_status(self) -> None:
        """Show the status report in a window."""

    def sign_pdf(self) -> None:
        """Choose a PDF and a profile, sign it, save it next to the original."""

    def verify_pdf(self) -> None:
        """Choose a PDF and show its verification report."""

    def copy_status(self) -> None:
        """Copy the status report to the clipboard."""

    def export_support_bundle(self) -> None:
        """Ask where to save the support bundle, save it there, say where it went."""

    def revoke_origin(self, origin: str) -> None:
        """Forget a paired portal."""

    def open_logs(self) -> None:
        """Open the logs folder in the file manager."""

    def set_autostart(self, enabled: bool) -> None:
        """Turn start at login on or off."""

    def set_lang(self, lang: Lang) -> None:
        """Switch the tray's language (and remember it)."""

    def about(self) -> None:
        """Show the About window."""

    def quit(self) -> None:
        """Stop everything and exit."""


def dispatch(action: Action, controller: TrayActions) -> None:
    """Carry out ``action`` on ``controller``."""
    match action.kind:
        case ActionKind.SHOW_STATUS:
            controller.show_status()
        case ActionKind.SIGN_PDF:
            controller.sign_pdf()
        case ActionKind.VERIFY_PDF:
            controller.verify_pdf()
        case ActionKind.COPY_STATUS:
            controller.copy_status()
        case ActionKind.EXPORT_BUNDLE:
            controller.export_support_bundle()
        case ActionKind.REVOKE_ORIGIN:
            controller.revoke_origin(action.arg)
        case ActionKind.OPEN_LOGS:
            controller.open_logs()
        case ActionKind.SET_AUTOSTART:
            controller.set_autostart(action.arg == "on")
        case ActionKind.SET_LANG:
            controller.set_lang(Lang(action.arg))
        case ActionKind.ABOUT:
            controller.about()
        case ActionKind.QUIT:
            controller.quit()
