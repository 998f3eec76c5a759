"""XML signing and verification through the real server on SoftHSM, judged by xmlsec1.

The agent here trusts the session's test CA (``trust_roots``), so that ``/v1/xml/verify``
can say "trusted"; xmlsec1 (:mod:`tests.xmlsig`), trusting only that CA, decides whether
what the agent wrote is a valid signature.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.conftest import PIN, AgentProcess, SessionToken, start_agent
from tests.verify import b64, der
from tests.xmlsig import (
    DSIG,
    INVOICE,
    TAX_DECLARATION,
    WRAPPED_INVOICE,
    assert_judges_accept,
    numbered_invoice,
    xmlsec1,
)

pytestmark = pytest.mark.integration

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"


@pytest.fixture(scope="module", autouse=True)
def _needs_xmlsec1() -> None:
    xmlsec1()


@pytest.fixture(scope="module")
def xml_agent(
    token: SessionToken, ca_pem: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    """The agent on the test token, trusting the test CA, without the cancel back-off."""
    running = start_agent(
        tmp_path_factory.mktemp("xml-agent"),
        token.hsm,
        "--prompt-timeout",
        "3",
        "--lang",
        "vi",
        policy={"cancel_backoff_seconds": 0, "trust_roots": [str(ca_pem)]},
    )
    yield running
    running.stop()


@pytest.fixture
def agent(xml_agent: AgentProcess) -> AgentProcess:
    xml_agent.script()
    return xml_agent


def sign_xml(agent: AgentProcess, xml: bytes, **fields: Any) -> dict[str, Any]:
    response = agent.post("/v1/xml/sign", {"xml": b64(xml), "profile": "einvoice", **fields})
    assert response.status == 200, response.body[:500]
    body: dict[str, Any] = response.json
    return body


def assert_verifies(signed: bytes, token: SessionToken, *, by_signxml: bool = True) -> None:
    assert_judges_accept(signed, token.ca.cert, by_signxml=by_signxml)


def test_seller_signs_an_invoice_with_rsa_and_xmlsec1_verifies_it(
    agent: AgentProcess, token: SessionToken
) -> None:
    agent.script({"approved": True, "pin": PIN})
    answer = sign_xml(
        agent, INVOICE, role="seller", certificate=b64(der(token.rsa)), documentName="HĐ 123"
    )
    signed = base64.b64decode(answer["xml"])
    assert_verifies(signed, token)
    assert answer["signatureAlgorithm"] == RSA_SHA256
    assert base64.b64decode(answer["certificate"]) == der(token.rsa)
    tree = etree.fromstring(signed)
    [signature] = tree.findall(f"DSCKS/NBan/{{{DSIG}}}Signature")
    assert signature.find(f"{{{DSIG}}}SignedInfo/{{{DSIG}}}Reference").get("URI") == "#DLHDon-0001"


def test_an_invoice_of_megabytes_is_answered_whole_a_piece_at_a_time(
    agent: AgentProcess, token: SessionToken
) -> None:
    """Ten thousand item lines (about 1.6 MB): the answer is sent in many pieces
    (agent/server/pieces.py), and what arrives is the whole signed invoice."""
    lines = b"".join(
        f"<HHDVu><STT>{n}</STT><THHDVu>Dịch vụ vận chuyển chuyến số {n}</THHDVu><SLuong>1"
        f"</SLuong><DGia>150000</DGia><ThTien>150000</ThTien><TSuat>10%</TSuat></HHDVu>".encode()
        for n in range(2, 10_002)
    )
    large = INVOICE.replace(b"</HHDVu></DSHHDVu>", b"</HHDVu>" + lines + b"</DSHHDVu>")
    assert len(large) > 1_500_000
    agent.script({"approved": True, "pin": PIN})
    body = {"xml": b64(large), "profile": "einvoice", "certificate": b64(der(token.rsa))}
    response = agent.post("/v1/xml/sign", body)
    assert response.status == 200, response.body[:500]
    assert response.headers["Content-Length"] == str(len(response.body))
    signed = base64.b64decode(response.json["xml"])
    assert signed.count(b"<HHDVu>") == 10_001
    assert_verifies(signed, token)


def test_the_prompt_shows_the_invoice_being_signed(
    agent: AgentProcess, token: SessionToken
) -> None:
    agent.script({"approved": True, "pin": PIN})
    sign_xml(agent, INVOICE, certificate=b64(der(token.rsa)), documentName="HĐ 123")
    [prompt] = agent.prompts()
    [document] = prompt["documents"]
    assert document["name"] == "HĐ 123"
    summary = "\n".join(document["summary"])
    for expected in (
        "Hóa đơn điện tử",
        "1C25TAA",
        "Số: 123",
        "CÔNG TY TNHH THỬ NGHIỆM (MST 0100000001)",
        "Công ty Cổ phần Mua Hàng (MST 0100000002)",
        "550.000 VND",
    ):
        assert expected in summary, summary


def test_ec_key_signs_an_invoice_wrapped_in_a_tax_message(
    agent: AgentProcess, token: SessionToken
) -> None:
    agent.script({"approved": True, "pin": PIN})
    answer = sign_xml(agent, WRAPPED_INVOICE, certificate=b64(der(token.ec)))
    assert answer["signatureAlgorithm"] == ECDSA_SHA256
    # xml:lang on the message's root: signxml misses it (tests/xmlsig.py), xmlsec1 judges.
    assert_verifies(base64.b64decode(answer["xml"]), token, by_signxml=False)


def test_tax_declaration_is_signed_into_ckydtu(agent: AgentProcess, token: SessionToken) -> None:
    agent.script({"approved": True, "pin": PIN})
    answer = sign_xml(
        agent, TAX_DECLARATION, profile="tax-declaration", certificate=b64(der(token.rsa))
    )
    assert_verifies(base64.b64decode(answer["xml"]), token)
    [prompt] = agent.prompts()
    assert "Mẫu tờ khai: 842" in "\n".join(prompt["documents"][0]["summary"])


def test_only_the_signed_invoice_is_summarized(agent: AgentProcess, token: SessionToken) -> None:
    # Two invoices in one file; the page asks for the second one's data to be signed.
    two = (
        b"<Lo>"
        + numbered_invoice(1).split(b"?>", 1)[1]
        + numbered_invoice(2).split(b"?>", 1)[1]
        + b"</Lo>"
    )
    agent.script({"approved": True, "pin": PIN})
    sign_xml(agent, two, profile="enveloped", signId="DLHDon-0002", certificate=b64(der(token.rsa)))
    [prompt] = agent.prompts()
    summary = prompt["documents"][0]["summary"]
    assert "Số: 2" in summary and "Số: 1" not in summary


def test_batch_of_twenty_invoices_one_prompt_one_login(
    agent: AgentProcess, token: SessionToken
) -> None:
    documents = [
        {"xml": b64(numbered_invoice(n)), "profile": "einvoice", "documentName": f"HĐ {n}"}
        for n in range(1, 21)
    ]
    agent.script({"approved": True, "pin": PIN})
    response = agent.post(
        "/v1/xml/sign/batch", {"documents": documents, "certificate": b64(der(token.ec))}
    )
    assert response.status == 200, response.body[:500]
    answer = response.json
    assert answer["signed"] == 20
    assert [d["index"] for d in answer["documents"]] == list(range(20))
    assert all(d["signed"] for d in answer["documents"])
    for n, document in enumerate(answer["documents"], 1):
        assert document["documentName"] == f"HĐ {n}"
        signed = base64.b64decode(document["xml"])
        assert f"<SHDon>{n}</SHDon>".encode() in signed
        assert_verifies(signed, token)
    [prompt] = agent.prompts()
    assert len(prompt["documents"]) == 20
    assert "Số: 7" in prompt["documents"][6]["summary"]
    assert "signed 20 item(s)" in agent.log_text(), "one operation: one login for all"


def test_sha1_when_asked(agent: AgentProcess, token: SessionToken) -> None:
    agent.script({"approved": True, "pin": PIN})
    answer = sign_xml(agent, INVOICE, digestAlgorithm="SHA-1", certificate=b64(der(token.rsa)))
    assert answer["signatureAlgorithm"].endswith("#rsa-sha1")
    assert_verifies(base64.b64decode(answer["xml"]), token)


def test_sha1_with_an_ec_key_signs_the_raw_digest(agent: AgentProcess, token: SessionToken) -> None:
    agent.script({"approved": True, "pin": PIN})
    answer = sign_xml(agent, INVOICE, digestAlgorithm="sha1", certificate=b64(der(token.ec)))
    assert answer["signatureAlgorithm"].endswith("#ecdsa-sha1")
    signed = base64.b64decode(answer["xml"])
    assert_verifies(signed, token)
    tree = etree.fromstring(signed)
    methods = {m.get("Algorithm") for m in tree.iter(f"{{{DSIG}}}DigestMethod")}
    assert methods == {f"{DSIG}sha1"}


def test_sha256_stays_the_default(agent: AgentProcess, token: SessionToken) -> None:
    agent.script({"approved": True, "pin": PIN})
    answer = sign_xml(agent, INVOICE, certificate=b64(der(token.rsa)))
    assert answer["signatureAlgorithm"] == RSA_SHA256


_SIGNED_ALREADY = INVOICE.replace(
    b"<DSCKS><NBan/>",
    f'<DSCKS><NBan><Signature xmlns="{DSIG}" Id="old"/></NBan>'.encode(),
)
_DUPLICATE_ID = INVOICE.replace(b"<DSCKS>", b'<Extra Id="DLHDon-0001"/><DSCKS>')


@pytest.mark.parametrize(
    ("xml", "fields", "words"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE HDon [<!ENTITY x "y">]><HDon>&x;</HDon>',
            {},
            "DOCTYPE",
        ),
        (b"<HDon><DLHDon Id='a'></HDon>", {}, "dòng 1"),
        (b"<Khac><A Id='a'/></Khac>", {}, "HDon"),
        (_SIGNED_ALREADY, {}, "đã có chữ ký"),
        (_DUPLICATE_ID, {}, "DLHDon-0001"),
        (INVOICE, {"profile": "enveloped", "signId": "nope"}, "nope"),
        (INVOICE, {"profile": "enveloped"}, "signId"),
        (INVOICE, {"signId": "DLHDon-0001"}, "signId"),
        (INVOICE, {"profile": "pdf"}, "profile"),
        (INVOICE, {"role": "boss"}, "role"),
        (INVOICE, {"digestAlgorithm": "MD5"}, "MD5"),
        (b"", {}, "xml"),
    ],
    ids=[
        "doctype-entity",
        "not-well-formed",
        "missing-element",
        "already-signed",
        "duplicate-id",
        "unknown-id",
        "enveloped-without-id",
        "id-with-einvoice",
        "unknown-profile",
        "unknown-role",
        "unknown-digest",
        "empty",
    ],
)
def test_bad_input_is_refused_before_any_prompt(
    agent: AgentProcess, xml: bytes, fields: dict[str, Any], words: str
) -> None:
    agent.script({"approved": True, "pin": PIN})
    response = agent.post("/v1/xml/sign", {"xml": b64(xml), "profile": "einvoice", **fields})
    assert response.status == 400, response.body[:300]
    assert response.error_code == "BAD_REQUEST"
    assert words in response.json["error"]["message"]
    assert agent.prompts() == []


def test_a_bad_document_in_a_batch_is_named_and_nothing_is_asked(agent: AgentProcess) -> None:
    documents = [{"xml": b64(numbered_invoice(n)), "profile": "einvoice"} for n in range(3)]
    documents[2]["xml"] = b64(b"<HDon>")
    agent.script({"approved": True, "pin": PIN})
    response = agent.post(
        "/v1/xml/sign/batch", {"documents": documents}, headers={"Accept-Language": "en"}
    )
    assert response.status == 400
    assert response.json["error"]["message"].startswith("Invalid request: document 2 (documents.2)")
    assert agent.prompts() == []


def test_a_batch_over_500_documents_is_refused(agent: AgentProcess) -> None:
    documents = [{"xml": b64(b"<a/>"), "profile": "einvoice"}] * 501
    response = agent.post("/v1/xml/sign/batch", {"documents": documents})
    assert response.status == 400
    assert "500" in response.json["error"]["message"]


def test_cancel_signs_nothing(agent: AgentProcess, token: SessionToken) -> None:
    agent.script({"approved": False})
    response = agent.post(
        "/v1/xml/sign",
        {"xml": b64(INVOICE), "profile": "einvoice", "certificate": b64(der(token.rsa))},
    )
    assert response.status == 403
    assert response.error_code == "USER_CANCELLED"
    assert "xml" not in response.json
    assert len(agent.prompts()) == 1


def test_verify_reports_signed_invoice_trusted_then_tampered_not_intact(
    agent: AgentProcess, token: SessionToken
) -> None:
    agent.script({"approved": True, "pin": PIN})
    signed = base64.b64decode(sign_xml(agent, INVOICE, certificate=b64(der(token.rsa)))["xml"])
    report = agent.post("/v1/xml/verify", {"xml": b64(signed)}).json
    assert report["allValid"] is True
    [signature] = report["signatures"]
    assert signature["intact"] is True and signature["trusted"] is True
    assert "Nguyễn Văn An" in report["text"]
    tampered = signed.replace(b"<TgTTTBSo>550000</TgTTTBSo>", b"<TgTTTBSo>5500000</TgTTTBSo>")
    assert tampered != signed
    broken = agent.post("/v1/xml/verify", {"xml": b64(tampered)}).json
    assert broken["allValid"] is False
    assert broken["signatures"][0]["intact"] is False
    assert len(agent.prompts()) == 1, "only the signature asked; verifying asks nobody"


def test_verify_refuses_what_is_not_xml(agent: AgentProcess) -> None:
    response = agent.post("/v1/xml/verify", {"xml": b64(b"%PDF-1.7")})
    assert response.status == 400
    assert response.error_code == "BAD_REQUEST"
