"""The helpdesk status report: what this agent sees, in one frozen object.

The same :class:`StatusReport` is shown by ``kyso-agent status [--json]``, by the
tray's "Copy status report" and by the running agent's local page
(``GET https://127.0.0.1:PORT/``, ``GET /status.json``). Three ways to get one:

* :func:`collect` — inside the running agent, from its :class:`StatusSource`;
* :func:`fetch_running` — from outside, asking the running agent over TLS verified
  against ``DATA_DIR/tls/ca.pem`` (``None`` when no agent answers);
* :func:`build_local` — from outside, with no agent running: the report reads the
  tokens itself and says that the agent is not running.

JSON form (:meth:`StatusReport.to_json`): keys are the dataclass field names in
snake_case, as in ``kyso-agent audit --json``; times are ISO-8601 UTC; enums are
their string values; ``format`` is :data:`STATUS_FORMAT`. :meth:`StatusReport.from_json`
reads it back.

Nothing here ever holds a PIN; log lines are filtered defensively anyway
(:func:`scrub_log_line`).
"""

from __future__ import annotations

import asyncio
import base64
import glob
import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from agent import PYTHON, __version__
from agent.audit import AuditEntry, AuditError, AuditLog
from agent.config import DEFAULT_PORT_RANGE, AgentConfig
from agent.messages import DEFAULT_LANG, Lang, text
from agent.pairing import PairingStore
from agent.pin import TriesLeft
from agent.token import Inventory, TokenService
from agent.token.models import TokenCertificate

STATUS_FORMAT: Final = 1
"""Version of the JSON form; bumped when a field changes meaning or disappears."""
EXPIRING_DAYS: Final = 30
"""A certificate with this many days left or fewer (see :func:`days_left`) is ``expiring``."""
AUDIT_ENTRIES: Final = 10
"""How many audit entries the report shows."""
LOG_LINES: Final = 20
"""How many WARNING/ERROR lines of the log the report shows."""
_LOG_TAIL_BYTES: Final = 512 * 1024
_MAX_LOG_LINE: Final = 400
_NSS_MAX_ENTRIES: Final = 64
_TOOL_TIMEOUT: Final = 10.0

#: Where Linux distributions keep the system CA bundle (Debian/Ubuntu, Fedora/RHEL,
#: openSUSE, Alpine/Arch).
LINUX_BUNDLES: Final = (
    Path("/etc/ssl/certs/ca-certificates.crt"),
    Path("/etc/pki/tls/certs/ca-bundle.crt"),
    Path("/etc/ssl/ca-bundle.pem"),
    Path("/etc/ssl/cert.pem"),
)


class Validity(StrEnum):
    """Where a certificate stands in its validity period."""

    VALID = "valid"
    EXPIRING = "expiring"
    """At most :data:`EXPIRING_DAYS` days left."""
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    MISSING = "missing"
    """No certificate (the local TLS files were never made)."""


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
    NO_DATABASE = "no-database"
    TOOL_FAILED = "tool-failed"
    NOT_CHECKED = "not-checked"


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

    def to_json(self) -> dict[str, Any]:
        """The JSON object (snake_case keys, see the module docstring)."""
        data = _dump(self)
        assert isinstance(data, dict)  # noqa: S101 - a dataclass dumps to a dict
        return {"format": STATUS_FORMAT, **data}

    @classmethod
    def from_json(cls, data: object) -> StatusReport:
        """Read :meth:`to_json`'s output back; ``ValueError`` when it is not one."""
        if not isinstance(data, dict) or data.get("format") != STATUS_FORMAT:
            raise ValueError("not a status report of a known format")
        try:
            loaded = _load(cls, {k: v for k, v in data.items() if k != "format"})
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
        return "\n".join(_text_lines(self, Lang(lang) if lang in set(Lang) else DEFAULT_LANG))


# --- JSON, generically over the dataclasses above -------------------------------------------

T = TypeVar("T")


