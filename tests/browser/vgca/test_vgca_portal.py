"""The VGCA compatibility in headless Chromium: a test portal page with a vgcaplugin-style
client (``vgca-client.js``) signs through the real agent on SoftHSM, with the download and
upload handlers served by the test on the page's own origin."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography import x509

from tests.browser.conftest import Browser
from tests.browser.portal import PortalPage, run_in_page, run_unasked
from tests.conftest import PIN, AgentProcess, SessionToken
from tests.pdftools import NssDb, assert_pdf_signatures_valid, page_text, sample_pdf
from tests.verify import assert_cms_verifies, verify_with_cryptography
from tests.vgca_portal import Site

PAGE = PortalPage("vgca", "VGCA Sign Service", library="vgcaplugin.js", handle="vgca")
"""The test portal's page; ``layer_agent`` (``tests/browser/conftest.py``) runs its layer."""


SCRIPT = """
const port = %(port)d, base = location.origin, handler = base + "/upload";
const approved = await vgca.call("SignApproved",
  {FileUploadHandler: handler, SessionId: "s-1", FileName: base + "/docs/qd.pdf"}, {port});
const issued = await vgca.call("SignIssued", {FileUploadHandler: handler, SessionId: "s-1",
  FileName: base + "/docs/" + approved.FileName, DocNumber: "77/QĐ-UBND",
  IssuedDate: "2025-06-02T08:00:00+07:00"}, {port});
const cancelled = await vgca.call("SignApproved",
  {FileUploadHandler: handler, FileName: base + "/docs/qd.pdf"}, {port});
const foreignFile = await vgca.call("SignApproved",
  {FileUploadHandler: handler, FileName: "%(foreign)s/docs/qd.pdf"}, {port});
const legacy = await new Promise((resolve) => vgca.vgca_sign_approved(
  JSON.stringify({FileUploadHandler: handler}), (text) => resolve(JSON.parse(text)), {port}));
return {approved, issued, cancelled, foreignFile, legacy};
"""


def test_portal_page_signs_approved_then_issued_through_chromium(
    *,
    chromium: Browser,
    layer_agent: AgentProcess,
    portal: Site,
    foreign: Site,
    nss: NssDb,
    token: SessionToken,
) -> None:
    portal.documents["qd.pdf"] = sample_pdf()
    layer_agent.script(
        {"approved": True, "pin": PIN, "certificate": "Nguyễn Văn An"},
        {"approved": True, "pin": PIN, "certificate": "Trần Thị Bình"},
        {"approved": False},
    )
    result = run_in_page(
        chromium, portal, SCRIPT % {"port": layer_agent.vgca_port, "foreign": foreign.origin}
    )
    assert result["approved"]["Status"] == 0, result
    assert result["issued"]["Status"] == 0, result
    assert result["issued"]["DocumentNumber"] == "77/QĐ-UBND"
    assert result["cancelled"]["Status"] == 4
    assert result["foreignFile"]["Status"] == 3
    assert result["legacy"]["Status"] == 2, "an empty FileName (local pick) is not offered"
    assert [hit for hit in foreign.hits if hit[1].startswith("/docs")] == []
    assert [p["origin"] for p in layer_agent.prompts()] == [portal.origin] * 3

    final = portal.documents[result["issued"]["FileName"]]
    assert_pdf_signatures_valid(final, nss, token.ca.cert, layer_agent.data_dir, count=2)
    stamp = page_text(final, 2)
    assert "Số: 77/QĐ-UBND" in stamp
    assert "Ngày ban hành: 02/06/2025" in stamp


def test_a_page_of_another_origin_cannot_open_the_socket(
    chromium: Browser, layer_agent: AgentProcess, foreign: Site
) -> None:
    script = (
        f"try {{ return await vgca.call('Config', {{}}, {{port: {layer_agent.vgca_port}}}); }}"
        " catch (error) { return {refused: String(error.message)}; }"
    )
    result = run_unasked(chromium, layer_agent, foreign, script)
    assert "refused" in result, json.dumps(result)


