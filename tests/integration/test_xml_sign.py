"""Signed XML judged by xmlsec1: e-invoices, tax filings, generic documents, and tampering.

Software keys stand in for the token (the token layer has its own tests); what is tested
here is that the bytes the agent writes verify with an independent XMLDSig implementation
trusting only the test CA, and stop verifying when anything signed changes.
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
    sign_xml,
    xmlsec1,
    xmlsec_verify,
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


def assert_verifies(data: bytes, ca: TestCa, node_id: str | None = None) -> None:
    result = xmlsec_verify(data, ca.cert, node_id=node_id)
    assert result.returncode == 0, result.stderr
    assert "SignedInfo References (ok/all): 2/2" in result.stderr


def assert_rejected(data: bytes, ca: TestCa) -> None:
    result = xmlsec_verify(data, ca.cert)
    assert result.returncode != 0, result.stderr


@pytest.mark.parametrize("digest", ["SHA-256", "SHA-1"])
def test_seller_signed_invoice_verifies_with_rsa(
    ca: TestCa, rsa_signer: SoftSigner, digest: str
) -> None:
    signed = sign_xml(INVOICE, rsa_signer, SELLER, digest=digest)
    assert_verifies(signed, ca)
    method = parse_xml(signed).find(f".//{{{DSIG}}}SignatureMethod").get("Algorithm")
    assert method.endswith("rsa-sha256" if digest == "SHA-256" else "rsa-sha1")


@pytest.mark.parametrize("digest", ["SHA-256", "SHA-1"])
def test_seller_signed_invoice_verifies_with_ecdsa(
    ca: TestCa, ec_signer: SoftSigner, digest: str
) -> None:
    assert_verifies(sign_xml(INVOICE, ec_signer, SELLER, digest=digest), ca)


def test_buyer_signs_after_seller_and_both_signatures_verify(
    ca: TestCa, rsa_signer: SoftSigner, ec_signer: SoftSigner
) -> None:
    by_seller = sign_xml(INVOICE, rsa_signer, SELLER)
    by_both = sign_xml(by_seller, ec_signer, BUYER)
    tree = parse_xml(by_both)
    assert tree.find(f"DSCKS/NBan/{{{DSIG}}}Signature").get("Id") == "NBan"
    assert tree.find(f"DSCKS/NMua/{{{DSIG}}}Signature").get("Id") == "NMua"
    assert_verifies(by_both, ca, node_id="NBan")
    assert_verifies(by_both, ca, node_id="NMua")


def test_invoice_whose_namespaces_are_declared_on_ancestors_verifies(
    ca: TestCa, rsa_signer: SoftSigner
) -> None:
    signed = sign_xml(WRAPPED_INVOICE, rsa_signer, SELLER)
    assert_verifies(signed, ca)
    # The DSCKS the agent created is in the invoice's namespace, where the schema wants it.
    assert parse_xml(signed).find(".//{urn:example:tdiep}DSCKS/{urn:example:tdiep}NBan") is not None


def test_signing_time_with_comments_canonicalization_verifies(
    ca: TestCa, rsa_signer: SoftSigner
) -> None:
    signed = sign_xml(WRAPPED_INVOICE, rsa_signer, SELLER, with_comments=True)
    assert b"REC-xml-c14n-20010315#WithComments" in signed
    assert_verifies(signed, ca)


@pytest.mark.parametrize("signer_kind", ["rsa", "ec"])
def test_tax_declaration_signed_into_ckydtu_verifies(
    ca: TestCa, rsa_signer: SoftSigner, ec_signer: SoftSigner, signer_kind: str
) -> None:
    signer = rsa_signer if signer_kind == "rsa" else ec_signer
    signed = sign_xml(TAX_DECLARATION, signer, PlacementSpec(Profile.TAX_DECLARATION))
    assert b'URI="#_NODE_TO_SIGN"' in signed
    assert_verifies(signed, ca)


def test_tax_message_signed_into_dscks_nnt_verifies(ca: TestCa, rsa_signer: SoftSigner) -> None:
    signed = sign_xml(TAX_MESSAGE, rsa_signer, PlacementSpec(Profile.TAX_MESSAGE))
    assert parse_xml(signed).find(f"DLieu/TKhai/DSCKS/NNT/{{{DSIG}}}Signature") is not None
    assert_verifies(signed, ca)


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
    assert_verifies(sign_xml(GENERIC, rsa_signer, spec), ca)


def test_one_changed_character_of_the_invoice_fails_verification(
    ca: TestCa, rsa_signer: SoftSigner
) -> None:
    signed = sign_xml(INVOICE, rsa_signer, SELLER)
    assert_verifies(signed, ca)
    assert_rejected(signed.replace(b"<ThTien>500000<", b"<ThTien>900000<"), ca)


def test_a_changed_signing_time_fails_verification(ca: TestCa, rsa_signer: SoftSigner) -> None:
    signed = sign_xml(INVOICE, rsa_signer, SELLER)
    assert b"<SigningTime>2025-03-14T09:26:53</SigningTime>" in signed
    assert_rejected(signed.replace(b"2025-03-14T09:26:53", b"2025-03-13T09:26:53"), ca)


def test_another_certificate_in_keyinfo_fails_verification(
    ca: TestCa, rsa_signer: SoftSigner
) -> None:
    signed = sign_xml(INVOICE, rsa_signer, SELLER)
    other = SoftSigner.rsa(ca, "Kẻ Mạo Danh")  # issued by the same trusted CA
    tree = parse_xml(signed)
    tree.find(f".//{{{DSIG}}}X509Certificate").text = base64.b64encode(
        other.cert.public_bytes(serialization.Encoding.DER)
    ).decode()
    assert_rejected(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), ca)


def test_a_certificate_from_an_untrusted_ca_fails_verification(ca: TestCa) -> None:
    stranger = SoftSigner.rsa(TestCa.create("Outside CA"))
    assert_rejected(sign_xml(INVOICE, stranger, SELLER), ca)
