"""verify_xml judged against an independent signer: xmlsec1 (libxml2 + OpenSSL) signs here.

Documents are built in the shapes of Vietnamese e-invoices (``HDon/DLHDon`` signed by the
seller, then the buyer, in ``DSCKS``) and tax declarations (``HSoThueDTu/HSoKhaiThue``
with a lowercase ``id``); xmlsec1 fills in a template Signature with the key and
certificate of a software signer issued by :class:`~agent.testing.softhsm.TestCa`.
Nothing here uses the agent's own XML signer.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from agent.errors import BadRequest
from agent.messages import Lang
from agent.testing.softhsm import TestCa, vn_name
from agent.xml.verify.check import verify_xml
from agent.xml.verify.model import XmlProblem
from agent.xml.verify.render import report_to_json, report_to_text
from tests.wine import require

DS = "http://www.w3.org/2000/09/xmldsig#"
MORE = "http://www.w3.org/2001/04/xmldsig-more#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SHA256 = ("http://www.w3.org/2001/04/xmlenc#sha256", MORE + "rsa-sha256")
SHA1 = (DS + "sha1", DS + "rsa-sha1")
SIGNING_TIME = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

SELLER = "CÔNG TY TNHH ÁNH DƯƠNG"
BUYER = "Trần Thị Bình"
ID_ATTRS = (
    ("Id", "DLHDon"),
    ("Id", f"{DS}:Object"),
    ("Id", f"{DS}:Signature"),
    ("id", "http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue"),
)


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@pytest.fixture(scope="module")
def xmlsec1() -> str:
    """The xmlsec1 command: skipped without it, failed in CI (CI=true)."""
    found = shutil.which("xmlsec1")
    require("xmlsec1", found)
    assert found
    return found


@pytest.fixture(scope="module")
def ca() -> TestCa:
    return TestCa.create()


@pytest.fixture(scope="module")
def seller(ca: TestCa) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, ca.issue(key.public_key(), vn_name(SELLER, SELLER)))


@pytest.fixture(scope="module")
def buyer(ca: TestCa) -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    return Signer(key, ca.issue(key.public_key(), vn_name(BUYER)))


def roots(ca: TestCa) -> list[bytes]:
    return [ca.cert.public_bytes(serialization.Encoding.DER)]


# --- documents and templates -----------------------------------------------------------------


def template(
    sig_id: str,
    data_id: str,
    *,
    algorithms: tuple[str, str] = SHA256,
    method: str | None = None,
    transform: str | None = None,
    time_reference: bool = True,
    time: str = SIGNING_TIME,
    canonicalization: str = C14N,
) -> str:
    digest, signature_method = algorithms
    extra = f'<Transform Algorithm="{transform}"/>' if transform else ""
    time_ref = (
        f'<Reference URI="#{sig_id}-time"><DigestMethod Algorithm="{digest}"/>'
        "<DigestValue/></Reference>"
        if time_reference
        else ""
    )
    return (
        f'<Signature xmlns="{DS}" Id="{sig_id}"><SignedInfo>'
        f'<CanonicalizationMethod Algorithm="{canonicalization}"/>'
        f'<SignatureMethod Algorithm="{method or signature_method}"/>'
        f'<Reference URI="#{data_id}"><Transforms>'
        f'<Transform Algorithm="{DS}enveloped-signature"/>{extra}</Transforms>'
        f'<DigestMethod Algorithm="{digest}"/><DigestValue/></Reference>{time_ref}'
        "</SignedInfo><SignatureValue/>"
        "<KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo>"
        f'<Object Id="{sig_id}-time"><SignatureProperties>'
        f'<SignatureProperty Target="#{sig_id}"><SigningTime>{time}</SigningTime>'
        "</SignatureProperty></SignatureProperties></Object></Signature>"
    )


def invoice(seller_sig: str = "", buyer_sig: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<HDon>
  <DLHDon Id="data">
    <TTChung><PBan>2.0.1</PBan><KHMSHDon>1</KHMSHDon><KHHDon>C25TAA</KHHDon>
      <SHDon>42</SHDon><NLap>2025-03-14</NLap><DVTTe>VND</DVTTe></TTChung>
    <NDHDon>
      <NBan><Ten>{SELLER}</Ten><MST>0101234567</MST></NBan>
      <NMua><Ten>{BUYER}</Ten><MST>0309876543</MST></NMua>
      <TToan><TgTTTBSo>11000000</TgTTTBSo></TToan>
    </NDHDon>
  </DLHDon>
  <DSCKS>
    <NBan>{seller_sig}</NBan>
    <NMua>{buyer_sig}</NMua>
  </DSCKS>
</HDon>
""".encode()


