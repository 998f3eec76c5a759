"""Verification of every signature in a PDF, for ``POST /v1/pdf/verify`` and ``kyso-agent verify``.

:func:`verify_pdf` asks pyHanko about each signature field, in document (signing)
order, and condenses its answer into a :class:`~agent.pdf.verify.model.SignatureReport`
made of plain values: no pyHanko type leaves this package.

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
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Final

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.general import find_unique_cms_attribute
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import DocumentTimestampStatus, PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    PathBuildingError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.api import Fetchers, FetchLimits
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import CertificateRegistry
from pyhanko_certvalidator.validate import async_validate_path

from agent.messages import Phrase
from agent.pdf.source import PdfSource, head, opened
from agent.pdf.verify import legacy
from agent.pdf.verify.findings import signature_report, unreadable_report
from agent.pdf.verify.model import (
    NotAPdf,
    Problem,
    Revocation,
    SignatureKind,
    SignatureReport,
    VerificationReport,
)
from agent.pdf.verify.read import (
    Document,
    Found,
    HybridReferences,
    StrictSyntaxError,
    find_signatures,
    load_roots,
    open_pdf,
    parse_each,
    strictness_failure,
)

log = logging.getLogger(__name__)

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


def verify_pdf(
    pdf: PdfSource,
    trust_roots: Sequence[bytes],
    *,
    fetch_revocation: bool = True,
    timeout: float = 10.0,
) -> VerificationReport:
    """Check every signature in ``pdf`` (its bytes, or a file read as needed) against
    ``trust_roots`` (DER certificates).

    ``fetch_revocation`` allows OCSP and CRL requests (each of at most ``timeout``
    seconds). Raises :class:`NotAPdf` only when the file itself cannot be read;
    a signature that cannot be checked is reported with its problems. Blocking,
    see the module documentation.
    """
    _refuse_running_loop()
    roots = load_roots(trust_roots)
    if b"%PDF-" not in head(pdf, HEADER_WINDOW):
        raise NotAPdf(Phrase.of("verify_not_a_pdf"))
    try:
        return _verify(pdf, roots, strict=True, fetch=fetch_revocation, timeout=timeout)
    except HybridReferences:
        # Legitimate PDF 1.5 ("compatible" saves of Word and many converters), which pyHanko
        # checks only with its non-strict reader; its difference analysis then also watches
        # the hybrid streams. Not a syntax error: the report does not say so.
        log.info("the PDF has hybrid cross-references; reading it with the non-strict reader")
        return _verify(
            pdf, roots, strict=False, fetch=fetch_revocation, timeout=timeout, lenient=False
        )
    except StrictSyntaxError:
        # Real-world files often break a rule (a dangling reference, a repeated key);
        # pyHanko then reads them leniently, and so do we, saying so in every report.
        log.info("the PDF breaks syntax rules; checking it again, read leniently")
    return _verify(pdf, roots, strict=False, fetch=fetch_revocation, timeout=timeout)


def _verify(
    pdf: PdfSource,
    roots: list[asn1_x509.Certificate],
    *,
    strict: bool,
    fetch: bool,
    timeout: float,
    lenient: bool | None = None,
) -> VerificationReport:
    """``lenient``: whether to say the file was read leniently (default: when not strict)."""
    with opened(pdf) as stream:  # open while the checks read the signed ranges
        reader = open_pdf(stream, strict=strict)
        found = find_signatures(reader)
        if not found:
            return VerificationReport(())
        lenient = not strict if lenient is None else lenient
        document = Document.read(reader, found, lenient=lenient)
        checker = _Checker(roots, document, fetch=fetch, timeout=timeout)
        return VerificationReport(asyncio.run(checker.check_all(found)))


def _refuse_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop in this thread: asyncio.run may create one
    raise RuntimeError(
        "verify_pdf blocks and runs its own event loop: call it from a worker thread "
        "(asyncio.to_thread), not from a running event loop"
    )


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
        document: Document,
        *,
        fetch: bool,
        timeout: float,
    ) -> None:
        self.roots = roots
        self.document = document
        self.fetch = fetch
        self.timeout = timeout
        self.fetchers: Fetchers | None = None

    async def check_all(self, found: Sequence[Found]) -> tuple[SignatureReport, ...]:
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

    async def check(self, found: Found) -> SignatureReport:
        if found.embedded is None:
            assert found.problem is not None  # noqa: S101 — find_signatures sets one
            return unreadable_report(found, found.problem)
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
                if not self.document.lenient and strictness_failure(exc):
                    raise StrictSyntaxError from exc
                log.warning(
                    "signature %r could not be checked (%s)",
                    found.field_name,
                    "without difference analysis" if attempt.skip_diff else "trying again",
                    exc_info=True,
                )
        return unreadable_report(found, Problem.VALIDATION_ERROR, extra)

    async def _check(
        self,
        found: Found,
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
        return signature_report(
            found,
            embedded,
            status,
            document=self.document,
            revocation=revocation,
            problems=problems,
            weak=sha1_format,
        )

    def _context(
        self, embedded: EmbeddedPdfSignature, *, fetch: bool, sha1_format: bool = False
    ) -> ValidationContext:
        """A fresh context for one signature: roots, DSS and embedded data, fetching or not.

        ``sha1_format``: a format that is SHA-1 by definition. SHA-1 is then let through the
        checks, so that the report tells what else holds (chain, validity, revocation), and
        the weakness is reported on its own (:func:`.findings.signature_report`).
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


_REVOKED: Final[frozenset[AdESSubIndic]] = frozenset(
    {AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE}
)
_SIGNER_REVOCATION_REQUIRED: Final = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.NO_CHECK,
    )
)


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
    ocsps = parse_each(archival["ocsp"] if archival["ocsp"] else (), "archived OCSP")
    crls = parse_each(archival["crl"] if archival["crl"] else (), "archived CRL")
    return ocsps, crls
