"""XML signing in tests: software keys standing in for the token, and two judges.

xmlsec1 is an independent XMLDSig implementation (libxml2 + OpenSSL); it resolves
``#Id`` references only through attributes declared with ``--id-attr``. signxml's
verifier is the second (pure Python over lxml and cryptography), with two settings of its
own that real Vietnamese signatures need, each explained in :func:`signxml_verify`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import signxml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier

from agent.algorithms import KeyType
from agent.testing.softhsm import TestCa, vn_name
from agent.xml import profiles, sign
from agent.xml.parse import parse_xml
from tests.wine import require

#: A fixed signing time: tests never read the clock for what they sign.
SIGNING_TIME = datetime(2025, 3, 14, 9, 26, 53)

TAX_NS = "http://kekhaithue.gdt.gov.vn/TKhaiThue"
DSIG = "http://www.w3.org/2000/09/xmldsig#"

#: The Id attributes of the documents in these tests, as xmlsec1 must be told them.
ID_ATTRS = (
    ("Id", "DLHDon"),
    ("Id", "urn:example:tdiep:DLHDon"),
    ("Id", f"{DSIG}:SignatureProperties"),
    ("Id", f"{DSIG}:Signature"),
    ("id", f"{TAX_NS}:HSoKhaiThue"),
    ("Id", "DLTKhai"),
    ("Id", "Data"),
    ("Id", "Signatures"),
)

# Test documents in the shapes of real ones (an invoice of Decree 123 / Circular 78, an
# HTKK tax declaration, a message to the tax authority), with invented content.
INVOICE = """<?xml version="1.0" encoding="UTF-8"?>
<HDon xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <DLHDon Id="DLHDon-0001">
    <TTChung><PBan>2.1.0</PBan><THDon>Hóa đơn giá trị gia tăng</THDon><KHMSHDon>1</KHMSHDon>\
<KHHDon>C25TAA</KHHDon><SHDon>123</SHDon><NLap>2025-03-14</NLap><DVTTe>VND</DVTTe></TTChung>
    <NDHDon>
      <NBan><Ten>CÔNG TY TNHH THỬ NGHIỆM</Ten><MST>0100000001</MST></NBan>
      <NMua><Ten>Công ty Cổ phần Mua Hàng</Ten><MST>0100000002</MST></NMua>
      <DSHHDVu><HHDVu><STT>1</STT><THHDVu>Giấy A4 &amp; bút</THHDVu><SLuong>10</SLuong>\
<DGia>50000</DGia><ThTien>500000</ThTien><TSuat>10%</TSuat></HHDVu></DSHHDVu>
      <TToan><TgTCThue>500000</TgTCThue><TgTThue>50000</TgTThue><TgTTTBSo>550000</TgTTTBSo>\
</TToan>
    </NDHDon>
  </DLHDon>
  <DSCKS><NBan/><NMua/></DSCKS>
</HDon>
""".encode()

#: The same invoice inside a message to the tax authority: namespaces (a default one
#: too) declared on ancestors of DLHDon, which its canonical form must carry.
WRAPPED_INVOICE = """<?xml version="1.0" encoding="UTF-8"?>
<TDiep xmlns="urn:example:tdiep" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xml:lang="vi">
  <TTChung><PBan>2.1.0</PBan><MNGui>K0100000001</MNGui><MLTDiep>200</MLTDiep></TTChung>
  <DLieu>
    <HDon>
      <DLHDon Id="TS-2025-0001"><TTChung><PBan>2.1.0</PBan><SHDon>7</SHDon></TTChung>\
<NDHDon><NBan><Ten>Hộ kinh doanh Thử</Ten></NBan><TToan><TgTTTBSo>1000</TgTTTBSo></TToan>\
</NDHDon></DLHDon>
      <!-- the seller's software left no DSCKS: the agent creates it -->
    </HDon>
  </DLieu>
