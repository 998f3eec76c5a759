"""The two older signature formats of PDF: ``adbe.pkcs7.sha1`` and ``adbe.x509.rsa_sha1``.

Documents signed before SHA-256 became the rule (Vietnamese ones among them: tax returns and
decisions from the early 2010s) carry these. pyHanko validates only the detached formats
(``adbe.pkcs7.detached``, ``ETSI.CAdES.detached``); asked about these it raises, which a
verifier must not report as "the document was altered". This module checks them with
pyHanko's own parts, the way their definitions (ISO 32000-1, 12.8.3.2 and 12.8.3.3) say:

``adbe.pkcs7.sha1``
    The CMS *encapsulates* its content: the SHA-1 digest of the signed byte ranges. The
    document is intact when that digest matches the file; the CMS signature is checked over
    the encapsulated digest, as any CMS with content.
``adbe.x509.rsa_sha1``
    No CMS at all: ``/Contents`` holds a PKCS#1 RSA signature (a DER OCTET STRING, or the
    bare value from some producers) over the SHA-1 digest of the byte ranges, and ``/Cert``
    the signer's certificate, then the chain. It is wrapped here into the CMS it is
    equivalent to (detached, no signed attributes), so that trust, key usage, revocation,
    coverage and the difference analysis run exactly as for the other formats.

SHA-1 is weak (collisions can be made): pyHanko's algorithm policy reports it, so such a
signature is never called trusted, but an intact document is reported intact and a valid
signature valid.
"""

from __future__ import annotations

from typing import Any, Final

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import extract_signer_info
from pyhanko.sign.validation import EmbeddedPdfSignature, generic_cms
from pyhanko.sign.validation.pdf_embedded import report_seed_value_validation
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

PKCS7_SHA1: Final = "/adbe.pkcs7.sha1"
X509_RSA_SHA1: Final = "/adbe.x509.rsa_sha1"
SUBFILTERS: Final = frozenset({PKCS7_SHA1, X509_RSA_SHA1})


class LegacyFormatError(ValueError):
    """The signature dictionary does not hold what its ``/SubFilter`` promises."""


def embedded_signature(
    reader: PdfFileReader, field: generic.DictionaryObject, name: str, subfilter: str
) -> EmbeddedPdfSignature:
    """pyHanko's view of the signature in ``field``, for either legacy format."""
    if subfilter == X509_RSA_SHA1:
        return _X509RsaSha1Signature(reader, field, name)
    return EmbeddedPdfSignature(reader, field, name)


async def validate(
    embedded: EmbeddedPdfSignature,
    *,
    validation_context: ValidationContext,
    key_usage_settings: KeyUsageConstraints,
    skip_diff: bool,
) -> PdfSignatureStatus:
    """What ``pyhanko.sign.validation.async_validate_pdf_signature`` answers for the detached
    formats, for a legacy one: integrity, coverage and changes, timing, trust."""
    embedded.compute_integrity_info(skip_diff=skip_diff)  # type: ignore[no-untyped-call]
    status: dict[str, Any] = embedded.summarise_integrity_info()
    status.update(
        await generic_cms.collect_timing_info(
            embedded.signer_info, validation_context, raw_digest=embedded.compute_digest
        )
    )
    if "signer_reported_dt" not in status and embedded.self_reported_timestamp is not None:
        status["signer_reported_dt"] = embedded.self_reported_timestamp
    encapsulated = _encapsulated_digest(embedded)
    status = await generic_cms.cms_basic_validation(
        embedded.signed_data,
        # None: the CMS covers its encapsulated content, which pyHanko digests itself.
        raw_digest=None if encapsulated is not None else embedded.compute_digest(),
        validation_context=validation_context,
        status_kwargs=status,
        key_usage_settings=PdfSignatureStatus.default_usage_constraints(key_usage_settings),
    )
    if encapsulated is not None:
        # The CMS vouches for the digest it holds; the file must still have that digest.
        status["intact"] = bool(status["intact"]) and (
            embedded.compute_digest("sha1") == encapsulated
        )
    tst = status.get("timestamp_validity")
    status.update(
        report_seed_value_validation(
            embedded,
            status["validation_path"],
            tst is not None and tst.valid and tst.trusted,
        )
    )
    status.update(
        await generic_cms.collect_signer_attr_status(
            sd_attr_certificates=embedded.embedded_attr_certs,
            signer_cert=embedded.signer_cert,
            validation_context=None,
            sd_signed_attrs=embedded.signer_info["signed_attrs"],
        )
    )
    return PdfSignatureStatus(**status)


