"""Where each profile puts the signature, and the documents it refuses to sign."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.errors import BadRequest
from agent.xml.parse import parse_xml
from agent.xml.profiles import EinvoiceRole, PlacementSpec, Profile, infer_spec, locate
from tests.xmlsig import GENERIC, INVOICE, TAX_DECLARATION, TAX_MESSAGE, WRAPPED_INVOICE

SIGNED_NBAN = INVOICE.replace(
    b"<NBan/>", b'<NBan><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/></NBan>'
)


def refusal(data: bytes, spec: PlacementSpec) -> str:
    with pytest.raises(BadRequest) as caught:
        locate(parse_xml(data), spec)
    assert caught.value.phrase is not None
    return caught.value.phrase.key


def path_of(element: etree._Element) -> str:
    return "/".join(
        etree.QName(e).localname for e in [*reversed(list(element.iterancestors())), element]
    )


@pytest.mark.parametrize(
    ("role", "where"),
    [
        (EinvoiceRole.SELLER, "HDon/DSCKS/NBan"),
        (EinvoiceRole.BUYER, "HDon/DSCKS/NMua"),
        (EinvoiceRole.TAX_AUTHORITY, "HDon/DSCKS/CQT"),
        (EinvoiceRole.OTHER, "HDon/DSCKS/CCKSKhac"),
    ],
)
def test_einvoice_signs_dlhdon_into_the_roles_element(role: EinvoiceRole, where: str) -> None:
    placement = locate(parse_xml(INVOICE), PlacementSpec(Profile.EINVOICE, role=role))
    assert placement.signed_id == "DLHDon-0001"
    assert path_of(placement.parent) == where
    assert placement.id_hint == role.element


def test_einvoice_creates_missing_dscks_in_the_invoices_namespace_and_schema_order() -> None:
    tree = parse_xml(WRAPPED_INVOICE)
    placement = locate(tree, PlacementSpec(Profile.EINVOICE, role=EinvoiceRole.TAX_AUTHORITY))
    assert placement.parent.tag == "{urn:example:tdiep}CQT"
    assert placement.parent.getparent().tag == "{urn:example:tdiep}DSCKS"
    tree = parse_xml(INVOICE.replace(b"<NMua/></DSCKS>", b"<CCKSKhac/></DSCKS>"))
    locate(tree, PlacementSpec(Profile.EINVOICE, role=EinvoiceRole.BUYER))
    assert [e.tag for e in tree.find("DSCKS")] == ["NBan", "NMua", "CCKSKhac"]


def test_tax_declaration_signs_the_lower_case_id_into_ckydtu() -> None:
    placement = locate(parse_xml(TAX_DECLARATION), PlacementSpec(Profile.TAX_DECLARATION))
    assert placement.signed_id == "_NODE_TO_SIGN"
    assert etree.QName(placement.parent).localname == "CKyDTu"


def test_tax_message_signs_dltkhai_into_tkhai_dscks_nnt() -> None:
    placement = locate(parse_xml(TAX_MESSAGE), PlacementSpec(Profile.TAX_MESSAGE))
    assert placement.signed_id == "TKhai-01"
    assert path_of(placement.parent) == "TDiep/DLieu/TKhai/DSCKS/NNT"


@pytest.mark.parametrize(
    ("data", "spec", "key"),
    [
        (b"<HDon><DSCKS/></HDon>", PlacementSpec(Profile.EINVOICE), "bad_xml_element_missing"),
        (b"<Other/>", PlacementSpec(Profile.EINVOICE), "bad_xml_element_missing"),
        (
            b"<HDon><DLHDon>x</DLHDon></HDon>",
            PlacementSpec(Profile.EINVOICE),
            "bad_xml_element_no_id",
        ),
        (
            b'<HDon><DLHDon Id="a"/><DLHDon Id="b"/></HDon>',
            PlacementSpec(Profile.EINVOICE),
            "bad_xml_element_duplicate",
        ),
        # A second element with the signed Id (signature wrapping) is refused.
        (
            b'<HDon><DLHDon Id="a"/><TTKhac><X id="a"/></TTKhac></HDon>',
            PlacementSpec(Profile.EINVOICE),
            "bad_xml_id_duplicate",
        ),
        (SIGNED_NBAN, PlacementSpec(Profile.EINVOICE), "bad_xml_already_signed"),
        (
            TAX_DECLARATION.replace(b"<CKyDTu/>", b"<CKyDTu><Signature/></CKyDTu>").replace(
                b"<Signature/>", b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>'
            ),
            PlacementSpec(Profile.TAX_DECLARATION),
            "bad_xml_already_signed",
        ),
        (
            b"<HSoThueDTu><CKyDTu/></HSoThueDTu>",
            PlacementSpec(Profile.TAX_DECLARATION),
            "bad_xml_element_missing",
        ),
        (GENERIC, PlacementSpec(Profile.ENVELOPED, sign_id="nope"), "bad_xml_id_missing"),
        (GENERIC, PlacementSpec(Profile.ENVELOPED), "bad_missing_fields"),
        (
            GENERIC,
            PlacementSpec(Profile.ENVELOPED, sign_id="payload", parent_id="nope"),
            "bad_xml_id_missing",
        ),
        (
            GENERIC,
            PlacementSpec(Profile.ENVELOPED, sign_id="payload", parent_xpath="/Doc/Nope"),
            "bad_xml_element_missing",
        ),
    ],
)
def test_documents_that_cannot_be_signed_are_refused(
    data: bytes, spec: PlacementSpec, key: str
) -> None:
    assert refusal(data, spec) == key


@pytest.mark.parametrize(
    "xpath",
    [
        "/Doc/Signatures[1]",
        "//*",
        "/Doc/Signatures/..",
        "document('file:///etc/passwd')",
        "/Doc | /Doc/Data",
        "/a:Doc",
        "Doc",
        "",
    ],
)
def test_parent_xpath_allows_only_element_name_steps(xpath: str) -> None:
    spec = PlacementSpec(Profile.ENVELOPED, sign_id="payload", parent_xpath=xpath)
    assert refusal(GENERIC, spec) == "bad_xml_xpath"


def test_parent_xpath_matches_by_local_name_and_must_be_unique() -> None:
    tree = parse_xml(GENERIC)
    spec = PlacementSpec(Profile.ENVELOPED, sign_id="payload", parent_xpath="//Item")
    assert locate(tree, spec).parent.tag == "{urn:example:a}Item"
    spec = PlacementSpec(Profile.ENVELOPED, sign_id="payload", parent_xpath="//*")
    doubled = GENERIC.replace(b"<a:Item>1</a:Item>", b"<a:Item>1</a:Item><a:Item>2</a:Item>")
    assert refusal(doubled, spec) == "bad_xml_xpath"
    spec = PlacementSpec(Profile.ENVELOPED, sign_id="payload", parent_xpath="//Item")
    assert refusal(doubled, spec) == "bad_xml_element_duplicate"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (INVOICE, PlacementSpec(Profile.EINVOICE)),
        (WRAPPED_INVOICE, PlacementSpec(Profile.EINVOICE)),
        (TAX_DECLARATION, PlacementSpec(Profile.TAX_DECLARATION)),
        (TAX_MESSAGE, PlacementSpec(Profile.TAX_MESSAGE)),
        (b'<Data Id="hocba"><A/></Data>', PlacementSpec(Profile.ENVELOPED, sign_id="hocba")),
    ],
)
def test_a_document_without_a_profile_is_placed_by_its_shape(
    document: bytes, expected: PlacementSpec
) -> None:
    assert infer_spec(parse_xml(document)) == expected


def test_a_root_without_an_id_cannot_be_placed() -> None:
    with pytest.raises(BadRequest, match="Id"):
        infer_spec(parse_xml(b"<data><test>test</test></data>"))
