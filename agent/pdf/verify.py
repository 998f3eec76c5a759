"""Verification of every signature in a PDF, for ``POST /v1/pdf/verify`` and ``kyso-agent verify``.

:func:`verify_pdf` asks pyHanko about each signature field, in document (signing)
order, and condenses its answer into a :class:`SignatureReport` made of plain
values: no pyHanko type leaves this module. :func:`report_to_json` gives the wire
form, :func:`report_to_text` the report a person reads (Vietnamese or English).

What is checked, per signature:

* integrity: the digest of the signed byte ranges matches the signed one;
* the signature value itself, over the signed attributes;
* trust: the signer's certificate chains to one of the roots the caller gives,
  with a key usage fit for signing (digitalSignature or nonRepudiation: Vietnamese
  CAs issue either), valid now;
* revocation of the signer's certificate, from OCSP responses and CRLs embedded in
  the document (DSS, Adobe-style signed attribute) and, when allowed, fetched from
  the URLs in the certificates ("soft-fail": an unreachable responder does not
  make the signature untrusted, it makes the revocation status ``unknown``);
* the signature timestamp (RFC 3161) if there is one, against the same roots;
* what changed in the document after the signature (pyHanko's difference
  analysis): more signatures, form filling and long-term validation data are
  allowed, anything else (a changed page, say) is not.

Network: revocation data is fetched only for certificates whose chain reached a
configured root, and never to complete a chain: the ``caIssuers`` URLs of a
document's certificates are not followed, so a hostile PDF cannot make the agent
request arbitrary URLs. Each request has ``timeout`` seconds, a document at most
:data:`MAX_FETCHES` requests (signatures by one CA share the answers), and a
signature whose checks take longer than :data:`TIMEOUTS_PER_SIGNATURE` timeouts is
checked again offline (its revocation status is then ``unknown``).

Limitations: validation is at the current time (PAdES point-in-time validation of
old B-LT/B-LTA documents from their embedded data, as an archive would do, is not
attempted); the level is a guess from what the signature carries.

:func:`verify_pdf` blocks: it runs pyHanko's coroutines with :func:`asyncio.run`,
which creates an event loop of its own. That is fine from the command line and
from a worker thread (the server calls it through :func:`asyncio.to_thread`), and
raises ``RuntimeError`` if called from a thread whose event loop is running.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from io import BytesIO
from typing import Any, Final

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus
from pyhanko.pdf_utils.misc import PdfStrictReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.general import find_unique_cms_attribute
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    PathBuildingError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.api import Fetchers, FetchLimits
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import CertificateRegistry
from pyhanko_certvalidator.validate import async_validate_path

from agent import messages
from agent.messages import DEFAULT_LANG, Lang, Phrase
from agent.pdf import legacy
from agent.pdf.models import SignatureLevel

log = logging.getLogger(__name__)

B_LTA: Final = "B-LTA"
"""A B-LT signature whose validation data a later document timestamp covers."""
MAX_FETCHES: Final = 24
"""OCSP and CRL requests for one document; answers are shared between its signatures."""
TIMEOUTS_PER_SIGNATURE: Final = 4
"""A signature's checks may take this many ``timeout`` periods before they go offline."""
HEADER_WINDOW: Final = 1024
"""Readers accept the ``%PDF-`` header anywhere in the first kilobyte."""

