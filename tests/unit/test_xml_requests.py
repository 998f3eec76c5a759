"""The XML API's edges: request parsing, the checks before the question, the question's wire."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.algorithms import HashAlgorithm
from agent.consent.prompter import DocumentView, PromptAction, PromptRequest
from agent.errors import BadRequest
from agent.messages import Lang
from agent.protocol import (
    MAX_XML_BATCH,
    parse_xml_batch_sign_request,
    parse_xml_sign_request,
)
from agent.testing.softhsm import TestCa
from agent.ui.dialog_model import describe, parse_question
from agent.xml import commands
from agent.xml.profiles import EinvoiceRole, Profile
from agent.xml.sign import XmlDigest
from tests.xmlsig import GENERIC, INVOICE, SIGNING_TIME, SoftSigner


def body(xml: bytes = INVOICE, **fields: object) -> dict[str, object]:
    return {"xml": base64.b64encode(xml).decode(), "profile": "einvoice", **fields}


def test_defaults_are_the_seller_and_sha256() -> None:
    [document] = parse_xml_sign_request(body()).documents
    assert document.spec.profile is Profile.EINVOICE
    assert document.spec.role is EinvoiceRole.SELLER
    assert document.digest is XmlDigest.SHA256


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"signId": "x"}, "signId"),
        ({"profile": "tax-declaration", "role": "buyer"}, "role"),
        ({"profile": "enveloped"}, "signId"),
        ({"profile": "enveloped", "signId": "a", "parentId": "b", "parentXpath": "/c"}, "parentId"),
        ({"profile": "enveloped", "signId": "a\u202e"}, "signId"),
        ({"role": "king"}, "role"),
        ({"digestAlgorithm": "SHA-512"}, "SHA-512"),
        ({"userPin": "1234"}, "userPin"),
    ],
)
def test_fields_that_cannot_apply_are_refused_by_name(
    fields: dict[str, object], named: str
) -> None:
    with pytest.raises(BadRequest, match=named):
        parse_xml_sign_request(body(**fields))


def test_batch_bounds() -> None:
    item = body()
    assert len(parse_xml_batch_sign_request({"documents": [item] * MAX_XML_BATCH}).documents) == 500
    for documents in ([], [item] * (MAX_XML_BATCH + 1), "x"):
        with pytest.raises(BadRequest, match="documents"):
            parse_xml_batch_sign_request({"documents": documents})
    with pytest.raises(BadRequest, match=r"documents\.1\.certificate"):
        parse_xml_batch_sign_request({"documents": [item, {**item, "certificate": "AA=="}]})


def test_check_summarizes_the_signed_element_and_names_a_bad_document_in_a_batch() -> None:
    request = parse_xml_batch_sign_request(
        {"documents": [body(), body(GENERIC, profile="enveloped", signId="payload"), body(b"<x>")]}
    )
    with pytest.raises(BadRequest) as refused:
        asyncio.run(commands.check(request.documents, Lang.EN))
    assert refused.value.to_wire(Lang.EN)["error"]["message"].startswith(
        "Invalid request: document 2 (documents.2): the XML document is not well-formed"
    )
    assert refused.value.to_wire(Lang.VI)["error"]["message"].startswith(
        "Yêu cầu không hợp lệ: tài liệu số 2 (documents.2): tài liệu XML không hợp lệ"
    )
    first, second = asyncio.run(commands.check(request.documents[:2], Lang.VI))
    assert "Số: 123" in first.summary
    assert second.summary == ("Tài liệu XML: <Data>", 'Phần sẽ ký: phần tử có Id "payload"')


def test_sha1_asked_for_passes_the_checks_and_reaches_the_token_as_sha1() -> None:
    request = parse_xml_sign_request(body(digestAlgorithm="SHA-1"))
    assert request.documents[0].digest is XmlDigest.SHA1
    checked = asyncio.run(commands.check(request.documents, Lang.EN))  # no refusal before
    signer = SoftSigner.rsa(TestCa.create())
    key = signer.key
    assert isinstance(key, rsa.RSAPrivateKey)
    asked: list[HashAlgorithm] = []

    async def token(work: Sequence[tuple[bytes, HashAlgorithm]]) -> list[bytes]:
        asked.extend(algorithm for _digest, algorithm in work)
        # What CKM_RSA_PKCS over the SHA-1 DigestInfo gives, done in software.
        return [
            key.sign(d, padding.PKCS1v15(), Prehashed(hashes.SHA1()))  # noqa: S303
            for d, _a in work
        ]

    certificate = signer.cert.public_bytes(serialization.Encoding.DER)
    [signed] = asyncio.run(
        commands.sign(request.documents, checked, certificate, token, SIGNING_TIME)
    )
    assert asked == [HashAlgorithm.SHA1]
    # A second attempt (a wrong PIN first) parses again: the first one wrote into its tree.
    asked.clear()
    [again] = asyncio.run(
        commands.sign(request.documents, checked, certificate, token, SIGNING_TIME)
    )
    assert asked == [HashAlgorithm.SHA1]
    assert again.xml.count(b"<SignatureValue>") == signed.xml.count(b"<SignatureValue>") == 1
    assert signed.signature_algorithm == "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


def test_the_summary_travels_to_the_dialog_and_is_shown() -> None:
    document = DocumentView(
        "HĐ 123", bytes(32), HashAlgorithm.SHA256, summary=("Hóa đơn điện tử", "Số: 123")
    )
    question = PromptRequest(
        PromptAction.SIGN, "https://portal.example.gov.vn", (), documents=(document,)
    ).to_wire()
    assert question["documents"][0]["summary"] == ["Hóa đơn điện tử", "Số: 123"]
    question["certificates"] = [
        {"id": "a", "subject": "CN=A", "issuer": "CN=B", "notAfter": "2030-01-01T00:00:00+00:00"}
    ]
    parsed = parse_question(question)
    assert parsed.documents[0].summary == ("Hóa đơn điện tử", "Số: 123")
    assert describe(parsed).documents[0].summary == ("Hóa đơn điện tử", "Số: 123")


def test_a_pdf_question_has_no_summary_on_the_wire() -> None:
    document = DocumentView("a.pdf", bytes(32), HashAlgorithm.SHA256)
    wire = PromptRequest(PromptAction.SIGN, "https://a.vn", (), documents=(document,)).to_wire()
    assert "summary" not in wire["documents"][0]
