"""The FPT / TrustCA SignPlugin compatibility, end to end: the real agent on SoftHSM, an HTTPS
client posting what the vendor library posts (``request=`` and base64 of the JSON), and
independent verifiers (openssl, cryptography, pdfsig, pyHanko, xmlsec1, signxml) on what
comes back. The browser's side (CORS, a page of another origin) is ``tests/browser/fpt``."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from agent.audit import OUTCOME_ABANDONED
from agent.messages import Lang, text
from tests.conftest import (
    PIN,
    PORTAL,
    AgentProcess,
    Response,
    SessionToken,
    eventually,
    start_agent,
)
from tests.pdftools import NssDb, assert_pdf_signatures_valid, page_text, sample_pdf
from tests.verify import assert_cms_verifies, b64
from tests.xmlsig import INVOICE, assert_judges_accept

pytestmark = pytest.mark.integration

LAYER = "fpt"
"""The plugin layer ``layer_agent`` (``tests/integration/conftest.py``) starts the agent with."""
OTHER = "https://phishing.example.com"
LEADER = "Nguyễn Văn An"


class Answer(Response):
    """One HTTP answer of the plugin port."""

    @property
    def reply(self) -> dict[str, Any]:
        """The plugin's reply: base64 of UTF-8 JSON."""
        value: dict[str, Any] = json.loads(base64.b64decode(self.body).decode("utf-8"))
        return value


def post(
    agent: AgentProcess,
    body: bytes | dict[str, Any],
    *,
    origin: str | None = PORTAL,
    method: str = "POST",
    path: str = "/process",
    headers: dict[str, str] | None = None,
) -> Answer:
    """What the library sends: ``request=`` + base64(JSON), form-encoded, not escaped."""
    if isinstance(body, dict):
        body = b"request=" + base64.b64encode(json.dumps(body).encode())
    sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    answer = agent.request(
        method, path, body, origin=origin, headers=sent, port=agent.layer_ports["fpt"]
    )
    return Answer(answer.status, answer.headers, answer.body)


def ok(answer: Answer) -> dict[str, Any]:
    assert answer.status == 200, answer.body
    assert answer.headers["Access-Control-Allow-Origin"] == PORTAL
    # The answer is written by the handler, a piece at a time: the headers every answer of the
    # agent carries are still on it.
    assert answer.headers["Cache-Control"] == "no-store", answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.headers
    reply = answer.reply
    assert reply["ResponseCode"] == 0, reply
    return reply


def approved_reply(agent: AgentProcess, operation: int, **fields: Any) -> dict[str, Any]:
    """The reply to ``OperationId`` ``operation`` with ``fields``, in a session without the OCSP
    check, once the user has approved it with the PIN and LEADER's certificate."""
    agent.script({"approved": True, "pin": PIN, "certificate": LEADER})
    request = {"OperationId": operation, "SessionId": "s", "checkOCSP": 0, **fields}
    return ok(post(agent, request))


# --- who may call ---------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [None, OTHER, "null"])
def test_a_request_without_an_allowed_origin_never_reaches_the_prompt(
    layer_agent: AgentProcess, origin: str | None
) -> None:
    layer_agent.script({"approved": True, "pin": PIN})
    answer = post(layer_agent, {"OperationId": 5, "DataToBeSign": b64(b"x")}, origin=origin)
    assert answer.status == 403
    assert json.loads(answer.body)["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert layer_agent.prompts() == []


def test_a_preflight_is_answered_for_an_allowed_origin_only(layer_agent: AgentProcess) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true",
    }
    allowed = post(layer_agent, b"", method="OPTIONS", headers=asked)
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert allowed.headers["Access-Control-Allow-Headers"] == "content-type"
    assert allowed.headers["Access-Control-Allow-Private-Network"] == "true"
    refused = post(layer_agent, b"", method="OPTIONS", headers=asked, origin=OTHER)
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_only_post_to_process_is_served(layer_agent: AgentProcess) -> None:
    assert post(layer_agent, b"", method="GET").status == 405
    assert post(layer_agent, {"OperationId": 1}, path="/").status == 404


# --- what portals call ----------------------------------------------------------------------


def test_initialise_gives_a_session_and_loads_no_module_the_page_names(
    layer_agent: AgentProcess,
) -> None:
    reply = ok(
        post(layer_agent, {"OperationId": 1, "pkcs11Lib": ["fptca_v3.dll", "C:\\Temp\\evil.dll"]})
    )
    assert len(reply["SessionId"]) >= 16
    assert "C:\\Temp\\evil.dll" not in layer_agent.log_text()
    assert layer_agent.prompts() == []


