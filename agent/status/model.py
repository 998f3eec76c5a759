"""The helpdesk status report's model: what this agent sees, in one frozen object.

JSON form (:meth:`StatusReport.to_json`): keys are the dataclass field names in snake_case,
as in ``kyso-agent audit --json``; times are ISO-8601 UTC; enums are their string values;
``format`` is :data:`STATUS_FORMAT`. :meth:`StatusReport.from_json` reads it back. The trust
answers (:class:`~agent.localtls.model.TrustCheck`) are local TLS's own, carried as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from agent.localtls.model import Trust, TrustCheck
from agent.messages import DEFAULT_LANG, Lang
from agent.pin import TriesLeft
from agent.status.codec import dump, load

STATUS_FORMAT: Final = 1
"""Version of the JSON form; bumped when a field changes meaning or disappears."""
EXPIRING_DAYS: Final = 30
"""A certificate with this many days left or fewer (see :func:`days_left`) is ``expiring``."""


class Validity(StrEnum):
    """Where a certificate stands in its validity period."""

    VALID = "valid"
    EXPIRING = "expiring"
    """At most :data:`EXPIRING_DAYS` days left."""
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    MISSING = "missing"
    """No certificate (the local TLS files were never made)."""


@dataclass(frozen=True)
class AgentStatus:
    """The agent process."""

    version: str
    """Version of the code that made the report (the running agent's when it runs)."""
    python: str
    """The Python that runs that code, e.g. ``CPython 3.13.1`` (the MSI ships its own)."""
    running: bool
    """The report comes from a running agent; ``False`` = read directly, no agent answered."""
    started_at: datetime | None
    """When the running agent started."""
    uptime_seconds: int | None
    """How long it has been running."""
    port: int | None
    """The port it listens on (127.0.0.1)."""
    data_dir: str
    """Its data directory (TLS files, logs, audit trail)."""


@dataclass(frozen=True)
class TlsStatus:
    """The local TLS certificate and its CA."""

    ca_file: str
    """``DATA_DIR/tls/ca.pem``: the file browsers must trust."""
    validity: Validity
    """Of the server certificate (``expiring`` = renewed at the next start or check)."""
    not_after: datetime | None
    """End of the server certificate."""
    days_left: int | None
    """Calendar days until then (:func:`days_left`)."""
    ca_sha256: str | None
    """SHA-256 fingerprint of the CA, upper-case hex with colons (as browsers show it)."""
    trust: tuple[TrustCheck, ...]
    """Each store's answer."""


@dataclass(frozen=True)
class ModuleStatus:
    """One PKCS#11 module."""

    path: str
    """The module file."""
    loaded: bool
    """It loaded and initialised."""
    error: str | None
    """Why it did not load, or why reading it failed."""
    description: str | None
    """Library description and manufacturer."""
    tokens: int
    """Tokens present in its slots."""


@dataclass(frozen=True)
class TokenStatus:
    """One token."""

    module: str
    """Its module."""
    slot: int
    """Its slot."""
    label: str
    """Token label."""
    serial: str
    """Token serial number."""
    manufacturer: str
    """Token manufacturer."""
    model: str
    """Token model."""
    pin: TriesLeft
    """PIN retry state: ok, low, final, locked."""
    pinpad: bool
    """The PIN is typed on the reader."""
    pin_initialized: bool
    """A user PIN has been set."""
    pin_to_be_changed: bool
    """The token asks for a PIN change."""


@dataclass(frozen=True)
class CertificateStatus:
    """One end-entity certificate on a token (CA certificates are left out)."""

    token_label: str
    """Label of its token."""
    token_serial: str
    """Serial of its token."""
    holder: str
    """Subject common name."""
    organization: str
    """Subject organisation, or ``""``."""
    subject: str
    """Subject, RFC 4514."""
    issuer: str
    """Issuer common name (RFC 4514 when it has none)."""
    serial: str
    """Certificate serial number, lower-case hex."""
    not_before: datetime
    """Start of validity."""
    not_after: datetime
    """End of validity."""
    days_left: int
    """Calendar days until ``not_after`` (:func:`days_left`) (negative once expired)."""
    validity: Validity
    """valid, expiring, expired or not-yet-valid."""
    sha256: str
    """SHA-256 of the certificate, lower-case hex."""


@dataclass(frozen=True)
class PairedStatus:
    """An origin the user paired on first use."""

    origin: str
    """The origin."""
    paired_at: datetime
    """When."""


@dataclass(frozen=True)
class AuditStatus:
    """One audit entry, shortened."""

    id: int | None
    """Row id."""
    time: datetime
    """When the request ended."""
    origin: str
    """Who asked."""
    action: str
    """``sign`` or ``select-certificate``."""
    documents: tuple[str, ...]
    """Document names (``""`` when unnamed)."""
    holder: str | None
    """Common name of the certificate used, if one was chosen."""
    outcome: str
    """``signed``, ``certificate-given`` or an error code."""
    signatures: int
    """Signatures returned."""


@dataclass(frozen=True)
class ListenerStatus:
    """Where one plugin compatibility layer listens (agent/compat/layer.py)."""

    name: str
    """The layer's short name: ``vgca``, ``vnpt``, ``bkav``, ``fpt``."""
    product: str
    """The plugin it stands in for, as users know it: "VNPT-CA Plugin"."""
    enabled: bool
    """Policy lets it listen."""
    url: str | None
    """``wss://127.0.0.1:4434`` once listening; ``None`` when off or every port is taken."""
    held: tuple[int, ...] = ()
    """Ports of the vendor's list another program held when the layer started (its own
    plugin, typically), in the order tried."""


@dataclass(frozen=True)
class StatusReport:
    """Everything the helpdesk asks about, at one moment."""

    generated_at: datetime
    """When the report was made (UTC)."""
    agent: AgentStatus
    """The agent process."""
    tls: TlsStatus
    """Local TLS certificate and trust."""
    modules: tuple[ModuleStatus, ...]
    """PKCS#11 modules, loaded or failed."""
    tokens: tuple[TokenStatus, ...]
    """Present tokens."""
    certificates: tuple[CertificateStatus, ...]
    """End-entity certificates on them."""
    allowed_origins: tuple[str, ...]
    """Configured origins (patterns) allowed to call the agent."""
    paired_origins: tuple[PairedStatus, ...]
    """Origins paired on first use."""
    recent_errors: tuple[str, ...]
    """Last WARNING/ERROR lines of the log, oldest first, filtered."""
    audit: tuple[AuditStatus, ...]
    """Last audit entries, oldest first."""
    problems: tuple[str, ...] = ()
    """What the report itself could not read (technical detail)."""
    listeners: tuple[ListenerStatus, ...] = ()
    """The plugin compatibility layers of the running agent (none without one)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object (snake_case keys, see the module docstring)."""
        data = dump(self)
        assert isinstance(data, dict)  # noqa: S101 - a dataclass dumps to a dict
        return {"format": STATUS_FORMAT, **data}

    @classmethod
    def from_json(cls, data: object) -> StatusReport:
        """Read :meth:`to_json`'s output back; ``ValueError`` when it is not one."""
        if not isinstance(data, dict) or data.get("format") != STATUS_FORMAT:
            raise ValueError("not a status report of a known format")
        try:
            loaded = load(cls, {k: v for k, v in data.items() if k != "format"})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed status report: {exc}") from exc
        assert isinstance(loaded, StatusReport)  # noqa: S101
        return loaded

    def attention(self) -> tuple[tuple[str, dict[str, object]], ...]:
        """What needs action, most urgent first, as ``(message key, values)`` pairs."""
        items: list[tuple[str, dict[str, object]]] = []
        if not self.modules:
            items.append(("status_attention_no_module", {}))
        for module in self.modules:
            if module.error:
                items.append(("status_attention_module_failed", {"path": module.path}))
        if self.modules and not self.tokens:
            items.append(("status_attention_no_token", {}))
        for token in self.tokens:
            if token.pin in (TriesLeft.LOCKED, TriesLeft.FINAL):
                items.append((f"status_attention_pin_{token.pin.value}", {"label": token.label}))
        for cert in self.certificates:
            if cert.validity in (Validity.EXPIRED, Validity.EXPIRING):
                key = f"status_attention_cert_{cert.validity.value}"
                items.append((key, {"holder": cert.holder, "days": cert.days_left}))
        if self.tls.validity in (Validity.EXPIRED, Validity.MISSING) and self.agent.running:
            items.append(("status_attention_tls", {}))
        answers = {c.trust for c in self.tls.trust}
        if answers and answers <= {Trust.NOT_TRUSTED}:
            items.append(("status_attention_ca_untrusted", {"path": self.tls.ca_file}))
        return tuple(items)

    def to_text(self, lang: Lang | str = DEFAULT_LANG) -> str:
        """The report as plain text to paste into a ticket."""
        from agent.status.render import report_lines  # render reads this model: import late

        return "\n".join(report_lines(self, Lang(lang) if lang in set(Lang) else DEFAULT_LANG))


def days_left(not_after: datetime, now: datetime) -> int:
    """Calendar days from ``now``'s date to ``not_after``'s, both in ``now``'s time zone.

    What a person counts on a calendar: a certificate ending on the 9th has 10 days left
    on the 29th of the month before, 0 on its last day, -1 the day after.
    """
    return (not_after.astimezone(now.tzinfo).date() - now.date()).days


def validity_of(
    not_before: datetime, not_after: datetime, now: datetime, expiring_days: int = EXPIRING_DAYS
) -> Validity:
    """valid, expiring (at most ``expiring_days`` days left), expired or not yet valid."""
    if now > not_after:
        return Validity.EXPIRED
    if now < not_before:
        return Validity.NOT_YET_VALID
    if days_left(not_after, now) <= expiring_days:
        return Validity.EXPIRING
    return Validity.VALID
