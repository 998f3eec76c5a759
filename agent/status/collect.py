"""Collecting the helpdesk report: from a running agent's parts, or with no agent running.

* :func:`collect` — inside the running agent, from its :class:`StatusSource`;
* :func:`build_local` — from outside, with no agent running: the report reads the tokens
  itself and says that the agent is not running.

(From outside with an agent running, :func:`agent.status.remote.fetch_running` asks it.)
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agent import PYTHON, __version__
from agent.audit import AuditEntry, AuditError, AuditLog
from agent.config import AgentConfig
from agent.localtls.ca import TlsFiles, load_ca
from agent.localtls.model import TrustCheck
from agent.pairing import PairingStore
from agent.status.logs import recent_log_errors
from agent.status.model import (
    AgentStatus,
    AuditStatus,
    CertificateStatus,
    ListenerStatus,
    ModuleStatus,
    PairedStatus,
    StatusReport,
    TlsStatus,
    TokenStatus,
    Validity,
    days_left,
    validity_of,
)
from agent.token import Inventory, TokenService
from agent.token.models import TokenCertificate

if TYPE_CHECKING:
    from cryptography import x509

# cryptography is imported by the functions that read certificates, when a report is made:
# this module loads with the server (StatusSource), which starts without it.

AUDIT_ENTRIES: Final = 10
"""How many audit entries the report shows."""


def _name_part(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def certificate_status(cert: TokenCertificate, now: datetime) -> CertificateStatus:
    """The report's view of one certificate."""
    from cryptography.x509.oid import NameOID

    parsed = cert.x509
    return CertificateStatus(
        token_label=cert.token.label,
        token_serial=cert.token.serial,
        holder=_name_part(parsed.subject, NameOID.COMMON_NAME) or parsed.subject.rfc4514_string(),
        organization=_name_part(parsed.subject, NameOID.ORGANIZATION_NAME),
        subject=parsed.subject.rfc4514_string(),
        issuer=_name_part(parsed.issuer, NameOID.COMMON_NAME) or parsed.issuer.rfc4514_string(),
        serial=format(parsed.serial_number, "x"),
        not_before=cert.not_before,
        not_after=cert.not_after,
        days_left=days_left(cert.not_after, now),
        validity=validity_of(cert.not_before, cert.not_after, now),
        sha256=cert.fingerprint,
    )


def inventory_status(
    inventory: Inventory, now: datetime
) -> tuple[tuple[ModuleStatus, ...], tuple[TokenStatus, ...], tuple[CertificateStatus, ...]]:
    """Modules, tokens and end-entity certificates of an inventory."""
    modules = tuple(
        ModuleStatus(
            path=str(m.path),
            loaded=m.loaded,
            error=m.error or None,
            description=m.description or None,
            tokens=len(m.tokens),
        )
        for m in inventory.modules
    )
    tokens = tuple(
        TokenStatus(
            module=str(t.id.module),
            slot=t.id.slot_id,
            label=t.id.label,
            serial=t.id.serial,
            manufacturer=t.manufacturer,
            model=t.model,
            pin=t.pin.tries_left,
            pinpad=t.pin.pinpad,
            pin_initialized=t.pin.initialized,
            pin_to_be_changed=t.pin.to_be_changed,
        )
        for t in inventory.tokens
    )
    certificates = tuple(certificate_status(c, now) for c in inventory.certificates if not c.is_ca)
    return modules, tokens, certificates


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def tls_status(
    tls_dir: Path, now: datetime, checks: Callable[[bytes], tuple[TrustCheck, ...]] | None = None
) -> TlsStatus:
    """The local TLS files, read only (nothing is created), and who trusts their CA."""
    from cryptography import x509

    files = TlsFiles(tls_dir)
    ca_file = files.ca_cert
    try:
        server = x509.load_pem_x509_certificates(files.server_cert.read_bytes())[0]
    except (OSError, ValueError, IndexError):
        server = None
    try:
        ca_der: bytes | None = load_ca(ca_file)
    except (OSError, ValueError):
        ca_der = None
    if checks is None:
        from agent.localtls.stores import trust_checks  # the stores' code, when asked

        checks = trust_checks
    trust = checks(ca_der) if ca_der is not None else ()
    if server is None:
        return TlsStatus(str(ca_file), Validity.MISSING, None, None, None, trust)
    return TlsStatus(
        ca_file=str(ca_file),
        validity=validity_of(server.not_valid_before_utc, server.not_valid_after_utc, now),
        not_after=server.not_valid_after_utc,
        days_left=days_left(server.not_valid_after_utc, now),
        ca_sha256=_colon_hex(hashlib.sha256(ca_der).digest()) if ca_der else None,
        trust=trust,
    )


def _audit_status(entry: AuditEntry) -> AuditStatus:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    holder = None
    if entry.certificate_subject:
        try:
            name = x509.Name.from_rfc4514_string(entry.certificate_subject)
            holder = _name_part(name, NameOID.COMMON_NAME) or entry.certificate_subject
        except ValueError:
            holder = entry.certificate_subject
    return AuditStatus(
        id=entry.id,
        time=entry.time,
        origin=entry.origin,
        action=str(entry.action),
        documents=tuple(d.name or "" for d in entry.documents),
        holder=holder,
        outcome=entry.outcome,
        signatures=entry.signatures,
    )


@dataclass
class StatusSource:
    """What a running agent knows that goes into its report.

    Not frozen: ``port`` is set once the server has bound its socket.
    """

    config: AgentConfig
    """The agent's configuration."""
    tokens: TokenService
    """Its token layer."""
    pairing: PairingStore
    """Its paired origins."""
    audit: AuditLog | None = None
    """Its audit trail."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When it started."""
    port: int | None = None
    """The port it listens on, once bound."""
    notices: dict[str, str] = field(default_factory=dict)
    """What the running agent itself reports as wrong, by subject (a port it could not
    have); shown among the report's problems while it lasts."""
    listeners: dict[str, ListenerStatus] = field(default_factory=dict)
    """Where each plugin compatibility layer listens (or why not), by layer name."""


@dataclass(frozen=True)
class _Running:
    started_at: datetime
    port: int | None
    notices: tuple[str, ...] = ()
    listeners: tuple[ListenerStatus, ...] = ()


def _assemble(
    config: AgentConfig,
    inventory: Inventory,
    *,
    pairing: PairingStore,
    audit: AuditLog | None,
    running: _Running | None,
    now: datetime,
    audit_limit: int,
) -> StatusReport:
    """Everything but the tokens, which the caller read; blocking file and tool I/O."""
    problems: list[str] = list(running.notices) if running else []
    modules, tokens, certificates = inventory_status(inventory, now)
    try:
        paired = tuple(PairedStatus(p.origin, p.paired_at) for p in pairing.list())
    except (OSError, ValueError) as exc:
        problems.append(f"paired origins: {exc}")
        paired = ()
    entries: tuple[AuditStatus, ...] = ()
    if audit is not None and audit_limit > 0:
        try:
            entries = tuple(_audit_status(e) for e in audit.entries(limit=audit_limit))
        except AuditError as exc:
            problems.append(f"audit trail: {exc}")
    agent = AgentStatus(
        version=__version__,
        python=PYTHON,
        running=running is not None,
        started_at=running.started_at if running else None,
        uptime_seconds=int((now - running.started_at).total_seconds()) if running else None,
        port=running.port if running else None,
        data_dir=str(config.data_dir),
    )
    return StatusReport(
        generated_at=now,
        agent=agent,
        tls=tls_status(config.tls_dir, now),
        modules=modules,
        tokens=tokens,
        certificates=certificates,
        allowed_origins=tuple(str(p) for p in config.allowed_origins),
        paired_origins=paired,
        recent_errors=recent_log_errors(config.log_dir),
        audit=entries,
        problems=tuple(problems),
        listeners=running.listeners if running else (),
    )


async def collect(source: StatusSource, audit_limit: int = AUDIT_ENTRIES) -> StatusReport:
    """The running agent's report (tokens read on their workers, files on a thread)."""
    inventory = await source.tokens.inventory()
    running = _Running(
        source.started_at,
        source.port,
        tuple(source.notices.values()),
        tuple(source.listeners.values()),
    )
    return await asyncio.to_thread(
        _assemble,
        source.config,
        inventory,
        pairing=source.pairing,
        audit=source.audit,
        running=running,
        now=datetime.now().astimezone(),  # days counted locally
        audit_limit=audit_limit,
    )


def build_local(config: AgentConfig, audit_limit: int = AUDIT_ENTRIES) -> StatusReport:
    """The report without a running agent: reads the tokens itself, creates no file."""
    tokens = TokenService(config.pkcs11_modules, config.module_isolation, config.worker_limits)
    try:
        inventory = tokens.inventory_sync()
    finally:
        tokens.close()
    audit: AuditLog | None = None
    problems: list[str] = []
    if config.audit_file.exists():
        try:
            audit = AuditLog(config.audit_file)
        except AuditError as exc:
            problems.append(f"audit trail: {exc}")
    try:
        report = _assemble(
            config,
            inventory,
            pairing=PairingStore(config.pairing_file),
            audit=audit,
            running=None,
            now=datetime.now().astimezone(),  # days counted locally
            audit_limit=audit_limit,
        )
    finally:
        if audit is not None:
            audit.close()
    if problems:
        report = replace(report, problems=(*problems, *report.problems))
    return report
