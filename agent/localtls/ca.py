"""Local TLS: a per-install CA that can only ever vouch for loopback names.

On first start the agent makes a CA whose NameConstraints permit only
``localhost``, 127.0.0.0/8 and ::1, issues the server certificate with it and
destroys the CA key without writing it anywhere. Trusting ``ca.pem`` therefore
lets nobody impersonate any other site, even if ``ca.pem`` leaks. When the
server certificate nears its end, a fresh CA and certificate replace both
(the new ``ca.pem`` must then be trusted again).

What counts as ours (:func:`is_kyso_ca`): the current CA, and any older Kyso Agent local CA
(subject ``O=Kyso Agent``, ``CN=Kyso Agent local CA …``, name-constrained to loopback).

Memory: the agent checks its certificate as it starts and every few hours, and makes one
rarely (first start, renewal). The check needs no X.509 library (:func:`needs_renewal`: the
standard ``ssl`` module loads the files, and the end date is read from the DER), so a started
agent has not loaded cryptography; the functions that make or inspect certificates import it
when called (docs/performance.md).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agent.files import write_atomically
from agent.private import DIR_MODE

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

VALIDITY: Final = timedelta(days=825)
RENEW_BEFORE: Final = timedelta(days=30)
_PUBLIC_MODE: Final = 0o644
_LOOPBACK_V4: Final = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6: Final = ipaddress.IPv6Network("::1/128")
ORGANIZATION: Final = "Kyso Agent"
"""The organisation in the subject of every certificate the agent makes."""
CA_NAME_PREFIX: Final = "Kyso Agent local CA"
"""How the common name of every local CA starts (the issue time follows)."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the local TLS material lives."""

    directory: Path
    """``DATA_DIR/tls``."""

    @property
    def ca_cert(self) -> Path:
        """The CA certificate users (or the installer) trust."""
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        """Server certificate followed by the CA certificate."""
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        """Server private key (readable by the user only)."""
        return self.directory / "server-key.pem"


def _name(common_name: str) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _loopback_constraints() -> x509.NameConstraints:
    from cryptography import x509

    return x509.NameConstraints(
        permitted_subtrees=[
            x509.DNSName("localhost"),
            x509.IPAddress(_LOOPBACK_V4),
            x509.IPAddress(_LOOPBACK_V6),
        ],
        excluded_subtrees=None,
    )


