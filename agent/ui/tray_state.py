"""What the tray icon shows: one state, derived from the tokens and the agent's health.

Pure: no windows, no tokens touched. The tray, the menu and the tests all read it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from agent.messages import Lang, text
from agent.pin import TriesLeft
from agent.token import Inventory, TokenCertificate
from agent.token.monitor import EXPIRY_WARNING_DAYS, expiring_certificates

#: Windows truncates tray tooltips at 127 characters.
TOOLTIP_LIMIT: Final = 127
PRODUCT: Final = "Kyso Agent"


class TrayState(StrEnum):
    """The icon's colour and badge; the value is what the log line and the tests read."""

    NO_TOKEN = "no-token"  # noqa: S105 - a state name, not a secret
    READY = "ready"
    EXPIRING = "expiring"
    PIN_LOCKED = "pin-locked"
    ERROR = "error"


@dataclass(frozen=True)
class AgentHealth:
    """How the agent itself is doing."""

    running: bool = True
    """The HTTPS server is up (false before it started and after it failed)."""
    error: str = ""
    """Why it is not, when it failed (English, for the log and the tooltip's detail)."""


def holder(cert: TokenCertificate) -> str:
    """The certificate holder's common name (or the whole subject)."""
    from cryptography.x509.oid import NameOID

    names = cert.x509.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else cert.subject
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def derive_state(inventory: Inventory | None, health: AgentHealth, now: datetime) -> TrayState:
    """Worst first: agent error > PIN locked > certificate expiring > ready; no token."""
    if not health.running and health.error:
        return TrayState.ERROR
    if inventory is None:
        return TrayState.NO_TOKEN
    if inventory.modules and not any(m.loaded for m in inventory.modules):
        return TrayState.ERROR
    if not inventory.tokens:
        return TrayState.NO_TOKEN
    if any(t.pin.tries_left is TriesLeft.LOCKED for t in inventory.tokens):
        return TrayState.PIN_LOCKED
    if expiring_certificates(inventory, now, EXPIRY_WARNING_DAYS):
        return TrayState.EXPIRING
    return TrayState.READY


def tooltip(
    state: TrayState,
    inventory: Inventory | None,
    health: AgentHealth,
    now: datetime,
    lang: Lang,
) -> str:
    """``Kyso Agent — <state>`` and a short detail, within the OS's tooltip limit."""
    headline = text(f"tray_state_{state.value.replace('-', '_')}", lang)
    details: list[str] = []
    no_module = inventory is not None and (
        not inventory.modules or (state is TrayState.ERROR and health.running)
    )
    if no_module:
        details.append(text("tray_no_module", lang))
    if state is TrayState.EXPIRING and inventory is not None:
        for cert, days in expiring_certificates(inventory, now):
            key = "tray_cert_expired" if days < 0 else "tray_cert_days_left"
            details.append(text(key, lang, holder=holder(cert), days=days))
    elif inventory is not None and state in (TrayState.READY, TrayState.PIN_LOCKED):
        for token in inventory.tokens:
            count = sum(1 for c in inventory.signing_certificates if c.token == token.id)
            details.append(text("tray_tooltip_token", lang, label=token.id.label, count=count))
    line = f"{PRODUCT} — {headline}"
    if details:
        line += "\n" + "\n".join(details)
    return line if len(line) <= TOOLTIP_LIMIT else line[: TOOLTIP_LIMIT - 1] + "…"


_PLAIN: Final = {"đ": "d", "Đ": "D", "—": "-", "…": "...", "\n": " | "}


def latin1_title(value: str) -> str:
    """``value`` as one Latin-1 line (the xorg backend writes the window name so):
    Vietnamese loses its diacritics (``Sẵn sàng`` → ``San sang``), never the sense."""
    for old, new in _PLAIN.items():
        value = value.replace(old, new)
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.encode("latin-1", "replace").decode("latin-1")