def _encapsulated_digest(embedded: EmbeddedPdfSignature) -> bytes | None:
    """The SHA-1 digest an ``adbe.pkcs7.sha1`` CMS carries, ``None`` for a detached CMS."""
    content = embedded.signed_data["encap_content_info"]["content"]
    if content is core.VOID or content is None:
        return None
    raw = content.native
    if not isinstance(raw, bytes) or len(raw) != 20:
        raise LegacyFormatError("adbe.pkcs7.sha1: the CMS does not hold a SHA-1 digest")
    return raw


class _X509RsaSha1Signature(EmbeddedPdfSignature):
    """An ``adbe.x509.rsa_sha1`` signature seen as the detached CMS it is equivalent to.

    pyHanko's constructor parses ``/Contents`` as CMS, which this format is not; this one
    sets the same attributes from a CMS built of ``/Cert`` and the PKCS#1 value (pyHanko is
    pinned in the lock, and the tests check these signatures end to end).
    """

    def __init__(self, reader: PdfFileReader, sig_field: Any, fq_name: str) -> None:
        self.reader = reader
        if isinstance(sig_field, generic.IndirectObject):
            sig_field = sig_field.get_object()  # type: ignore[no-untyped-call]
        self.sig_field = sig_field
        sig_object_ref = sig_field.raw_get("/V")
        self.sig_object = sig_object = sig_object_ref.get_object()
        try:
            self.byte_range = sig_object.raw_get("/ByteRange")
            contents = bytes(sig_object["/Contents"])
            certs = sig_object["/Cert"]
        except KeyError as exc:
            raise LegacyFormatError(f"adbe.x509.rsa_sha1 without {exc.args[0]}") from exc
        chain = (
            [bytes(c) for c in certs] if isinstance(certs, generic.ArrayObject) else [bytes(certs)]
        )
        if not chain:
            raise LegacyFormatError("adbe.x509.rsa_sha1 without a certificate")
        signed_data = _as_cms(_pkcs1_value(contents), chain)
        self.pkcs7_content = contents
        self.signed_data = signed_data
        self.signer_info = extract_signer_info(signed_data)
        self._sd_cert_info = None
        self.md_algorithm = self.external_md_algorithm = "sha1"
        self.signed_revision = reader.xrefs.get_last_change(sig_object_ref.reference)
        self.coverage = None
        self.external_digests = {}
        self._docmdp = None
        self._fieldmdp = None
        self._docmdp_queried = self._fieldmdp_queried = False
        self.tst_signature_digest = None
        self.diff_result = None
        self._integrity_checked = False
        self.fq_name = fq_name


def _pkcs1_value(contents: bytes) -> bytes:
    """The RSA signature in ``/Contents``: a DER OCTET STRING (the standard's form), with the
    placeholder's trailing zeros after it, or the bare value."""
    if contents[:1] == b"\x04":
        try:
            value: bytes = core.OctetString.load(contents, strict=False).native
        except ValueError:
            pass
        else:
            return value
    return contents.rstrip(b"\x00") or contents


def _as_cms(signature: bytes, chain: list[bytes]) -> cms.SignedData:
    """A detached CMS without signed attributes: its signature is over the document digest
    itself, which is what ``adbe.x509.rsa_sha1`` signs."""
    try:
        certs = [asn1_x509.Certificate.load(der) for der in chain]
        signer = certs[0]
        sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": signer.issuer, "serial_number": signer.serial_number}
                )
            }
        )
    except ValueError as exc:
        raise LegacyFormatError("adbe.x509.rsa_sha1: /Cert is not a certificate") from exc
    sha1 = algos.DigestAlgorithm({"algorithm": "sha1"})
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": sid,
            "digest_algorithm": sha1,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"}),
            "signature": signature,
        }
    )
    return cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [sha1],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cms.CertificateChoices({"certificate": c}) for c in certs],
            "signer_infos": [signer_info],
        }
    )
