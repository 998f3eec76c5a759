"""The FPT / TrustCA SignPlugin compatibility in headless Chromium: a test portal page with a
SignPlugin-style client (``fpt-client.js``: XMLHttpRequest, ``request=`` + base64 JSON) signs
through the real agent on SoftHSM, after the scripted consent with its PIN, and independent
verifiers check every signature. A page of another origin is refused before any question and
cannot read the answer."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography import x509

from agent.messages import Lang, text
from tests.browser.conftest import Browser
from tests.browser.portal import PortalPage, run_in_page, run_unasked
from tests.conftest import PIN, AgentProcess, SessionToken
from tests.pdftools import NssDb, assert_pdf_signatures_valid, page_text, sample_pdf, signature_png
from tests.verify import assert_cms_verifies, b64
from tests.vgca_portal import Site
from tests.xmlsig import INVOICE, assert_judges_accept

PAGE = PortalPage("fpt", "FPT / TrustCA SignPlugin", library="SignPlugin (FPT-CA)", handle="fpt")
"""The test portal's page; ``layer_agent`` (``tests/browser/conftest.py``) runs its layer."""
LEADER = "Nguyễn Văn An"


# What a portal built on the vendor library does, in its order: initialise, let the user pick
# the certificate, then sign a consent text (CMS), the portal's own PDF in the box it drew
# (with the signature image), an e-invoice (XMLDSig); then a cancelled signature and a request
# that carries a PIN. Every reply is decoded as the library decodes it (atob, UTF-8).
SCRIPT = """
const P = %(params)s;
const port = P.port;
const init = await fpt.process({OperationId: 1, pkcs11Lib: ["fptca_v3.dll", "fptca_v4.dll"]},
  {port});
const session = init.SessionId;
const cert = await fpt.process({OperationId: 2, SessionId: session, checkOCSP: 0}, {port});
const cms = await fpt.process({OperationId: 5, SessionId: session, checkOCSP: 0, reqDigest: 1,
  algDigest: "SHA_256", signAttached: 0, signLevel: "CADES-BES",
  DataToBeSign: fpt.textToBase64(P.consent)}, {port});
const pdf = await fpt.process({OperationId: 10, SessionId: session, checkOCSP: 0, reqDigest: 1,
  algDigest: "SHA_1", extFile: "pdf", invisible: 0, pageIndex: 0, offsetX: 320, offsetY: 90,
  sigWidth: 180, sigHeight: 72, logoData: P.logo, showSignerInfo: 0, sigId: "",
  DataToBeSign: await fpt.fetchBase64("/docs/hop-dong.pdf")}, {port});
const xml = await fpt.process({OperationId: 8, SessionId: session, checkOCSP: 0,
  algDigest: "SHA_256", urlTimestamp: "", DataToBeSign: fpt.textToBase64(P.invoice),
  tagXML: "*", XMLDSig: 1}, {port});
const cancelled = await fpt.process({OperationId: 5, SessionId: session,
  DataToBeSign: fpt.textToBase64("hủy")}, {port});
const pin = await fpt.process({OperationId: 1, pkcs11Lib: ["fptca_v4.dll"], PIN: P.pin},
  {port});
return {init, cert, cms, pdf, xml, cancelled, pin,
  signedXml: fpt.base64ToText(xml.Base64Result || "")};
"""


def test_a_portal_page_signs_cms_pdf_and_xml_through_chromium(
    *,
    chromium: Browser,
    layer_agent: AgentProcess,
    portal: Site,
    token: SessionToken,
    nss: NssDb,
    ca_pem: Path,
    tmp_path: Path,
) -> None:
    portal.documents["hop-dong.pdf"] = original = sample_pdf(pages=1)
    consent = "Tôi đồng ý với các điều khoản của hợp đồng số 12/2025/HĐ"
    yes = {"approved": True, "pin": PIN, "certificate": LEADER}
    layer_agent.script(
        {"approved": True, "certificate": LEADER}, yes, yes, yes, {"approved": False}
    )
    params = {
        "port": layer_agent.layer_ports["fpt"],
        "consent": consent,
        "logo": b64(signature_png()),
        "invoice": INVOICE.decode(),
        "pin": PIN,
    }
    result = run_in_page(chromium, portal, SCRIPT % {"params": json.dumps(params)})

    assert result["init"]["ResponseCode"] == 0 and result["init"]["SessionId"], result["init"]

    # The certificate the user picked, its name read through the library's UTF-8 decoding.
    cert = result["cert"]
    assert cert["ResponseCode"] == 0, cert
    assert cert["certInfo"]["CommonName"] == LEADER
    der = base64.b64decode(cert["certInfo"]["Base64Encode"])
    assert x509.load_der_x509_certificate(der) == token.rsa

    # CMS over the consent text: openssl verifies it over the UTF-8 bytes.
    assert result["cms"]["ResponseCode"] == 0, result["cms"]
    cms = base64.b64decode(result["cms"]["Signature"])
    assert_cms_verifies(cms, consent.encode(), ca_pem, tmp_path)

    # The PDF, signed in the portal's box with its image: pdfsig and pyHanko accept it.
    assert result["pdf"]["ResponseCode"] == 0, result["pdf"]
    signed = base64.b64decode(result["pdf"]["Base64Result"])
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)
    assert "Quyet dinh" in page_text(signed, 1)

    # The invoice, signed as its seller: xmlsec1 and signxml accept it.
    assert result["xml"]["ResponseCode"] == 0, result["xml"]
    assert_judges_accept(result["signedXml"].encode(), token.ca.cert)

    # A cancel is the plugin's cancel code; a PIN from the page is refused unasked.
    assert result["cancelled"] == {
        "ResponseCode": 4,
        "ResponseMsg": text("USER_CANCELLED", Lang.VI),
    }
    assert result["pin"] == {
        "ResponseCode": 3,
        "ResponseMsg": text("compat_pin_refused", Lang.VI),
    }

    prompts = layer_agent.prompts()
    assert [p["action"] for p in prompts] == ["select-certificate"] + ["sign"] * 4
    assert {p["origin"] for p in prompts} == {portal.origin}
    assert prompts[2]["documents"][0]["digest"] == hashlib.sha256(original).hexdigest()


HOSTILE = """
const port = %(port)d;
const outcome = {};
for (const [name, request] of [
    ["init", {OperationId: 1}],
    ["sign", {OperationId: 5, DataToBeSign: fpt.textToBase64("chuyển tiền")}]]) {
  try {
    outcome[name] = {answered: await fpt.process(request, {port})};
  } catch (failure) {
    outcome[name] = {refused: failure.status, text: failure.text};
  }
}
return outcome;
"""


def test_a_page_of_another_origin_is_refused_unasked_and_reads_nothing(
    chromium: Browser, layer_agent: AgentProcess, foreign: Site
) -> None:
    result = run_unasked(
        chromium, layer_agent, foreign, HOSTILE % {"port": layer_agent.layer_ports["fpt"]}
    )
    # No Access-Control-Allow-Origin for it: the browser hands the page no status, no body.
    assert result == {
        "init": {"refused": 0, "text": ""},
        "sign": {"refused": 0, "text": ""},
    }
    assert f"origin '{foreign.origin}' is not allowed" in layer_agent.log_text()
