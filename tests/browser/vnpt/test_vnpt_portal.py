"""The VNPT-CA Plugin compatibility in headless Chromium: a test portal page with a
vnpt-plugin-style client (``vnpt-client.js``: one socket to ``wss://localhost:PORT/plugin``,
JSON calls, ``result*callback`` answers) signs through the real agent on SoftHSM, and
independent verifiers judge what the page got back."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography import x509

from agent.audit import OUTCOME_ABANDONED
from tests.browser.conftest import Browser, closed_while_asked
from tests.browser.portal import PortalPage, run_in_page, run_unasked
from tests.conftest import PIN, AgentProcess, SessionToken
from tests.pdftools import NssDb, assert_pdf_signatures_valid, sample_pdf, signature_png
from tests.verify import assert_cms_verifies, b64
from tests.vgca_portal import Site
from tests.xmlsig import GENERIC, assert_judges_accept

PAGE = PortalPage("vnpt", "VNPT-CA Plugin", library="vnpt-plugin.js", handle="vnpt_plugin")
"""The test portal's page; ``layer_agent`` (``tests/browser/conftest.py``) runs its layer."""
CLERK = "Trần Thị Bình"


# What a portal built on vnpt-plugin.js does: check the plugin, set its licence, let the user
# pick a certificate, then sign with it by serial (PDF through a named window callback, XML
# and a batch through promises); a second signature is cancelled; a PIN in the options is
# refused; the socket stays open throughout.
SCRIPT = """
vnpt_plugin.ports = [%(port)d];
const ready = await vnpt_plugin.checkPlugin();
const version = await vnpt_plugin.getVersion();
const licence = JSON.parse(await vnpt_plugin.setLicenseKey("PExpY2Vuc2U+PC9MaWNlbnNlPg=="));
const cert = JSON.parse(await vnpt_plugin.getCertInfo(null, true));

const pdfSigner = new PdfSigner();
Object.assign(pdfSigner, {page: 1, llx: 330, lly: 60, urx: 530, ury: 140, SigType: 2,
  ImageBase64: "%(png)s", Description: "Ký bởi: Sở Nội vụ", CertificateSerial: cert.serial});
let named = null;
window.pdfSigned = function pdfSigned(result) { named = result; };
await vnpt_plugin.signPdf("%(pdf)s", window.pdfSigned, pdfSigner);
const pdf = JSON.parse(named);

const xmlSigner = new XmlSigner();
Object.assign(xmlSigner, {NodeToSign: "payload", ParrentTagSigning: "Signatures",
  CertificateSerial: cert.serial});
const xml = JSON.parse(await vnpt_plugin.signXML("%(xml)s", null, xmlSigner));

const items = [JSON.stringify({data: "%(hash)s", type: "hash",
  sigOptions: JSON.stringify({DigestAlgorithm: "SHA256", encoding: "utf8", detached: true})})];
const batch = JSON.parse(await vnpt_plugin.signArrDataAdvanced(items, cert.serial, true));
const item = JSON.parse(batch[0]);

const cancelled = JSON.parse(await vnpt_plugin.signHash("%(hash)s"));
const pinSigner = new PdfSigner();
pinSigner.UserPin = "%(pin)s";
const pinRefused = JSON.parse(await vnpt_plugin.signPdf("%(pdf)s", null, pinSigner));
const office = JSON.parse(await vnpt_plugin.signOffice("UEsDBA=="));
const stillThere = await vnpt_plugin.checkPlugin();
return {ready, version, licence, cert, pdf, xml, item, cancelled, pinRefused, office,
  stillThere};
"""


def test_a_portal_signs_through_the_plugin_protocol_in_chromium(
    *,
    chromium: Browser,
    layer_agent: AgentProcess,
    portal: Site,
    token: SessionToken,
    nss: NssDb,
    ca_pem: Path,
    tmp_path: Path,
) -> None:
    record = "Hồ sơ 2c: Trần Thị Bình".encode()
    digest = hashlib.sha256(record).digest()
    yes = {"approved": True, "pin": PIN}
    layer_agent.script({"approved": True, "certificate": CLERK}, yes, yes, yes, {"approved": False})
    result = run_in_page(
        chromium,
        portal,
        SCRIPT
        % {
            "port": layer_agent.layer_ports["vnpt"],
            "png": b64(signature_png()),
            "pdf": b64(sample_pdf()),
            "xml": b64(GENERIC),
            "hash": b64(digest),
            "pin": PIN,
        },
    )
    assert result["ready"] == "1" and result["stillThere"] == "1"
    assert result["version"] == "1.0.4.3"
    assert result["licence"]["code"] == 1
    cert = result["cert"]
    assert cert["subjectCN"] == CLERK
    chosen = base64.b64decode(cert["base64"])
    assert x509.load_der_x509_certificate(chosen).serial_number == int(cert["serial"], 16)

    # Each signature by the certificate the user gave the page, named by its serial.
    for signed in (result["pdf"], result["xml"], result["item"]):
        assert signed["code"] == 0 and signed["error"] == "", signed
        assert signed["serial"] == cert["serial"]

    pdf = base64.b64decode(result["pdf"]["data"])
    assert_pdf_signatures_valid(pdf, nss, token.ca.cert, tmp_path)

    # The vendor's XmlSigner() default digest is SHA-1: written because the page asked for it.
    xml = base64.b64decode(result["xml"]["data"])
    assert b"xmldsig#sha1" in xml and b'<Signatures Id="sigs"><Signature' in xml
    assert_judges_accept(xml, token.ca.cert)

    assert result["item"]["type"] == "hash"
    assert_cms_verifies(base64.b64decode(result["item"]["data"]), record, ca_pem, tmp_path)

    assert result["cancelled"]["code"] == 11
    assert result["pinRefused"]["code"] == 1
    assert "không nhận mã PIN" in result["pinRefused"]["error"]
    assert result["office"]["code"] == -1 and "Office" in result["office"]["error"]

    prompts = layer_agent.prompts()
    assert [p["action"] for p in prompts] == ["select-certificate", "sign", "sign", "sign", "sign"]
    assert all(p["origin"] == portal.origin for p in prompts)
    # CertificateSerial and the batch's serial offered only the certificate the user gave.
    assert all(len(p["certificates"]) == 1 for p in prompts[1:4])
    assert json.dumps(prompts).count(digest.hex()) == 2


def test_a_page_of_another_origin_cannot_reach_the_plugin(
    chromium: Browser, layer_agent: AgentProcess, foreign: Site
) -> None:
    script = (
        f"vnpt_plugin.ports = [{layer_agent.layer_ports['vnpt']}];"
        " try { return {answer: await vnpt_plugin.checkPlugin()}; }"
        " catch (error) { return {refused: String(error.message)}; }"
    )
    result = run_unasked(chromium, layer_agent, foreign, script)
    assert result == {"refused": "-1"}


def test_closing_the_portals_tab_closes_the_plugins_question(
    chromium: Browser, layer_agent: AgentProcess, portal: Site, tmp_path: Path
) -> None:
    # The page's socket goes with its tab, as Chromium closes it; the dialog goes with it.
    layer_agent.script({"sleep": 60, "approved": True, "pin": PIN})
    script = (
        f"vnpt_plugin.ports = [{layer_agent.layer_ports['vnpt']}];"
        " await vnpt_plugin.checkPlugin();"
        f" window.pending = vnpt_plugin.signHash({json.dumps(b64(bytes(32)))});"
        " return null;"
    )
    question, rows = closed_while_asked(
        chromium,
        layer_agent,
        portal.url("/static/portal.html"),
        script,
        tmp_path / "release",
        extension=False,
    )
    assert question["action"] == "sign" and question["origin"] == portal.origin
    assert rows == [OUTCOME_ABANDONED]
