"""Local TLS: a per-install CA that can only ever vouch for loopback names.

On first start the agent makes a CA whose NameConstraints permit only
``localhost``, 127.0.0.0/8 and ::1, issues the server certificate with it and
destroys the CA key without writing it anywhere. Trusting ``ca.pem`` therefore
lets nobody impersonate any other site, even if ``ca.pem`` leaks. When the
server certificate nears its end, a fresh CA and certificate replace both
(the new ``ca.pem`` must then be trusted again).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

VALIDITY: Final = timedelta(days=825)
RENEW_BEFORE: Final = timedelta(days=30)
_LOOPBACK_V4: Final = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6: Final = ipaddress.IPv6Network("::1/128")


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
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kyso Agent"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _loopback_constraints() -> x509.NameConstraints:
    return x509.NameConstraints(
        permitted_subtrees=[
            x509.DNSName("localhost"),
            x509.IPAddress(_LOOPBACK_V4),
            x509.IPAddress(_LOOPBACK_V6),
        ],
        excluded_subtrees=None,
    )


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def issue(files: TlsFiles, now: datetime | None = None) -> None:
    """Make a new CA and server certificate; the CA key never touches the disk."""
    now = now or datetime.now(UTC)
    start = now - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    stamp = now.strftime("%Y-%m-%d %H:%M")
    ca_name = _name(f"Kyso Agent local CA ({stamp})")
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
    os.chmod(files.directory, 0o700)
    pem = serialization.Encoding.PEM
    _write_private(
        files.server_key,
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    _write_public(files.server_cert, server_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    _write_public(files.ca_cert, ca_cert.public_bytes(pem))
    log.info("issued a new local TLS certificate, valid until %s", server_cert.not_valid_after_utc)


def needs_renewal(files: TlsFiles, now: datetime | None = None) -> bool:
    """Whether the files are missing, unreadable or close to expiry."""
    now = now or datetime.now(UTC)
    try:
        certs = x509.load_pem_x509_certificates(files.server_cert.read_bytes())
        serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
        files.ca_cert.read_bytes()
    except (OSError, ValueError):
        return True
    return certs[0].not_valid_after_utc - now < RENEW_BEFORE


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