# Vietnamese CAs issue signing certificates with either bit (see agent.pdf.signer).
_SIGNING_KEY_USAGE: Final = KeyUsageConstraints(
    key_usage=frozenset({"digital_signature", "non_repudiation"}),
    match_all_key_usages=False,
)
_OBSOLETE_HASHES: Final = frozenset({"md2", "md5"})
"""Refused even in the SHA-1 formats (pyHanko's default list also refuses SHA-1)."""
_SIGNATURE_SUBFILTERS: Final = frozenset(
    {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", *legacy.SUBFILTERS}
)
_TIMESTAMP_SUBFILTERS: Final = frozenset({"/ETSI.RFC3161"})


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


def verify_pdf(
    pdf: bytes,
    trust_roots: Sequence[bytes],
    *,
    fetch_revocation: bool = True,
    timeout: float = 10.0,
) -> VerificationReport:
    """Check every signature in ``pdf`` against ``trust_roots`` (DER certificates).

    ``fetch_revocation`` allows OCSP and CRL requests (each of at most ``timeout``
    seconds). Raises :class:`NotAPdf` only when the file itself cannot be read;
    a signature that cannot be checked is reported with its problems. Blocking,
    see the module documentation.
    """
    _refuse_running_loop()
    roots = _load_roots(trust_roots)
    if b"%PDF-" not in pdf[:HEADER_WINDOW]:
        raise NotAPdf(Phrase.of("verify_not_a_pdf"))
    try:
        return _verify(pdf, roots, strict=True, fetch=fetch_revocation, timeout=timeout)
    except _HybridReferences:
        # Legitimate PDF 1.5 ("compatible" saves of Word and many converters), which pyHanko
        # checks only with its non-strict reader; its difference analysis then also watches
        # the hybrid streams. Not a syntax error: the report does not say so.
        log.info("the PDF has hybrid cross-references; reading it with the non-strict reader")
        return _verify(
            pdf, roots, strict=False, fetch=fetch_revocation, timeout=timeout, lenient=False
        )
    except _StrictSyntaxError:
        # Real-world files often break a rule (a dangling reference, a repeated key);
        # pyHanko then reads them leniently, and so do we, saying so in every report.
        log.info("the PDF breaks syntax rules; checking it again, read leniently")
    return _verify(pdf, roots, strict=False, fetch=fetch_revocation, timeout=timeout)


class _StrictSyntaxError(Exception):
    """The strict reading failed somewhere: start again with a lenient reader."""


class _HybridReferences(Exception):
    """The file has hybrid cross-references, which pyHanko's strict reader refuses."""


def _verify(
    pdf: bytes,
    roots: list[asn1_x509.Certificate],
    *,
    strict: bool,
    fetch: bool,
    timeout: float,
    lenient: bool | None = None,
) -> VerificationReport:
    """``lenient``: whether to say the file was read leniently (default: when not strict)."""
    reader = _open(pdf, strict=strict)
    found = _find_signatures(reader)
    if not found:
        return VerificationReport(())
    lenient = not strict if lenient is None else lenient
    document = _Document.read(reader, found, lenient=lenient)
    checker = _Checker(roots, document, fetch=fetch, timeout=timeout)
    return VerificationReport(asyncio.run(checker.check_all(found)))


def _strictness_failure(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by the strict reader (pyHanko sometimes wraps it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PdfStrictReadError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _refuse_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop in this thread: asyncio.run may create one
    raise RuntimeError(
        "verify_pdf blocks and runs its own event loop: call it from a worker thread "
        "(asyncio.to_thread), not from a running event loop"
    )


# -- JSON and text ----------------------------------------------------------------------------


def report_to_json(report: VerificationReport) -> dict[str, Any]:
    """The wire form: camelCase keys, ISO 8601 times, base64 certificates, ``allValid``."""
    return {
        "allValid": report.all_valid,
        "signatures": [_signature_to_json(s) for s in report.signatures],
    }


def _signature_to_json(s: SignatureReport) -> dict[str, Any]:
    return {
        "fieldName": s.field_name,
        "kind": s.kind.value,
        "signer": s.signer,
        "signerCertificate": (
            base64.b64encode(s.signer_certificate).decode() if s.signer_certificate else None
        ),
        "signingTime": _iso(s.signing_time),
        "intact": s.intact,
        "valid": s.valid,
        "trusted": s.trusted,
        "chain": list(s.chain),
        "revocation": s.revocation.value,
        "timestamp": _iso(s.timestamp),
        "timestampValid": s.timestamp_valid,
        "coverage": s.coverage.value,
        "modifications": s.modifications.value,
        "docmdpOk": s.docmdp_ok,
        "level": s.level,
        "problems": [p.value for p in s.problems],
        "ok": s.ok,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _text(key: str, lang: Lang, **values: object) -> str:
    return messages.text(key, lang, **values)


def report_to_text(report: VerificationReport, lang: str = "vi") -> str:
    """A report for people, in Vietnamese (default) or English: one block per signature."""
    try:
        chosen = Lang(lang)
    except ValueError:
        chosen = DEFAULT_LANG
    lines: list[str] = []
    if not report.signatures:
        lines += [_text("verify_none", chosen), _text("verify_no_signature_verdict", chosen)]
        return "\n".join(lines) + "\n"
    lines.append(_text("verify_count", chosen, count=len(report.signatures)))
    verdict = "verify_all_valid" if report.all_valid else "verify_not_all_valid"
    lines.append(_text(verdict, chosen))
    for index, signature in enumerate(report.signatures, 1):
        lines.append("")
        lines += _signature_lines(index, signature, chosen)
    return "\n".join(lines) + "\n"


def _signature_lines(index: int, s: SignatureReport, lang: Lang) -> list[str]:
    def mark(good: bool | None, key: str, **values: object) -> str:
        symbol = {True: "✓", False: "✗", None: "•"}[good]
        return f"  {symbol} {_text(key, lang, **values)}"

    heading = (
        "verify_heading_timestamp"
        if s.kind is SignatureKind.DOCUMENT_TIMESTAMP
        else "verify_heading"
    )
    signer = s.signer or _text("verify_unknown_signer", lang)
    lines = [
        _text(heading, lang, index=index, signer=signer),
        f"  {_text('verify_ok' if s.ok else 'verify_not_ok', lang)}",
        f"    {_text('verify_field', lang, name=s.field_name)}",
        mark(s.intact, "verify_intact" if s.intact else "verify_not_intact"),
        mark(s.valid, "verify_valid" if s.valid else "verify_not_valid"),
    ]
    if s.trusted:
        lines.append(mark(True, "verify_trusted", root=_short_name(s.chain[-1] if s.chain else "")))
    else:
        lines.append(mark(False, "verify_untrusted"))
    revocation: dict[Revocation, tuple[bool | None, str]] = {
        Revocation.GOOD: (True, "verify_revocation_good"),
        Revocation.REVOKED: (False, "verify_revocation_revoked"),
        Revocation.UNKNOWN: (None, "verify_revocation_unknown"),
        Revocation.NOT_CHECKED: (None, "verify_revocation_not_checked"),
    }
    lines.append(mark(*revocation[s.revocation]))
    if s.kind is SignatureKind.SIGNATURE:
        if s.signing_time is None:
            lines.append(f"    {_text('verify_no_signing_time', lang)}")
        else:
            when = _format_time(s.signing_time, lang)
            lines.append(f"    {_text('verify_signing_time', lang, time=when)}")
    if s.timestamp is None:
        lines.append(mark(None, "verify_no_timestamp"))
    else:
        when = _format_time(s.timestamp, lang)
        key = "verify_timestamp_valid" if s.timestamp_valid else "verify_timestamp_invalid"
        lines.append(mark(bool(s.timestamp_valid), key, time=when))
    lines.append(_coverage_line(s, lang, mark))
    if s.level:
        lines.append(f"    {_text('verify_level', lang, level=s.level)}")
    if s.problems:
        described = "; ".join(
            _text("verify_problem_" + p.value.replace("-", "_"), lang) for p in s.problems
        )
        lines.append(f"    {_text('verify_problems', lang, problems=described)}")
    return lines


def _coverage_line(s: SignatureReport, lang: Lang, mark: Any) -> str:
    what_key = {
        Modifications.LTA_UPDATES: "verify_modified_lta",
        Modifications.FORM_FILLING: "verify_modified_form",
        Modifications.ANNOTATIONS: "verify_modified_annotations",
        Modifications.OTHER: "verify_modified_other",
        Modifications.UNKNOWN: "verify_modified_unknown",
    }
    line: str
    if s.coverage is Coverage.PARTIAL:
        line = mark(False, "verify_coverage_partial")
    elif s.coverage is Coverage.ENTIRE_DOCUMENT or s.modifications is Modifications.NONE:
        line = mark(True, "verify_coverage_entire")
    elif s.modifications_allowed:
        what = _text(what_key[s.modifications], lang)
        line = mark(True, "verify_coverage_revision", what=what)
    else:
        what = _text(what_key.get(s.modifications, "verify_modified_other"), lang)
        line = mark(False, "verify_coverage_modified", what=what)
    return line


def _format_time(moment: datetime, lang: Lang) -> str:
    local = moment.astimezone()
    raw = local.strftime("%z") or "+0000"
    offset = f"{raw[:3]}:{raw[3:5]}"
    return _text("verify_time", lang, moment=local, offset=offset)


# -- reading the document ---------------------------------------------------------------------


def _load_roots(trust_roots: Sequence[bytes]) -> list[asn1_x509.Certificate]:
    roots = []
    for index, der in enumerate(trust_roots):
        try:
            root = asn1_x509.Certificate.load(der)
            root.native  # noqa: B018 — asn1crypto parses lazily; fail here, not mid-validation
        except ValueError as exc:
            raise ValueError(f"trust root #{index + 1} is not a DER certificate") from exc
        roots.append(root)
    return roots


def _open(pdf: bytes, *, strict: bool) -> PdfFileReader:
    """A reader over ``pdf``, its catalogue read."""
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=strict)
        # Encrypted with an owner password only (printing or copying restricted), a file
        # opens without a password, in any reader and here.
        opened = not reader.encrypted or reader.decrypt("").status is not AuthStatus.FAILED
        if opened:
            reader.root  # noqa: B018 — resolve the catalogue now
    except Exception as exc:  # hostile input: any parser failure means unreadable
        if strict and _strictness_failure(exc):
            raise _StrictSyntaxError from exc
        log.debug("unreadable PDF", exc_info=True)
        raise NotAPdf(Phrase.of("verify_damaged"), _describe(exc)) from exc
    if not opened:
        raise NotAPdf(Phrase.of("verify_password"))
    if strict and reader.xrefs.hybrid_xrefs_present:
        raise _HybridReferences
    return reader


_UNKNOWN_REVISION: Final = 1 << 30
"""Sorts a signature whose revision cannot be told after all the others."""


@dataclass(frozen=True)
class _Found:
    """A filled signature field, read as far as possible."""

    field_name: str
    kind: SignatureKind
    revision: int
    embedded: EmbeddedPdfSignature | None
    problem: Problem | None = None
    """Why ``embedded`` is ``None``."""


def _find_signatures(reader: PdfFileReader) -> list[_Found]:
    """Every filled signature field, in signing order (pyHanko's order: by revision)."""
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # hostile input: a broken form is an unreadable file
        if reader.strict and _strictness_failure(exc):
            raise _StrictSyntaxError from exc
        log.debug("unreadable form fields", exc_info=True)
        raise NotAPdf(Phrase.of("verify_damaged"), f"form fields: {_describe(exc)}") from exc
    found = []
    for field_name, value, field in fields:
        kind = SignatureKind.SIGNATURE
        revision = _UNKNOWN_REVISION
        try:
            value_obj = value.get_object()
            if value_obj.get("/Type") == "/DocTimeStamp":
                kind = SignatureKind.DOCUMENT_TIMESTAMP
            if isinstance(value, generic.IndirectObject):
                revision = reader.xrefs.get_last_change(value.reference)
            subfilter = str(value_obj.get("/SubFilter", ""))
            allowed = (
                _TIMESTAMP_SUBFILTERS
                if kind is SignatureKind.DOCUMENT_TIMESTAMP
                else _SIGNATURE_SUBFILTERS
            )
            if subfilter not in allowed:
                found.append(_Found(str(field_name), kind, revision, None, Problem.UNSUPPORTED))
                continue
            if subfilter in legacy.SUBFILTERS:
                embedded = legacy.embedded_signature(reader, field, str(field_name), subfilter)
            else:
                embedded = EmbeddedPdfSignature(reader, field, str(field_name))
        except Exception as exc:  # hostile input: report this signature as unreadable
            if reader.strict and _strictness_failure(exc):
                raise _StrictSyntaxError from exc
            log.debug("unreadable signature in field %r", field_name, exc_info=True)
            found.append(_Found(str(field_name), kind, revision, None, Problem.MALFORMED))
            continue
        found.append(_Found(str(field_name), kind, embedded.signed_revision, embedded))
    found.sort(key=lambda f: f.revision)
    return found


@dataclass(frozen=True)
class _Document:
    """What the document holds beyond the signatures: validation data, timestamps."""

    dss_certs: tuple[asn1_x509.Certificate, ...]
    dss_ocsps: tuple[asn1_ocsp.OCSPResponse, ...]
    dss_crls: tuple[asn1_crl.CertificateList, ...]
    dss_cert_ids: frozenset[bytes]
    """``issuer_serial`` of every DSS certificate."""
    dss_vri: frozenset[str]
    """VRI keys (upper-case hex SHA-1 of a signature's /Contents)."""
    last_document_timestamp: int | None
    """Revision of the last document timestamp."""
    lenient: bool

    @classmethod
    def read(cls, reader: PdfFileReader, found: Iterable[_Found], *, lenient: bool) -> _Document:
        certs: list[asn1_x509.Certificate] = []
        ocsps: list[asn1_ocsp.OCSPResponse] = []
        crls: list[asn1_crl.CertificateList] = []
        vri: set[str] = set()
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except Exception as exc:  # no DSS, or a broken one: no validation data
            if not lenient and _strictness_failure(exc):
                raise _StrictSyntaxError from exc
            dss = None
        if dss is not None:
            certs = _each(dss.load_certs(), "DSS certificate")
            ocsps = _each((asn1_ocsp.OCSPResponse.load(_stream(r)) for r in dss.ocsps), "DSS OCSP")
            crls = _each((asn1_crl.CertificateList.load(_stream(r)) for r in dss.crls), "DSS CRL")
            vri = {str(key).lstrip("/").upper() for key in dss.vri_entries}
        timestamps = [f.revision for f in found if f.kind is SignatureKind.DOCUMENT_TIMESTAMP]
        return cls(
            dss_certs=tuple(certs),
            dss_ocsps=tuple(ocsps),
            dss_crls=tuple(crls),
            dss_cert_ids=frozenset(_issuer_serial(c) for c in certs),
            dss_vri=frozenset(vri),
            last_document_timestamp=max(timestamps) if timestamps else None,
            lenient=lenient,
        )


def _stream(ref: Any) -> bytes:
    data: bytes = ref.get_object().data
    return data


def _each(items: Iterable[Any], what: str) -> list[Any]:
    """Parse lazily produced items, skipping (and logging) broken ones."""
    result = []
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
            item.native  # noqa: B018 — force asn1crypto's lazy parse
        except StopIteration:
            break
        except Exception:  # hostile input: skip what cannot be parsed
            log.debug("skipping a broken %s", what, exc_info=True)
            continue
        result.append(item)
    return result


def _issuer_serial(cert: asn1_x509.Certificate) -> bytes:
    value: bytes = cert.issuer_serial
    return value


# -- checking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    fetch: bool
    skip_diff: bool


class _Checker:
    """Checks the signatures of one document, within one event loop."""

    def __init__(
        self,
        roots: list[asn1_x509.Certificate],
        document: _Document,
        *,
        fetch: bool,
        timeout: float,
    ) -> None:
        self.roots = roots
        self.document = document
        self.fetch = fetch
        self.timeout = timeout
        self.fetchers: Fetchers | None = None

    async def check_all(self, found: Sequence[_Found]) -> tuple[SignatureReport, ...]:
        backend = None
        if self.fetch:
            backend = AIOHttpFetcherBackend(
                per_request_timeout=self.timeout,
                limits=FetchLimits(
                    max_requests=MAX_FETCHES, max_cert_requests=0, max_aia_urls_per_object=2
                ),
            )
            # One set of fetchers for the document: signatures from one CA share its answers.
            self.fetchers = backend.get_fetchers()
        try:
            return tuple([await self.check(f) for f in found])
        finally:
            if backend is not None:
                await backend.close()  # type: ignore[no-untyped-call]

    async def check(self, found: _Found) -> SignatureReport:
        if found.embedded is None:
            assert found.problem is not None  # noqa: S101 — _find_signatures sets one
            return self._unreadable(found, found.problem)
        extra: list[Problem] = [Problem.LENIENT_SYNTAX] if self.document.lenient else []
        # Online first; offline if that takes too long; without the difference analysis
        # if that is what fails (its findings are then "unknown", not "fine").
        attempts = [_Attempt(fetch=False, skip_diff=False), _Attempt(fetch=False, skip_diff=True)]
        if self.fetch:
            attempts.insert(0, _Attempt(fetch=True, skip_diff=False))
        for attempt in attempts:
            try:
                return await self._check(found, found.embedded, attempt, extra)
            except TimeoutError:
                log.info("signature %r: checks timed out; again offline", found.field_name)
            except Exception as exc:  # hostile input: pyHanko fails in many ways
                if not self.document.lenient and _strictness_failure(exc):
                    raise _StrictSyntaxError from exc
                log.warning(
                    "signature %r could not be checked (%s)",
                    found.field_name,
                    "without difference analysis" if attempt.skip_diff else "trying again",
                    exc_info=True,
                )
        return self._unreadable(found, Problem.VALIDATION_ERROR, extra)

    async def _check(
        self,
        found: _Found,
        embedded: EmbeddedPdfSignature,
        attempt: _Attempt,
        extra: list[Problem],
    ) -> SignatureReport:
        sha1_format = str(embedded.sig_object.get("/SubFilter", "")) in legacy.SUBFILTERS
        context = self._context(embedded, fetch=attempt.fetch, sha1_format=sha1_format)
        validation: Coroutine[Any, Any, PdfSignatureStatus | DocumentTimestampStatus]
        if found.kind is SignatureKind.DOCUMENT_TIMESTAMP:
            validation = async_validate_pdf_timestamp(
                embedded, validation_context=context, skip_diff=attempt.skip_diff
            )
        elif sha1_format:
            validation = legacy.validate(
                embedded,
                validation_context=context,
                key_usage_settings=_SIGNING_KEY_USAGE,
                skip_diff=attempt.skip_diff,
            )
        else:
            validation = async_validate_pdf_signature(
                embedded,
                signer_validation_context=context,
                key_usage_settings=_SIGNING_KEY_USAGE,
                skip_diff=attempt.skip_diff,
            )
        # Each request is bounded by the fetchers; this bounds their sum for one signature.
        budget = self.timeout * TIMEOUTS_PER_SIGNATURE if attempt.fetch else None
        status: PdfSignatureStatus | DocumentTimestampStatus = await asyncio.wait_for(
            validation, budget
        )
        # After a timeout the offline attempt still counts as having looked.
        revocation = await self._revocation(status, context, fetched=self.fetch)
        problems = list(extra)
        if attempt.skip_diff:
            problems.append(Problem.MODIFICATIONS_UNCHECKED)
        return self._report(found, embedded, status, revocation, problems, weak=sha1_format)

    def _context(
        self, embedded: EmbeddedPdfSignature, *, fetch: bool, sha1_format: bool = False
    ) -> ValidationContext:
        """A fresh context for one signature: roots, DSS and embedded data, fetching or not.

        ``sha1_format``: a format that is SHA-1 by definition. SHA-1 is then let through the
        checks, so that the report tells what else holds (chain, validity, revocation), and
        the weakness is reported on its own (:meth:`_report`).
        """
        ocsps = list(self.document.dss_ocsps)
        crls = list(self.document.dss_crls)
        archived_ocsps, archived_crls = _adobe_revinfo(embedded.signer_info)
        ocsps += archived_ocsps
        crls += archived_crls
        # No certificate fetcher: chains are built from what the document and the roots hold.
        registry = CertificateRegistry.build(self.document.dss_certs, cert_fetcher=None)
        fetchers = self.fetchers if fetch else None
        return ValidationContext(
            trust_roots=list(self.roots),
            certificate_registry=registry,
            allow_fetching=fetchers is not None,
            fetchers=fetchers,
            ocsps=ocsps,
            crls=crls,
            revocation_mode="soft-fail",
            weak_hash_algos=_OBSOLETE_HASHES if sha1_format else None,
        )

    async def _revocation(
        self,
        status: PdfSignatureStatus | DocumentTimestampStatus,
        context: ValidationContext,
        *,
        fetched: bool,
    ) -> Revocation:
        indication = status.trust_problem_indic
        if status.revocation_details is not None or indication in _REVOKED:
            return Revocation.REVOKED
        path = status.validation_path
        if not status.valid or indication is not None or path is None:
            return Revocation.NOT_CHECKED
        ocsps, crls = list(context.ocsps), list(context.crls)
        if not ocsps and not crls:
            return Revocation.UNKNOWN if fetched else Revocation.NOT_CHECKED
        # pyHanko's soft-fail verdict does not say whether an answer was found; ask again,
        # from the data gathered, with an answer about the signer's certificate required.
        strict = ValidationContext(
            trust_roots=list(self.roots),
            other_certs=list(path.iter_certs(include_root=True)),
            ocsps=ocsps,
            crls=crls,
            allow_fetching=False,
            revinfo_policy=_SIGNER_REVOCATION_REQUIRED,
        )
        try:
            await async_validate_path(strict, path)
        except RevokedError:
            return Revocation.REVOKED
        except (ValidationError, PathBuildingError):
            return Revocation.UNKNOWN
        return Revocation.GOOD

    def _report(
        self,
        found: _Found,
        embedded: EmbeddedPdfSignature,
        status: PdfSignatureStatus | DocumentTimestampStatus,
        revocation: Revocation,
        problems: list[Problem],
        *,
        weak: bool = False,
    ) -> SignatureReport:
        """``weak``: the signature's format is SHA-1, which no chain can make trustworthy."""
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
                None if weak else self._level(found, embedded, cert, has_timestamp=tst is not None)
            )
            if not status.seed_value_ok:
                problems.append(Problem.SEED_VALUE)

        coverage = _COVERAGE.get(status.coverage) if status.coverage else None
        coverage = coverage or Coverage.PARTIAL
        level_name = status.modification_level
        if level_name is None:
            modifications = (
                Modifications.NONE
                if coverage is Coverage.ENTIRE_DOCUMENT
                else Modifications.UNKNOWN
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
        self,
        found: _Found,
        embedded: EmbeddedPdfSignature,
        cert: asn1_x509.Certificate,
        *,
        has_timestamp: bool,
    ) -> str:
        document = self.document
        in_dss = _issuer_serial(cert) in document.dss_cert_ids or _vri_key(embedded) in (
            document.dss_vri
        )
        if in_dss:
            archived = (
                document.last_document_timestamp is not None
                and document.last_document_timestamp > found.revision
            )
            return B_LTA if archived else SignatureLevel.B_LT.value
        return SignatureLevel.B_T.value if has_timestamp else SignatureLevel.B_B.value

    def _unreadable(
        self, found: _Found, problem: Problem, extra: Sequence[Problem] = ()
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


_REVOKED: Final[frozenset[AdESSubIndic]] = frozenset(
    {AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE}
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
_SIGNER_REVOCATION_REQUIRED: Final = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.NO_CHECK,
    )
)


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


def _adobe_revinfo(
    signer_info: cms.SignerInfo,
) -> tuple[list[asn1_ocsp.OCSPResponse], list[asn1_crl.CertificateList]]:
    """OCSP responses and CRLs in the signed ``adbe-revocationInfoArchival`` attribute."""
    try:
        archival = find_unique_cms_attribute(
            signer_info["signed_attrs"], "adobe_revocation_info_archival"
        )
    except Exception:  # noqa: BLE001 — absent, repeated or malformed: nothing usable
        return [], []
    ocsps = _each(archival["ocsp"] if archival["ocsp"] else (), "archived OCSP")
    crls = _each(archival["crl"] if archival["crl"] else (), "archived CRL")
    return ocsps, crls


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


def _short_name(rfc4514: str) -> str:
    """The common name in an RFC 4514 subject, for people; the subject if it has none."""
    try:
        names = x509.Name.from_rfc4514_string(rfc4514).get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return rfc4514
    return str(names[0].value) if names else rfc4514


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
