"""What a verification finds, as plain values: no pyHanko type appears here.

:class:`VerificationReport` holds one :class:`SignatureReport` per signature, in signing
order; :class:`Problem` names what is wrong or uncertain about one. :mod:`.check` makes
them, :mod:`.render` shows them (wire form, text for people).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from agent.messages import Phrase

B_LTA: Final = "B-LTA"
"""A B-LT signature whose validation data a later document timestamp covers."""


class NotAPdf(ValueError):
    """The file is not a PDF that can be read: garbage, damaged beyond reading, locked by a
    password. ``phrase`` says which to a person, in their language; ``str()`` is for logs."""

    def __init__(self, phrase: Phrase, detail: str = "") -> None:
        super().__init__(f"{phrase}" + (f" ({detail})" if detail else ""))
        self.phrase = phrase


class SignatureKind(StrEnum):
    """What a signature field holds."""

    SIGNATURE = "signature"
    """An ordinary (approval or certification) signature: ``/Sig``."""
    DOCUMENT_TIMESTAMP = "document-timestamp"
    """A time-stamping authority's timestamp over the document: ``/DocTimeStamp`` (B-LTA)."""


class Revocation(StrEnum):
    """The revocation status of the signer's certificate."""

    GOOD = "good"
    """A verified OCSP response or CRL from its CA says it is not revoked."""
    REVOKED = "revoked"
    """The certificate (or a CA above it) is revoked."""
    UNKNOWN = "unknown"
    """Looked for, but no usable answer (responder unreachable, stale or unverifiable data)."""
    NOT_CHECKED = "not-checked"
    """Not looked for: no trusted chain to check against, or offline with nothing embedded."""


class Coverage(StrEnum):
    """How much of the file the signature's byte ranges cover."""

    ENTIRE_DOCUMENT = "entire-document"
    """Every byte but the signature itself: nothing was added after signing."""
    ENTIRE_REVISION = "entire-revision"
    """The revision it signed; incremental updates follow (see ``modifications``)."""
    PARTIAL = "partial"
    """Something else: a byte range that leaves out part of its own revision, or unknown."""


class Modifications(StrEnum):
    """What changed after the signature, by pyHanko's difference analysis (its level names)."""

    NONE = "NONE"
    """Nothing."""
    LTA_UPDATES = "LTA_UPDATES"
    """Validation data (DSS) and document timestamps only."""
    FORM_FILLING = "FORM_FILLING"
    """Also more signatures and filled-in form fields."""
    ANNOTATIONS = "ANNOTATIONS"
    """Also annotations (comments)."""
    OTHER = "OTHER"
    """Anything else, such as changed page content: the signed document was altered."""
    UNKNOWN = "UNKNOWN"
    """The analysis could not be done."""


class Problem(StrEnum):
    """Short machine-readable codes for what is wrong or uncertain about a signature."""

    MALFORMED = "malformed-signature"
    """The signature dictionary or its CMS data cannot be read."""
    UNSUPPORTED = "unsupported-format"
    """A signature format (``/SubFilter``) that is not checked."""
    VALIDATION_ERROR = "validation-error"
    """The checks failed on this signature's data (see the log)."""
    DIGEST_MISMATCH = "digest-mismatch"
    """The signed bytes were changed: the digest differs."""
    BAD_SIGNATURE = "bad-signature"
    """The signature value does not verify with the signer's key."""
    UNTRUSTED = "untrusted"
    """The signer's certificate does not chain to a configured root."""
    CERTIFICATE_EXPIRED = "certificate-expired"
    """The signer's certificate has expired (and no timestamp vouches for an earlier time)."""
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    """The signer's certificate is not valid yet."""
    KEY_USAGE = "key-usage"
    """The certificate is not for signing (key usage) or breaks a chain constraint."""
    WEAK_ALGORITHM = "weak-algorithm"
    """A hash or signature algorithm that is no longer accepted."""
    SHA1_FORMAT = "sha1-format"
    """An older format (``adbe.pkcs7.sha1``, ``adbe.x509.rsa_sha1``) whose digest is SHA-1:
    intact and valid it may be, trusted it cannot be (SHA-1 collisions can be made)."""
    REVOKED = "revoked"
    """The signer's certificate, or a CA above it, is revoked."""
    REVOCATION_UNKNOWN = "revocation-unknown"
    """The revocation status could not be established."""
    EXPIRED_AT_SIGNING = "expired-at-signing"
    """At the signing time (timestamp, or else the claimed time) the certificate had expired."""
    NOT_YET_VALID_AT_SIGNING = "not-yet-valid-at-signing"
    """At the signing time the certificate was not valid yet."""
    TIMESTAMP_INVALID = "timestamp-invalid"
    """The signature timestamp is broken or its authority is not trusted."""
    MODIFIED_AFTER = "modified-after"
    """The document was changed after signing in a way signatures do not allow."""
    PARTIAL_COVERAGE = "partial-coverage"
    """The signature does not cover its whole revision."""
    MODIFICATIONS_UNCHECKED = "modifications-unchecked"
    """Later changes could not be analysed."""
    SEED_VALUE = "seed-value-violation"
    """The signature ignores constraints the signature field set (seed values)."""
    LENIENT_SYNTAX = "lenient-syntax"
    """The file breaks PDF syntax rules; it was read leniently."""


