"""The VGCA compatibility in headless Chromium: a test portal page with a vgcaplugin-style
client (``vgca-client.js``) signs through the real agent on SoftHSM, with the download and
upload handlers served by the test on the page's own origin."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.browser.conftest import Browser, browser_trusting
from tests.conftest import PIN, AgentProcess, SessionToken, start_vgca_agent
from tests.pdftools import NssDb, page_text, pyhanko_bottom_line, sample_pdf
from tests.verify import openssl_cms_verify, verify_with_cryptography
from tests.vgca_portal import Site, serving

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def portal() -> Iterator[Site]:
    yield from serving(static=HERE)


@pytest.fixture(scope="module")
def foreign() -> Iterator[Site]:
    yield from serving(static=HERE)


@pytest.fixture(scope="module")
def vgca_agent(
    browser_tools: str, token: SessionToken, portal: Site, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    running = start_vgca_agent(
        tmp_path_factory.mktemp("vgca-browser-agent"), token.hsm, portal.origin, prompt_timeout="20"
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium(
    browser_tools: str, vgca_agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory
) -> Browser:
    return browser_trusting(browser_tools, vgca_agent, tmp_path_factory.mktemp("vgca-browser"))


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


@pytest.fixture(scope="module")
def verifiers(
    token: SessionToken, tmp_path_factory: pytest.TempPathFactory
) -> tuple[NssDb, x509.Certificate]:
    """pdfsig's NSS database and pyHanko's root: the test CA."""
    return NssDb.create(tmp_path_factory.mktemp("nss"), token.ca.cert), token.ca.cert


def test_portal_page_signs_approved_then_issued_through_chromium(
    chromium: Browser,
    vgca_agent: AgentProcess,
    portal: Site,
    foreign: Site,
    verifiers: tuple[NssDb, x509.Certificate],
) -> None:
    nss, root = verifiers
    portal.documents["qd.pdf"] = sample_pdf()
    vgca_agent.script(
        {"approved": True, "pin": PIN, "certificate": "Nguyễn Văn An"},
        {"approved": True, "pin": PIN, "certificate": "Trần Thị Bình"},
        {"approved": False},
    )
    result = chromium.run(
        "eval",
        extension=False,
        url=portal.url("/static/portal.html"),
        script=SCRIPT % {"port": vgca_agent.vgca_port, "foreign": foreign.origin},
    )
    assert result["approved"]["Status"] == 0, result
    assert result["issued"]["Status"] == 0, result
    assert result["issued"]["DocumentNumber"] == "77/QĐ-UBND"
    assert result["cancelled"]["Status"] == 4
    assert result["foreignFile"]["Status"] == 3
    assert result["legacy"]["Status"] == 2, "an empty FileName (local pick) is not offered"
    assert [hit for hit in foreign.hits if hit[1].startswith("/docs")] == []
    assert [p["origin"] for p in vgca_agent.prompts()] == [portal.origin] * 3

    final = portal.documents[result["issued"]["FileName"]]
    blocks = nss.pdfsig(final, vgca_agent.data_dir)
    assert len(blocks) == 2
    assert all("Signature is Valid" in block for block in blocks)
    assert pyhanko_bottom_line(final, root) == [True, True]
    stamp = page_text(final, 2)
    assert "Số: 77/QĐ-UBND" in stamp
    assert "Ngày ban hành: 02/06/2025" in stamp


def test_a_page_of_another_origin_cannot_open_the_socket(
    chromium: Browser, vgca_agent: AgentProcess, foreign: Site
) -> None:
    vgca_agent.script({"approved": True, "pin": PIN})
    script = (
        f"try {{ return await vgca.call('Config', {{}}, {{port: {vgca_agent.vgca_port}}}); }}"
        " catch (error) { return {refused: String(error.message)}; }"
    )
    result = chromium.run(
        "eval", extension=False, url=foreign.url("/static/portal.html"), script=script
    )
    assert "refused" in result, json.dumps(result)
    assert vgca_agent.prompts() == []


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
    chromium: Browser,
    vgca_agent: AgentProcess,
    portal: Site,
    verifiers: tuple[NssDb, x509.Certificate],
    tmp_path: Path,
) -> None:
    nss, root = verifiers
    digest = hashlib.sha256(b"<SignedInfo>hoc ba</SignedInfo>").digest()
    data = "Tôi đồng ý".encode()
    challenge = "c0ffee-7d1e-AuthCode"
    portal.documents["Quyết định 5.pdf"] = sample_pdf()
    portal.uploads.clear()
    yes = {"approved": True, "pin": PIN, "certificate": "Nguyễn Văn An"}
    vgca_agent.script({"approved": True, "certificate": "Nguyễn Văn An"}, yes, yes, yes, yes)
    result = chromium.run(
        "eval",
        extension=False,
        url=portal.url("/static/portal.html"),
        script=LIBRARY_SCRIPT
        % {
            "port": vgca_agent.vgca_port,
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
    ca = tmp_path / "ca.pem"
    ca.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    assert result["bare"]["Status"] == 0, result["bare"]
    cms_check(base64.b64decode(result["bare"]["Signature"]), data, ca, tmp_path)
    assert result["verified"]["Intact"] is True, result["verified"]

    # SignFile with one FileName and SessionId "": the upload keeps both, and the name.
    assert result["file"]["Status"] == 0, result["file"]
    [upload] = portal.uploads
    assert upload["SessionId"] == ""
    assert upload["aspnet_filename"] == upload["php_filename"] == "Quyết định 5.pdf"
    signed = portal.documents[result["file"]["FileName"]]
    [block] = nss.pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block
    assert pyhanko_bottom_line(signed, root) == [True]

    # Auth: the challenge signed after the same question as any signature.
    assert result["auth"]["Status"] == 0, result["auth"]
    cms_check(base64.b64decode(result["auth"]["Signature"]), challenge.encode(), ca, tmp_path)
    assert result["licence"]["Status"] == 0 and result["licence"]["Licensed"] is True

    prompts = vgca_agent.prompts()
    assert [p["action"] for p in prompts] == ["select-certificate"] + ["sign"] * 4
    assert {p["origin"] for p in prompts} == {portal.origin}
    names = [p["documents"][0]["name"] for p in prompts[1:]]
    assert names[2] == "Quyết định 5.pdf"
    assert names[3].startswith("Đăng nhập bằng chữ ký số")


def cms_check(signature: bytes, content: bytes, ca: Path, tmp: Path) -> None:
    done = openssl_cms_verify(signature, content, ca, tmp)
    assert done.returncode == 0, done.stderr
