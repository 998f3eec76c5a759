"""The VGCA compatibility in headless Chromium: a test portal page with a vgcaplugin-style
client (``vgca-client.js``) signs through the real agent on SoftHSM, with the download and
upload handlers served by the test on the page's own origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.browser.conftest import Browser, trusting_home
from tests.conftest import PIN, AgentProcess, SessionToken, start_agent
from tests.pdftools import NssDb, page_text, pyhanko_bottom_line, sample_pdf
from tests.vgca_portal import Site

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def portal() -> Iterator[Site]:
    site = Site(static=HERE).start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def foreign() -> Iterator[Site]:
    site = Site(static=HERE).start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def vgca_agent(
    browser_tools: str, token: SessionToken, portal: Site, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    running = start_agent(
        tmp_path_factory.mktemp("vgca-browser-agent"),
        token.hsm,
        *("--allow-origin", portal.origin, "--prompt-timeout", "20"),
        vgca=True,
        policy={"cancel_backoff_seconds": 0},
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium(
    browser_tools: str, vgca_agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory
) -> Browser:
    root = tmp_path_factory.mktemp("vgca-browser")
    home = trusting_home(root / "home", vgca_agent.data_dir / "tls" / "ca.pem")
    return Browser(browser_tools, home, root, vgca_agent)


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
const legacy = await new Promise((resolve) => vgca.vgca_sign_approved(null,
  JSON.stringify({FileUploadHandler: handler}), (sender, text) => resolve(JSON.parse(text)),
  {port}));
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