@dataclass(frozen=True)
class SignatureReport:
    """What was found about one signature (or document timestamp)."""

    field_name: str
    """Fully qualified name of the signature field."""
    kind: SignatureKind
    """A signature or a document timestamp."""
    signer: str
    """Common name of the signer's certificate (RFC 4514 subject if it has none); empty if
    the signature cannot be read."""
    signer_certificate: bytes
    """The signer's certificate, DER; empty if the signature cannot be read."""
    signing_time: datetime | None
    """The time the signer claims (signed ``signingTime`` attribute, else ``/M``); not proof."""
    intact: bool
    """The digest of the signed bytes matches: the signed revision is unchanged."""
    valid: bool
    """The signature value verifies with the signer's public key."""
    trusted: bool
    """The signer's certificate chains to a configured root and is fit for signing, now.
    Independent of ``intact``: a trusted signer's document may still have been altered."""
    chain: tuple[str, ...]
    """RFC 4514 subjects from the signer up to the root; just the signer if no chain was found."""
    revocation: Revocation
    """Revocation status of the signer's certificate."""
    timestamp: datetime | None
    """Time in the signature timestamp token (the document timestamp's own time for those)."""
    timestamp_valid: bool | None
    """The timestamp token is intact, valid and from a trusted authority; ``None`` if none."""
    coverage: Coverage
    """How much of the file the signature covers."""
    modifications: Modifications
    """What changed after signing."""
    docmdp_ok: bool | None
    """Changes after signing are within what the signatures allow (DocMDP); ``None`` if unknown."""
    level: str | None
    """PAdES baseline level guessed from what the signature carries: ``B-B``, ``B-T``,
    ``B-LT`` (validation data in the DSS), ``B-LTA`` (and a later document timestamp)."""
    problems: tuple[Problem, ...]
    """What is wrong or uncertain, as short codes."""

    @property
    def modifications_allowed(self) -> bool:
        """Nothing was changed after signing that the signatures do not allow."""
        if self.coverage is Coverage.PARTIAL:
            return False
        if self.docmdp_ok is not None:
            return self.docmdp_ok
        return self.modifications not in (Modifications.OTHER, Modifications.UNKNOWN)

    @property
    def ok(self) -> bool:
        """Intact, valid, trusted, not revoked, no disallowed change, no broken timestamp."""
        return (
            self.intact
            and self.valid
            and self.trusted
            and self.revocation is not Revocation.REVOKED
            and self.modifications_allowed
            and self.timestamp_valid is not False
        )


@dataclass(frozen=True)
class VerificationReport:
    """Every signature of a document, in signing order."""

    signatures: tuple[SignatureReport, ...]
    """One report per signature field that holds a signature or document timestamp."""

    @property
    def all_valid(self) -> bool:
        """The document has at least one signature, and every one is :attr:`SignatureReport.ok`."""
        return bool(self.signatures) and all(s.ok for s in self.signatures)
