"""Older documents: ``adbe.pkcs7.sha1`` and ``adbe.x509.rsa_sha1`` signatures, hybrid xrefs.

The signatures are made in the shape of a 2013 tax return signed with a Vietnamese CA's
certificate (RSA 2048, SHA-1, a certificate long expired) by ``tests.legacy_pdf``; pdfsig
(poppler, NSS) and, for ``adbe.x509.rsa_sha1`` which poppler does not read, cryptography
checking the PKCS #1 value over the byte ranges, are the independent judges.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import core
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pyhanko.pdf_utils.reader import PdfFileReader

from agent.pdf.verify.check import verify_pdf
from agent.pdf.verify.model import Problem, SignatureReport
from agent.pdf.verify.render import report_to_text
from agent.testing.softhsm import TestCa, vn_name
from tests.legacy_pdf import PKCS7_SHA1, X509_RSA_SHA1, hybrid_pdf, legacy_sign, utc
from tests.pdftools import NssDb, sample_pdf, tamper
from tests.unit.test_pdf_verify import Party, sign

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("certutil")),
    reason="needs poppler-utils (pdfsig) and libnss3-tools (certutil)",
)

SIGNED_ON = utc(2013, 4, 19)


class Legacy:
    """A CA and a signer whose certificate was valid from 2012 to 2015, as in the archive."""

    def __init__(self) -> None:
        self.ca = TestCa.create("VNPT Certification Authority (test)")
        self.key = rsa.generate_private_key(65537, 2048)
        self.cert = self.ca.issue(
            self.key.public_key(),
            vn_name("Công ty TNHH Thương mại Hoà Bình", "MST:0101234567"),
            not_before=datetime(2012, 6, 1, tzinfo=UTC),
            not_after=datetime(2015, 6, 1, tzinfo=UTC),
        )
        self.chain = [self.cert, self.ca.cert]

    @property
    def roots(self) -> list[bytes]:
        return [self.ca.cert.public_bytes(serialization.Encoding.DER)]

    def sign(self, subfilter: str, **options: object) -> bytes:
        return legacy_sign(sample_pdf(), self.key, self.chain, subfilter, when=SIGNED_ON, **options)


@pytest.fixture(scope="module")
def legacy() -> Legacy:
    return Legacy()


@pytest.fixture(scope="module")
def nss(legacy: Legacy, tmp_path_factory: pytest.TempPathFactory) -> NssDb:
    return NssDb.create(tmp_path_factory.mktemp("nss-legacy"), legacy.ca.cert)


def only(pdf: bytes, roots: list[bytes]) -> SignatureReport:
    [signature] = verify_pdf(pdf, roots, fetch_revocation=False).signatures
    return signature


def assert_intact_but_weak(signature: SignatureReport) -> None:
    """What pdfsig says of these files: the signature is valid; SHA-1 and an expired
    certificate keep it from being trusted, and nothing calls the document altered."""
    assert signature.intact and signature.valid, signature.problems
    assert Problem.DIGEST_MISMATCH not in signature.problems
    assert Problem.BAD_SIGNATURE not in signature.problems
    assert Problem.MODIFIED_AFTER not in signature.problems
    assert Problem.SHA1_FORMAT in signature.problems
    # The chain is the test CA's, which is trusted: the certificate has expired (2015),
    # nothing more is wrong with it.
    assert Problem.CERTIFICATE_EXPIRED in signature.problems
    assert Problem.UNTRUSTED not in signature.problems
    assert signature.level is None  # not a PAdES level
    assert not signature.trusted and not signature.ok
    assert signature.signing_time == SIGNED_ON
    vi = report_to_text(signature_report(signature), "vi")
    assert "SHA-1" in vi and "còn nguyên vẹn" in vi, vi
    assert "bị thay đổi" not in vi and "bị sửa" not in vi and "sai" not in vi, vi


def signature_report(signature: SignatureReport) -> object:
    from agent.pdf.verify.model import VerificationReport

    return VerificationReport((signature,))


@pytest.mark.parametrize("signed_attributes", [True, False], ids=["attributes", "pkcs7-bare"])
def test_pkcs7_sha1_is_intact_and_valid_and_named_weak(
    legacy: Legacy, signed_attributes: bool
) -> None:
    pdf = legacy.sign(PKCS7_SHA1, signed_attributes=signed_attributes)
    assert b"/SubFilter /adbe.pkcs7.sha1" in pdf
    assert_intact_but_weak(only(pdf, legacy.roots))


def test_pkcs7_sha1_with_a_changed_byte_is_altered(legacy: Legacy) -> None:
    pdf = tamper(legacy.sign(PKCS7_SHA1))
    signature = only(pdf, legacy.roots)
    assert not signature.intact
    assert Problem.DIGEST_MISMATCH in signature.problems


@needs_poppler
def test_pdfsig_agrees_on_pkcs7_sha1(legacy: Legacy, nss: NssDb, tmp_path: Path) -> None:
    [block] = nss.pdfsig(legacy.sign(PKCS7_SHA1), tmp_path)
    assert "adbe.pkcs7.sha1" in block
    assert "Signature is Valid" in block, block
    [tampered] = nss.pdfsig(tamper(legacy.sign(PKCS7_SHA1)), tmp_path)
    assert "Signature is Valid" not in tampered, tampered


def test_x509_rsa_sha1_is_intact_and_valid_and_named_weak(legacy: Legacy) -> None:
    pdf = legacy.sign(X509_RSA_SHA1)
    # The independent judge: the PKCS #1 value over the byte ranges, with the /Cert key.
    signed_bytes, value = _x509_parts(pdf)
    legacy.cert.public_key().verify(  # type: ignore[union-attr, call-arg]
        value,
        hashlib.sha1(signed_bytes).digest(),  # noqa: S324
        padding.PKCS1v15(),  # type: ignore[arg-type]
        Prehashed(hashes.SHA1()),  # noqa: S303
    )
    signature = only(pdf, legacy.roots)
    assert_intact_but_weak(signature)
    assert signature.signer == "Công ty TNHH Thương mại Hoà Bình"
    assert Problem.UNSUPPORTED not in signature.problems


def test_x509_rsa_sha1_with_a_changed_byte_is_altered(legacy: Legacy) -> None:
    signature = only(tamper(legacy.sign(X509_RSA_SHA1)), legacy.roots)
    assert not (signature.intact and signature.valid)
    assert {Problem.DIGEST_MISMATCH, Problem.BAD_SIGNATURE} & set(signature.problems)


def test_x509_rsa_sha1_by_another_key_is_a_bad_signature(legacy: Legacy) -> None:
    other = rsa.generate_private_key(65537, 2048)
    pdf = legacy_sign(sample_pdf(), other, legacy.chain, X509_RSA_SHA1, when=SIGNED_ON)
    signature = only(pdf, legacy.roots)
    assert not signature.valid
    assert Problem.BAD_SIGNATURE in signature.problems


def _x509_parts(pdf: bytes) -> tuple[bytes, bytes]:
    [embedded_field] = [f for f in PdfFileReader(BytesIO(pdf)).root["/AcroForm"]["/Fields"]]
    sig = embedded_field.get_object()["/V"]
    a, b, c, d = (int(x) for x in sig["/ByteRange"])
    value = core.OctetString.load(bytes(sig["/Contents"]).rstrip(b"\0")).native
    return pdf[a : a + b] + pdf[c : c + d], value


# -- hybrid cross-references ------------------------------------------------------------------


@pytest.fixture(scope="module")
def hybrid_signed(legacy: Legacy) -> bytes:
    key = rsa.generate_private_key(65537, 2048)
    now = datetime.now(UTC)
    cert = legacy.ca.issue(
        key.public_key(),
        vn_name("Lê Văn Hùng", "Cục Thuế"),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=365),
    )
    pdf = hybrid_pdf()
    assert PdfFileReader(BytesIO(pdf)).xrefs.hybrid_xrefs_present
    # As agent.pdf.signer adds a signature: with a non-strict writer.
    return sign(pdf, Party(key, cert), legacy.ca, "Signature1", strict=False)


def test_a_signature_on_a_hybrid_reference_file_is_checked_like_any_other(
    legacy: Legacy, hybrid_signed: bytes
) -> None:
    signature = only(hybrid_signed, legacy.roots)
    assert signature.ok, signature.problems
    # A hybrid file is legitimate PDF 1.5, not a syntax error.
    assert Problem.LENIENT_SYNTAX not in signature.problems
    assert Problem.VALIDATION_ERROR not in signature.problems


def test_a_hybrid_reference_file_is_checked_from_its_file_as_from_its_bytes(
    legacy: Legacy, hybrid_signed: bytes, tmp_path: Path
) -> None:
    """Strict reading refuses the hybrid references; the check starts again from the start of
    the same file, as it does for bytes (agent.pdf.verify.check)."""
    path = tmp_path / "to-khai.pdf"
    path.write_bytes(hybrid_signed)
    from_file = verify_pdf(path, legacy.roots, fetch_revocation=False)
    assert from_file == verify_pdf(hybrid_signed, legacy.roots, fetch_revocation=False)
    [signature] = from_file.signatures
    assert signature.ok, signature.problems


def test_a_changed_hybrid_reference_file_is_still_caught(
    legacy: Legacy, hybrid_signed: bytes
) -> None:
    marker = hybrid_signed.index(b"To khai")
    changed = hybrid_signed[:marker] + b"X" + hybrid_signed[marker + 1 :]
    signature = only(changed, legacy.roots)
    assert not signature.intact
    assert Problem.DIGEST_MISMATCH in signature.problems


@needs_poppler
def test_pdfsig_agrees_on_the_hybrid_reference_file(
    legacy: Legacy, hybrid_signed: bytes, nss: NssDb, tmp_path: Path
) -> None:
    [block] = nss.pdfsig(hybrid_signed, tmp_path)
    assert "Signature is Valid" in block and "Certificate is Trusted" in block, block
