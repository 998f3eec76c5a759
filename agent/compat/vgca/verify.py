"""VerifyMsg: does a signature over some data hold, and who made it?

What ``vgca_verify_msg`` callers send back is what SignMsg (or Auth) gave them: a CMS
SignedData, detached or not, carrying the signer's certificate; or a raw signature with the
certificate beside it (``CertBase64``). The check is in two parts, reported apart:

* **intact**: the signature verifies, with the signer certificate's key, over this data
  (for a CMS: the message-digest attribute is the data's digest and the signature covers
  the signed attributes);
* **trusted**: that certificate, valid today, chains by signature to one of the agent's
  configured trust roots through the certificates the CMS carries.

Revocation is not checked here (``docs/vgca-compat.md``). Pure: no I/O, no token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

MAX_CHAIN: Final = 8
_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class MessageCheck:
    """The outcome of one VerifyMsg."""

    intact: bool
    """The signature verifies over the data with the signer certificate's key."""
    trusted: bool
    """The signer certificate is valid now and chains to a configured trust root."""
    certificate: bytes | None
    """The signer's certificate (DER), when one was found."""
    detail: str
    """Why not, for the log (English, no secrets: it names structures, not values)."""


class NotASignature(ValueError):
    """The bytes are neither a CMS SignedData nor usable as a raw signature."""


def check_message(
    content: bytes,
    signature: bytes,
    certificate: bytes | None,
    roots: Sequence[bytes],
    now: datetime,
) -> MessageCheck:
    """Check ``signature`` over ``content`` (see the module's docstring).

    :raises NotASignature: not a CMS and no certificate given for a raw signature.
    """
    signed = _signed_data(signature)
    if signed is not None:
        return _check_cms(content, signed, roots, now)
    if certificate is None:
        raise NotASignature("not a CMS SignedData, and no certificate for a raw signature")
    try:
        cert = x509.load_der_x509_certificate(certificate)
    except ValueError as exc:
        raise NotASignature("the certificate is not DER X.509") from exc
    intact = _verify(cert, signature, content, hashes.SHA256())
    return MessageCheck(
        intact,
        _trusted(cert, [], roots, now),
        certificate,
        "" if intact else "raw signature does not verify over SHA-256 of the data",
    )


def _signed_data(signature: bytes) -> cms.SignedData | None:
    try:
        info = cms.ContentInfo.load(signature, strict=True)
        if info["content_type"].native != "signed_data":
            return None
        signed = info["content"]
        signed.native  # noqa: B018 - asn1crypto parses lazily; fail here, not later
    except (ValueError, TypeError, KeyError):
        return None
    return signed if isinstance(signed, cms.SignedData) else None


def _check_cms(
    content: bytes, signed: cms.SignedData, roots: Sequence[bytes], now: datetime
) -> MessageCheck:
    try:
        certs = [
            x509.load_der_x509_certificate(choice.chosen.dump())
            for choice in signed["certificates"] or []
            if choice.name == "certificate"
        ]
    except ValueError:
        return MessageCheck(False, False, None, "the CMS carries an unreadable certificate")
    infos = signed["signer_infos"]
    if len(infos) != 1:
        return MessageCheck(False, False, None, f"{len(infos)} signer infos, expected 1")
    info = infos[0]
    cert = _signer(info, certs)
    if cert is None:
        return MessageCheck(False, False, None, "the CMS does not carry its signer's certificate")
    der = cert.public_bytes(serialization.Encoding.DER)
    embedded = signed["encap_content_info"]["content"].native
    if embedded is not None and embedded != content:
        return MessageCheck(False, False, der, "the CMS carries other content")
    digest_name = info["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        return MessageCheck(False, False, der, f"digest algorithm {digest_name}")
    algorithm = _HASHES[digest_name]()
    attributes = info["signed_attrs"]
    if attributes.native is None:
        intact = _verify(cert, info["signature"].native, content, algorithm)
    else:
        digests = [
            a["values"][0].native for a in attributes if a["type"].native == "message_digest"
        ]
        expected = hashlib.new(digest_name, content).digest()
        intact = digests == [expected] and _verify(
            cert, info["signature"].native, attributes.untag().dump(), algorithm
        )
    return MessageCheck(
        intact,
        _trusted(cert, certs, roots, now),
        der,
        "" if intact else "the CMS signature does not verify over this data",
    )


def _signer(info: cms.SignerInfo, certs: Sequence[x509.Certificate]) -> x509.Certificate | None:
    sid = info["sid"]
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                cert.serial_number == wanted["serial_number"].native
                and cert.issuer.public_bytes() == wanted["issuer"].dump()
            ):
                return cert
        else:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == sid.chosen.native:
                return cert
    return None


def _verify(
    cert: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm
) -> bool:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            return _verify_ec(key, signature, data, algorithm)
    except InvalidSignature:
        return False
    return False


def _verify_ec(
    key: ec.EllipticCurvePublicKey,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm,
) -> bool:
    """DER (CMS) or r‖s (a token's raw ECDSA signature)."""
    candidates = [signature]
    size = (key.curve.key_size + 7) // 8
    if len(signature) == 2 * size:
        r, s = (int.from_bytes(signature[i : i + size], "big") for i in (0, size))
        candidates.append(utils.encode_dss_signature(r, s))
    for candidate in candidates:
        try:
            key.verify(candidate, data, ec.ECDSA(algorithm))
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def _trusted(
    cert: x509.Certificate,
    pool: Sequence[x509.Certificate],
    roots: Sequence[bytes],
    now: datetime,
) -> bool:
    """Whether ``cert`` chains, each link checked by signature and validity, to a root."""
    anchors = [x509.load_der_x509_certificate(r) for r in roots]
    candidates = [*pool, *anchors]
    current = cert
    for _ in range(MAX_CHAIN):
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            return False
        if any(current == anchor for anchor in anchors):
            return True
        issuer = next((c for c in candidates if c != current and _issued(current, c)), None)
        if issuer is None:
            return False
        current = issuer
    return False


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