</TDiep>
""".encode()


def numbered_invoice(number: int) -> bytes:
    """:data:`INVOICE` with its own number (``SHDon``) and Id: one of a batch."""
    return INVOICE.replace(b"<SHDon>123</SHDon>", f"<SHDon>{number}</SHDon>".encode()).replace(
        b'Id="DLHDon-0001"', f'Id="DLHDon-{number:04d}"'.encode()
    )


TAX_DECLARATION = f"""<?xml version="1.0" encoding="UTF-8"?>
<HSoThueDTu xmlns="{TAX_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <HSoKhaiThue id="_NODE_TO_SIGN">
    <TTinChung><TTinDVu><maDVu>HTKK</maDVu><tenDVu>HỖ TRỢ KÊ KHAI THUẾ</tenDVu></TTinDVu>
      <TTinTKhaiThue><TKhaiThue><maTKhai>842</maTKhai><tenTKhai>TỜ KHAI THUẾ GTGT (01/GTGT)\
</tenTKhai><KyKKhaiThue><kieuKy>Q</kieuKy><kyKKhai>1/2025</kyKKhai></KyKKhaiThue></TKhaiThue>
        <NNT><mst>0100000001</mst><tenNNT>CÔNG TY TNHH THỬ NGHIỆM</tenNNT></NNT></TTinTKhaiThue>
    </TTinChung>
    <CTieuTKhaiChinh><ct21>0</ct21><ct40>50000</ct40></CTieuTKhaiChinh>
  </HSoKhaiThue>
  <CKyDTu/>
</HSoThueDTu>
""".encode()

TAX_MESSAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<TDiep><TTChung><PBan>2.0.0</PBan><MLTDiep>100</MLTDiep></TTChung>
<DLieu><TKhai><DLTKhai Id="TKhai-01"><TTChung><PBan>2.0.0</PBan><MSo>01/DKTD-HDDT</MSo>\
</TTChung><NDTKhai><MST>0100000001</MST></NDTKhai></DLTKhai></TKhai></DLieu></TDiep>
"""

GENERIC = b"""<?xml version="1.0" encoding="UTF-8"?>
<Doc xmlns:a="urn:example:a"><Data Id="payload"><a:Item>1</a:Item></Data>\
<Signatures Id="sigs"/></Doc>
"""