def issue(files: TlsFiles, now: datetime | None = None) -> None:
    """Make a new CA and server certificate; the CA key never touches the disk."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = now or datetime.now(UTC)
    start = now - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    stamp = now.strftime("%Y-%m-%d %H:%M")
    ca_name = _name(f"{CA_NAME_PREFIX} ({stamp})")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + VALIDITY + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_loopback_constraints(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.IPAddress(ipaddress.IPv6Address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    # The CA key goes out of scope here and is never serialised.
    del ca_key
    files.directory.mkdir(parents=True, exist_ok=True)
    os.chmod(files.directory, DIR_MODE)
    pem = serialization.Encoding.PEM
    write_atomically(
        files.server_key,
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    # The certificates are public: readable by whoever may enter the (private) directory.
    chain = server_cert.public_bytes(pem) + ca_cert.public_bytes(pem)
    write_atomically(files.server_cert, chain, mode=_PUBLIC_MODE)
    write_atomically(files.ca_cert, ca_cert.public_bytes(pem), mode=_PUBLIC_MODE)
    log.info("issued a new local TLS certificate, valid until %s", server_cert.not_valid_after_utc)


def needs_renewal(files: TlsFiles, now: datetime | None = None) -> bool:
    """Whether the files are missing, unreadable or close to expiry.

    Unreadable: OpenSSL (the ``ssl`` module, as the server will) cannot load the certificate
    chain with its key, or the CA certificate cannot be read.
    """
    now = now or datetime.now(UTC)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(files.server_cert, files.server_key)
        not_after = _not_after(_first_der(files.server_cert.read_bytes()))
        files.ca_cert.read_bytes()
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return True
    return not_after - now < RENEW_BEFORE


_PEM_CERTIFICATE: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)


def _first_der(pem: bytes) -> bytes:
    """The DER of the first certificate in a PEM file (``ValueError`` when there is none)."""
    found = _PEM_CERTIFICATE.search(pem)
    if found is None:
        raise ValueError("no certificate in the PEM file")
    return ssl.PEM_cert_to_DER_cert(found.group(0).decode("ascii"))


def _der_element(der: bytes, at: int, tag: int | None = None) -> tuple[int, int, int]:
    """The DER element at ``at``: its tag, where its value starts and where it ends
    (``ValueError`` when it is cut short, or is not of ``tag``)."""
    if at + 2 > len(der):
        raise ValueError("DER cut short")
    found, size = der[at], der[at + 1]
    start = at + 2
    if size & 0x80:  # long form: the next (size & 0x7F) bytes are the length
        count = size & 0x7F
        if not 0 < count <= 4 or start + count > len(der):
            raise ValueError("bad DER length")
        size = int.from_bytes(der[start : start + count], "big")
        start += count
    if start + size > len(der) or (tag is not None and found != tag):
        raise ValueError("not the DER element expected")
    return found, start, start + size


_SEQUENCE: Final = 0x30
_UTC_TIME: Final = 0x17
_GENERALIZED_TIME: Final = 0x18


def _not_after(der: bytes) -> datetime:
    """The end of validity of a DER certificate: RFC 5280's Certificate → tbsCertificate →
    (version) serialNumber signature issuer validity → notAfter."""
    _, at, _ = _der_element(der, 0, _SEQUENCE)  # Certificate
    _, at, _ = _der_element(der, at, _SEQUENCE)  # tbsCertificate
    tag, _, end = _der_element(der, at)
    if tag == 0xA0:  # [0] version
        at = end
    for _field in range(3):  # serialNumber, signature, issuer
        _, _, at = _der_element(der, at)
    _, at, _ = _der_element(der, at, _SEQUENCE)  # validity
    _, _, at = _der_element(der, at)  # notBefore
    tag, start, end = _der_element(der, at)
    text = der[start:end].decode("ascii")
    if tag == _UTC_TIME and len(text) == 13:  # YYMMDDHHMMSSZ; RFC 5280: YY < 50 is 20YY
        year = int(text[:2])
        text = f"{year + (2000 if year < 50 else 1900)}{text[2:]}"
    elif tag != _GENERALIZED_TIME or len(text) != 15:  # YYYYMMDDHHMMSSZ
        raise ValueError("notAfter is not a time RFC 5280 allows")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def ensure(directory: Path, now: datetime | None = None) -> TlsFiles:
    """Make sure a usable certificate exists in ``directory``; return its files."""
    files = TlsFiles(directory)
    if needs_renewal(files, now):
        issue(files, now)
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A TLS server context for the agent."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.server_cert, files.server_key)
    return context


def renew_if_needed(files: TlsFiles, context: ssl.SSLContext, now: datetime | None = None) -> bool:
    """Re-issue a certificate near its end and load it into the running server's context.

    New connections get the new certificate at once. Its CA is new too, so browsers must
    be told to trust ``ca.pem`` again; the log says so.
    """
    if not needs_renewal(files, now):
        return False
    issue(files, now)
    context.load_cert_chain(files.server_cert, files.server_key)
    log.warning(
        "the local TLS certificate was renewed with a new local CA; browsers must trust %s again",
        files.ca_cert,
    )
    return True


# --- which certificates are ours ----------------------------------------------------------------


def load_ca(ca_file: Path) -> bytes:
    """DER of the CA certificate in ``ca_file`` (``OSError``/``ValueError`` when unusable)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return x509.load_pem_x509_certificate(ca_file.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )


def thumbprint(der: bytes) -> str:
    """Windows' name for a certificate: SHA-1 of its DER, lower-case hex."""
    return hashlib.sha1(der).hexdigest()  # noqa: S324 - Windows names certificates by SHA-1


def is_kyso_ca(der: bytes) -> bool:
    """Whether ``der`` is a Kyso Agent local CA (this one or an older one)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    organization = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    permitted = constraints.permitted_subtrees or []
    loopback_only = bool(permitted) and all(
        (isinstance(n, x509.DNSName) and n.value == "localhost")
        or (
            isinstance(n, x509.IPAddress)
            and isinstance(n.value, ipaddress.IPv4Network | ipaddress.IPv6Network)
            and n.value.is_loopback
        )
        for n in permitted
    )
    return (
        organization == [ORGANIZATION]
        and len(names) == 1
        and str(names[0]).startswith(CA_NAME_PREFIX)
        and loopback_only
    )
