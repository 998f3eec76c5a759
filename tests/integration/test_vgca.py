"""The VGCA Sign Service compatibility, end to end: the real agent on SoftHSM, a portal's
download and upload handlers served here, a WebSocket client speaking vgcaplugin's
protocol, and independent verifiers (pdfsig, pyHanko, pdftotext) on what was uploaded.

The portal is ``http://127.0.0.1:PORT`` (allowed with ``--allow-origin``): a loopback
origin is the only kind a test can serve. A second server plays a foreign origin and
records every request that reaches it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from asn1crypto import cms
from cryptography import x509

from tests.conftest import PIN, AgentProcess, SessionToken, run_cli, start_agent, start_vgca_agent
from tests.pdf_corpus import certified
from tests.pdftools import NssDb, page_text, pyhanko_bottom_line, sample_pdf
from tests.verify import openssl_cms_verify, verify_with_cryptography
from tests.vgca_portal import Site, serving
from tests.xmlsig import DSIG, INVOICE, assert_judges_accept

pytestmark = pytest.mark.integration

LEADER = "Nguyễn Văn An"
CLERK = "Trần Thị Bình"


@pytest.fixture(scope="module")
def foreign() -> Iterator[Site]:
    yield from serving()


@pytest.fixture(scope="module")
def vgca(
    token: SessionToken, portal: Site, ca_pem: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    running = start_vgca_agent(
        tmp_path_factory.mktemp("vgca-agent"),
        token.hsm,
        portal.origin,
        trust_roots=[str(ca_pem)],
    )
    yield running
    running.stop()


@pytest.fixture
def agent_(vgca: AgentProcess, portal: Site, foreign: Site) -> AgentProcess:
    vgca.script()
    for site in (portal, foreign):
        site.hits.clear()
        site.uploads.clear()
    return vgca


def both_allowed(token: SessionToken, portal: Site, foreign: Site, root: Path) -> AgentProcess:
    """An agent of its own that allows the portal and the other site, both exactly."""
    return start_vgca_agent(root, token.hsm, portal.origin, foreign.origin, prompt_timeout="120")


def call(
    agent: AgentProcess, endpoint: str, payload: dict[str, Any] | str, origin: str
) -> dict[str, Any]:
    """What vgcaplugin does: open the socket, send one message, read one reply."""
    return asyncio.run(vgca_call(agent, endpoint, payload, origin))


def call_for_document(
    agent: AgentProcess,
    endpoint: str,
    portal: Site,
    name: str,
    *,
    handler: str = "/upload",
    **fields: Any,
) -> dict[str, Any]:
    """What a page asks of vgcaplugin for one of its portal's own documents: fetch
    ``/docs/<name>`` from the portal, sign it, upload it to the portal's ``handler``."""
    message = {"FileUploadHandler": portal.url(handler), "FileName": portal.url(f"/docs/{name}")}
    return call(agent, endpoint, {**message, **fields}, portal.origin)


async def vgca_call(
    agent: AgentProcess, endpoint: str, payload: dict[str, Any] | str, origin: str
) -> dict[str, Any]:
    message = payload if isinstance(payload, str) else json.dumps(payload)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"wss://127.0.0.1:{agent.vgca_port}/{endpoint}", ssl=agent.tls, origin=origin
        ) as socket,
    ):
        await socket.send_str(message)
        reply = await socket.receive(timeout=60)
        assert reply.type is aiohttp.WSMsgType.TEXT, reply
        closing = await socket.receive(timeout=10)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        answer: dict[str, Any] = json.loads(reply.data)
    # Let the TLS transport finish closing before asyncio.run closes the loop.
    await asyncio.sleep(0.05)
    return answer


def handshake(agent: AgentProcess, endpoint: str, headers: dict[str, str]) -> int:
    """The HTTP status of a refused upgrade (fails if the upgrade succeeds)."""

    async def attempt() -> int:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(
                    f"wss://127.0.0.1:{agent.vgca_port}/{endpoint}", ssl=agent.tls, headers=headers
                )
        await asyncio.sleep(0.05)
        return refused.value.status

    return asyncio.run(attempt())


def pending(agent: AgentProcess) -> list[Path]:
    directory = agent.data_dir / "vgca" / "pending"
    return sorted(directory.iterdir()) if directory.exists() else []