@dataclass(frozen=True)
class SoftSigner:
    """A software key and its certificate from the test CA: what a token would hold."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def rsa(cls, ca: TestCa, name: str = "CÔNG TY TNHH THỬ NGHIỆM") -> SoftSigner:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(key, ca.issue(key.public_key(), vn_name(name, "Thử nghiệm")))

    @classmethod
    def ec(cls, ca: TestCa, name: str = "Nguyễn Văn A") -> SoftSigner:
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(key, ca.issue(key.public_key(), vn_name(name)))

    def value(self, prepared: sign.PreparedXml) -> bytes:
        """Sign the canonical SignedInfo as the token would (EC: DER, finish converts it)."""
        algorithm = {"SHA-256": hashes.SHA256(), "SHA-1": hashes.SHA1()}[  # noqa: S303
            prepared.digest_algorithm.value
        ]
        if isinstance(self.key, rsa.RSAPrivateKey):
            assert prepared.key_type is KeyType.RSA
            return self.key.sign(prepared.to_be_signed, padding.PKCS1v15(), algorithm)
        return self.key.sign(prepared.to_be_signed, ec.ECDSA(algorithm))


def sign_xml(
    data: bytes,
    signer: SoftSigner,
    spec: profiles.PlacementSpec,
    **options: Any,
) -> bytes:
    """Parse, locate, prepare, sign in software and finish: the whole path."""
    tree = parse_xml(data)
    placement = profiles.locate(tree, spec)
    options.setdefault("signing_time", SIGNING_TIME)
    prepared = sign.prepare(tree, placement, signer.cert, **options)
    return sign.finish(prepared, signer.value(prepared))


def xmlsec1() -> str:
    """The xmlsec1 command; skipped without it, failed in CI (``make deps`` installs it)."""
    found = shutil.which("xmlsec1")
    require("xmlsec1", found)
    assert found
    return found


def xmlsec_verify(
    data: bytes, ca: x509.Certificate, *, node_id: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``xmlsec1 --verify`` of ``data`` with only ``ca`` trusted.

    ``node_id`` picks which Signature (by its Id) when there are several.
    """
    with tempfile.TemporaryDirectory() as tmp:
        doc, ca_pem = Path(tmp, "doc.xml"), Path(tmp, "ca.pem")
        doc.write_bytes(data)
        ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        command = [xmlsec1(), "--verify", "--trusted-pem", str(ca_pem)]
        for attribute, element in ID_ATTRS:
            command += [f"--id-attr:{attribute}", element]
        if node_id is not None:
            command += ["--node-id", node_id]
        command.append(str(doc))
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def signxml_verify(
    data: bytes, ca: x509.Certificate, *, location: str = ".//"
) -> list[signxml.VerifyResult]:
    """signxml's verdict on the Signature at ``location`` with only ``ca`` trusted.

    Raises :class:`signxml.exceptions.InvalidInput` (or one of its kind) when it fails.
    ``location`` is signxml's XPath prefix to the Signature (``.//NMua/`` for the
    buyer's when there are several). Every signature here has two references (the
    signed element and the SigningTime object).

    Two settings, both signxml's own:

    - ``excise_empty_xmlns_declarations``: lxml 6.2's C14N of an element inside a tree
      writes ``xmlns=""`` on grandchildren under a default namespace (``agent/xml/c14n.py``
      explains it), which breaks every ``Signature`` written without a ``ds:`` prefix,
      as Vietnamese signatures are (signxml issue #275). None of these documents
      undeclares the default namespace on purpose, so removing ``xmlns=""`` is exact here.
    - ``validate_schema=False``: XMLDSig's schema allows only foreign elements in a
      ``SignatureProperty``; ``SigningTime`` inherits the Signature's own namespace, as
      in the invoices it copies, so schema validation would refuse every one of them
      without saying anything about the signature.

    signxml reads the Signature out of its document, so a ``xml:lang`` on an ancestor
    (which C14N 1.0 carries onto ``SignedInfo`` and xmlsec1 honours) is lost to it:
    such documents are judged by xmlsec1 alone.
    """
    config = SignatureConfiguration(
        location=location,
        expect_references=2,
        signature_methods=frozenset(SignatureMethod),
        digest_algorithms=frozenset(DigestAlgorithm),
    )
    verifier = XMLVerifier()
    verifier.excise_empty_xmlns_declarations = True
    with tempfile.TemporaryDirectory() as tmp:
        ca_pem = Path(tmp, "ca.pem")
        ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        verified = verifier.verify(
            data, ca_pem_file=str(ca_pem), expect_config=config, validate_schema=False
        )
    assert isinstance(verified, list)
    return verified


def assert_judges_accept(
    data: bytes, ca: x509.Certificate, node_id: str | None = None, *, by_signxml: bool = True
) -> None:
    """xmlsec1 and signxml both accept the signature (``node_id``: the one with that Id).

    ``by_signxml=False`` only where signxml is known to be wrong (:func:`signxml_verify`).
    """
    result = xmlsec_verify(data, ca, node_id=node_id)
    assert result.returncode == 0, result.stderr
    assert "SignedInfo References (ok/all): 2/2" in result.stderr
    if by_signxml:
        location = ".//" if node_id is None else f".//{node_id}/"
        assert len(signxml_verify(data, ca, location=location)) == 2


def assert_judges_reject(data: bytes, ca: x509.Certificate) -> None:
    """xmlsec1 and signxml both refuse the signature."""
    result = xmlsec_verify(data, ca)
    assert result.returncode != 0, result.stderr
    try:
        signxml_verify(data, ca)
    except signxml.exceptions.SignXMLException:
        return
    raise AssertionError("signxml accepted what xmlsec1 refused")
