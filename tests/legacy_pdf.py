"""Older shapes of PDF: signatures in the two older formats, and hybrid cross-references.

Signatures in the two older formats are assembled by hand as older signers made them.

``adbe.pkcs7.sha1`` (ISO 32000-1, 12.8.3.3.1): a CMS whose *encapsulated* content is the SHA-1
digest of the signed byte ranges, signed with SHA-1 and RSA; with signed attributes
(content type, signing time, message digest of that content), as Acrobat 6 to 8 and the
Vietnamese plugins of the early 2010s wrote it, or without (the PKCS #7 style of older
libraries). ``adbe.x509.rsa_sha1`` (12.8.3.2): ``/Contents`` is a DER OCTET STRING holding the
PKCS #1 v1.5 RSA signature of that digest, ``/Cert`` the signer's certificate and its chain.

pyHanko cannot write either; its low-level embedder reserves the byte range, and the CMS or
signature value is built here with asn1crypto and cryptography.

A hybrid-reference file (ISO 32000-1, 7.5.8.4) has a classic xref table for readers of PDF 1.4
and, named by the trailer's ``/XRefStm``, a cross-reference stream for the objects kept in
object streams: what Word and many converters write when they save "compatible" PDF 1.5.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from io import BytesIO

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers.cms_embedder import PdfCMSEmbedder, SigIOSetup, SigObjSetup
from pyhanko.sign.signers.pdf_byterange import PdfByteRangeDigest

PKCS7_SHA1 = "/adbe.pkcs7.sha1"
X509_RSA_SHA1 = "/adbe.x509.rsa_sha1"


def legacy_sign(
    pdf: bytes,
    key: rsa.RSAPrivateKey,
    chain: list[x509.Certificate],
    subfilter: str,
    *,
    when: datetime,
    signed_attributes: bool = True,
    field: str = "Signature1",
) -> bytes:
    """``pdf`` with one more signature, in ``subfilter``'s format, made by ``key`` (whose
    certificate is ``chain[0]``) at ``when``."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    placeholder = PdfByteRangeDigest(bytes_reserved=16384)
    placeholder[pdf_name("/Type")] = pdf_name("/Sig")
    placeholder[pdf_name("/Filter")] = pdf_name("/Adobe.PPKLite")
    placeholder[pdf_name("/SubFilter")] = pdf_name(subfilter)
    placeholder[pdf_name("/M")] = generic.pdf_date(when)
    if subfilter == X509_RSA_SHA1:
        placeholder[pdf_name("/Cert")] = generic.ArrayObject(
            generic.ByteStringObject(_der(c)) for c in chain
        )
    embedding = PdfCMSEmbedder().write_cms(field_name=field, writer=writer)
    next(embedding)
    embedding.send(SigObjSetup(sig_placeholder=placeholder))
    prepared, output = embedding.send(SigIOSetup(md_algorithm="sha1", in_place=False))
    document_digest = prepared.document_digest
    assert document_digest == _byte_range_sha1(output.getvalue(), prepared)
    if subfilter == X509_RSA_SHA1:
        value = key.sign(document_digest, padding.PKCS1v15(), _prehashed_sha1())
        contents: bytes | cms.ContentInfo = core.OctetString(value).dump()
    else:
        contents = _pkcs7_sha1(document_digest, key, chain, when, signed_attributes)
    embedding.send(contents)
    return bytes(output.getvalue())


def _pkcs7_sha1(
    document_digest: bytes,
    key: rsa.RSAPrivateKey,
    chain: list[x509.Certificate],
    when: datetime,
    signed_attributes: bool,
) -> cms.ContentInfo:
    signer = asn1_x509.Certificate.load(_der(chain[0]))
    sha1 = algos.DigestAlgorithm({"algorithm": "sha1"})
    info: dict[str, object] = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": signer.issuer, "serial_number": signer.serial_number}
                )
            }
        ),
        "digest_algorithm": sha1,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
    }
    if signed_attributes:
        attributes = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
                cms.CMSAttribute(
                    {"type": "signing_time", "values": [cms.Time({"utc_time": when})]}
                ),
                cms.CMSAttribute(
                    {
                        "type": "message_digest",
                        "values": [hashlib.sha1(document_digest).digest()],  # noqa: S324
                    }
                ),
            ]
        )
        info["signed_attrs"] = attributes
        info["signature"] = key.sign(attributes.dump(), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    else:
        # PKCS #7 without authenticated attributes: the signature is over the content.
        info["signature"] = key.sign(document_digest, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [sha1],
            "encap_content_info": {"content_type": "data", "content": document_digest},
            "certificates": [
                cms.CertificateChoices({"certificate": asn1_x509.Certificate.load(_der(c))})
                for c in chain
            ],
            "signer_infos": [cms.SignerInfo(info)],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})


def _byte_range_sha1(pdf: bytes, prepared: object) -> bytes:
    start = prepared.reserved_region_start  # type: ignore[attr-defined]
    end = prepared.reserved_region_end  # type: ignore[attr-defined]
    return hashlib.sha1(pdf[:start] + pdf[end:]).digest()  # noqa: S324


def _prehashed_sha1() -> object:
    from cryptography.hazmat.primitives.asymmetric import utils

    return utils.Prehashed(hashes.SHA1())  # noqa: S303


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def utc(year: int, month: int, day: int) -> datetime:
    """A moment in UTC, for signing times."""
    return datetime(year, month, day, 9, 30, tzinfo=UTC)


def hybrid_pdf(text: bytes = b"To khai thue GTGT") -> bytes:
    """A one-page PDF 1.5 with hybrid cross-references: the page's font lives in an object
    stream, listed only by the xref stream; the classic table leaves it out."""
    content = b"BT /F1 18 Tf 72 760 Td (" + text + b") Tj ET"
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    objstm_head = b"5 0 "
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        4: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        6: b"<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s%s\nendstream"
        % (len(objstm_head), len(objstm_head) + len(font), objstm_head, font),
    }
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    # The xref stream: object 5 is the first (index 0) of object stream 6.
    rows = bytes([2]) + (6).to_bytes(4, "big") + (0).to_bytes(2, "big")
    offsets[7] = len(out)
    out += (
        b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Index [5 1] /Length %d >>\nstream\n"
        % len(rows)
        + rows
        + b"\nendstream\nendobj\n"
    )
    table = len(out)
    # Two subsections around object 5, which only the stream lists (as Word writes them).
    out += b"xref\n0 5\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in (1, 2, 3, 4))
    out += b"6 2\n" + b"".join(b"%010d 00000 n \n" % offsets[n] for n in (6, 7))
    out += b"trailer\n<< /Size 8 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        offsets[7],
        table,
    )
    return bytes(out)
