"""Signed XML judged by xmlsec1 and signxml: e-invoices, tax filings, generic documents, tampering.

Software keys stand in for the token (the token layer has its own tests); what is tested
here is that the bytes the agent writes verify with two independent XMLDSig
implementations trusting only the test CA, and stop verifying when anything signed changes.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from agent.testing.softhsm import TestCa
from agent.xml.parse import parse_xml
from agent.xml.profiles import EinvoiceRole, PlacementSpec, Profile
from tests.xmlsig import (
    DSIG,
    GENERIC,
    INVOICE,
    TAX_DECLARATION,
    TAX_MESSAGE,
    WRAPPED_INVOICE,
    SoftSigner,
    assert_judges_accept,
    assert_judges_reject,
    sign_xml,
    xmlsec1,
)

SELLER = PlacementSpec(Profile.EINVOICE)
BUYER = PlacementSpec(Profile.EINVOICE, role=EinvoiceRole.BUYER)


@pytest.fixture(scope="module", autouse=True)
def _needs_xmlsec1() -> None:
    xmlsec1()


@pytest.fixture(scope="module")
def ca() -> TestCa:
    return TestCa.create()


@pytest.fixture(scope="module")
def rsa_signer(ca: TestCa) -> SoftSigner:
    return SoftSigner.rsa(ca)


@pytest.fixture(scope="module")
def ec_signer(ca: TestCa) -> SoftSigner:
    return SoftSigner.ec(ca)


@pytest.mark.parametrize("digest", ["SHA-256", "SHA-1"])
def test_seller_signed_invoice_verifies_with_rsa(
    ca: TestCa, rsa_signer: SoftSigner, digest: str
) -> None:
    signed = sign_xml(INVOICE, rsa_signer, SELLER, digest=digest)
    assert_judges_accept(signed, ca.cert)
    method = parse_xml(signed).find(f".//{{{DSIG}}}SignatureMethod").get("Algorithm")
    assert method.endswith("rsa-sha256" if digest == "SHA-256" else "rsa-sha1")


@pytest.mark.parametrize("digest", ["SHA-256", "SHA-1"])
def test_seller_signed_invoice_verifies_with_ecdsa(
    ca: TestCa, ec_signer: SoftSigner, digest: str
) -> None:
    assert_judges_accept(sign_xml(INVOICE, ec_signer, SELLER, digest=digest), ca.cert)


def test_buyer_signs_after_seller_and_both_signatures_verify(
    ca: TestCa, rsa_signer: SoftSigner, ec_signer: SoftSigner
) -> None:
    by_seller = sign_xml(INVOICE, rsa_signer, SELLER)
    by_both = sign_xml(by_seller, ec_signer, BUYER)
    tree = parse_xml(by_both)
    assert tree.find(f"DSCKS/NBan/{{{DSIG}}}Signature").get("Id") == "NBan"
    assert tree.find(f"DSCKS/NMua/{{{DSIG}}}Signature").get("Id") == "NMua"
    assert_judges_accept(by_both, ca.cert, node_id="NBan")
    assert_judges_accept(by_both, ca.cert, node_id="NMua")


@pytest.mark.parametrize("xml_lang", [True, False], ids=["xml-lang", "no-xml-lang"])
def test_invoice_whose_namespaces_are_declared_on_ancestors_verifies(
    ca: TestCa, rsa_signer: SoftSigner, xml_lang: bool
) -> None:
    document = WRAPPED_INVOICE if xml_lang else WRAPPED_INVOICE.replace(b' xml:lang="vi"', b"")
    signed = sign_xml(document, rsa_signer, SELLER)
    # An inherited xml:lang belongs in SignedInfo's canonical form, which signxml misses.
    assert_judges_accept(signed, ca.cert, by_signxml=not xml_lang)
    # The DSCKS the agent created is in the invoice's namespace, where the schema wants it.
    assert parse_xml(signed).find(".//{urn:example:tdiep}DSCKS/{urn:example:tdiep}NBan") is not None


def test_signing_time_with_comments_canonicalization_verifies(
    ca: TestCa, rsa_signer: SoftSigner
) -> None:
    signed = sign_xml(WRAPPED_INVOICE, rsa_signer, SELLER, with_comments=True)
    assert b"REC-xml-c14n-20010315#WithComments" in signed
    assert_judges_accept(signed, ca.cert, by_signxml=False)  # xml:lang on TDiep, as above
    commented = INVOICE.replace(b"<SHDon>123</SHDon>", "<SHDon>123</SHDon><!-- số -->".encode())
    with_comment = sign_xml(commented, rsa_signer, SELLER, with_comments=True)
    assert_judges_accept(with_comment, ca.cert)
    # A bare-name reference (URI="#Id") drops comments whatever the canonicalization
    # (XMLDSig 4.4.3.3): WithComments governs SignedInfo only, so a changed comment in
    # the invoice leaves its digest, and both judges' verdicts, as they were.
    assert_judges_accept(with_comment.replace("<!-- số -->".encode(), b"<!-- so -->"), ca.cert)


@pytest.mark.parametrize("signer_kind", ["rsa", "ec"])
def test_tax_declaration_signed_into_ckydtu_verifies(
    ca: TestCa, rsa_signer: SoftSigner, ec_signer: SoftSigner, signer_kind: str
) -> None:
    signer = rsa_signer if signer_kind == "rsa" else ec_signer
    signed = sign_xml(TAX_DECLARATION, signer, PlacementSpec(Profile.TAX_DECLARATION))
    assert b'URI="#_NODE_TO_SIGN"' in signed
    assert_judges_accept(signed, ca.cert)


def test_tax_message_signed_into_dscks_nnt_verifies(ca: TestCa, rsa_signer: SoftSigner) -> None:
    signed = sign_xml(TAX_MESSAGE, rsa_signer, PlacementSpec(Profile.TAX_MESSAGE))
    assert parse_xml(signed).find(f"DLieu/TKhai/DSCKS/NNT/{{{DSIG}}}Signature") is not None
    assert_judges_accept(signed, ca.cert)


@pytest.mark.parametrize(
    "spec",
    [
        PlacementSpec(Profile.ENVELOPED, sign_id="payload", parent_xpath="/Doc/Signatures"),
        PlacementSpec(Profile.ENVELOPED, sign_id="payload", parent_id="sigs"),
        # Inside the signed element: the enveloped-signature transform takes it out again.
        PlacementSpec(Profile.ENVELOPED, sign_id="payload"),
    ],
)
def test_generic_enveloped_document_verifies(
    ca: TestCa, rsa_signer: SoftSigner, spec: PlacementSpec
) -> None:
    assert_judges_accept(sign_xml(GENERIC, rsa_signer, spec), ca.cert)


def test_one_changed_character_of_the_invoice_fails_verification(
    ca: TestCa, rsa_signer: SoftSigner
) -> None:
    signed = sign_xml(INVOICE, rsa_signer, SELLER)
    assert_judges_accept(signed, ca.cert)
    assert_judges_reject(signed.replace(b"<ThTien>500000<", b"<ThTien>900000<"), ca.cert)


def test_a_changed_signing_time_fails_verification(ca: TestCa, rsa_signer: SoftSigner) -> None:
    signed = sign_xml(INVOICE, rsa_signer, SELLER)
    assert b"<SigningTime>2025-03-14T09:26:53</SigningTime>" in signed
    assert_judges_reject(signed.replace(b"2025-03-14T09:26:53", b"2025-03-13T09:26:53"), ca.cert)


def test_another_certificate_in_keyinfo_fails_verification(
    ca: TestCa, rsa_signer: SoftSigner
) -> None:
    signed = sign_xml(INVOICE, rsa_signer, SELLER)
    other = SoftSigner.rsa(ca, "Kẻ Mạo Danh")  # issued by the same trusted CA
    tree = parse_xml(signed)
    tree.find(f".//{{{DSIG}}}X509Certificate").text = base64.b64encode(
        other.cert.public_bytes(serialization.Encoding.DER)
    ).decode()
    assert_judges_reject(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), ca.cert)


def test_a_certificate_from_an_untrusted_ca_fails_verification(ca: TestCa) -> None:
    stranger = SoftSigner.rsa(TestCa.create("Outside CA"))
    assert_judges_reject(sign_xml(INVOICE, stranger, SELLER), ca.cert)