def sign(
    xmlsec1: str, tmp: Path, document: bytes, signer: Signer, node_id: str | None = None
) -> bytes:
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    key.write_bytes(
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(signer.cert.public_bytes(serialization.Encoding.PEM))
    source, out = tmp / "in.xml", tmp / "out.xml"
    source.write_bytes(document)
    command = [xmlsec1, "--sign", "--privkey-pem", f"{key},{cert}"]
    for attribute, element in ID_ATTRS:
        command += [f"--id-attr:{attribute}", element]
    if node_id:
        command += ["--node-id", node_id]
    command += ["--output", str(out), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def signed_invoice(
    xmlsec1: str,
    tmp: Path,
    seller: Signer,
    *,
    algorithms: tuple[str, str] = SHA256,
    time_reference: bool = True,
) -> bytes:
    signature = template("seller", "data", algorithms=algorithms, time_reference=time_reference)
    return sign(xmlsec1, tmp, invoice(signature), seller)


# --- valid signatures ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithms", [SHA256, SHA1], ids=["sha256", "sha1"])
def test_a_sellers_signature_is_intact_valid_and_trusted(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer, algorithms: tuple[str, str]
) -> None:
    data = signed_invoice(xmlsec1, tmp_path, seller, algorithms=algorithms)
    report = verify_xml(data, roots(ca))
    assert len(report.signatures) == 1
    s = report.signatures[0]
    assert (s.intact, s.value_ok, s.trusted, s.ok) == (True, True, True, True)
    assert report.all_valid
    assert s.signer == SELLER
    assert s.signature_id == "seller"
    assert s.covers == ("data", "seller-time")
    assert [r.element for r in s.references] == ["DLHDon", "Object"]
    assert s.certificate == seller.cert.public_bytes(serialization.Encoding.DER)
    assert s.chain[-1] == ca.cert.subject.rfc4514_string()
    assert s.signing_time is not None
    assert s.signing_time.strftime("%Y-%m-%dT%H:%M:%S") == SIGNING_TIME
    assert (XmlProblem.WEAK_ALGORITHM in s.problems) == (algorithms == SHA1)


def test_seller_and_buyer_signatures_are_each_reported(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer, buyer: Signer
) -> None:
    both = invoice(
        template("seller", "data"),
        template("buyer", "data", method=MORE + "ecdsa-sha256"),
    )
    data = sign(xmlsec1, tmp_path, both, seller, node_id="seller")
    data = sign(xmlsec1, tmp_path, data, buyer, node_id="buyer")
    report = verify_xml(data, roots(ca))
    assert [s.signer for s in report.signatures] == [SELLER, BUYER]
    assert [s.covers for s in report.signatures] == [
        ("data", "seller-time"),
        ("data", "buyer-time"),
    ]
    assert report.all_valid, report.signatures


def test_namespaces_declared_on_an_ancestor_are_canonicalized_in_context(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer
) -> None:
    # A default namespace and an unused prefix on the root: inclusive C14N of DLHDon must
    # declare both, exclusive C14N neither (xmlsec1 computes both from the whole document).
    for transform, canonicalization in (
        (None, C14N),
        (EXC_C14N, EXC_C14N),
        (None, C14N + "#WithComments"),
    ):
        signature = template(
            "seller", "data", transform=transform, canonicalization=canonicalization
        )
        document = (
            invoice(signature.replace("<SignedInfo>", "<SignedInfo><!-- kept? -->"))
            .replace(
                b"<HDon>",
                b'<HDon xmlns="urn:example:hdon" xmlns:x="urn:example:x" xml:lang="vi">',
            )
            .replace(b"<DLHDon ", b'<DLHDon x:ver="2" ')
        )
        data = sign(xmlsec1, tmp_path, document, seller)
        report = verify_xml(data, roots(ca))
        assert report.all_valid, (transform, report.signatures)


def test_a_tax_declaration_with_a_lowercase_id(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer
) -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<HSoThueDTu xmlns="http://kekhaithue.gdt.gov.vn/TKhaiThue">'
        '<HSoKhaiThue id="ID_1"><TTinChung><TTinTKhaiThue><TKhaiThue>'
        "<maTKhai>842</maTKhai><tenTKhai>TỜ KHAI THUẾ GIÁ TRỊ GIA TĂNG (01/GTGT)</tenTKhai>"
        "</TKhaiThue></TTinTKhaiThue></TTinChung></HSoKhaiThue>"
        f"<CKyDTu>{template('tk', 'ID_1')}</CKyDTu></HSoThueDTu>"
    ).encode()
    report = verify_xml(sign(xmlsec1, tmp_path, document, seller), roots(ca))
    assert report.all_valid, report.signatures
    assert report.signatures[0].covers == ("ID_1", "tk-time")
    assert report.signatures[0].references[0].element == "HSoKhaiThue"


# --- broken signatures -----------------------------------------------------------------------


def test_one_changed_character_breaks_the_digest_not_the_signature_value(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer
) -> None:
    data = signed_invoice(xmlsec1, tmp_path, seller)
    tampered = data.replace(b"<SHDon>42</SHDon>", b"<SHDon>43</SHDon>")
    s = verify_xml(tampered, roots(ca)).signatures[0]
    assert not s.intact
    assert s.value_ok  # SignedInfo itself is untouched
    assert [r.intact for r in s.references] == [False, True]
    assert XmlProblem.DIGEST_MISMATCH in s.problems
    assert not s.ok


def test_a_changed_signing_time_is_detected(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer
) -> None:
    data = signed_invoice(xmlsec1, tmp_path, seller)
    tampered = data.replace(SIGNING_TIME.encode(), b"2020-01-01T00:00:00")
    s = verify_xml(tampered, roots(ca)).signatures[0]
    assert [r.intact for r in s.references] == [True, False]
    assert not s.intact
    assert s.signing_time == datetime.fromisoformat("2020-01-01T00:00:00+07:00")


def test_an_unsigned_signing_time_is_flagged(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer
) -> None:
    data = signed_invoice(xmlsec1, tmp_path, seller, time_reference=False)
    s = verify_xml(data, roots(ca)).signatures[0]
    assert s.intact and s.value_ok
    assert XmlProblem.SIGNING_TIME_UNSIGNED in s.problems


def test_a_replaced_certificate_does_not_verify_the_value(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer, buyer: Signer
) -> None:
    data = signed_invoice(xmlsec1, tmp_path, seller)
    start = data.index(b"<X509Certificate>") + len(b"<X509Certificate>")
    end = data.index(b"</X509Certificate>")
    other = base64.b64encode(buyer.cert.public_bytes(serialization.Encoding.DER))
    s = verify_xml(data[:start] + other + data[end:], roots(ca)).signatures[0]
    assert s.intact
    assert not s.value_ok
    assert s.signer == BUYER
    assert XmlProblem.BAD_SIGNATURE in s.problems
    assert not s.ok


def test_a_certificate_from_another_root_is_not_trusted(
    xmlsec1: str, tmp_path: Path, seller: Signer
) -> None:
    data = signed_invoice(xmlsec1, tmp_path, seller)
    stranger = TestCa.create("Another CA")
    s = verify_xml(data, roots(stranger)).signatures[0]
    assert (s.intact, s.value_ok, s.trusted) == (True, True, False)
    assert XmlProblem.UNTRUSTED in s.problems
    assert s.chain == (seller.cert.subject.rfc4514_string(),)


# --- without xmlsec1 -------------------------------------------------------------------------


def test_no_signature_is_reported_not_raised() -> None:
    report = verify_xml(invoice())
    assert report.signatures == ()
    assert not report.all_valid
    assert "không có chữ ký số" in report_to_text(report, Lang.VI)


def test_malformed_xml_raises_the_parse_error() -> None:
    with pytest.raises(BadRequest):
        verify_xml(b"<HDon><DLHDon></HDon>")


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("https://example.com/data.xml", XmlProblem.UNSUPPORTED),
        ("#missing", XmlProblem.REFERENCE_NOT_FOUND),
    ],
)
def test_unusable_references_are_problems(uri: str, problem: XmlProblem) -> None:
    broken = template("seller", "data").replace('URI="#data"', f'URI="{uri}"')
    s = verify_xml(invoice(broken)).signatures[0]
    assert problem in s.problems
    assert XmlProblem.NO_CERTIFICATE in s.problems
    assert not s.intact and not s.value_ok and not s.trusted