def test_the_user_picks_the_certificate_the_page_gets(
    layer_agent: AgentProcess, token: SessionToken
) -> None:
    layer_agent.script({"approved": True, "certificate": LEADER})
    reply = ok(post(layer_agent, {"OperationId": 2, "SessionId": "s", "checkOCSP": 0}))
    info = reply["certInfo"]
    der = token.rsa.public_bytes(serialization.Encoding.DER)
    assert base64.b64decode(info["Base64Encode"]) == der
    assert base64.b64decode(reply["Base64Result"]) == der
    assert info["CommonName"] == LEADER
    assert info["SerialNumber"] == format(token.rsa.serial_number, "X")
    [prompt] = layer_agent.prompts()
    assert (prompt["action"], prompt["origin"]) == ("select-certificate", PORTAL)


def test_cms_over_data_verifies_with_openssl(
    layer_agent: AgentProcess, ca_pem: Path, tmp_path: Path
) -> None:
    data = "Tôi đồng ý với nội dung hợp đồng số 12/2025".encode()
    reply = approved_reply(
        layer_agent,
        5,
        DataToBeSign=b64(data),
        reqDigest=1,
        algDigest="SHA_1",  # the demo page's default: the CMS is SHA-256 anyway
        signAttached=0,
        signLevel="CADES-BES",
        urlTimestamp="http://tsa.example/unused",
    )
    cms = base64.b64decode(reply["Signature"])
    assert base64.b64decode(reply["Base64Result"]) == cms
    assert_cms_verifies(cms, data, ca_pem, tmp_path)
    [prompt] = layer_agent.prompts()
    [document] = prompt["documents"]
    assert document["digest"] == hashlib.sha256(data).hexdigest()
    assert document["name"] == text("fpt_data_document", Lang.VI, size=len(data))


def test_cms_over_a_digest_the_portal_computed_verifies_over_its_content(
    layer_agent: AgentProcess, ca_pem: Path, tmp_path: Path
) -> None:
    # A portal that prepared the PDF itself sends the byte range's digest (reqDigest 0).
    content = sample_pdf()
    digest = hashlib.sha256(content).digest()
    reply = approved_reply(
        layer_agent, 5, DataToBeSign=b64(digest), reqDigest=0, algDigest="SHA_256"
    )
    assert_cms_verifies(base64.b64decode(reply["Signature"]), content, ca_pem, tmp_path)


def test_pdf_signed_in_the_portals_box_passes_pdfsig_and_pyhanko(
    layer_agent: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    pdf = sample_pdf(pages=2)
    reply = approved_reply(
        layer_agent,
        10,
        reqDigest=1,
        algDigest="SHA_1",
        extFile="pdf",
        invisible=0,
        pageIndex=1,
        offsetX=300,
        offsetY=100,
        sigWidth=220,
        sigHeight=70,
        logoData="",
        DataToBeSign=b64(pdf),
        showSignerInfo=1,
        sigId="",
    )
    signed = base64.b64decode(reply["Base64Result"])
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)
    assert f"Ký bởi: {LEADER}" in page_text(signed, 2)
    assert LEADER not in page_text(signed, 1)
    [prompt] = layer_agent.prompts()
    assert prompt["documents"][0]["digest"] == hashlib.sha256(pdf).hexdigest()


def test_xml_signed_as_xmldsig_is_accepted_by_both_judges(
    layer_agent: AgentProcess, token: SessionToken
) -> None:
    reply = approved_reply(
        layer_agent,
        8,
        algDigest="SHA_256",
        urlTimestamp="",
        DataToBeSign=b64(INVOICE),
        tagXML="*",
        XMLDSig=1,
    )
    signed = base64.b64decode(reply["Base64Result"])
    assert_judges_accept(signed, token.ca.cert)
    assert b"<DSCKS><NBan><Signature" in signed.replace(b"ds:", b"")


# --- what Kyso Agent refuses, and how the page hears it ---------------------------------------


def test_cancel_gives_the_cancel_code(layer_agent: AgentProcess) -> None:
    layer_agent.script({"approved": False})
    answer = post(layer_agent, {"OperationId": 5, "DataToBeSign": b64(b"x")})
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == PORTAL
    assert answer.reply == {
        "ResponseCode": 4,
        "ResponseMsg": text("USER_CANCELLED", Lang.VI),
    }


def test_a_pin_from_the_page_is_refused_before_any_question(layer_agent: AgentProcess) -> None:
    layer_agent.script({"approved": True, "pin": PIN})
    answer = post(layer_agent, {"OperationId": 1, "pkcs11Lib": ["fptca_v4.dll"], "PIN": PIN})
    assert answer.reply == {"ResponseCode": 3, "ResponseMsg": text("compat_pin_refused", Lang.VI)}
    assert layer_agent.prompts() == []
    assert PIN not in layer_agent.log_text()


