"""verify_pdf on PDFs signed here with pyHanko by a test CA, checked against poppler's pdfsig.

The CA (EC P-256), two signers with Vietnamese names and an RSA time-stamping
authority are made with ``cryptography`` once per module; the signatures come from
pyHanko's ``SimpleSigner`` and ``DummyTimeStamper``. Revocation is checked against
:class:`~agent.testing.pki.LocalPki`, a real OCSP responder and CRL on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from agent.messages import Lang, languages_of
from agent.pdf.trust import TrustRootError, load_trust_roots, store_roots, windows_store_roots
from agent.pdf.verify.check import verify_pdf
from agent.pdf.verify.model import (
    Coverage,
    Modifications,
    NotAPdf,
    Problem,
    Revocation,
    SignatureKind,
    VerificationReport,
)
from agent.pdf.verify.render import report_to_json, report_to_text
from agent.testing.pki import LocalPki
from agent.testing.softhsm import TestCa, vn_name
from tests.pdftools import NssDb, sample_pdf, tamper
from tests.verify import der

AN = "Nguyễn Văn An"
BINH = "Trần Thị Bình"

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("certutil")),
    reason="needs poppler-utils (pdfsig) and libnss3-tools (certutil)",
)


def asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der(cert))


def asn1_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass(frozen=True)
class Party:
    """A key and the certificate the test CA issued for it."""

    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class Pki:
    """The module's test CA, its signers and its TSA."""

    ca: TestCa
    directory: Path
    an: Party
    binh: Party
    tsa: Party

    @property
    def roots(self) -> list[bytes]:
        return [der(self.ca.cert)]

    def timestamper(self) -> DummyTimeStamper:
        return DummyTimeStamper(
            tsa_cert=asn1_cert(self.tsa.cert),
            tsa_key=asn1_key(self.tsa.key),
            certs_to_embed=SimpleCertificateStore.from_certs([asn1_cert(self.ca.cert)]),
        )


def make_party(ca: TestCa, name: str, organization: str) -> Party:
    key = ec.generate_private_key(ec.SECP256R1())
    return Party(key, ca.issue(key.public_key(), vn_name(name, organization)))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = TestCa.create("Kyso Test CA")
    ca.save(directory)
    tsa_key = rsa.generate_private_key(65537, 2048)  # DummyTimeStamper signs with RSA
    tsa = Party(
        tsa_key,
        ca.issue(
            tsa_key.public_key(),
            vn_name("Kyso Test TSA", "Kyso Agent (test)"),
            extended_key_usage=[ExtendedKeyUsageOID.TIME_STAMPING],
        ),
    )
    return Pki(
        ca=ca,
        directory=directory,
        an=make_party(ca, AN, "UBND tỉnh Thừa Thiên Huế"),
        binh=make_party(ca, BINH, "Sở Nội vụ"),
        tsa=tsa,
    )


def sign(
    pdf: bytes,
    party: Party,
    ca: TestCa,
    field: str,
    timestamper: DummyTimeStamper | None = None,
    *,
    strict: bool = True,
    password: str | None = None,
) -> bytes:
    """Add a signature in a new field, as an incremental update (to an encrypted document
    after opening it with ``password``)."""
    signer = signers.SimpleSigner(
        signing_cert=asn1_cert(party.cert),
        signing_key=asn1_key(party.key),
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert(ca.cert)]),
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=strict)
    if password is not None:
        writer.encrypt(password)
    out = BytesIO()
    signers.sign_pdf(
        writer,
        signers.PdfSignatureMetadata(field_name=field),
        signer=signer,
        timestamper=timestamper,
        output=out,
    )
    return out.getvalue()


def with_unknown_xref_marker(pdf: bytes) -> bytes:
    """``sample_pdf`` with one more xref entry, of an unknown kind ("x"): strict readers refuse."""
    head, _, rest = pdf.rpartition(b"xref\n0 ")
    count, _, entries = rest.partition(b"\n")
    trailer = entries.index(b"trailer")
    extra = b"0000000000 00000 x \n"
    return head + b"xref\n0 %d\n" % (int(count) + 1) + entries[:trailer] + extra + entries[trailer:]