def test_sign_approved_then_issued_on_the_same_document(
    agent_: AgentProcess, portal: Site, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    original = sample_pdf()
    portal.documents["qd-123.pdf"] = original
    agent_.script(
        {"approved": True, "pin": PIN, "certificate": LEADER},
        {"approved": True, "pin": PIN, "certificate": CLERK},
    )
    approved = call_for_document(
        agent_,
        "SignApproved",
        portal,
        "qd-123.pdf",
        SessionId="phien-42",
        JWTToken="jwt-abc",
        MetaData=[{"Key": "DocId", "Value": 42}],
    )
    assert approved["Status"] == 0, approved
    assert approved["FileName"] == "signed-1.pdf"
    assert approved["FileServer"] == "fs-01"
    upload = portal.uploads[0]
    assert upload["SessionId"] == "phien-42"
    assert upload["DocId"] == "42"
    download_headers = portal.hits[0][2]
    assert download_headers["Authorization"] == "Bearer jwt-abc"
    assert portal.hits[1][2]["Authorization"] == "Bearer jwt-abc"

    issued = call_for_document(
        agent_,
        "SignIssued",
        portal,
        "signed-1.pdf",
        SessionId="phien-42",
        DocNumber="123/QĐ-UBND",
        IssuedDate="2025-05-12T09:30:00+07:00",
    )
    assert issued["Status"] == 0, issued
    assert issued["DocumentNumber"] == "123/QĐ-UBND"
    assert issued["DocumentDate"] == "2025-05-12T09:30:00+07:00"
    assert "123/QĐ-UBND" in issued["CustomSignatureText"]
    final = portal.documents[issued["FileName"]]
    assert final.startswith(portal.documents["signed-1.pdf"]), "incremental update"

    blocks = nss.pdfsig(final, tmp_path)
    assert len(blocks) == 2
    for block, who in zip(blocks, (LEADER, CLERK), strict=True):
        assert "Signature is Valid" in block
        assert "Certificate is Trusted" in block
        assert who in block
    assert pyhanko_bottom_line(final, token.ca.cert) == [True, True]
    stamp = page_text(final, 2)
    assert "Số: 123/QĐ-UBND" in stamp
    assert "Ngày ban hành: 12/05/2025" in stamp
    assert "Sở Nội vụ" in stamp, "the organisation stays in the issued stamp"

    prompts = agent_.prompts()
    assert [p["origin"] for p in prompts] == [portal.origin, portal.origin]
    assert prompts[0]["documents"][0]["name"] == "qd-123.pdf"
    assert pending(agent_) == [], "nothing is kept once the portal accepted the files"


def test_a_refused_origin_fails_the_upgrade_without_a_prompt(
    agent_: AgentProcess, portal: Site
) -> None:
    agent_.script({"approved": True, "pin": PIN})
    for origin in ("https://evil.example.com", "null", None):
        headers = {"Origin": origin} if origin else {}
        assert handshake(agent_, "SignApproved", headers) == 403
    assert agent_.prompts() == []
    assert portal.hits == []


def test_dns_rebinding_host_fails_the_upgrade(agent_: AgentProcess, portal: Site) -> None:
    rebound = {"Origin": portal.origin, "Host": f"attacker.example:{agent_.vgca_port}"}
    assert handshake(agent_, "Config", rebound) == 403


def test_a_foreign_file_name_is_refused_without_contacting_it(
    agent_: AgentProcess, portal: Site, foreign: Site
) -> None:
    agent_.script({"approved": True, "pin": PIN})
    for source, handler in (
        (foreign.url("/docs/qd.pdf"), portal.url("/upload")),
        (portal.url("/docs/qd.pdf"), foreign.url("/upload")),
        ("file:///etc/passwd", portal.url("/upload")),
        (f"https://127.0.0.1:{agent_.port}/v1/info", portal.url("/upload")),
    ):
        reply = call(
            agent_,
            "SignApproved",
            {"FileUploadHandler": handler, "FileName": source},
            portal.origin,
        )
        assert reply["Status"] == 3, reply
        assert reply["Message"]
    assert foreign.hits == []
    assert portal.hits == [], "refused before any download, even from the page's own origin"
    assert agent_.prompts() == []


def test_a_redirect_to_a_foreign_origin_is_not_followed(
    agent_: AgentProcess, portal: Site, foreign: Site
) -> None:
    agent_.script({"approved": True, "pin": PIN})
    reply = call(
        agent_,
        "SignPDF",
        {
            "FileUploadHandler": portal.url("/upload"),
            "FileName": portal.url("/redirect?to=" + foreign.url("/docs/x.pdf")),
        },
        portal.origin,
    )
    assert reply["Status"] == 3, reply
    assert foreign.hits == []
    assert agent_.prompts() == []


def test_the_pages_credential_never_follows_a_redirect_to_another_origin(
    token: SessionToken, portal: Site, foreign: Site, tmp_path: Path
) -> None:
    """Both origins are allowed, so the redirect is followed; the JWT is the page's own
    origin's, and goes there only."""
    running = both_allowed(token, portal, foreign, tmp_path)
    try:
        for site in (portal, foreign):
            site.hits.clear()
        foreign.documents["moved.pdf"] = sample_pdf()
        running.script({"approved": False})
        call(
            running,
            "SignPDF",
            {
                "FileUploadHandler": portal.url("/upload"),
                "FileName": portal.url("/redirect?to=" + foreign.url("/docs/moved.pdf")),
                "JWTToken": "jwt-of-the-portal",
            },
            portal.origin,
        )
        [(_, _, first)] = portal.hits
        assert first["Authorization"] == "Bearer jwt-of-the-portal"
        [(_, path, moved)] = foreign.hits
        assert path == "/docs/moved.pdf"
        assert "Authorization" not in moved
    finally:
        running.stop()


def test_a_file_from_or_to_another_origin_is_shown_in_the_question_and_audited(
    token: SessionToken, portal: Site, foreign: Site, tmp_path: Path
) -> None:
    """The page is the portal; the document comes from, and goes to, another allowed origin:
    the user sees both before saying yes, and the audit trail keeps them."""
    running = both_allowed(token, portal, foreign, tmp_path)
    try:
        foreign.documents["elsewhere.pdf"] = sample_pdf()
        running.script({"approved": True, "pin": PIN})
        reply = call(
            running,
            "SignPDF",
            {
                "FileUploadHandler": foreign.url("/upload"),
                "FileName": foreign.url("/docs/elsewhere.pdf"),
            },
            portal.origin,
        )
        assert reply["Status"] == 0, reply
        [prompt] = [p for p in running.prompts() if p["action"] == "sign"]
        assert prompt["origin"] == portal.origin
        [document] = prompt["documents"]
        assert (document["from"], document["to"]) == (foreign.origin, foreign.origin)
        audit = run_cli("audit", "--json", "--data-dir", str(running.data_dir))
        [entry] = json.loads(audit.stdout)["entries"]
        [audited] = entry["documents"]
        assert (audited["from"], audited["to"]) == (foreign.origin, foreign.origin)
        # A file of the page's own origin names no route.
        portal.documents["own.pdf"] = sample_pdf()
        running.script({"approved": True, "pin": PIN})
        own = call_for_document(running, "SignPDF", portal, "own.pdf")
        assert own["Status"] == 0, own
        last = [p for p in running.prompts() if p["action"] == "sign"][-1]
        assert "from" not in last["documents"][0] and "to" not in last["documents"][0]
    finally:
        running.stop()


def test_verify_reads_only_the_pages_own_origin(
    token: SessionToken, portal: Site, foreign: Site, tmp_path: Path
) -> None:
    """VerifyPDF asks nobody and the page reads the report: fetched from another (even
    admitted) origin, it would hand the page that origin's document."""
    running = both_allowed(token, portal, foreign, tmp_path)
    try:
        for site in (portal, foreign):
            site.hits.clear()
            site.documents["theirs.pdf"] = sample_pdf()
        reply = call(
            running, "VerifyPDF", {"FileName": foreign.url("/docs/theirs.pdf")}, portal.origin
        )
        assert reply["Status"] == 3, reply  # URL not allowed
        assert foreign.hits == []
        # Through a redirect of the page's own origin, just the same.
        reply = call(
            running,
            "VerifyPDF",
            {"FileName": portal.url("/redirect?to=" + foreign.url("/docs/theirs.pdf"))},
            portal.origin,
        )
        assert reply["Status"] == 3, reply
        assert foreign.hits == []
        mine = call(
            running, "VerifyPDF", {"FileName": portal.url("/docs/theirs.pdf")}, portal.origin
        )
        assert mine["Status"] != 3, mine
        assert running.prompts() == []
    finally:
        running.stop()


def test_a_quick_restart_gets_the_vgca_port_back(
    token: SessionToken, portal: Site, tmp_path: Path
) -> None:
    """A connection the agent closes (at its stop, after a reply, at a timeout) stays in
    TIME_WAIT on the agent's port for a minute; a restart within that minute used to lose the
    VGCA port for the agent's whole life."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fixed = ("--allow-origin", portal.origin, "--vgca-port", str(port))
    first = start_agent(tmp_path / "first", token.hsm, *fixed, vgca=True)
    held = socket.create_connection(("127.0.0.1", port))
    try:
        first.script({"approved": False})
        portal.documents["restart.pdf"] = sample_pdf()
        call_for_document(first, "SignPDF", portal, "restart.pdf")
    finally:
        first.stop()  # closes the held connection from the agent's side
        held.close()
    lingering = subprocess.run(
        ["ss", "-tanH", "state", "time-wait", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert lingering.strip(), "no TIME_WAIT on the agent's side: the test shows nothing"
    second = start_agent(tmp_path / "second", token.hsm, *fixed, vgca=True)
    try:
        assert second.vgca_port == port
    finally:
        second.stop()


def test_cancel_returns_status_4(agent_: AgentProcess, portal: Site) -> None:
    portal.documents["cancel.pdf"] = sample_pdf()
    agent_.script({"approved": False})
    reply = call_for_document(agent_, "SignApproved", portal, "cancel.pdf")
    assert reply["Status"] == 4
    assert reply["Message"] == "Người dùng đã hủy thao tác."
    assert portal.uploads == []


def test_unsupported_endpoints_answer_a_vietnamese_message(
    agent_: AgentProcess, portal: Site
) -> None:
    for endpoint in ("SignXMLP11", "Whatever"):
        reply = call(agent_, endpoint, {"FileName": portal.url("/x.xml")}, portal.origin)
        assert reply["Status"] == 2
        assert f"không hỗ trợ chức năng {endpoint}" in reply["Message"]
        assert reply["Error"] == reply["Message"]
    instead = {
        "SignPDFWP": "Hãy dùng SignPDF hoặc SignApproved",
        "SignOffice": "Hãy chuyển tài liệu sang PDF",
        "VerifyOffice": "Hãy kiểm tra bản PDF bằng VerifyPDF",
        "SignXMLP12": "Hãy dùng SignXML, SignMsg",
    }
    for endpoint, advice in instead.items():
        reply = call(agent_, endpoint, {"FileName": portal.url("/x.docx")}, portal.origin)
        assert reply["Status"] == 2, reply
        assert reply["Message"].startswith("Kyso Agent không "), reply
        assert advice in reply["Message"], reply
    empty = call(
        agent_, "SignApproved", {"FileUploadHandler": portal.url("/upload")}, portal.origin
    )
    assert empty["Status"] == 2, "picking a local file is not offered"
    assert portal.hits == []
    assert agent_.prompts() == []


def test_a_binary_message_is_answered_with_what_to_send_instead(
    agent_: AgentProcess, portal: Site
) -> None:
    # vgcaplugin sends text; a page that sends bytes is told so, in the plugin's reply shape
    # (the layer's first message loads its wire format: here, this one).
    async def send_bytes() -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"wss://127.0.0.1:{agent_.vgca_port}/SignApproved",
                ssl=agent_.tls,
                origin=portal.origin,
            ) as socket,
        ):
            await socket.send_bytes(b'{"FileName": "x.pdf"}')
            reply = await socket.receive(timeout=60)
            assert reply.type is aiohttp.WSMsgType.TEXT, reply
            answer: dict[str, Any] = json.loads(reply.data)
        await asyncio.sleep(0.05)
        return answer

    reply = asyncio.run(send_bytes())
    assert reply["Status"] == 1, reply
    assert reply["Message"] == (
        "Yêu cầu không hợp lệ: hãy gửi yêu cầu dạng văn bản (JSON), không phải dữ liệu nhị phân"
    )
    assert portal.hits == []
    assert agent_.prompts() == []


def test_upload_failure_keeps_the_signed_file_and_says_where(
    agent_: AgentProcess, portal: Site, token: SessionToken
) -> None:
    portal.documents["upload-fails.pdf"] = sample_pdf()
    agent_.script({"approved": True, "pin": PIN})
    reply = call_for_document(
        agent_, "SignApproved", portal, "upload-fails.pdf", handler="/broken-upload"
    )
    assert reply["Status"] == 14, reply
    posts = [hit for hit in portal.hits if hit[0] == "POST"]
    assert len(posts) == 2, "retried once"
    [kept] = pending(agent_)
    assert reply["SavedFile"] == kept.relative_to(agent_.data_dir).as_posix()
    assert reply["SavedFile"] in reply["Message"]
    assert pyhanko_bottom_line(kept.read_bytes(), token.ca.cert) == [True]
    assert kept.stat().st_mode & 0o777 == 0o600
    kept.unlink()


def test_handlers_answering_status_zero_are_accepted_and_appendix_is_stamped(
    agent_: AgentProcess, portal: Site
) -> None:
    portal.documents["phu-luc.pdf"] = sample_pdf()
    portal.upload_answer = {"Status": 0, "Message": "OK", "FileServer": {"id": 7}}
    agent_.script({"approved": True, "pin": PIN})
    try:
        reply = call_for_document(
            agent_, "SignAppendix", portal, "phu-luc.pdf", DocNumber="Số: 45/QĐ-UBND"
        )
    finally:
        portal.upload_answer = {"Status": True, "Message": "", "FileServer": "fs-01"}
    assert reply["Status"] == 0, reply
    assert reply["FileServer"] == {"id": 7}, "passed back untouched"
    signed = portal.documents[reply["FileName"]]
    assert "Số: 45/QĐ-UBND" in page_text(signed, 1)


def test_sign_msg_returns_a_cms_over_the_data(
    agent_: AgentProcess, portal: Site, token: SessionToken
) -> None:
    data = "Tôi đồng ý".encode()
    agent_.script({"approved": True, "pin": PIN, "certificate": LEADER})
    reply = call(agent_, "SignMsg", {"Data": base64.b64encode(data).decode()}, portal.origin)
    assert reply["Status"] == 0, reply
    signed = cms.ContentInfo.load(base64.b64decode(reply["Signature"]))
    [signer] = signed["content"]["signer_infos"]
    attributes = {a["type"].native: a["values"][0].native for a in signer["signed_attrs"]}
    assert attributes["message_digest"] == hashlib.sha256(data).digest()
    [prompt] = agent_.prompts()
    assert prompt["documents"][0]["digest"] == hashlib.sha256(data).hexdigest()


def test_get_cert_info_and_config(agent_: AgentProcess, portal: Site) -> None:
    agent_.script({"approved": True, "certificate": LEADER})
    info = call(agent_, "GetCertInfo", {}, portal.origin)
    assert info["Status"] == 0, info
    assert info["SubjectCN"] == LEADER
    assert info["CertInfo"]["Organization"] == "UBND tỉnh Thừa Thiên Huế"
    config = call(agent_, "Config", "", portal.origin)
    assert config["Status"] == 0
    assert config["Port"] == agent_.vgca_port
    assert "SignIssued" in config["Endpoints"]


def test_verify_pdf_reports_signatures(agent_: AgentProcess, portal: Site) -> None:
    portal.documents["unsigned.pdf"] = sample_pdf()
    reply = call(agent_, "VerifyPDF", {"FileName": portal.url("/docs/unsigned.pdf")}, portal.origin)
    assert reply["Status"] == 17
    assert reply["Signatures"] == []
    assert agent_.prompts() == []


# --- SignFile with several files: one question, one PIN -------------------------------------


def files_message(portal: Site, names: list[str], **fields: Any) -> dict[str, Any]:
    """SignFile for ``/docs/<name>`` of the portal, FileIDs 1, 2 …, uploaded to ``/upload``."""
    return {
        "FileUploadHandler": portal.url("/upload"),
        "Files": [
            {"FileID": index + 1, "FileName": name, "URL": portal.url(f"/docs/{name}")}
            for index, name in enumerate(names)
        ],
        **fields,
    }


def statuses(reply: dict[str, Any]) -> list[tuple[Any, int]]:
    return [(f["FileID"], f["Status"]) for f in reply["Files"]]


def test_sign_file_signs_every_file_after_one_question_and_uploads_each(
    agent_: AgentProcess, portal: Site, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    names = ["Quyết định 12.pdf", "Tờ trình 7.pdf", "Phụ lục.pdf"]
    for index, name in enumerate(names):
        portal.documents[name] = sample_pdf(pages=index + 1, text=f"Van ban {index + 1}")
    agent_.script({"approved": True, "pin": PIN, "certificate": LEADER})
    message = files_message(
        portal, names, SessionId="phien-7", MetaData=[{"Key": "DocId", "Value": 9}]
    )
    reply = call(agent_, "SignFile", message, portal.origin)
    assert reply["Status"] == 0, reply
    assert statuses(reply) == [(1, 0), (2, 0), (3, 0)]
    assert [f["FileName"] for f in reply["Files"]] == [
        "signed-1.pdf",
        "signed-2.pdf",
        "signed-3.pdf",
    ]
    assert {f["FileServer"] for f in reply["Files"]} == {"fs-01"}
    # One question listing every file with its SHA-256, in order; then the progress.
    [question] = [p for p in agent_.prompts() if p["action"] == "sign"]
    assert [(d["name"], d["digest"]) for d in question["documents"]] == [
        (name, hashlib.sha256(portal.documents[name]).hexdigest()) for name in names
    ]
    assert agent_.activity_updates() == [
        *({"done": i, "current": name} for i, name in enumerate(names)),
        {"done": 3},
    ]
    assert len(portal.uploads) == 3
    for index, (name, upload) in enumerate(zip(names, portal.uploads, strict=True)):
        assert (upload["aspnet_filename"], upload["php_filename"]) == (name, name)
        assert (upload["SessionId"], upload["DocId"]) == ("phien-7", "9")
        signed = portal.documents[f"signed-{index + 1}.pdf"]
        assert signed.startswith(portal.documents[name]), "incremental update"
        assert pyhanko_bottom_line(signed, token.ca.cert) == [True]
        [block] = nss.pdfsig(signed, tmp_path)
        assert "Signature is Valid" in block and "Certificate is Trusted" in block
        assert LEADER in block
    assert pending(agent_) == []


def test_stop_signs_and_uploads_those_done_and_the_rest_are_cancelled(
    agent_: AgentProcess, portal: Site, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    names = [f"Văn bản {n}.pdf" for n in range(1, 9)]
    for number, name in enumerate(names, 1):
        portal.documents[name] = sample_pdf(text=f"Van ban {number}")
    agent_.script({"approved": True, "pin": PIN})
    # Stop once the second has begun (the prompter is a process of its own: its Stop may reach
    # the agent a document or two later, never before).
    agent_.script_activities({"stopAt": 1})
    reply = call(agent_, "SignFile", files_message(portal, names), portal.origin)
    codes = [status for _, status in statuses(reply)]
    done = codes.count(0)
    assert 2 <= done < len(names), reply
    assert codes == [0] * done + [4] * (len(names) - done), "the signed ones, then the rest"
    assert reply["Status"] == 4
    assert reply["Error"] == reply["Message"] == reply["Files"][done]["Message"]
    assert "Dừng" in reply["Message"]
    assert len(portal.uploads) == done
    for name, upload in zip(names, portal.uploads, strict=False):
        assert upload["aspnet_filename"] == name
        signed = upload["uploadfile"]
        assert pyhanko_bottom_line(signed, token.ca.cert) == [True]
        [block] = nss.pdfsig(signed, tmp_path)
        assert "Signature is Valid" in block
    assert len([p for p in agent_.prompts() if p["action"] == "sign"]) == 1


def test_a_cancelled_question_answers_each_file_and_nothing_is_uploaded(
    agent_: AgentProcess, portal: Site
) -> None:
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        portal.documents[name] = sample_pdf()
    agent_.script({"approved": False})
    reply = call(
        agent_, "SignFile", files_message(portal, ["a.pdf", "b.pdf", "c.pdf"]), portal.origin
    )
    assert reply["Status"] == 4
    assert statuses(reply) == [(1, 4), (2, 4), (3, 4)]
    assert portal.uploads == []
    assert len(agent_.prompts()) == 1


@pytest.mark.parametrize(
    ("second", "status"),
    [("missing.pdf", 13), ("locked.pdf", 1)],
    ids=["not-found", "certified-no-changes"],
)
def test_a_file_that_cannot_be_fetched_or_signed_is_named_and_none_is_signed(
    agent_: AgentProcess, portal: Site, token: SessionToken, second: str, status: int
) -> None:
    portal.documents["first.pdf"] = sample_pdf()
    portal.documents["third.pdf"] = sample_pdf()
    portal.documents["locked.pdf"] = certified(token.ca, 1)  # its author allows no change
    agent_.script({"approved": True, "pin": PIN})
    reply = call(
        agent_, "SignFile", files_message(portal, ["first.pdf", second, "third.pdf"]), portal.origin
    )
    assert statuses(reply) == [(1, 16), (2, status), (3, 16)]
    assert reply["Status"] == status
    assert second in reply["Files"][0]["Message"] and second in reply["Files"][2]["Message"]
    assert agent_.prompts() == [], "refused before anyone is asked"
    assert portal.uploads == []


def test_after_a_failed_upload_the_other_signed_files_are_kept_without_trying(
    agent_: AgentProcess, portal: Site, token: SessionToken
) -> None:
    names = ["one.pdf", "two.pdf", "three.pdf"]
    for name in names:
        portal.documents[name] = sample_pdf()
    agent_.script({"approved": True, "pin": PIN})
    message = {**files_message(portal, names), "FileUploadHandler": portal.url("/broken-upload")}
    reply = call(agent_, "SignFile", message, portal.origin)
    assert statuses(reply) == [(1, 14), (2, 14), (3, 14)]
    posts = [hit for hit in portal.hits if hit[0] == "POST"]
    assert len(posts) == 2, "the first upload and its one retry; no try for the others"
    kept = pending(agent_)
    assert len(kept) == 3
    for result in reply["Files"]:
        assert any(k.relative_to(agent_.data_dir).as_posix() in result["Message"] for k in kept)
    assert "one.pdf" in reply["Files"][1]["Message"], "says whose upload failed"
    for path in kept:
        assert pyhanko_bottom_line(path.read_bytes(), token.ca.cert) == [True]
        path.unlink()


def test_more_than_fifty_files_are_refused_before_anything(
    agent_: AgentProcess, portal: Site
) -> None:
    agent_.script({"approved": True, "pin": PIN})
    names = [f"f{n}.pdf" for n in range(51)]
    reply = call(agent_, "SignFile", files_message(portal, names), portal.origin)
    assert reply["Status"] == 1, reply
    assert "50" in reply["Message"]
    assert portal.hits == [] and agent_.prompts() == []


def test_files_of_two_origins_get_a_question_each_and_the_list_is_bounded_in_size(
    token: SessionToken, portal: Site, foreign: Site, tmp_path: Path
) -> None:
    """The question names the one origin its documents come from: the portal's own files in
    one, the other site's in another. The files of one question are at most max_pdf_bytes
    together."""
    limit = 1024 * 1024
    running = start_vgca_agent(
        tmp_path, token.hsm, portal.origin, foreign.origin, max_pdf_bytes=limit
    )
    try:
        for site, name in ((portal, "own-1.pdf"), (portal, "own-2.pdf"), (foreign, "far.pdf")):
            site.documents[name] = sample_pdf(text=name)
        foreign.documents["far-2.pdf"] = sample_pdf(text="far 2")
        running.script({"approved": True, "pin": PIN}, {"approved": True, "pin": PIN})
        message = {
            "FileUploadHandler": portal.url("/upload"),
            "Files": [
                {"FileID": 1, "URL": portal.url("/docs/own-1.pdf")},
                {"FileID": 2, "URL": portal.url("/docs/own-2.pdf")},
                {"FileID": 3, "URL": foreign.url("/docs/far.pdf")},
                {"FileID": 4, "URL": foreign.url("/docs/far-2.pdf")},
            ],
        }
        reply = call(running, "SignFile", message, portal.origin)
        assert reply["Status"] == 0, reply
        assert statuses(reply) == [(1, 0), (2, 0), (3, 0), (4, 0)]
        first, second = [p for p in running.prompts() if p["action"] == "sign"]
        assert [d["name"] for d in first["documents"]] == ["own-1.pdf", "own-2.pdf"]
        assert all("from" not in d for d in first["documents"])
        assert [d["name"] for d in second["documents"]] == ["far.pdf", "far-2.pdf"]
        assert {d["from"] for d in second["documents"]} == {foreign.origin}
        for upload in portal.uploads[-4:]:
            assert pyhanko_bottom_line(upload["uploadfile"], token.ca.cert) == [True]

        # Each file fits; together they do not: the one past the limit says so, none is signed.
        half = sample_pdf(filler=limit * 6 // 10)
        portal.documents["half-1.pdf"] = portal.documents["half-2.pdf"] = half
        running.script({"approved": True, "pin": PIN})
        reply = call(
            running, "SignFile", files_message(portal, ["half-1.pdf", "half-2.pdf"]), portal.origin
        )
        assert statuses(reply) == [(1, 16), (2, 15)]
        assert str(limit) in reply["Files"][1]["Message"]
        assert running.prompts() == []
    finally:
        running.stop()


def test_policy_can_turn_the_vgca_port_off(token: SessionToken, tmp_path: Path) -> None:
    running = start_agent(tmp_path, token.hsm, policy={"vgca_enabled": False})
    try:
        assert "vgca compatibility turned off by policy" in running.log_text()
    finally:
        running.stop()


def test_a_taken_vgca_port_does_not_stop_the_api(
    token: SessionToken, vgca: AgentProcess, tmp_path: Path
) -> None:
    running = start_agent(tmp_path, token.hsm, "--vgca-port", str(vgca.vgca_port))
    try:
        assert running.request("GET", "/v1/info", origin=None).status == 200
        assert "vgca compatibility cannot listen" in running.log_text()
    finally:
        running.stop()


def test_vgca_enabled_is_policy_only(token: SessionToken, tmp_path: Path) -> None:
    (tmp_path / "user.toml").write_text("vgca_enabled = false\n")
    with pytest.raises(RuntimeError, match="can only be set by machine policy"):
        start_agent(tmp_path, token.hsm, "--config", str(tmp_path / "user.toml"))


def test_an_oversized_message_closes_the_socket_without_a_prompt(
    agent_: AgentProcess, portal: Site
) -> None:
    async def oversized() -> tuple[aiohttp.WSMsgType, int | None]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"wss://127.0.0.1:{agent_.vgca_port}/SignMsg", ssl=agent_.tls, origin=portal.origin
            ) as socket,
        ):
            await socket.send_str(json.dumps({"Data": "QUFB" * 300_000}))
            message = await socket.receive(timeout=30)
            code = socket.close_code
        await asyncio.sleep(0.05)
        return message.type, code

    kind, code = asyncio.run(oversized())
    assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    # aiohttp drops the connection (1006) or says why (1009): either way, no reply.
    assert code in (aiohttp.WSCloseCode.ABNORMAL_CLOSURE, aiohttp.WSCloseCode.MESSAGE_TOO_BIG)
    assert agent_.prompts() == []


def test_an_empty_file_name_without_a_display_says_the_page_must_give_one(
    agent_: AgentProcess, portal: Site
) -> None:
    # start_agent gives the agent no DISPLAY: there is no chooser to show.
    reply = call(
        agent_,
        "SignApproved",
        {"FileUploadHandler": portal.url("/upload"), "FileName": ""},
        portal.origin,
    )
    assert reply["Status"] == 2
    assert "FileName" in reply["Message"]
    assert agent_.prompts() == [] and portal.hits == []


# --- what the real vgcaplugin.js and the portals that call it send -----------------------------
#
# The shapes below are those of public portal code calling the library (facts, not code):
# vgca_get_certinfo sends the text "get_cert_info", vgca_show_config "config",
# vgca_license_request "request"; vgca_sign_msg sends the page's string as is, either
# JSON.stringify({HashAlg: "SHA256", HashValue, Encode: "RSA"}) (reading Signature and
# CertBase64) or Base64.encode(text); vgca_sign_file gets {FileUploadHandler, SessionId: "",
# FileName: url}; vgca_auth sends the session's AuthCode as plain text and reads Signature;
# vgca_verify_msg gets {Base64Content, Signature}.


def cms_verified(signature: bytes, content: bytes, ca_pem: Path, tmp: Path) -> None:
    done = openssl_cms_verify(signature, content, ca_pem, tmp)
    assert done.returncode == 0, done.stderr


def signer_of(cert_b64: str) -> str:
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def test_get_cert_info_and_config_accept_the_librarys_plain_text(
    agent_: AgentProcess, portal: Site
) -> None:
    agent_.script({"approved": True, "certificate": LEADER})
    info = call(agent_, "GetCertInfo", "get_cert_info", portal.origin)
    assert info["Status"] == 0, info
    assert info["CertInfo"]["SubjectCN"] == LEADER
    assert signer_of(info["CertInfo"]["CertBase64"]) == LEADER
    [prompt] = agent_.prompts()
    assert prompt["origin"] == portal.origin
    config = call(agent_, "Config", "config", portal.origin)
    assert config["Status"] == 0, config
    assert {"VerifyMsg", "Auth"} <= set(config["Endpoints"])


def test_sign_msg_signs_a_portals_digest_raw_and_replies_cert_base64(
    agent_: AgentProcess, portal: Site
) -> None:
    """The digest a portal prepared (of an XML's SignedInfo, say) comes back as a raw
    signature beside the certificate, the way portals assemble their own signature."""
    digest = hashlib.sha256(b"<SignedInfo>hoc ba</SignedInfo>").digest()
    agent_.script(
        {"approved": True, "pin": PIN, "certificate": LEADER},
        {"approved": True, "pin": PIN, "certificate": LEADER},
    )
    forms = (
        {"HashAlg": "SHA256", "HashValue": base64.b64encode(digest).decode(), "Encode": "RSA"},
        {"HashValue": base64.b64encode(digest).decode(), "HashAlg": "SHA256"},
    )
    for form in forms:
        reply = call(agent_, "SignMsg", json.dumps(form), portal.origin)
        assert reply["Status"] == 0, reply
        assert signer_of(reply["CertBase64"]) == LEADER
        verify_with_cryptography(
            base64.b64decode(reply["CertBase64"]),
            base64.b64decode(reply["Signature"]),
            digest,
            "SHA-256",
        )
        assert reply["HashValue"] == form["HashValue"]
    prompts = agent_.prompts()
    assert [p["documents"][0]["digest"] for p in prompts] == [digest.hex()] * 2
    assert all(p["origin"] == portal.origin for p in prompts)


def test_sign_msg_signs_a_bare_base64_string_and_verify_msg_checks_it(
    agent_: AgentProcess, portal: Site, ca_pem: Path, tmp_path: Path
) -> None:
    data = "Tôi đồng ý với nội dung văn bản".encode()
    agent_.script({"approved": True, "pin": PIN, "certificate": LEADER})
    reply = call(agent_, "SignMsg", base64.b64encode(data).decode(), portal.origin)
    assert reply["Status"] == 0, reply
    signature = base64.b64decode(reply["Signature"])
    cms_verified(signature, data, ca_pem, tmp_path)
    assert signer_of(reply["CertBase64"]) == LEADER
    [prompt] = agent_.prompts()
    assert prompt["documents"][0]["digest"] == hashlib.sha256(data).hexdigest()

    checked = call(
        agent_,
        "VerifyMsg",
        {"Base64Content": base64.b64encode(data).decode(), "Signature": reply["Signature"]},
        portal.origin,
    )
    assert checked["Status"] == 0, checked
    assert (checked["Valid"], checked["Intact"], checked["Trusted"]) == (True, True, True)
    assert checked["Signer"] == LEADER and LEADER in checked["Message"]
    tampered = call(
        agent_,
        "VerifyMsg",
        {"Base64Content": base64.b64encode(data + b"!").decode(), "Signature": reply["Signature"]},
        portal.origin,
    )
    assert tampered["Status"] == 17, tampered
    assert tampered["Valid"] is False and tampered["Intact"] is False
    assert len(agent_.prompts()) == 1, "verifying asks nobody"


def test_verify_msg_checks_a_raw_signature_with_its_certificate(
    agent_: AgentProcess, portal: Site, tmp_path: Path
) -> None:
    data = b"bien ban hop"
    digest = hashlib.sha256(data).digest()
    agent_.script({"approved": True, "pin": PIN, "certificate": CLERK})
    signed = call(
        agent_, "SignMsg", {"HashValue": base64.b64encode(digest).decode()}, portal.origin
    )
    assert signed["Status"] == 0, signed
    checked = call(
        agent_,
        "VerifyMsg",
        {
            "Base64Content": base64.b64encode(data).decode(),
            "Signature": signed["Signature"],
            "CertBase64": signed["CertBase64"],
        },
        portal.origin,
    )
    assert checked["Status"] == 0, checked
    assert checked["Signer"] == CLERK
    without = call(
        agent_,
        "VerifyMsg",
        {"Base64Content": base64.b64encode(data).decode(), "Signature": signed["Signature"]},
        portal.origin,
    )
    assert without["Status"] == 1 and "CertBase64" in without["Message"], without


def test_auth_signs_the_sites_challenge_after_the_same_question(
    agent_: AgentProcess, portal: Site, ca_pem: Path, tmp_path: Path
) -> None:
    challenge = "3f9c2a7e-5b1d-4c0e-9a8f-1d2e3c4b5a69"
    agent_.script({"approved": True, "pin": PIN, "certificate": LEADER}, {"approved": False})
    reply = call(agent_, "Auth", challenge, portal.origin)
    assert reply["Status"] == 0, reply
    cms_verified(base64.b64decode(reply["Signature"]), challenge.encode(), ca_pem, tmp_path)
    assert signer_of(reply["CertBase64"]) == LEADER
    [prompt] = agent_.prompts()
    assert prompt["action"] == "sign" and prompt["origin"] == portal.origin
    assert prompt["documents"][0]["name"].startswith("Đăng nhập bằng chữ ký số")
    assert prompt["documents"][0]["digest"] == hashlib.sha256(challenge.encode()).hexdigest()

    refused = call(agent_, "Auth", challenge, portal.origin)
    assert refused["Status"] == 4 and refused["Error"] == "Người dùng đã hủy thao tác."
    assert "Signature" not in refused
    audit = run_cli("audit", "--json", "--data-dir", str(agent_.data_dir))
    outcomes = [e["outcome"] for e in json.loads(audit.stdout)["entries"]][-2:]
    assert outcomes == ["signed", "USER_CANCELLED"]


def test_a_pin_sent_to_auth_or_sign_msg_is_refused_before_any_question(
    agent_: AgentProcess, portal: Site
) -> None:
    agent_.script({"approved": True, "pin": PIN})
    for endpoint, payload in (
        ("Auth", {"AuthCode": "abc", "Pin": "123456"}),
        ("SignMsg", {"HashValue": base64.b64encode(bytes(32)).decode(), "UserPin": "1"}),
    ):
        reply = call(agent_, endpoint, payload, portal.origin)
        assert reply["Status"] == 1, reply
        assert "PIN" in reply["Message"]
    assert agent_.prompts() == []


def test_get_license_request_is_answered_as_licensed(agent_: AgentProcess, portal: Site) -> None:
    reply = call(agent_, "GetLicenseRequest", "request", portal.origin)
    assert reply["Status"] == 0, reply
    assert reply["Licensed"] is True and reply["LicenseRequest"] == ""
    assert "danh sách trang được phép" in reply["Message"]
    assert agent_.prompts() == []


def test_sign_file_with_one_file_name_as_portals_send_it(
    agent_: AgentProcess, portal: Site, token: SessionToken
) -> None:
    portal.documents["cong-van.pdf"] = sample_pdf()
    agent_.script({"approved": True, "pin": PIN})
    reply = call_for_document(
        agent_,
        "SignFile",
        portal,
        "cong-van.pdf",
        SessionId="phien-9",
        MetaData=[{"Key": "abc", "Value": "abc"}],
    )
    assert reply["Status"] == 0, reply
    assert reply["FileName"] == "signed-1.pdf" and reply["FileServer"] == "fs-01"
    assert [(f["FileID"], f["Status"]) for f in reply["Files"]] == [(None, 0)]
    [upload] = portal.uploads
    assert (upload["SessionId"], upload["abc"]) == ("phien-9", "abc")
    assert pyhanko_bottom_line(portal.documents["signed-1.pdf"], token.ca.cert) == [True]
    [prompt] = agent_.prompts()
    assert prompt["documents"][0]["name"] == "cong-van.pdf"


def test_an_empty_session_id_reaches_the_upload_handler(agent_: AgentProcess, portal: Site) -> None:
    portal.documents["phien-rong.pdf"] = sample_pdf()
    agent_.script({"approved": True, "pin": PIN})
    reply = call_for_document(agent_, "SignApproved", portal, "phien-rong.pdf", SessionId="")
    assert reply["Status"] == 0, reply
    [upload] = portal.uploads
    assert upload["SessionId"] == ""


def test_a_vietnamese_file_name_reaches_aspnet_and_php_handlers_unchanged(
    agent_: AgentProcess, portal: Site
) -> None:
    name = "Quyết định 123.pdf"
    portal.documents[name] = sample_pdf()
    agent_.script({"approved": True, "pin": PIN})
    reply = call_for_document(
        agent_, "SignApproved", portal, "Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh%20123.pdf"
    )
    assert reply["Status"] == 0, reply
    [upload] = portal.uploads
    # What a browser sends: the name's UTF-8 bytes inside filename="…", nothing escaped.
    assert f'filename="{name}"'.encode() in upload["disposition"], upload["disposition"]
    assert b"%" not in upload["disposition"] and b"filename*" not in upload["disposition"]
    assert upload["aspnet_filename"] == name
    assert upload["php_filename"] == name
    [prompt] = agent_.prompts()
    assert prompt["documents"][0]["name"] == name


# --- SignXML and VerifyXML, as vgca_sign_xml / vgca_verify_xml callers send them -------------
# The shapes: a portal's helper service builds {Base64Content, ReturnSignatureOnly: "false",
# HashAlg: "Sha256", XmlDsigForm: "false"}, decodes the reply's Signature as the signed XML,
# sends that text as {Data, Format: "XML"} to VerifyXML and reads
# JSON.parse(rv)[0].SigInfo.SignerCert.SerialNumber and
# [0].ValidationDetails.SignerCertStatus.{Status, Description}.


def sign_xml_message(xml: bytes, **fields: str) -> dict[str, str]:
    return {
        "Base64Content": base64.b64encode(xml).decode(),
        "ReturnSignatureOnly": "false",
        "HashAlg": "Sha256",
        "XmlDsigForm": "false",
        **fields,
    }


def test_sign_xml_signs_a_portals_invoice_and_verify_xml_reads_it_back(
    agent_: AgentProcess, portal: Site, token: SessionToken
) -> None:
    agent_.script({"approved": True, "pin": PIN, "certificate": LEADER})
    reply = call(agent_, "SignXML", sign_xml_message(INVOICE), portal.origin)
    assert reply["Status"] == 0, reply
    assert signer_of(reply["CertBase64"]) == LEADER
    assert reply["SignatureAlgorithm"].endswith("#rsa-sha256")
    signed = base64.b64decode(reply["Signature"])
    assert_judges_accept(signed, token.ca.cert)
    [prompt] = agent_.prompts()
    assert prompt["origin"] == portal.origin
    assert "Số: 123" in "\n".join(prompt["documents"][0]["summary"])

    # The portal hands the decoded text back, as exc_verify_xml does.
    checked = call(agent_, "VerifyXML", {"Data": signed.decode(), "Format": "XML"}, portal.origin)
    assert isinstance(checked, list), checked
    [first] = checked
    cert = x509.load_der_x509_certificate(base64.b64decode(reply["CertBase64"]))
    assert first["SigInfo"]["SignerCert"]["SerialNumber"] == format(cert.serial_number, "X")
    assert first["ValidationDetails"]["SignerCertStatus"]["Status"] == 0
    assert (first["Status"], first["Valid"], first["Signer"]) == (0, True, LEADER)
    assert len(agent_.prompts()) == 1, "verification asks nobody"

    tampered = signed.replace(b"<SHDon>123</SHDon>", b"<SHDon>124</SHDon>")
    [broken] = call(agent_, "VerifyXML", {"Data": tampered.decode()}, portal.origin)
    assert (broken["Status"], broken["Valid"], broken["Intact"]) == (17, False, False)


def test_sign_xml_with_sha1_and_signature_only_for_an_older_receiver(
    agent_: AgentProcess, portal: Site, token: SessionToken
) -> None:
    document = '<Data Id="hocba"><HocSinh>Nguyễn Văn A</HocSinh><Diem>9</Diem></Data>'.encode()
    agent_.script({"approved": True, "pin": PIN, "certificate": CLERK})
    message = sign_xml_message(document, HashAlg="Sha1", ReturnSignatureOnly="true")
    reply = call(agent_, "SignXML", message, portal.origin)
    assert reply["Status"] == 0, reply
    signature = base64.b64decode(reply["Signature"])
    assert signature.startswith(f'<Signature xmlns="{DSIG}"'.encode()), signature[:80]
    assert reply["SignatureAlgorithm"].endswith("#ecdsa-sha1")
    # The portal puts the element where the signature belongs (inside the signed element).
    assembled = document.replace(b"</Data>", signature + b"</Data>")
    assert_judges_accept(assembled, token.ca.cert)


@pytest.mark.parametrize(
    ("xml", "says"),
    [
        (b"<HDon><DLHDon Id='a'>", "XML"),
        (b'<!DOCTYPE x [<!ENTITY e "x">]><Data Id="a">&e;</Data>', "DOCTYPE"),
        (b"<data><test>test</test></data>", "Id"),
    ],
)
def test_sign_xml_refuses_a_bad_document_in_the_librarys_shape_before_asking(
    agent_: AgentProcess, portal: Site, xml: bytes, says: str
) -> None:
    agent_.script({"approved": True, "pin": PIN})
    reply = call(agent_, "SignXML", sign_xml_message(xml), portal.origin)
    assert reply["Status"] == 1, reply
    assert reply["Error"] == reply["Message"] and says in reply["Message"], reply
    assert "Signature" not in reply
    assert agent_.prompts() == []


def test_verify_xml_of_an_unsigned_document_is_an_error_object(
    agent_: AgentProcess, portal: Site
) -> None:
    reply = call(agent_, "VerifyXML", {"Data": INVOICE.decode(), "Format": "XML"}, portal.origin)
    assert reply["Status"] == 17 and reply["Error"], reply