def _dump(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    return value


def _load(kind: Any, value: object) -> object:
    origin = typing.get_origin(kind)
    if origin is types.UnionType or origin is typing.Union:
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return None if value is None else _load(options[0], value)
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(_load(typing.get_args(kind)[0], v) for v in value)
    if isinstance(kind, type) and is_dataclass(kind):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {kind.__name__}")
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: _load(hints[f.name], value[f.name]) for f in fields(kind)})
    if kind is datetime:
        if not isinstance(value, str):
            raise TypeError("expected an ISO-8601 time")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"time without a zone: {value}")
        return moment
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        if not isinstance(value, str):
            raise TypeError(f"expected a {kind.__name__} value")
        return kind(value)
    if kind in (int, str, bool) and type(value) is kind:
        return value
    raise TypeError(f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")


# --- pieces -----------------------------------------------------------------------------------


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


def _name_part(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def certificate_status(cert: TokenCertificate, now: datetime) -> CertificateStatus:
    """The report's view of one certificate."""
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
    ca_file = tls_dir / "ca.pem"
    try:
        server = x509.load_pem_x509_certificates((tls_dir / "server.pem").read_bytes())[0]
    except (OSError, ValueError, IndexError):
        server = None
    try:
        ca_der = x509.load_pem_x509_certificate(ca_file.read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
    except (OSError, ValueError):
        ca_der = None
    trust = (checks or trust_checks)(ca_der) if ca_der is not None else ()
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


# --- trust of the local CA ----------------------------------------------------------------------

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=_TOOL_TIMEOUT,
        check=False,
        encoding="utf-8",
        errors="replace",
    )


def _der_certificates(pem_text: str) -> list[bytes]:
    """DER of every PEM certificate in ``pem_text``; undecodable ones are skipped.

    Only the base64 is decoded, not the certificate: system bundles hold old roots that
    cryptography warns about (e.g. a negative serial number), and only equality matters here.
    """
    found = []
    for body in re.findall(
        r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", pem_text, re.DOTALL
    ):
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except ValueError:
            continue
        if der:
            found.append(der)
    return found


def system_store_trust(ca_der: bytes, bundles: Sequence[Path] = LINUX_BUNDLES) -> TrustCheck:
    """Whether the first system bundle that exists contains the CA."""
    for bundle in bundles:
        try:
            content = bundle.read_text("utf-8", "replace")
        except OSError:
            continue
        found = ca_der in _der_certificates(content)
        return TrustCheck(
            TrustStore.SYSTEM,
            str(bundle),
            Trust.TRUSTED if found else Trust.NOT_TRUSTED,
            TrustReason.FOUND if found else TrustReason.NOT_FOUND,
        )
    shown = str(bundles[0]) if bundles else ""
    return TrustCheck(TrustStore.SYSTEM, shown, Trust.UNKNOWN, TrustReason.NO_DATABASE)


_CERTUTIL_ROW = re.compile(r"^(?P<nick>.*?\S)\s+(?P<trust>[A-Za-z]*,[A-Za-z]*,[A-Za-z]*)\s*$")


def parse_certutil_list(output: str) -> list[tuple[str, str]]:
    """``(nickname, SSL trust flags)`` of each row of ``certutil -L`` (NSS)."""
    rows = []
    for line in output.splitlines():
        match = _CERTUTIL_ROW.match(line)
        if match and not line.lstrip().startswith("Certificate Nickname"):
            rows.append((match["nick"], match["trust"].split(",")[0]))
    return rows


def nss_trust(
    ca_der: bytes,
    database: Path,
    store: TrustStore = TrustStore.NSS,
    run: Runner = _run,
    certutil: str | None = None,
) -> TrustCheck:
    """Whether the NSS database in ``database`` trusts the CA for websites (flag ``C``)."""

    def check(trust: Trust, reason: TrustReason) -> TrustCheck:
        return TrustCheck(store, str(database), trust, reason)

    tool = certutil or shutil.which("certutil")
    if tool is None:
        return check(Trust.UNKNOWN, TrustReason.NO_TOOL)
    if not (database / "cert9.db").exists():
        return check(Trust.UNKNOWN, TrustReason.NO_DATABASE)
    where = f"sql:{database}"
    try:
        listing = run([tool, "-L", "-d", where])
    except (OSError, subprocess.SubprocessError):
        return check(Trust.UNKNOWN, TrustReason.TOOL_FAILED)
    if listing.returncode != 0:
        return check(Trust.UNKNOWN, TrustReason.TOOL_FAILED)
    present_untrusted = False
    for nickname, ssl_flags in parse_certutil_list(listing.stdout)[:_NSS_MAX_ENTRIES]:
        try:
            shown = run([tool, "-L", "-d", where, "-n", nickname, "-a"])
        except (OSError, subprocess.SubprocessError):
            continue
        if ca_der in _der_certificates(shown.stdout):
            if "C" in ssl_flags:
                return check(Trust.TRUSTED, TrustReason.FOUND)
            present_untrusted = True
    if present_untrusted:
        return check(Trust.NOT_TRUSTED, TrustReason.UNTRUSTED_ENTRY)
    return check(Trust.NOT_TRUSTED, TrustReason.NOT_FOUND)


def firefox_profiles(home: Path) -> list[Path]:
    """Firefox profile directories with a certificate database (deb and snap installs)."""
    patterns = (
        home / ".mozilla" / "firefox" / "*" / "cert9.db",
        home / "snap" / "firefox" / "common" / ".mozilla" / "firefox" / "*" / "cert9.db",
    )
    return [Path(p).parent for pattern in patterns for p in sorted(glob.glob(str(pattern)))]


#: Windows' "object not found" codes (CRYPT_E_NOT_FOUND, NTE_NOT_FOUND): the same in every
#: display language, unlike certutil's messages.
_WINDOWS_NOT_FOUND: Final = ("0x80092004", "0x80090011")


def parse_windows_verifystore(returncode: int, output: str) -> tuple[Trust, TrustReason]:
    """Read ``certutil -user -verifystore Root THUMBPRINT``: found, not found, or failed."""
    if returncode == 0:
        return Trust.TRUSTED, TrustReason.FOUND
    if any(code in output.lower() for code in _WINDOWS_NOT_FOUND):
        return Trust.NOT_TRUSTED, TrustReason.NOT_FOUND
    return Trust.UNKNOWN, TrustReason.TOOL_FAILED


def windows_trust(ca_der: bytes, run: Runner = _run) -> TrustCheck:
    """Whether the user's Root store (which includes the machine's) holds the CA."""
    location = "CurrentUser\\Root"
    tool = shutil.which("certutil")
    if tool is None:
        return TrustCheck(TrustStore.WINDOWS, location, Trust.UNKNOWN, TrustReason.NO_TOOL)
    thumbprint = hashlib.sha1(ca_der).hexdigest()  # noqa: S324 - Windows names certs by SHA-1
    try:
        done = run([tool, "-user", "-verifystore", "Root", thumbprint])
    except (OSError, subprocess.SubprocessError):
        return TrustCheck(TrustStore.WINDOWS, location, Trust.UNKNOWN, TrustReason.TOOL_FAILED)
    trust, reason = parse_windows_verifystore(done.returncode, done.stdout + done.stderr)
    return TrustCheck(TrustStore.WINDOWS, location, trust, reason)


def trust_checks(
    ca_der: bytes, home: Path | None = None, platform: str = sys.platform
) -> tuple[TrustCheck, ...]:
    """Ask each store of this OS whether it trusts the CA."""
    if platform == "win32":
        return (windows_trust(ca_der),)
    if platform == "darwin":
        return (TrustCheck(TrustStore.MACOS, "", Trust.UNKNOWN, TrustReason.NOT_CHECKED),)
    home = home or Path.home()
    checks = [system_store_trust(ca_der), nss_trust(ca_der, home / ".pki" / "nssdb")]
    checks += [nss_trust(ca_der, p, TrustStore.FIREFOX) for p in firefox_profiles(home)]
    return tuple(checks)


# --- the log ------------------------------------------------------------------------------------

_LOG_HEAD = re.compile(
    r"^(?P<head>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)? (?:WARNING|ERROR|CRITICAL) )(?P<rest>.*)$"
)
_SECRET_WORD = re.compile(r"(?i)\b(?:pin|user_?pin|so_?pin|password|passphrase|passwd|mật khẩu)\b")
_SECRET_VALUE = re.compile(
    r"(?i)\b(pin|user_?pin|so_?pin|password|passphrase|passwd)\b(\s*[\"']?\s*[:=]\s*)"
    r"[\"']?[^\s,;\"'}]*[\"']?"
)
_DIGITS = re.compile(r"\d{4,}")


def scrub_log_line(line: str) -> str | None:
    """A WARNING/ERROR/CRITICAL log line, made safe to show; ``None`` for any other line.

    The agent never logs a PIN. Should a line ever carry one (a library's message, a
    future bug), ``pin=…``-like values are masked and, in a line that mentions a PIN or
    password, so is every run of four or more digits.
    """
    match = _LOG_HEAD.match(line.rstrip("\r\n"))
    if match is None:
        return None
    rest = _SECRET_VALUE.sub(r"\1\2***", match["rest"])
    if _SECRET_WORD.search(rest):
        rest = _DIGITS.sub("***", rest)
    shown = match["head"] + rest
    return shown if len(shown) <= _MAX_LOG_LINE else shown[: _MAX_LOG_LINE - 1] + "…"


def _tail(path: Path, size: int = _LOG_TAIL_BYTES) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            handle.seek(max(0, end - size))
            data = handle.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if end > size else lines  # the first line may be cut


def recent_log_errors(log_dir: Path, limit: int = LOG_LINES) -> tuple[str, ...]:
    """The last ``limit`` WARNING/ERROR lines of ``agent.log`` (and its last rotation)."""
    lines = _tail(log_dir / "agent.log.1") + _tail(log_dir / "agent.log")
    kept = [s for s in (scrub_log_line(line) for line in lines) if s is not None]
    return tuple(kept[-limit:]) if limit > 0 else ()


# --- assembling ----------------------------------------------------------------------------------


def _audit_status(entry: AuditEntry) -> AuditStatus:
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


@dataclass(frozen=True)
class _Running:
    started_at: datetime
    port: int | None
    notices: tuple[str, ...] = ()


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
    )


async def collect(source: StatusSource, audit_limit: int = AUDIT_ENTRIES) -> StatusReport:
    """The running agent's report (tokens read on their workers, files on a thread)."""
    inventory = await source.tokens.inventory()
    running = _Running(source.started_at, source.port, tuple(source.notices.values()))
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


class StatusError(Exception):
    """An agent answered, but not with a status report."""


STATUS_PATH: Final = "/status.json"


def _ask(port: int, context: ssl.SSLContext, timeout: float) -> tuple[int, bytes] | None:
    """``GET /status.json`` on one port; ``None`` when nothing (of ours) listens there."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)
    try:
        connection.request("GET", STATUS_PATH, headers={"Accept": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    except (ssl.SSLError, ssl.CertificateError):
        return None  # another user's agent (another CA), or not an agent at all
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def fetch_running(config: AgentConfig, timeout: float = 5.0) -> StatusReport | None:
    """The running agent's report, or ``None`` when none answers.

    Tries ``config.port``, else the default range (8988 to 8998); TLS is verified against
    ``DATA_DIR/tls/ca.pem``, so only this user's agent (of this data directory) counts.
    Raises :class:`StatusError` when an agent answers with something else.
    """
    ca_file = config.tls_dir / "ca.pem"
    if not ca_file.exists():
        return None
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError):
        return None
    ports = [config.port] if config.port else list(DEFAULT_PORT_RANGE)
    for port in ports:
        answer = _ask(port, context, timeout)
        if answer is None:
            continue
        status, body = answer
        if status == 404:
            continue  # an older agent without the status page: keep looking, then read locally
        if status != 200:
            raise StatusError(f"the agent on port {port} answered HTTP {status}: {body[:200]!r}")
        try:
            return StatusReport.from_json(json.loads(body))
        except ValueError as exc:
            raise StatusError(f"the agent on port {port} sent no status report: {exc}") from exc
    return None


# --- text -----------------------------------------------------------------------------------------


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _uptime(seconds: int, lang: Lang) -> str:
    minutes, _ = divmod(max(0, seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return text("status_uptime", lang, days=days, hours=hours, minutes=minutes)


def _pin_text(token: TokenStatus, lang: Lang) -> str:
    shown = text(f"status_pin_{token.pin.value}", lang)
    if token.pinpad:
        shown += text("status_pin_pinpad", lang)
    if not token.pin_initialized:
        shown += text("status_pin_not_initialized", lang)
    if token.pin_to_be_changed:
        shown += text("status_pin_to_be_changed", lang)
    return shown


def _trust_line(check: TrustCheck, lang: Lang) -> str:
    line = text(
        "status_trust_line",
        lang,
        store=text(f"status_store_{check.store.value}", lang, location=check.location),
        verdict=text(f"status_trust_{check.trust.value.replace('-', '_')}", lang),
    )
    if check.reason not in (TrustReason.FOUND, TrustReason.NOT_FOUND):
        line += " — " + text(f"status_reason_{check.reason.value.replace('-', '_')}", lang)
    return line


def _head_lines(report: StatusReport, lang: Lang) -> list[str]:
    agent = report.agent
    generated = report.generated_at.astimezone().isoformat("T", "seconds")
    lines = [
        text("status_title", lang),
        text("status_generated", lang, time=generated),
        text("status_version", lang, version=agent.version, python=agent.python),
    ]
    if agent.running and agent.started_at is not None:
        lines.append(
            text(
                "status_running",
                lang,
                port=agent.port if agent.port is not None else "?",
                since=_local(agent.started_at),
                uptime=_uptime(agent.uptime_seconds or 0, lang),
            )
        )
    else:
        lines.append(text("status_not_running", lang))
    lines.append(text("status_data_dir", lang, path=agent.data_dir))
    attention = report.attention()
    if attention:
        lines += ["", text("status_attention_heading", lang)]
        lines += ["  - " + text(key, lang, **values) for key, values in attention]
    return lines


def _tls_lines(tls: TlsStatus, lang: Lang) -> list[str]:
    lines = [text("status_tls_heading", lang, path=tls.ca_file)]
    if tls.validity is Validity.MISSING or tls.not_after is None:
        lines.append(text("status_tls_missing", lang))
    else:
        key = {
            Validity.EXPIRED: "status_tls_expired",
            Validity.EXPIRING: "status_tls_expiring",
        }.get(tls.validity, "status_tls_valid")
        lines.append(text(key, lang, not_after=_local(tls.not_after), days=tls.days_left))
    if tls.ca_sha256:
        lines.append(text("status_tls_fingerprint", lang, fingerprint=tls.ca_sha256))
    return lines + [_trust_line(c, lang) for c in tls.trust]


def _module_line(module: ModuleStatus, lang: Lang) -> str:
    if not module.loaded:
        return text("status_module_failed", lang, path=module.path, error=module.error)
    if module.error:
        return text("status_module_read_failed", lang, path=module.path, error=module.error)
    description = module.description or "?"
    return text("status_module_loaded", lang, path=module.path, description=description)


def _token_lines(report: StatusReport, lang: Lang) -> list[str]:
    lines = [text("status_modules_heading", lang)]
    if not report.modules:
        lines.append(text("status_modules_none", lang))
    lines += [_module_line(m, lang) for m in report.modules]
    lines += ["", text("status_tokens_heading", lang)]
    if not report.tokens:
        lines.append(text("status_tokens_none", lang))
    lines += [
        text(
            "status_token",
            lang,
            label=token.label,
            serial=token.serial,
            maker=f"{token.manufacturer} {token.model}".strip(),
            pin=_pin_text(token, lang),
        )
        for token in report.tokens
    ]
    lines += ["", text("status_certs_heading", lang)]
    if not report.certificates:
        lines.append(text("status_certs_none", lang))
    for cert in report.certificates:
        holder = f"{cert.holder} ({cert.organization})" if cert.organization else cert.holder
        lines.append(
            text("status_cert", lang, holder=holder, issuer=cert.issuer, token=cert.token_label)
        )
        lines.append(
            text(
                f"status_cert_{cert.validity.value.replace('-', '_')}",
                lang,
                not_before=_local(cert.not_before),
                not_after=_local(cert.not_after),
                days=cert.days_left,
            )
        )
    return lines


def _audit_line(entry: AuditStatus, lang: Lang) -> str:
    action_key = "status_action_sign" if entry.action == "sign" else "status_action_select"
    documents = ", ".join(d or text("console_unnamed", lang) for d in entry.documents)
    line = text(
        "status_audit_entry",
        lang,
        time=_local(entry.time),
        origin=entry.origin,
        action=text(action_key, lang),
        outcome=entry.outcome,
        signatures=entry.signatures,
        holder=entry.holder or "-",
    )
    return line + (f" [{documents}]" if documents else "")


def _history_lines(report: StatusReport, lang: Lang) -> list[str]:
    none = text("status_none", lang)
    paired = ", ".join(p.origin for p in report.paired_origins) or none
    lines = [
        text("status_allowed", lang, origins=", ".join(report.allowed_origins) or none),
        text("status_paired", lang, origins=paired),
        "",
    ]
    if report.recent_errors:
        lines.append(text("status_errors_heading", lang, count=len(report.recent_errors)))
        lines += ["  " + line for line in report.recent_errors]
    else:
        lines.append(text("status_errors_none", lang))
    lines.append("")
    if report.audit:
        lines.append(text("status_audit_heading", lang, count=len(report.audit)))
        lines += [_audit_line(entry, lang) for entry in report.audit]
    else:
        lines.append(text("status_audit_none", lang))
    if report.problems:
        lines += ["", text("status_problems_heading", lang)]
        lines += ["  " + p for p in report.problems]
    return lines


def _text_lines(report: StatusReport, lang: Lang) -> list[str]:
    return [
        *_head_lines(report, lang),
        "",
        *_tls_lines(report.tls, lang),
        "",
        *_token_lines(report, lang),
        "",
        *_history_lines(report, lang),
    ]