def change_page(pdf: bytes) -> bytes:
    """An incremental update that draws new text on page 1."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    extra = generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 700 Td (Da bi sua) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(extra))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def signed(pki: Pki) -> bytes:
    """One signature by Nguyễn Văn An."""
    return sign(sample_pdf(), pki.an, pki.ca, "Signature1")


@pytest.fixture(scope="module")
def nss(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> NssDb:
    """An NSS database trusting the test CA, for pdfsig."""
    return NssDb.create(tmp_path_factory.mktemp("nss"), pki.ca.cert)


# -- verdicts -------------------------------------------------------------------------------


def test_valid_signature_is_trusted_when_the_ca_is_a_root(pki: Pki, signed: bytes) -> None:
    report = verify_pdf(signed, pki.roots, fetch_revocation=False)
    [signature] = report.signatures
    assert signature.field_name == "Signature1"
    assert signature.kind is SignatureKind.SIGNATURE
    assert signature.signer == AN
    assert signature.signer_certificate == der(pki.an.cert)
    assert (signature.intact, signature.valid, signature.trusted) == (True, True, True)
    assert signature.chain == (
        pki.an.cert.subject.rfc4514_string(),
        pki.ca.cert.subject.rfc4514_string(),
    )
    assert signature.coverage is Coverage.ENTIRE_DOCUMENT
    assert signature.modifications is Modifications.NONE
    assert signature.docmdp_ok is True
    assert signature.revocation is Revocation.NOT_CHECKED  # offline, nothing embedded
    assert signature.timestamp is None and signature.timestamp_valid is None
    assert signature.level == "B-B"
    assert signature.signing_time is not None
    assert abs(signature.signing_time - datetime.now(UTC)) < timedelta(minutes=10)
    assert signature.problems == ()
    assert signature.ok and report.all_valid


def test_valid_signature_is_untrusted_without_roots(signed: bytes) -> None:
    report = verify_pdf(signed, [], fetch_revocation=False)
    [signature] = report.signatures
    assert signature.intact and signature.valid
    assert not signature.trusted
    assert signature.chain == (signature.chain[0],)
    assert Problem.UNTRUSTED in signature.problems
    assert not signature.ok and not report.all_valid


@needs_poppler
def test_pdfsig_agrees_on_the_valid_signature(
    pki: Pki, signed: bytes, nss: NssDb, tmp_path: Path
) -> None:
    assert verify_pdf(signed, pki.roots, fetch_revocation=False).all_valid
    [block] = nss.pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block
    assert "Certificate is Trusted" in block
    assert AN in block


def test_stacked_signatures_are_both_reported_and_ok(pki: Pki, signed: bytes) -> None:
    twice = sign(signed, pki.binh, pki.ca, "Signature2")
    report = verify_pdf(twice, pki.roots, fetch_revocation=False)
    first, second = report.signatures
    assert (first.signer, second.signer) == (AN, BINH)
    assert (first.field_name, second.field_name) == ("Signature1", "Signature2")
    assert first.coverage is Coverage.ENTIRE_REVISION
    assert first.modifications is Modifications.FORM_FILLING
    assert first.docmdp_ok is True
    assert second.coverage is Coverage.ENTIRE_DOCUMENT
    assert first.ok and second.ok and report.all_valid


@needs_poppler
def test_pdfsig_agrees_on_stacked_signatures(
    pki: Pki, signed: bytes, nss: NssDb, tmp_path: Path
) -> None:
    twice = sign(signed, pki.binh, pki.ca, "Signature2")
    blocks = nss.pdfsig(twice, tmp_path)
    assert len(blocks) == 2
    assert all("Signature is Valid" in b and "Certificate is Trusted" in b for b in blocks)


def test_tampered_byte_breaks_integrity(pki: Pki, signed: bytes) -> None:
    report = verify_pdf(tamper(signed), pki.roots, fetch_revocation=False)
    [signature] = report.signatures
    assert signature.intact is False
    assert signature.valid is True  # the signed attributes are untouched
    assert Problem.DIGEST_MISMATCH in signature.problems
    assert not signature.ok and not report.all_valid


@needs_poppler
def test_pdfsig_agrees_on_the_tampered_file(signed: bytes, nss: NssDb, tmp_path: Path) -> None:
    [block] = nss.pdfsig(tamper(signed), tmp_path)
    assert "Signature is Valid" not in block


def test_page_changed_after_signing_is_a_disallowed_modification(pki: Pki, signed: bytes) -> None:
    report = verify_pdf(change_page(signed), pki.roots, fetch_revocation=False)
    [signature] = report.signatures
    assert signature.intact and signature.valid and signature.trusted
    assert signature.coverage is Coverage.ENTIRE_REVISION
    assert signature.modifications is Modifications.OTHER
    assert signature.docmdp_ok is False
    assert Problem.MODIFIED_AFTER in signature.problems
    assert not signature.ok and not report.all_valid


def test_signature_timestamp_is_reported_and_valid(pki: Pki) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    stamped = sign(sample_pdf(), pki.an, pki.ca, "Signature1", pki.timestamper())
    [signature] = verify_pdf(stamped, pki.roots, fetch_revocation=False).signatures
    assert signature.timestamp is not None
    assert before <= signature.timestamp <= datetime.now(UTC)
    assert signature.timestamp_valid is True
    assert signature.level == "B-T"
    assert signature.ok


def test_timestamp_from_an_untrusted_authority_is_not_valid(pki: Pki) -> None:
    other = TestCa.create("Another CA")
    stamped = sign(sample_pdf(), pki.an, pki.ca, "Signature1", pki.timestamper())
    # Trust the signer's CA only through a different root: nothing is trusted.
    [signature] = verify_pdf(stamped, [der(other.cert)], fetch_revocation=False).signatures
    assert signature.timestamp is not None
    assert signature.timestamp_valid is False
    assert Problem.TIMESTAMP_INVALID in signature.problems
    assert not signature.ok


def test_document_timestamp_is_reported_as_such(pki: Pki, signed: bytes) -> None:
    out = BytesIO()
    signers.PdfTimeStamper(pki.timestamper()).timestamp_pdf(
        IncrementalPdfFileWriter(BytesIO(signed)), "sha256", output=out
    )
    report = verify_pdf(out.getvalue(), pki.roots, fetch_revocation=False)
    signature, stamp = report.signatures
    assert signature.kind is SignatureKind.SIGNATURE and signature.ok
    assert signature.modifications is Modifications.LTA_UPDATES
    assert stamp.kind is SignatureKind.DOCUMENT_TIMESTAMP
    assert stamp.signer == "Kyso Test TSA"
    assert stamp.timestamp is not None and stamp.timestamp_valid is True
    assert stamp.ok and report.all_valid
    assert "Dấu thời gian tài liệu 2: Kyso Test TSA" in report_to_text(report)


def test_expired_certificate_is_named(pki: Pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    long_ago = datetime.now(UTC) - timedelta(days=800)
    cert = pki.ca.issue(
        key.public_key(),
        vn_name(AN),
        not_before=long_ago,
        not_after=long_ago + timedelta(days=365),
    )
    pdf = sign(sample_pdf(), Party(key, cert), pki.ca, "Signature1")
    [signature] = verify_pdf(pdf, pki.roots, fetch_revocation=False).signatures
    assert signature.intact and signature.valid and not signature.trusted
    assert Problem.CERTIFICATE_EXPIRED in signature.problems
    assert Problem.EXPIRED_AT_SIGNING in signature.problems  # signed (claimed) today
    assert not signature.ok


def test_file_breaking_syntax_rules_is_read_leniently_and_says_so(pki: Pki) -> None:
    sloppy = with_unknown_xref_marker(sample_pdf())
    signed = sign(sloppy, pki.an, pki.ca, "Signature1", strict=False)
    [signature] = verify_pdf(signed, pki.roots, fetch_revocation=False).signatures
    assert Problem.LENIENT_SYNTAX in signature.problems
    assert signature.intact and signature.valid and signature.trusted and signature.ok


def test_pdf_without_signatures_gives_an_empty_report(pki: Pki) -> None:
    report = verify_pdf(sample_pdf(), pki.roots, fetch_revocation=False)
    assert report.signatures == ()
    assert report.all_valid is False
    assert report_to_json(report) == {"allValid": False, "signatures": []}
    assert "không có chữ ký số" in report_to_text(report, "vi")
    assert "no signatures" in report_to_text(report, "en")


@pytest.mark.parametrize(
    "garbage",
    [b"", b"hello", b"\x00" * 4096, b"%PDF-1.7\n" + b"\xff" * 100, b"%PDF-1.7\n%%EOF\n"],
    ids=["empty", "text", "zeros", "header-only", "no-objects"],
)
def test_garbage_is_not_a_pdf(garbage: bytes) -> None:
    with pytest.raises(NotAPdf):
        verify_pdf(garbage, [])


def _encrypted(owner: str, user: str) -> bytes:
    writer = copy_into_new_writer(PdfFileReader(BytesIO(sample_pdf())))
    writer.encrypt(owner, user)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_that_needs_a_password_to_open_is_refused_clearly() -> None:
    with pytest.raises(NotAPdf, match="protected by a password"):
        verify_pdf(_encrypted("owner", "user"), [])


def test_a_signature_in_a_pdf_locked_by_an_owner_password_only_is_checked(pki: Pki) -> None:
    """Such files open without a password in every reader; the signature in them counts."""
    # The empty user password: what any viewer opens such a file with.
    signed = sign(_encrypted("owner", ""), pki.an, pki.ca, "Signature1", password="")
    [signature] = verify_pdf(signed, pki.roots, fetch_revocation=False).signatures
    assert signature.ok, signature.problems


def test_unreadable_signature_is_reported_not_raised(pki: Pki, signed: bytes) -> None:
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    end = signed.index(b">", start)
    broken = signed[:start] + b"0" * (end - start) + signed[end:]
    report = verify_pdf(broken, pki.roots, fetch_revocation=False)
    [signature] = report.signatures
    assert signature.field_name == "Signature1"
    assert Problem.MALFORMED in signature.problems
    assert not signature.ok and not report.all_valid
    json.dumps(report_to_json(report))
    assert "Chữ ký số 1: (không đọc được)" in report_to_text(report)


def test_damaged_files_never_raise_anything_but_not_a_pdf(pki: Pki, signed: bytes) -> None:
    twice = sign(signed, pki.binh, pki.ca, "Signature2")
    chance = random.Random(20250101)  # fixed: the same damage on every run
    damaged = [twice[: len(twice) // 2], twice[: len(twice) - 40]]
    for _ in range(25):
        data = bytearray(twice)
        for _ in range(8):
            data[chance.randrange(len(data))] = chance.randrange(256)
        damaged.append(bytes(data))
    for pdf in damaged:
        try:
            report = verify_pdf(pdf, pki.roots, fetch_revocation=False)
        except NotAPdf:
            continue
        assert isinstance(report, VerificationReport)
        json.dumps(report_to_json(report))
        report_to_text(report, "en")


def test_a_file_is_checked_as_its_bytes_are(pki: Pki, signed: bytes, tmp_path: Path) -> None:
    """The agent hands its PDF worker the file a request's document waits in (the spool), and
    the tray the file the user chose: the checks read from it what they need, strict reading
    then lenient from the start of the file again, and judge as they judge the bytes."""
    twice = sign(signed, pki.binh, pki.ca, "Signature2")
    sloppy = sign(
        with_unknown_xref_marker(sample_pdf()), pki.an, pki.ca, "Signature1", strict=False
    )
    for name, pdf in {
        "signed": signed,
        "stacked": twice,
        "tampered": tamper(signed),
        "changed": change_page(signed),
        "lenient": sloppy,
        "unsigned": sample_pdf(),
    }.items():
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(pdf)
        from_file = verify_pdf(path, pki.roots, fetch_revocation=False)
        assert from_file == verify_pdf(pdf, pki.roots, fetch_revocation=False), name
    [lenient] = verify_pdf(tmp_path / "lenient.pdf", pki.roots, fetch_revocation=False).signatures
    assert Problem.LENIENT_SYNTAX in lenient.problems and lenient.ok
    for garbage in (b"", b"hello", b"%PDF-1.7\n%%EOF\n"):
        path = tmp_path / "garbage.pdf"
        path.write_bytes(garbage)
        with pytest.raises(NotAPdf):
            verify_pdf(path, [])


async def test_runs_in_a_worker_thread_from_a_running_loop(pki: Pki, signed: bytes) -> None:
    report = await asyncio.to_thread(verify_pdf, signed, pki.roots, fetch_revocation=False)
    assert report.all_valid
    with pytest.raises(RuntimeError, match="worker thread"):  # not on the loop's own thread
        verify_pdf(signed, pki.roots, fetch_revocation=False)


# -- revocation -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_pki() -> Iterator[LocalPki]:
    with LocalPki(TestCa.create("Kyso Test CA")) as running:
        yield running


def signed_with_revocation_urls(local_pki: LocalPki, name: str) -> tuple[bytes, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = local_pki.issue(key.public_key(), vn_name(name, "Sở Tư pháp"))
    return sign(sample_pdf(), Party(key, cert), local_pki.ca, "Signature1"), cert


def test_revocation_good_from_the_ocsp_responder(local_pki: LocalPki) -> None:
    pdf, _ = signed_with_revocation_urls(local_pki, AN)
    asked = local_pki.served["ocsp"]
    [signature] = verify_pdf(pdf, [der(local_pki.ca.cert)], timeout=5).signatures
    assert signature.revocation is Revocation.GOOD
    assert local_pki.served["ocsp"] > asked
    assert signature.ok and signature.problems == ()


def test_revoked_certificate_is_not_ok(local_pki: LocalPki) -> None:
    pdf, cert = signed_with_revocation_urls(local_pki, BINH)
    local_pki.revoke(cert.serial_number)
    report = verify_pdf(pdf, [der(local_pki.ca.cert)], timeout=5)
    [signature] = report.signatures
    assert signature.revocation is Revocation.REVOKED
    assert Problem.REVOKED in signature.problems
    assert signature.intact and signature.valid
    assert not signature.ok and not report.all_valid
    assert "ĐÃ BỊ THU HỒI" in report_to_text(report, "vi")
    assert "REVOKED" in report_to_text(report, "en")


def test_offline_verification_does_not_check_revocation(local_pki: LocalPki) -> None:
    pdf, _ = signed_with_revocation_urls(local_pki, AN)
    asked = local_pki.served
    [signature] = verify_pdf(pdf, [der(local_pki.ca.cert)], fetch_revocation=False).signatures
    assert signature.revocation is Revocation.NOT_CHECKED
    assert local_pki.served == asked
    assert signature.ok


def test_unreachable_responder_leaves_revocation_unknown(pki: Pki) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/nothing"
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.ca.issue(key.public_key(), vn_name(AN), crl_url=closed, ocsp_url=closed)
    pdf = sign(sample_pdf(), Party(key, cert), pki.ca, "Signature1")
    [signature] = verify_pdf(pdf, pki.roots, timeout=3).signatures
    assert signature.revocation is Revocation.UNKNOWN
    assert Problem.REVOCATION_UNKNOWN in signature.problems
    assert signature.trusted and signature.ok  # soft-fail


def test_silent_responder_is_given_up_on_after_the_timeout(pki: Pki) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        silent = f"http://127.0.0.1:{listener.getsockname()[1]}/silent"
        key = ec.generate_private_key(ec.SECP256R1())
        cert = pki.ca.issue(key.public_key(), vn_name(AN), ocsp_url=silent)
        pdf = sign(sample_pdf(), Party(key, cert), pki.ca, "Signature1")
        started = time.monotonic()
        [signature] = verify_pdf(pdf, pki.roots, timeout=1).signatures
    assert time.monotonic() - started < 10
    assert signature.revocation is Revocation.UNKNOWN
    assert signature.trusted and signature.ok


def test_untrusted_signer_is_not_checked_for_revocation(local_pki: LocalPki) -> None:
    pdf, _ = signed_with_revocation_urls(local_pki, AN)
    asked = local_pki.served
    [signature] = verify_pdf(pdf, [], timeout=5).signatures
    assert signature.revocation is Revocation.NOT_CHECKED
    assert local_pki.served == asked, "no request for a chain that reaches no root"


def test_b_lt_signature_is_checked_offline_from_its_dss(local_pki: LocalPki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    party = Party(key, local_pki.issue(key.public_key(), vn_name(AN, "Sở Tư pháp")))
    tsa = DummyTimeStamper(
        tsa_cert=asn1_cert(local_pki.tsa_cert),
        tsa_key=asn1_key(local_pki.tsa_key),
        certs_to_embed=SimpleCertificateStore.from_certs([asn1_cert(local_pki.ca.cert)]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=ValidationContext(
            trust_roots=[asn1_cert(local_pki.ca.cert)], allow_fetching=True
        ),
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_cert(party.cert),
        signing_key=asn1_key(party.key),
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert(local_pki.ca.cert)]),
    )
    out = BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(sample_pdf())),
        meta,
        signer=signer,
        timestamper=tsa,
        output=out,
    )
    asked = local_pki.served
    [signature] = verify_pdf(
        out.getvalue(), [der(local_pki.ca.cert)], fetch_revocation=False
    ).signatures
    assert local_pki.served == asked, "offline"
    assert signature.level == "B-LT"
    assert signature.revocation is Revocation.GOOD  # from the OCSP response in the DSS
    assert signature.modifications is Modifications.LTA_UPDATES
    assert signature.timestamp_valid is True
    assert signature.ok


# -- wire and text --------------------------------------------------------------------------


def test_json_is_plain_camel_case_data(pki: Pki, signed: bytes) -> None:
    stamped = sign(signed, pki.binh, pki.ca, "Signature2", pki.timestamper())
    wire = report_to_json(verify_pdf(stamped, pki.roots, fetch_revocation=False))
    text = json.dumps(wire, ensure_ascii=False)  # no bytes, datetimes or enums left
    assert json.loads(text) == wire
    assert wire["allValid"] is True
    first, second = wire["signatures"]
    assert set(first) == {
        "fieldName", "kind", "signer", "signerCertificate", "signingTime", "intact", "valid",
        "trusted", "chain", "revocation", "timestamp", "timestampValid", "coverage",
        "modifications", "docmdpOk", "level", "problems", "ok",
    }  # fmt: skip
    assert base64.b64decode(first["signerCertificate"]) == der(pki.an.cert)
    assert datetime.fromisoformat(first["signingTime"]).tzinfo is not None
    assert first["coverage"] == "entire-revision" and first["modifications"] == "FORM_FILLING"
    assert first["timestamp"] is None and first["timestampValid"] is None
    assert second["signer"] == BINH and second["level"] == "B-T"
    assert datetime.fromisoformat(second["timestamp"]).tzinfo is not None
    assert second["timestampValid"] is True
    assert second["revocation"] == "not-checked" and second["problems"] == []


def test_text_report_in_vietnamese_and_english(pki: Pki, signed: bytes) -> None:
    report = verify_pdf(signed, pki.roots, fetch_revocation=False)
    vi = report_to_text(report)
    assert "Chữ ký số 1: Nguyễn Văn An" in vi
    assert "✓ Toàn vẹn: còn nguyên vẹn" in vi
    assert "✓ Chứng thư: tin cậy (Kyso Test CA)" in vi
    assert "Thu hồi: không kiểm tra" in vi
    assert "Dấu thời gian: không có" in vi
    assert "✓ Phạm vi: toàn bộ tài liệu" in vi
    assert "✓ Kết luận: tất cả chữ ký số đều hợp lệ" in vi
    en = report_to_text(report, "en")
    assert "Signature 1: Nguyễn Văn An" in en
    assert "✓ Integrity: intact" in en
    assert "✓ Certificate: trusted (Kyso Test CA)" in en
    assert "✓ Coverage: the entire document" in en
    assert report_to_text(report, "fr") == vi  # unknown languages fall back to Vietnamese


def test_text_report_names_what_is_wrong(pki: Pki, signed: bytes) -> None:
    tampered = report_to_text(verify_pdf(tamper(signed), pki.roots, fetch_revocation=False))
    assert "✗ Toàn vẹn: nội dung đã bị thay đổi sau khi ký" in tampered
    assert "✗ KHÔNG hợp lệ" in tampered
    assert "giá trị băm không khớp" in tampered
    untrusted = report_to_text(verify_pdf(signed, [], fetch_revocation=False), "vi")
    assert "✗ Chứng thư: không tin cậy" in untrusted
    modified = verify_pdf(change_page(signed), pki.roots, fetch_revocation=False)
    assert "✗ Phạm vi: có thay đổi sau khi ký: nội dung tài liệu đã bị sửa" in report_to_text(
        modified
    )
    assert "Coverage: changed after signing: the document's content was altered" in (
        report_to_text(modified, "en")
    )


def test_stacked_text_report_explains_later_signatures(pki: Pki, signed: bytes) -> None:
    twice = sign(signed, pki.binh, pki.ca, "Signature2")
    text = report_to_text(verify_pdf(twice, pki.roots, fetch_revocation=False))
    assert "Chữ ký số 2: Trần Thị Bình" in text
    assert "✓ Phạm vi: phiên bản đã ký; sau đó chỉ có thêm chữ ký số khác" in text


def test_every_problem_has_a_text_in_both_languages() -> None:
    for problem in Problem:
        key = "verify_problem_" + problem.value.replace("-", "_")
        assert languages_of(key) == {Lang.VI, Lang.EN}, key


# -- trust roots ----------------------------------------------------------------------------


def test_trust_roots_from_pem_der_bundle_and_p7b(pki: Pki, tmp_path: Path) -> None:
    other = TestCa.create("Another CA")
    pem = pki.directory / "ca.pem"  # written by TestCa.save
    (tmp_path / "ca.cer").write_bytes(der(pki.ca.cert))
    (tmp_path / "bundle.pem").write_bytes(
        b"Bundle of roots\n"
        + other.cert.public_bytes(serialization.Encoding.PEM)
        + pki.ca.cert.public_bytes(serialization.Encoding.PEM)
    )
    (tmp_path / "roots.p7b").write_bytes(
        pkcs7.serialize_certificates([other.cert], serialization.Encoding.DER)
    )
    roots = load_trust_roots(
        [pem, tmp_path / "ca.cer", tmp_path / "bundle.pem", tmp_path / "roots.p7b"]
    )
    assert roots == (der(pki.ca.cert), der(other.cert))  # in order, without duplicates
    assert load_trust_roots([]) == ()


@pytest.mark.parametrize(
    "content",
    [b"", b"not a certificate", b"0\x82\x00\x10garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n"],
    ids=["empty", "text", "bad-der", "bad-pem"],
)
def test_bad_trust_root_file_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "goc-tin-cay.pem"
    path.write_bytes(content)
    with pytest.raises(TrustRootError, match=r"goc-tin-cay\.pem"):
        load_trust_roots([path])


def test_missing_trust_root_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TrustRootError, match=r"missing\.pem"):
        load_trust_roots([tmp_path / "missing.pem"])
    assert issubclass(TrustRootError, ValueError)


def test_windows_store_roots_is_empty_elsewhere() -> None:
    assert windows_store_roots() == ()


def test_store_roots_keeps_signing_roots_and_the_intermediates_they_issued() -> None:
    root = TestCa.create("Vietnam National Root CA")
    tls_only = TestCa.create("TLS Root")
    stranger = TestCa.create("Unknown Root")
    subordinate = issue_ca(root, "VNPT Certification Authority")
    orphan = issue_ca(stranger, "Orphan CA")
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = root.issue(leaf_key.public_key(), vn_name(AN))
    stores = {
        "ROOT": [
            (der(root.cert), "x509_asn", True),
            (der(tls_only.cert), "x509_asn", {"1.3.6.1.5.5.7.3.1"}),
            (der(stranger.cert), "pkcs_7_asn", True),
            (b"\x30\x03garbage", "x509_asn", True),
        ],
        "CA": [
            (der(subordinate), "x509_asn", True),
            (der(orphan), "x509_asn", True),
            (der(leaf), "x509_asn", True),
        ],
    }
    assert store_roots(lambda name: stores[name]) == (der(root.cert), der(subordinate))


def issue_ca(issuer: TestCa, name: str) -> x509.Certificate:
    """A subordinate CA certificate (TestCa.issue makes end-entity certificates only)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(vn_name(name))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )
