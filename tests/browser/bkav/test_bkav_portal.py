"""The BKAV compatibility in headless Chromium: a test portal page with a BkavCAPlugin-style
client (``bkav-client.js``) keeps one ``wss://localhost`` socket to the real agent on SoftHSM
and makes the calls portals make, through the consent question; what comes back is checked
by openssl (CMS), pdfsig and pyHanko (PDF), xmlsec1 and signxml (XML)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.browser.conftest import Browser
from tests.browser.portal import PortalPage, run_in_page, run_unasked
from tests.conftest import PIN, AgentProcess, SessionToken
from tests.pdftools import NssDb, assert_pdf_signatures_valid, sample_pdf
from tests.verify import assert_cms_verifies
from tests.vgca_portal import Site
from tests.xmlsig import INVOICE, assert_judges_accept

PAGE = PortalPage("bkav", "BkavCA Signer Plugin", library="BkavCAPlugin.js", handle="bkav")
"""The test portal's page; ``layer_agent`` (``tests/browser/conftest.py``) runs its layer."""


# What a portal does with the library: the licence and the settings first, then the list of
# certificates to pick the serial from, then signatures named by that serial, all on the one
# socket; a cancelled signature and a page-supplied PIN at the end.
SCRIPT = """
const plugin = await bkav.connect(%(port)d);
plugin.set("26", "PD94bWwgdmVyc2lvbj0iMS4wIj8+PExpY2Vuc2UvPg==");
plugin.set("23", "1");
plugin.set("42", "1");
const listed = await plugin.call("13", "SerialNumber", "1", "0", "0");
const [chosen] = bkav.certificates(listed.result);
const data = bkav.base64(new TextEncoder().encode("Tôi đồng ý"));
const cms = await plugin.call("38", data, chosen.serial);
const pdf = await bkav.fetched("/docs/big.pdf");
const pdfReply = await plugin.call("3", pdf, "2025/06/02 08:00:00", chosen.serial, "x");
const pdfFrames = plugin.frames[plugin.frames.length - 1];
// As a portal does with the result: to its own server (and the reply stays off stdout).
const form = new FormData();
const bytes = Uint8Array.from(atob(pdfReply.result), (c) => c.charCodeAt(0));
form.append("uploadfile", new Blob([bytes], {type: "application/pdf"}), "signed.pdf");
const uploaded = await (await fetch("/upload", {method: "POST", body: form})).json();
const signedPdf = {name: uploaded.FileName, reason: pdfReply.reason};
const invoice = await bkav.fetched("/docs/invoice.xml");
const xml = await plugin.call("0", invoice, "", "undefined", "", "undefined", chosen.serial, "0");
const cancelled = await plugin.call("38", data, chosen.serial);
const login = await plugin.call("37", "0", "%(pin)s");
plugin.close();
return {listed, chosen, data, cms, signedPdf, pdfFrames, xml, cancelled, login};
"""


def test_portal_page_signs_cms_pdf_and_xml_on_one_socket(
    *,
    chromium: Browser,
    layer_agent: AgentProcess,
    portal: Site,
    token: SessionToken,
    nss: NssDb,
    ca_pem: Path,
    tmp_path: Path,
) -> None:
    portal.documents["big.pdf"] = sample_pdf(pages=2, filler=400_000)
    portal.documents["invoice.xml"] = INVOICE
    yes = {"approved": True, "pin": PIN}
    layer_agent.script(
        {"approved": True, "certificate": "Nguyễn Văn An"}, yes, yes, yes, {"approved": False}
    )
    result = run_in_page(
        chromium, portal, SCRIPT % {"port": layer_agent.layer_ports["bkav"], "pin": PIN}
    )
    assert result["chosen"]["subject"] == "Nguyễn Văn An", result["listed"]
    assert result["chosen"]["serial"] == format(token.rsa.serial_number, "X")

    cms, data = base64.b64decode(result["cms"]["result"]), base64.b64decode(result["data"])
    assert_cms_verifies(cms, data, ca_pem, tmp_path)

    assert result["pdfFrames"] > 3, "the PDF went in pieces of 114,271 characters"
    signed = portal.documents[result["signedPdf"]["name"]]
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)

    assert_judges_accept(base64.b64decode(result["xml"]["result"]), token.ca.cert)

    assert result["cancelled"]["result"] == "MTM=", "the plugin's code 13, in base64"
    assert "hủy" in result["cancelled"]["reason"]
    assert result["login"]["result"] == "0"
    assert "mã PIN" in result["login"]["reason"]

    prompts = layer_agent.prompts()
    assert [p["action"] for p in prompts] == ["select-certificate"] + ["sign"] * 4
    assert {p["origin"] for p in prompts} == {portal.origin}
    # Named by its serial, the certificate the user showed the site is the only one offered.
    assert all(len(p["certificates"]) == 1 for p in prompts[1:])
    assert PIN not in json.dumps(prompts)


def test_a_page_of_another_origin_cannot_open_the_socket(
    chromium: Browser, layer_agent: AgentProcess, foreign: Site
) -> None:
    script = (
        f"try {{ const p = await bkav.connect({layer_agent.layer_ports['bkav']});"
        " return {opened: await p.call('38', 'aGk=', '1')}; }"
        " catch (error) { return {refused: String(error.message)}; }"
    )
    result = run_unasked(chromium, layer_agent, foreign, script)
    assert "refused" in result, json.dumps(result)