# What portals built on the real vgcaplugin.js do, in the library's own call shapes: the plain
# words of GetCertInfo, Config and GetLicenseRequest; SignMsg with the page's JSON string of
# {HashAlg, HashValue, Encode} and with a bare base64 string; VerifyMsg with {Base64Content,
# Signature}; SignFile with one FileName and an empty SessionId; Auth with the session's code.
LIBRARY_SCRIPT = """
const port = %(port)d, base = location.origin, sender = "btn-sign";
const asObject = (text) => JSON.parse(text);
const certInfo = await new Promise((ok) => vgca.vgca_get_certinfo((t) => ok(asObject(t)), {port}));
const config = await new Promise((ok) => vgca.vgca_show_config((t) => ok(asObject(t)), {port}));
const prms = {};
prms["HashAlg"] = "SHA256";
prms["HashValue"] = "%(digest)s";
prms["Encode"] = "RSA";
const hashed = await new Promise((ok) => vgca.vgca_sign_msg(sender, JSON.stringify(prms),
  (s, t) => ok({sender: s, reply: asObject(t)}), {port}));
const bare = await new Promise((ok) => vgca.vgca_sign_msg(sender, "%(data)s",
  (s, t) => ok(asObject(t)), {port}));
const verified = await new Promise((ok) => vgca.vgca_verify_msg(
  JSON.stringify({Base64Content: "%(data)s", Signature: bare.Signature}),
  (t) => ok(asObject(t)), {port}));
const file = await new Promise((ok) => vgca.vgca_sign_file(JSON.stringify({
  FileUploadHandler: base + "/upload", SessionId: "",
  FileName: base + "/docs/" + encodeURIComponent("Quyết định 5.pdf")}),
  (t) => ok(asObject(t)), {port}));
const auth = await new Promise((ok) => vgca.vgca_auth(sender, "%(challenge)s",
  (s, t) => ok(asObject(t)), {port}));
const licence = await new Promise((ok) => vgca.vgca_license_request((t) => ok(asObject(t)),
  {port}));
return {certInfo, config, hashed, bare, verified, file, auth, licence};
"""


def test_the_librarys_calls_work_as_portals_make_them(
    *,
    chromium: Browser,
    layer_agent: AgentProcess,
    portal: Site,
    nss: NssDb,
    token: SessionToken,
    ca_pem: Path,
    tmp_path: Path,
) -> None:
    digest = hashlib.sha256(b"<SignedInfo>hoc ba</SignedInfo>").digest()
    data = "Tôi đồng ý".encode()
    challenge = "c0ffee-7d1e-AuthCode"
    portal.documents["Quyết định 5.pdf"] = sample_pdf()
    portal.uploads.clear()
    yes = {"approved": True, "pin": PIN, "certificate": "Nguyễn Văn An"}
    layer_agent.script({"approved": True, "certificate": "Nguyễn Văn An"}, yes, yes, yes, yes)
    result = run_in_page(
        chromium,
        portal,
        LIBRARY_SCRIPT
        % {
            "port": layer_agent.vgca_port,
            "digest": base64.b64encode(digest).decode(),
            "data": base64.b64encode(data).decode(),
            "challenge": challenge,
        },
    )
    # GetCertInfo and Config from their plain-text messages.
    assert result["certInfo"]["Status"] == 0, result["certInfo"]
    assert result["certInfo"]["CertInfo"]["SubjectCN"] == "Nguyễn Văn An"
    assert result["config"]["Status"] == 0, result["config"]

    # SignMsg over the portal's digest: a raw signature and CertBase64, checked by cryptography.
    hashed = result["hashed"]
    assert hashed["sender"] == "btn-sign" and hashed["reply"]["Status"] == 0, hashed
    certificate = base64.b64decode(hashed["reply"]["CertBase64"])
    signer = x509.load_der_x509_certificate(certificate).subject
    assert signer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "Nguyễn Văn An"
    verify_with_cryptography(
        certificate, base64.b64decode(hashed["reply"]["Signature"]), digest, "SHA-256"
    )

    # SignMsg over a bare base64 string: a CMS openssl accepts, and VerifyMsg says so too.
    assert result["bare"]["Status"] == 0, result["bare"]
    assert_cms_verifies(base64.b64decode(result["bare"]["Signature"]), data, ca_pem, tmp_path)
    assert result["verified"]["Intact"] is True, result["verified"]

    # SignFile with one FileName and SessionId "": the upload keeps both, and the name.
    assert result["file"]["Status"] == 0, result["file"]
    [upload] = portal.uploads
    assert upload["SessionId"] == ""
    assert upload["aspnet_filename"] == upload["php_filename"] == "Quyết định 5.pdf"
    signed = portal.documents[result["file"]["FileName"]]
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)

    # Auth: the challenge signed after the same question as any signature.
    assert result["auth"]["Status"] == 0, result["auth"]
    signature = base64.b64decode(result["auth"]["Signature"])
    assert_cms_verifies(signature, challenge.encode(), ca_pem, tmp_path)
    assert result["licence"]["Status"] == 0 and result["licence"]["Licensed"] is True

    prompts = layer_agent.prompts()
    assert [p["action"] for p in prompts] == ["select-certificate"] + ["sign"] * 4
    assert {p["origin"] for p in prompts} == {portal.origin}
    names = [p["documents"][0]["name"] for p in prompts[1:]]
    assert names[2] == "Quyết định 5.pdf"
    assert names[3].startswith("Đăng nhập bằng chữ ký số")