@pytest.mark.parametrize(
    ("request_", "code", "key"),
    [
        ({"OperationId": 10, "extFile": "docx", "DataToBeSign": "UEsDBA=="}, 2, "Office"),
        (
            {"OperationId": 8, "XMLDSig": 0, "xades_Form": "XADES_T", "DataToBeSign": "PGEvPg=="},
            2,
            "XAdES",
        ),
        ({"OperationId": 42}, 2, "OperationId 42"),
        ({"OperationId": 5, "DataToBeSign": "%%%"}, 1, "DataToBeSign"),
    ],
)
def test_what_is_not_offered_is_said_in_the_plugins_shape(
    layer_agent: AgentProcess, request_: dict[str, Any], code: int, key: str
) -> None:
    reply = post(layer_agent, request_).reply
    assert reply["ResponseCode"] == code
    assert key in reply["ResponseMsg"]
    assert layer_agent.prompts() == []


@pytest.mark.parametrize(
    "body", [b"request=not-base64!", b"request=" + base64.b64encode(b"<xml/>"), b"hello"]
)
def test_a_body_that_is_not_a_signplugin_request_gets_a_clear_reply(
    layer_agent: AgentProcess, body: bytes
) -> None:
    answer = post(layer_agent, body)
    assert answer.status == 200
    reply = answer.reply
    assert reply["ResponseCode"] == 1
    assert "FPT SignPlugin" in reply["ResponseMsg"]
    assert reply["ResponseMsg"].startswith("Yêu cầu không hợp lệ")


def test_a_body_over_the_limit_is_refused_in_the_plugins_shape(
    token: SessionToken, tmp_path: Path
) -> None:
    running = start_agent(tmp_path, token.hsm, layers=("fpt",), policy={"max_pdf_bytes": 2048})
    try:
        huge = b"request=" + b"A" * (6 * 1024 * 1024)
        answer = post(running, huge)
        assert answer.status == 200
        assert answer.reply["ResponseCode"] == 15
        assert "byte" in answer.reply["ResponseMsg"]
        # Still serving.
        assert post(running, {"OperationId": 1}).reply["ResponseCode"] == 0
    finally:
        running.stop()


def test_a_time_stamping_url_the_computer_is_not_configured_with_is_refused(
    layer_agent: AgentProcess,
) -> None:
    # The agent would fetch it after the approval: a page may not choose where it goes.
    with socket.create_server(("127.0.0.1", 0)) as internal:
        internal.setblocking(False)
        url = f"http://127.0.0.1:{internal.getsockname()[1]}/internal-admin"
        layer_agent.script({"approved": True, "pin": PIN})
        request = {
            "OperationId": 10,
            "SessionId": "s",
            "DataToBeSign": b64(sample_pdf()),
            "extFile": "pdf",
            "invisible": 1,
            "urlTimestamp": url,
        }
        answer = post(layer_agent, request)
        with pytest.raises(BlockingIOError):
            internal.accept()  # nobody came
    reply = answer.reply
    assert reply["ResponseCode"] != 0, reply
    assert "máy chủ cấp dấu thời gian" in reply["ResponseMsg"], reply
    assert layer_agent.prompts() == []


def test_password_fields_the_page_fills_are_refused_before_any_question(
    layer_agent: AgentProcess,
) -> None:
    layer_agent.script({"approved": True, "pin": PIN})
    for field in ("userPassword", "matKhau", "tokenPwd"):
        reply = post(layer_agent, {"OperationId": 1, "SessionId": "s", field: "246810"}).reply
        assert reply["ResponseCode"] == 3, reply
        reply = post(
            layer_agent,
            {"OperationId": 5, "SessionId": "s", "DataToBeSign": b64(b"x"), field: "246810"},
        ).reply
        assert reply["ResponseCode"] == 3, reply
    assert layer_agent.prompts() == []


def test_a_page_gone_during_the_question_closes_it(layer_agent: AgentProcess) -> None:
    # The user is slower than the page: it is closed while the dialog is open.
    layer_agent.script({"sleep": 60, "approved": True, "pin": PIN})
    before = len(layer_agent.audit_outcomes())
    request = {"OperationId": 5, "SessionId": "s", "DataToBeSign": b64(b"trang FPT")}
    client = http.client.HTTPSConnection(
        "127.0.0.1", layer_agent.layer_ports["fpt"], context=layer_agent.tls, timeout=60
    )
    client.request(
        "POST",
        "/process",
        b"request=" + base64.b64encode(json.dumps(request).encode()),
        headers={"Origin": PORTAL, "Content-Type": "application/x-www-form-urlencoded"},
    )
    eventually(layer_agent.prompts, 15, "the user was asked")
    client.close()
    # Well before the 20 s prompt timeout, which would have ended it as CONSENT_TIMEOUT.
    eventually(lambda: not layer_agent.open_dialogs(), 15, "the dialog closed with the page")
    rows = eventually(lambda: layer_agent.audit_outcomes()[before:], 15, "the question audited")
    assert rows == [OUTCOME_ABANDONED]
