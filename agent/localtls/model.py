"""What the trust stores answer and what install/uninstall did: the words of local TLS.

Used by the store modules (:mod:`agent.localtls.nss`, :mod:`~agent.localtls.windows`,
:mod:`~agent.localtls.system`), by ``kyso-agent trust`` and by the helpdesk report, whose
JSON carries :class:`TrustCheck` as it is (so its values are a wire format).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from agent.messages import DEFAULT_LANG, Lang, text


class Trust(StrEnum):
    """Whether a store trusts the agent's local CA."""

    TRUSTED = "trusted"
    NOT_TRUSTED = "not-trusted"
    UNKNOWN = "unknown"


class TrustStore(StrEnum):
    """The certificate stores that are checked."""

    SYSTEM = "system"
    """The OS bundle on Linux (curl, Python and most command-line tools)."""
    NSS = "nss"
    """``~/.pki/nssdb``: Chrome and Chromium on Linux."""
    FIREFOX = "firefox"
    """A Firefox profile's own database."""
    WINDOWS = "windows"
    """The user's Root store (Chrome, Edge; Firefox with enterprise roots)."""
    MACOS = "macos"
    """The keychains (not checked yet)."""


class TrustReason(StrEnum):
    """Why a check gave the answer it gave."""

    FOUND = "found"
    NOT_FOUND = "not-found"
    UNTRUSTED_ENTRY = "untrusted-entry"
    """The CA is in the database but not marked as trusted for websites."""
    NO_TOOL = "no-tool"
    """NSS ``certutil`` (Linux) is not installed."""
    NO_DATABASE = "no-database"
    TOOL_FAILED = "tool-failed"
    """NSS ``certutil`` (Linux) failed."""
    API_FAILED = "api-failed"
    """Windows' certificate API (crypt32) failed: the store could not be opened or searched."""
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class TrustCheck:
    """One store's answer about the local CA."""

    store: TrustStore
    """Which store."""
    location: str
    """Its file, directory or profile."""
    trust: Trust
    """The answer."""
    reason: TrustReason
    """Why."""


class Outcome(StrEnum):
    """What one store ended with."""

    ADDED = "added"
    ALREADY_PRESENT = "already-present"
    REPLACED = "replaced"
    """An older Kyso Agent local CA was taken out and the current one added."""
    REMOVED = "removed"
    NOT_PRESENT = "not-present"
    """Uninstall: nothing of ours was there."""
    STORE_NOT_FOUND = "store-not-found"
    FAILED = "failed"

    @property
    def ok(self) -> bool:
        """Whether the store is in the wanted state (or does not exist)."""
        return self is not Outcome.FAILED

    @property
    def changed(self) -> bool:
        """Whether the store was changed (browsers must then be restarted)."""
        return self in (Outcome.ADDED, Outcome.REPLACED, Outcome.REMOVED)


@dataclass(frozen=True)
class StoreResult:
    """The result of install or uninstall for one store."""

    store: TrustStore
    """Which kind of store."""
    location: str
    """The database directory, bundle file or Windows store."""
    outcome: Outcome
    """What happened."""
    detail: str = ""
    """Why it failed, or what was replaced (technical, English)."""

    def to_json(self) -> dict[str, str]:
        """The JSON form printed by ``kyso-agent trust … --json``."""
        return {
            "store": self.store.value,
            "location": self.location,
            "outcome": self.outcome.value,
            "detail": self.detail,
        }


def all_ok(results: Sequence[StoreResult]) -> bool:
    """Exit code 0 of install/uninstall: every store that exists ended in the wanted state."""
    return all(r.outcome.ok for r in results)


def check_text(check: TrustCheck, lang: Lang | str = DEFAULT_LANG) -> str:
    """One store's answer as a line of the report (and of ``kyso-agent trust --check``)."""
    line = text(
        "status_trust_line",
        lang,
        store=text(f"status_store_{check.store.value}", lang, location=check.location),
        verdict=text(f"status_trust_{check.trust.value.replace('-', '_')}", lang),
    )
    if check.reason not in (TrustReason.FOUND, TrustReason.NOT_FOUND):
        line += " — " + text(f"status_reason_{check.reason.value.replace('-', '_')}", lang)
    return line


def result_text(result: StoreResult, lang: Lang | str = DEFAULT_LANG) -> str:
    """One line per store, in the user's language."""
    store = text(f"status_store_{result.store.value}", lang, location=result.location)
    outcome = text(f"trust_outcome_{result.outcome.value.replace('-', '_')}", lang)
    line = text("trust_result_line", lang, store=store, outcome=outcome)
    return f"{line} ({result.detail})" if result.detail else line
