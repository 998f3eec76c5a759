"""What is found about the XMLDSig signatures of a document, as plain values.

The codes and field names follow the PDF report's (:mod:`agent.pdf.verify.model`) so
that both read alike; nothing here parses XML or checks a signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class XmlProblem(StrEnum):
    """Short machine-readable codes for what is wrong or uncertain about a signature.

    Codes shared with :class:`agent.pdf.verify.model.Problem` have the same value, so a
    client and the catalogue (``verify_problem_<code>``) treat them alike.
    """

    MALFORMED = "malformed-signature"
    """``SignedInfo``, ``SignatureValue`` or a Reference cannot be read."""
    UNSUPPORTED = "unsupported-format"
    """An algorithm, transform or Reference URI that is not checked (XPath, XSLT, remote)."""
    REFERENCE_NOT_FOUND = "reference-not-found"
    """A Reference names an Id that no element, or more than one, carries."""
    DIGEST_MISMATCH = "digest-mismatch"
    """A covered element was changed: its digest differs."""
    NO_CERTIFICATE = "no-certificate"
    """``KeyInfo`` carries no readable X.509 certificate: nothing to check the value with."""
    BAD_SIGNATURE = "bad-signature"
    """The signature value does not verify with the certificate's key."""
    UNTRUSTED = "untrusted"
    """The certificate does not chain to a given root."""
    CERTIFICATE_EXPIRED = "certificate-expired"
    """The signer's certificate has expired."""
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    """The signer's certificate is not valid yet."""
    KEY_USAGE = "key-usage"
    """The certificate is not for signing, or a certificate above it is not a CA."""
    WEAK_ALGORITHM = "weak-algorithm"
    """SHA-1 digests or signature: common in older e-invoices, no longer collision-safe."""
    EXPIRED_AT_SIGNING = "expired-at-signing"
    """At the claimed signing time the certificate had expired."""
    NOT_YET_VALID_AT_SIGNING = "not-yet-valid-at-signing"
    """At the claimed signing time the certificate was not valid yet."""
    SIGNING_TIME_UNSIGNED = "signing-time-unsigned"
    """The SigningTime is not covered by a Reference: anyone could have written it."""


@dataclass(frozen=True)
class ReferenceCheck:
    """One ``ds:Reference`` of a signature."""

    uri: str
    """The Reference's URI as written (``#id``, or empty for the whole document)."""
    target: str
    """The Id it names; empty for the whole document."""
    element: str
    """Local name of the element found; empty if none was found."""
    intact: bool
    """The element was found and its digest matches."""


@dataclass(frozen=True)
class XmlSignatureReport:
    """What was found about one ``ds:Signature``."""

    signature_id: str
    """The Signature's ``Id`` attribute; empty if it has none."""
    signer: str
    """Common name of the certificate (RFC 4514 subject if none); empty if unreadable."""
    subject: str
    """RFC 4514 subject of the certificate; empty if unreadable."""
    issuer: str
    """RFC 4514 issuer of the certificate; empty if unreadable."""
    not_before: datetime | None
    """Start of the certificate's validity."""
    not_after: datetime | None
    """End of the certificate's validity."""
    certificate: bytes
    """The signer's certificate, DER; empty if unreadable."""
    references: tuple[ReferenceCheck, ...]
    """Each Reference, in order."""
    intact: bool
    """There is at least one Reference, and every one was found and matches."""
    value_ok: bool
    """The SignatureValue verifies over SignedInfo with the certificate's key."""
    trusted: bool
    """The certificate chains to a given root, every link valid now, fit for signing.
    Independent of ``intact``: a trusted signer's document may still have been altered."""
    chain: tuple[str, ...]
    """RFC 4514 subjects from the signer up to the root; just the signer without a chain."""
    signing_time: datetime | None
    """The time the signer claims (``SignatureProperty/SigningTime``); not proof."""
    algorithm: str
    """The SignatureMethod URI."""
    problems: tuple[XmlProblem, ...]
    """What is wrong or uncertain, as short codes."""

    @property
    def covers(self) -> tuple[str, ...]:
        """Ids of the elements the References name (empty string: the whole document)."""
        return tuple(r.target for r in self.references)

    @property
    def ok(self) -> bool:
        """Intact, valid and trusted.

        SHA-1 is reported (:attr:`XmlProblem.WEAK_ALGORITHM`) but does not make a
        signature fail: e-invoices signed with it are still everyday documents.
        """
        return self.intact and self.value_ok and self.trusted


@dataclass(frozen=True)
class XmlVerificationReport:
    """Every signature of a document, in document order."""

    signatures: tuple[XmlSignatureReport, ...]
    """One report per ``ds:Signature``."""

    @property
    def all_valid(self) -> bool:
        """The document has at least one signature, and every one is ``ok``."""
        return bool(self.signatures) and all(s.ok for s in self.signatures)