def test_an_empty_signature_is_malformed_not_an_exception() -> None:
    report = verify_xml(invoice(f'<Signature xmlns="{DS}"/>'))
    assert XmlProblem.MALFORMED in report.signatures[0].problems


# --- the text for people ---------------------------------------------------------------------


def test_the_report_reads_in_vietnamese_and_english(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer
) -> None:
    data = signed_invoice(xmlsec1, tmp_path, seller)
    tampered = data.replace(b"0101234567", b"0101234568")
    report = verify_xml(tampered, roots(ca))
    vi, en = report_to_text(report, Lang.VI), report_to_text(report, "en")
    assert SELLER in vi and SELLER in en
    assert "#data ✗" in vi
    assert "nội dung đã bị thay đổi" in vi
    assert "the signed content was changed" in en
    assert "giá trị băm không khớp" in vi
    assert "digest mismatch" in en
    assert "Thời điểm ký" in vi
    assert "Kết luận" in vi and "Conclusion" in en


# --- the wire form ---------------------------------------------------------------------------


def test_the_wire_form_is_named_as_the_pdf_report(
    xmlsec1: str, tmp_path: Path, ca: TestCa, seller: Signer
) -> None:
    data = signed_invoice(xmlsec1, tmp_path, seller, algorithms=SHA1)
    wire = report_to_json(verify_xml(data, roots(ca)))
    json.dumps(wire)  # plain JSON values only
    assert wire["allValid"] is True
    (s,) = wire["signatures"]
    assert s["signer"] == SELLER
    assert s["signatureId"] == "seller"
    assert s["covers"] == ["data", "seller-time"]
    assert (s["intact"], s["valid"], s["trusted"], s["ok"]) == (True, True, True, True)
    assert s["algorithm"] == DS + "rsa-sha1"
    assert s["problems"] == ["weak-algorithm"]
    assert s["signingTime"].startswith(SIGNING_TIME) and s["signingTime"].endswith("+07:00")
    assert s["issuer"] == seller.cert.issuer.rfc4514_string()
    assert s["subject"] == seller.cert.subject.rfc4514_string()
    assert s["validity"] == {
        "notBefore": seller.cert.not_valid_before_utc.isoformat(),
        "notAfter": seller.cert.not_valid_after_utc.isoformat(),
    }
    assert base64.b64decode(s["signerCertificate"]) == seller.cert.public_bytes(
        serialization.Encoding.DER
    )


def test_the_wire_form_of_no_signature() -> None:
    assert report_to_json(verify_xml(invoice())) == {"allValid": False, "signatures": []}
