"""Root certificates that PDF signatures are checked against.

The agent ships no roots. They come from files the administrator configures
(PEM or DER, single certificates or bundles, ``.p7b`` included) and, on Windows,
from the machine's certificate store, where the Vietnamese CAs' installers put the
national root and their own CA certificates.

Everything is returned as DER bytes, in the order found, without duplicates; the
verifier turns them into pyHanko trust anchors.

cryptography and asn1crypto are imported by the functions that parse certificates, when there
are some to parse: the agent reads its roots as it starts, and one with none configured
(off Windows) starts without loading either (docs/performance.md).
"""

from __future__ import annotations

import logging
import ssl
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

MAX_FILE_BYTES: Final = 16 * 1024 * 1024
"""A root bundle larger than this is not a root bundle."""

_DER_SEQUENCE: Final = b"\x30"
"""Every DER certificate or PKCS#7 bundle starts with a SEQUENCE; PEM starts with text."""

# Windows trust purposes (enhanced key usages) that make a root good for document signatures.
# A root whose purposes are restricted to, say, server authentication is not one.
_DOCUMENT_PURPOSES: Final = frozenset(
    {
        "2.5.29.37.0",  # anyExtendedKeyUsage
        "1.3.6.1.5.5.7.3.4",  # id-kp-emailProtection (what "signing" CAs are usually marked for)
        "1.3.6.1.4.1.311.10.3.12",  # Microsoft Document Signing
        "1.2.840.113583.1.1.5",  # Adobe Authentic Documents Trust
    }
)

StoreEntry = tuple[bytes, str, "set[str] | bool"]
"""What :func:`ssl.enum_certificates` yields: (data, encoding, trust)."""


class TrustRootError(ValueError):
    """A configured trust-root file is missing, unreadable or holds no certificate."""


def load_trust_roots(paths: Sequence[Path]) -> tuple[bytes, ...]:
    """Read every certificate in ``paths`` (PEM, DER or PKCS#7 bundles) as DER.

    Raises :class:`TrustRootError` naming the first file that cannot be used.
    """
    found: list[bytes] = []
    for path in paths:
        try:
            with path.open("rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise TrustRootError(f"{path}: cannot read trust root: {exc.strerror}") from exc
        if len(data) > MAX_FILE_BYTES:
            raise TrustRootError(f"{path}: larger than {MAX_FILE_BYTES} bytes, not a certificate")
        try:
            certificates = _parse(data)
        except ValueError as exc:
            raise TrustRootError(f"{path}: not a certificate (PEM or DER): {exc}") from exc
        found.extend(certificates)
    return _unique(found)


def windows_store_roots() -> tuple[bytes, ...]:
    """Roots from the Windows certificate store; empty on other systems.

    The ``ROOT`` store gives the anchors (those trusted for all purposes or for a
    document-signing purpose). From the ``CA`` store (intermediate authorities),
    only CA certificates that a ``ROOT`` anchor directly issued are added: a signer
    whose PDF carries no chain can then still be traced to the national root, while
    an intermediate that chains to nothing trusted does not become trusted merely
    by being in the store.
    """
    enum = getattr(ssl, "enum_certificates", None)
    if sys.platform != "win32" or enum is None:
        return ()
    return store_roots(enum)


def store_roots(enum: Callable[[str], Iterable[StoreEntry]]) -> tuple[bytes, ...]:
    """:func:`windows_store_roots` over ``enum`` (:func:`ssl.enum_certificates`, or a fake)."""
    from cryptography.hazmat.primitives import serialization

    roots = [cert for cert in _store_certificates(enum, "ROOT") if _usable(cert) and _is_ca(cert)]
    anchors = {cert.subject.public_bytes(): cert for cert in roots}
    intermediates = [
        cert
        for cert in _store_certificates(enum, "CA")
        if _usable(cert) and _is_ca(cert) and _issued_by_anchor(cert, anchors)
    ]
    return _unique(cert.public_bytes(serialization.Encoding.DER) for cert in roots + intermediates)


def _parse(data: bytes) -> list[bytes]:
    """Certificates in ``data`` as DER; ``ValueError`` if there are none or one is broken."""
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    if data[:1] == _DER_SEQUENCE:
        try:
            certificates = [x509.load_der_x509_certificate(data)]
        except ValueError:
            certificates = pkcs7.load_der_pkcs7_certificates(data)
    elif b"-----BEGIN PKCS7-----" in data:
        certificates = pkcs7.load_pem_pkcs7_certificates(data)
    else:
        certificates = x509.load_pem_x509_certificates(data)
    if not certificates:
        raise ValueError("no certificate in the file")
    result = []
    for cert in certificates:
        der = cert.public_bytes(serialization.Encoding.DER)
        # pyHanko reads certificates with asn1crypto, which is stricter in places.
        asn1_x509.Certificate.load(der).native  # noqa: B018 — parse it all now
        result.append(der)
    return result


def _store_certificates(
    enum: Callable[[str], Iterable[StoreEntry]], store: str
) -> list[x509.Certificate]:
    """The DER certificates of one Windows store trusted for document signing."""
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509

    try:
        entries = list(enum(store))
    except OSError as exc:  # the store cannot be opened (policy, profile not loaded)
        log.warning("cannot read the Windows %s store: %s", store, exc)
        return []
    result = []
    for data, encoding, trust in entries:
        if encoding != "x509_asn":
            continue
        if trust is not True and not (isinstance(trust, set) and trust & _DOCUMENT_PURPOSES):
            continue
        try:
            cert = x509.load_der_x509_certificate(data)
            asn1_x509.Certificate.load(data).native  # noqa: B018 — parse it all now
        except ValueError:
            log.debug("skipping an unreadable certificate in the Windows %s store", store)
            continue
        result.append(cert)
    return result


def _usable(cert: x509.Certificate) -> bool:
    """Whether the certificate can be an anchor: readable and not obviously broken."""
    try:
        cert.public_key()
    except (ValueError, TypeError):  # unsupported key type
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        # Old (v1) roots have no extensions; only trust them as self-issued roots.
        return cert.issuer == cert.subject
    except ValueError:
        return False
    return constraints.ca


def _issued_by_anchor(cert: x509.Certificate, anchors: dict[bytes, x509.Certificate]) -> bool:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

    issuer = anchors.get(cert.issuer.public_bytes())
    if issuer is None or issuer.subject == cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _unique(ders: Iterable[bytes]) -> tuple[bytes, ...]:
    return tuple(dict.fromkeys(ders))
