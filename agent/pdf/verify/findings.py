"""pyHanko's verdict on one signature, condensed into a
:class:`~agent.pdf.verify.model.SignatureReport`: trust, validity, revocation, timestamp,
coverage, the PAdES level it carries, and the problems found.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.validation import EmbeddedPdfSignature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator.path import ValidationPath

from agent.pdf.models import SignatureLevel
from agent.pdf.verify.model import (
    B_LTA,
    Coverage,
    Modifications,
    Problem,
    Revocation,
    SignatureReport,
)
from agent.pdf.verify.read import Document, Found, issuer_serial

log = logging.getLogger(__name__)


def signature_report(
    found: Found,
    embedded: EmbeddedPdfSignature,
    status: PdfSignatureStatus | DocumentTimestampStatus,
    *,
    document: Document,
    revocation: Revocation,
    problems: list[Problem],
    weak: bool = False,
) -> SignatureReport:
    """What ``status`` says about the signature ``found`` in ``document``.

    ``problems``: found before (read leniently, difference analysis skipped); added to.
    ``weak``: the signature's format is SHA-1, which no chain can make trustworthy.
    """
    cert: asn1_x509.Certificate = status.signing_cert
    indication = status.trust_problem_indic
    path = status.validation_path
    chain_ok = bool(status.valid and indication is None and path is not None)
    trusted = chain_ok and not weak
    if weak:
        problems.append(Problem.SHA1_FORMAT)
    chain = _chain(path, cert) if path is not None else (_subject(cert),)

    if isinstance(status, DocumentTimestampStatus):
        timestamp: datetime | None = status.timestamp
        timestamp_valid: bool | None = status.intact and status.valid and trusted
        signing_time = None
        docmdp_ok = None
        level = None
    else:
        tst = status.timestamp_validity
        timestamp = tst.timestamp if tst is not None else None
        timestamp_valid = _timestamp_ok(tst) if tst is not None else None
        signing_time = status.signer_reported_dt
        docmdp_ok = status.docmdp_ok
        # PAdES levels name CMS detached signatures; the SHA-1 formats are none of them.
        level = (
            None if weak else _level(document, found, embedded, cert, has_timestamp=tst is not None)
        )
        if not status.seed_value_ok:
            problems.append(Problem.SEED_VALUE)

    coverage = _COVERAGE.get(status.coverage) if status.coverage else None
    coverage = coverage or Coverage.PARTIAL
    level_name = status.modification_level
    if level_name is None:
        modifications = (
            Modifications.NONE if coverage is Coverage.ENTIRE_DOCUMENT else Modifications.UNKNOWN
        )
    else:
        modifications = Modifications(level_name.name)

    if not status.intact:
        problems.append(Problem.DIGEST_MISMATCH)
    if not status.valid:
        problems.append(Problem.BAD_SIGNATURE)
    problems += _trust_problems(indication, cert, revocation, trusted=chain_ok)
    if revocation is Revocation.UNKNOWN:
        problems.append(Problem.REVOCATION_UNKNOWN)
    best_time = timestamp if timestamp_valid else signing_time
    problems += _validity_at(cert, best_time)
    if timestamp_valid is False:
        problems.append(Problem.TIMESTAMP_INVALID)
    if coverage is Coverage.PARTIAL:
        problems.append(Problem.PARTIAL_COVERAGE)
    elif docmdp_ok is False or modifications is Modifications.OTHER:
        problems.append(Problem.MODIFIED_AFTER)

    return SignatureReport(
        field_name=found.field_name,
        kind=found.kind,
        signer=_display_name(cert),
        signer_certificate=cert.dump(),
        signing_time=signing_time,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=trusted,
        chain=chain,
        revocation=revocation,
        timestamp=timestamp,
        timestamp_valid=timestamp_valid,
        coverage=coverage,
        modifications=modifications,
        docmdp_ok=docmdp_ok,
        level=level,
        problems=tuple(dict.fromkeys(problems)),
    )


def _level(
    document: Document,
    found: Found,
    embedded: EmbeddedPdfSignature,
    cert: asn1_x509.Certificate,
    *,
    has_timestamp: bool,
) -> str:
    in_dss = issuer_serial(cert) in document.dss_cert_ids or _vri_key(embedded) in (
        document.dss_vri
    )
    if in_dss:
        archived = (
            document.last_document_timestamp is not None
            and document.last_document_timestamp > found.revision
        )
        return B_LTA if archived else SignatureLevel.B_LT.value
    return SignatureLevel.B_T.value if has_timestamp else SignatureLevel.B_B.value


def unreadable_report(
    found: Found, problem: Problem, extra: Sequence[Problem] = ()
) -> SignatureReport:
    """A report for a signature that could not be checked at all."""
    cert: asn1_x509.Certificate | None = None
    signing_time = None
    if found.embedded is not None:
        try:
            cert = found.embedded.signer_cert
            signing_time = found.embedded.self_reported_timestamp
        except Exception:  # hostile input: show what can be read, if anything
            log.debug("no signer certificate in %r", found.field_name, exc_info=True)
    return SignatureReport(
        field_name=found.field_name,
        kind=found.kind,
        signer=_display_name(cert) if cert is not None else "",
        signer_certificate=cert.dump() if cert is not None else b"",
        signing_time=signing_time,
        intact=False,
        valid=False,
        trusted=False,
        chain=(_subject(cert),) if cert is not None else (),
        revocation=Revocation.NOT_CHECKED,
        timestamp=None,
        timestamp_valid=None,
        coverage=Coverage.PARTIAL,
        modifications=Modifications.UNKNOWN,
        docmdp_ok=None,
        level=None,
        problems=(problem, *extra),
    )


_EXPIRED: Final[frozenset[AdESSubIndic]] = frozenset(
    {
        AdESIndeterminate.EXPIRED,
        AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
        AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    }
)
_NOT_YET_VALID: Final[frozenset[AdESSubIndic]] = frozenset(
    {AdESFailure.NOT_YET_VALID, AdESIndeterminate.NOT_YET_VALID}
)
_WEAK: Final[frozenset[AdESSubIndic]] = frozenset(
    {
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    }
)
_CONSTRAINTS: Final[frozenset[AdESSubIndic]] = frozenset(
    {AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE, AdESIndeterminate.SIG_CONSTRAINTS_FAILURE}
)
_STALE: Final[frozenset[AdESSubIndic]] = frozenset(
    {AdESIndeterminate.TRY_LATER, AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE}
)
_COVERAGE: Final = {
    SignatureCoverageLevel.ENTIRE_FILE: Coverage.ENTIRE_DOCUMENT,
    SignatureCoverageLevel.ENTIRE_REVISION: Coverage.ENTIRE_REVISION,
}


def _trust_problems(
    indication: AdESSubIndic | None,
    cert: asn1_x509.Certificate,
    revocation: Revocation,
    *,
    trusted: bool,
) -> list[Problem]:
    problems: list[Problem] = []
    if revocation is Revocation.REVOKED:
        problems.append(Problem.REVOKED)
    elif indication in _EXPIRED or indication in _NOT_YET_VALID:
        not_before = cert["tbs_certificate"]["validity"]["not_before"].native
        early = indication in _NOT_YET_VALID or datetime.now(UTC) < not_before
        problems.append(Problem.CERTIFICATE_NOT_YET_VALID if early else Problem.CERTIFICATE_EXPIRED)
    elif indication in _WEAK:
        problems.append(Problem.WEAK_ALGORITHM)
    elif indication in _CONSTRAINTS:
        problems.append(Problem.KEY_USAGE)
    elif indication in _STALE:
        problems.append(Problem.REVOCATION_UNKNOWN)
    if not trusted and revocation is not Revocation.REVOKED and not problems:
        # Only when nothing above explains it: an expired certificate of a trusted CA is
        # expired, not "from an untrusted CA".
        problems.append(Problem.UNTRUSTED)
    return problems


def _validity_at(cert: asn1_x509.Certificate, moment: datetime | None) -> list[Problem]:
    """Whether the certificate was valid at the (best known) signing time."""
    if moment is None:
        return []
    validity = cert["tbs_certificate"]["validity"]
    try:
        not_before: datetime = validity["not_before"].native
        not_after: datetime = validity["not_after"].native
    except ValueError:
        return []
    if moment > not_after:
        return [Problem.EXPIRED_AT_SIGNING]
    if moment < not_before:
        return [Problem.NOT_YET_VALID_AT_SIGNING]
    return []


def _timestamp_ok(status: TimestampSignatureStatus) -> bool:
    return bool(status.intact and status.valid and status.trusted)


def _vri_key(embedded: EmbeddedPdfSignature) -> str:
    key: str = DocumentSecurityStore.sig_content_identifier(embedded.pkcs7_content)
    return str(key).lstrip("/").upper()


def _chain(path: ValidationPath, cert: asn1_x509.Certificate) -> tuple[str, ...]:
    """Subjects from the signer to the root."""
    certs = list(path.iter_certs(include_root=True))
    if not certs:
        return (_subject(cert),)
    return tuple(_subject(c) for c in reversed(certs))


def _subject(cert: asn1_x509.Certificate) -> str:
    try:
        return x509.load_der_x509_certificate(cert.dump()).subject.rfc4514_string()
    except ValueError:
        human: str = cert.subject.human_friendly
        return human


def _display_name(cert: asn1_x509.Certificate) -> str:
    """The holder's common name; the whole subject if there is none."""
    try:
        subject = x509.load_der_x509_certificate(cert.dump()).subject
        names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return _subject(cert)
    if names and isinstance(names[0].value, str) and names[0].value.strip():
        return names[0].value.strip()
    return subject.rfc4514_string()
