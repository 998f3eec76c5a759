"""The VNPT-CA Plugin compatibility, end to end: the real agent on SoftHSM with the ``vnpt``
layer, a WebSocket client that speaks as ``vnpt-plugin.js`` does (one socket, JSON calls
``{functionID, funcCallback, args, domain}``, answers ``<result>*<callback>``), the scripted
consent prompter, and independent verifiers on what comes back: cryptography for raw
signatures, ``openssl cms`` for CMS, pdfsig and pyHanko for PDF, xmlsec1 and signxml for XML.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from asn1crypto import cms
from cryptography import x509

from agent.audit import OUTCOME_ABANDONED
from agent.testing.softhsm import SoftHsm
from tests.conftest import PIN, PORTAL, AgentProcess, SessionToken, start_agent
from tests.integration.conftest import closed_mid_question, layer_socket
from tests.pdftools import (
    NssDb,
    assert_pdf_signatures_valid,
    pyhanko_bottom_line,
    sample_pdf,
    signature_png,
)
from tests.verify import assert_cms_verifies, b64, verify_with_cryptography
from tests.xmlsig import GENERIC, INVOICE, assert_judges_accept, numbered_invoice

pytestmark = pytest.mark.integration

LAYER = "vnpt"
"""The plugin layer ``layer_agent`` (``tests/integration/conftest.py``) starts the agent with."""
LEADER = "Nguyễn Văn An"
CLERK = "Trần Thị Bình"
HOSTILE = "https://evil.example"


@dataclass
class Plugin:
    """One page's socket, as the library keeps it: calls go one after the other."""

    socket: aiohttp.ClientWebSocketResponse

    async def call(
        self, function: int, *args: Any, callback: str = "callbackDefault"
    ) -> tuple[str, str]:
        """``(result, callback)`` of one call."""
        message = {
            "functionID": function,
            "funcCallback": callback,
            "args": list(args),
            "domain": "portal.example.gov.vn",
        }
        return await self.raw(json.dumps(message))

    async def raw(self, text: str) -> tuple[str, str]:
        """Send ``text`` as it is; split the answer as the library does (at the first ``*``)."""
        await self.socket.send_str(text)
        reply = await self.socket.receive(timeout=120)
        assert reply.type is aiohttp.WSMsgType.TEXT, reply
        result, star, callback = str(reply.data).partition("*")
        assert star == "*" and "*" not in callback, reply.data
        return result, callback

    async def json(self, function: int, *args: Any) -> dict[str, Any]:
        """A call whose result is a JSON object."""
        result, _ = await self.call(function, *args)
        answer: dict[str, Any] = json.loads(result)
        return answer


@asynccontextmanager
async def plugin(agent: AgentProcess, origin: str = PORTAL) -> AsyncIterator[Plugin]:
    async with layer_socket(agent, LAYER, "/plugin", origin) as socket:
        yield Plugin(socket)


T = TypeVar("T")


def talk(agent: AgentProcess, calls: Callable[[Plugin], Awaitable[T]]) -> T:
    """Run ``calls`` on one page's socket (the verifiers run their own event loops after)."""

    async def session() -> T:
        async with plugin(agent) as page:
            return await calls(page)

    return asyncio.run(session())


def certificate_of(result: dict[str, Any]) -> bytes:
    return base64.b64decode(result["certificate"])


# --- the calls that answer at once ----------------------------------------------------------


async def test_checks_settings_and_licence_answer_without_asking(layer_agent: AgentProcess) -> None:
    async with plugin(layer_agent) as page:
        assert await page.call(7, "") == ("1", "callbackDefault")
        assert await page.call(7, "", callback="checkPluginCallback") == (
            "1",
            "checkPluginCallback",
        )
        assert await page.call(11, "") == ("1.0.4.3", "callbackDefault")
        assert (await page.call(34, ""))[0] == "1", "the SoftHSM token is present"
        licence, _ = await page.call(6, "PD94bWwgdmVyc2lvbj0iMS4wIj8+PExpY2Vuc2UvPg==")
        # Portals test the licence by splitting the text at ":" (data.split(":")[1][0]).
        assert licence.startswith('{"code":1,') and licence.split(":")[1][0] == "1"
        assert "danh sách" in json.loads(licence)["error"]
        for function in (35, 36, 37, 23, 40):
            assert json.loads((await page.call(function, "1"))[0])["code"] == 1
    assert layer_agent.prompts() == []


async def test_office_and_unknown_functions_say_they_are_not_offered(
    layer_agent: AgentProcess,
) -> None:
    async with plugin(layer_agent) as page:
        office = await page.json(3, b64(b"PK\x03\x04 docx"))
        assert office["code"] == -1 and "Office" in office["error"]
        viewer = await page.json(20, "MIIB")
        assert viewer["code"] == -1 and "ShowCertificateViewer (20)" in viewer["error"]
        unknown = await page.json(999)
        assert unknown["code"] == -1 and "functionID 999" in unknown["error"]
        assert await page.call(7, "") == ("1", "callbackDefault")
    assert layer_agent.prompts() == []


# --- certificates and signatures ------------------------------------------------------------


def test_cert_info_then_hash_and_cms_through_consent(
    layer_agent: AgentProcess, ca_pem: Path, tmp_path: Path
) -> None:
    yes = {"approved": True, "pin": PIN, "certificate": LEADER}
    layer_agent.script({"approved": True, "certificate": LEADER}, yes, yes)
    digest = hashlib.sha256(b"<SignedInfo>ho so</SignedInfo>").digest()
    data = "Tôi đồng ý đăng nhập: 7f3a".encode()

    async def calls(page: Plugin) -> list[dict[str, Any]]:
        info = json.loads((await page.call(0, "0", ""))[0])
        return [info, await page.json(9, b64(digest)), await page.json(4, b64(data))]

    info, hashed, signed = talk(layer_agent, calls)
    assert "code" not in info and info["subjectCN"] == LEADER
    cert = x509.load_der_x509_certificate(base64.b64decode(info["base64"]))
    assert int(info["serial"], 16) == cert.serial_number
    assert info["notAfter"].endswith("Z")

    assert hashed["code"] == 0 and hashed["error"] == "", hashed
    assert hashed["serial"] == info["serial"]
    verify_with_cryptography(
        certificate_of(hashed), base64.b64decode(hashed["data"]), digest, "SHA-256"
    )

    # SignCMS: the data is inside the CMS, which openssl verifies on its own.
    assert signed["code"] == 0, signed
    envelope = base64.b64decode(signed["data"])
    inner = cms.ContentInfo.load(envelope)["content"]["encap_content_info"]["content"]
    assert inner.native == data
    (tmp_path / "attached.der").write_bytes(envelope)
    assert_cms_verifies(envelope, data, ca_pem, tmp_path)

    prompts = layer_agent.prompts()
    assert [p["action"] for p in prompts] == ["select-certificate", "sign", "sign"]
    assert all(p["origin"] == PORTAL for p in prompts)
    assert prompts[1]["documents"][0]["digest"] == digest.hex()


def test_sign_pdf_at_the_pages_position_with_its_image(
    layer_agent: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    layer_agent.script(
        {"approved": True, "certificate": CLERK},
        {"approved": True, "pin": PIN},
    )
    signer = {
        "page": 2,
        "llx": 300,
        "lly": 80,
        "urx": 500,
        "ury": 160,
        "SigTextSize": 9,
        "Signer": "ignored: the certificate names the signer",
        "SigningTime": "08:30:00 02/06/2025",
        "Description": "Ký bởi: Sở Nội vụ",
        "ImageBase64": b64(signature_png()),
        "SigType": 2,
        "TsaUrl": None,
        "TsaUsername": None,
        "TsaPassword": None,
        "IsEncyptFile": False,
        "EncryptPassword": None,
        "SigVisible": True,
    }

    async def calls(page: Plugin) -> tuple[dict[str, Any], dict[str, Any]]:
        info = json.loads((await page.call(0, "1"))[0])
        signer["CertificateSerial"] = info["serial"]
        return info, await page.json(2, b64(sample_pdf()), json.dumps(signer))

    info, result = talk(layer_agent, calls)
    assert result["code"] == 0, result
    assert result["serial"] == info["serial"]
    pdf = base64.b64decode(result["data"])
    assert_pdf_signatures_valid(pdf, nss, token.ca.cert, tmp_path)
    # CertificateSerial named the certificate the user gave: only that one was offered.
    offered = layer_agent.prompts()[1]["certificates"]
    assert [c["subject"] for c in offered] == [c["subject"] for c in offered[:1]]
    assert CLERK in offered[0]["subject"] and len(offered) == 1


def test_a_signed_pdf_of_megabytes_is_answered_whole_and_the_socket_goes_on(
    layer_agent: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    """An answer over a piece (agent/server/pieces.py) is written a piece at a time: the page
    still gets one message, the signed PDF whole, and its next call on the same socket."""
    pdf = sample_pdf(pages=2, filler=1_500_000)

    async def calls(page: Plugin) -> tuple[dict[str, Any], dict[str, Any]]:
        signed = await page.json(2, b64(pdf), json.dumps({"SigVisible": False}))
        return signed, await page.json(2, b64(sample_pdf()), json.dumps({"SigVisible": False}))

    layer_agent.script(
        {"approved": True, "pin": PIN, "certificate": LEADER},
        {"approved": True, "pin": PIN, "certificate": LEADER},
    )
    large, after = talk(layer_agent, calls)
    assert (large["code"], after["code"]) == (0, 0), (large.get("error"), after.get("error"))
    assert len(large["data"]) > 4 * 256 * 1024
    signed = base64.b64decode(large["data"])
    assert signed.startswith(pdf)
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)
    assert_pdf_signatures_valid(base64.b64decode(after["data"]), nss, token.ca.cert, tmp_path)


def test_sign_xml_by_the_xml_signers_node_and_parent(
    layer_agent: AgentProcess, token: SessionToken
) -> None:
    yes = {"approved": True, "pin": PIN, "certificate": LEADER}
    layer_agent.script(yes, yes)
    xml_signer = {
        "TagSigning": None,
        "NodeToSign": "payload",
        "TagSaveResult": None,
        "ParrentTagSigning": "Signatures",
        "NameXPathFilter": None,
        "DsSignature": False,
        "SigningType": "Enveloped",
        "SigningTime": None,
        "CertificateSerial": None,
        "ValidateBefore": False,
        "DigestMethod": "SHA256",
        "SignatureMethod": "RSAwithSHA256",
    }

    async def calls(page: Plugin) -> list[dict[str, Any]]:
        # Without options the document's kind decides: an invoice, as its seller.
        return [
            await page.json(1, b64(GENERIC), json.dumps(xml_signer)),
            await page.json(1, INVOICE.decode()),
        ]

    generic, invoice = talk(layer_agent, calls)
    assert generic["code"] == 0 and invoice["code"] == 0, (generic, invoice)
    signed = base64.b64decode(generic["data"])
    assert b'<Signatures Id="sigs"><Signature' in signed
    assert_judges_accept(signed, token.ca.cert)
    signed_invoice = base64.b64decode(invoice["data"])
    assert b"<NBan><Signature" in signed_invoice
    assert_judges_accept(signed_invoice, token.ca.cert)


def test_xml_items_are_signed_after_one_question(
    layer_agent: AgentProcess, token: SessionToken
) -> None:
    layer_agent.script({"approved": True, "pin": PIN, "certificate": LEADER})
    items = [
        json.dumps({"data": b64(numbered_invoice(n)), "type": "xml", "sigOptions": "null"})
        for n in (1, 2, 3)
    ]

    async def calls(page: Plugin) -> tuple[str, str]:
        return await page.call(10, json.dumps(items), "", "1", "1")

    answer, _ = talk(layer_agent, calls)
    results = [json.loads(r) for r in json.loads(answer)]
    assert [r["code"] for r in results] == [0, 0, 0], results
    assert [r["type"] for r in results] == ["xml"] * 3
    for result in results:
        assert_judges_accept(base64.b64decode(result["data"]), token.ca.cert)
    [question] = layer_agent.prompts()
    assert len(question["documents"]) == 3


def test_pdf_items_are_signed_after_one_question_and_one_pin(
    layer_agent: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    layer_agent.script({"approved": True, "pin": PIN, "certificate": CLERK})
    pdfs = [sample_pdf(pages=n, text=f"Van ban {n}") for n in (1, 2, 3)]
    placed = json.dumps({"page": 1, "llx": 300, "lly": 80, "urx": 500, "ury": 160})
    items = [
        json.dumps({"data": b64(pdfs[0]), "type": "pdf", "sigOptions": placed}),
        json.dumps({"data": b64(pdfs[1]), "type": "pdf", "sigOptions": "null"}),
        json.dumps({"data": b64(pdfs[2]), "type": "pdf", "sigOptions": placed}),
    ]

    async def calls(page: Plugin) -> tuple[str, str]:
        return await page.call(10, json.dumps(items), "", "1", "1")

    answer, _ = talk(layer_agent, calls)
    results = [json.loads(r) for r in json.loads(answer)]
    assert [(r["code"], r["type"]) for r in results] == [(0, "pdf")] * 3, results
    [question] = [p for p in layer_agent.prompts() if p["action"] == "sign"]
    assert [d["digest"] for d in question["documents"]] == [
        hashlib.sha256(pdf).hexdigest() for pdf in pdfs
    ]
    assert layer_agent.activity_updates()[-1] == {"done": 3}
    for original, result in zip(pdfs, results, strict=True):
        signed = base64.b64decode(result["data"])
        assert signed.startswith(original)
        assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)
        assert CLERK in nss.pdfsig(signed, tmp_path)[0]


def test_stop_returns_the_pdf_items_signed_and_the_rest_as_cancelled(
    layer_agent: AgentProcess, token: SessionToken
) -> None:
    layer_agent.script({"approved": True, "pin": PIN})
    # Stop once the second has begun (the prompter is a process of its own: its Stop may reach
    # the agent a document or two later, never before).
    layer_agent.script_activities({"stopAt": 1})
    items = [
        json.dumps({"data": b64(sample_pdf(text=f"Van ban {n}")), "type": "pdf"}) for n in range(8)
    ]

    async def calls(page: Plugin) -> tuple[str, str]:
        return await page.call(10, json.dumps(items), "", "1", "1")

    answer, _ = talk(layer_agent, calls)
    results = [json.loads(r) for r in json.loads(answer)]
    codes = [r["code"] for r in results]
    done = codes.count(0)
    assert 2 <= done < len(items), codes
    assert codes == [0] * done + [11] * (len(items) - done), "the signed ones, then the rest"
    assert all("Dừng" in r["error"] for r in results[done:])
    for result in results[:done]:
        assert pyhanko_bottom_line(base64.b64decode(result["data"]), token.ca.cert) == [True]
    assert len([p for p in layer_agent.prompts() if p["action"] == "sign"]) == 1


def test_hash_and_data_items_as_portals_send_them(
    layer_agent: AgentProcess, ca_pem: Path, tmp_path: Path
) -> None:
    yes = {"approved": True, "pin": PIN, "certificate": LEADER}
    layer_agent.script(yes, yes)
    record = "hồ sơ 2c: Nguyễn Văn An".encode()
    options = json.dumps({"DigestAlgorithm": "SHA256", "encoding": "utf8", "detached": True})
    items = [
        json.dumps(
            {"data": b64(hashlib.sha256(record).digest()), "type": "hash", "sigOptions": options}
        ),
        json.dumps({"data": "MTIzNDU2Nzg5MA==", "type": "cmsdetached"}),
    ]

    async def calls(page: Plugin) -> tuple[str, str]:
        return await page.call(10, json.dumps(items), "", "0", "0")

    answer, _ = talk(layer_agent, calls)
    first, second = (json.loads(r) for r in json.loads(answer))
    assert first["code"] == 0 and second["code"] == 0, (first, second)
    # A hash item: a detached CMS over the page's digest, valid over the record it hashed.
    assert_cms_verifies(base64.b64decode(first["data"]), record, ca_pem, tmp_path)
    # The login pages' "cmsdetached" item: a detached CMS over the data.
    assert_cms_verifies(base64.b64decode(second["data"]), b"1234567890", ca_pem, tmp_path)
    assert len(layer_agent.prompts()) == 2


# --- refusals -------------------------------------------------------------------------------


async def test_a_cancelled_question_is_code_11(layer_agent: AgentProcess) -> None:
    layer_agent.script({"approved": False}, {"approved": False})
    async with plugin(layer_agent) as page:
        cancelled = await page.json(9, b64(hashlib.sha256(b"x").digest()))
        items = [json.dumps({"data": b64(sample_pdf()), "type": "pdf", "sigOptions": "null"})]
        answer, _ = await page.call(10, json.dumps(items), "", "1")
        assert await page.call(7, "") == ("1", "callbackDefault")
    assert cancelled["code"] == 11 and "hủy" in cancelled["error"], cancelled
    [item] = [json.loads(r) for r in json.loads(answer)]
    assert item["code"] == 11 and item["type"] == "pdf"
    assert len(layer_agent.prompts()) == 2


async def test_a_pin_sent_by_the_page_is_refused_before_any_question(
    layer_agent: AgentProcess,
) -> None:
    layer_agent.script({"approved": True, "pin": PIN})
    async with plugin(layer_agent) as page:
        in_options = await page.json(
            2, b64(sample_pdf()), json.dumps({"page": 1, "PinCode": "246810"})
        )
        in_item = json.loads(
            json.loads(
                (
                    await page.call(
                        10,
                        json.dumps(
                            [json.dumps({"data": "eA==", "type": "cms", "sigOptions": {"pin": 1}})]
                        ),
                    )
                )[0]
            )[0]
        )
        result, callback = await page.raw(
            json.dumps({"functionID": 9, "funcCallback": "cb", "args": ["eA=="], "userPin": "1"})
        )
    for refused in (in_options, in_item, json.loads(result)):
        assert refused["code"] == 1
        assert "không nhận mã PIN từ trang web" in refused["error"], refused
    assert callback == "cb"
    assert layer_agent.prompts() == []


async def test_bad_input_gets_the_plugins_error_and_the_socket_keeps_serving(
    layer_agent: AgentProcess,
) -> None:
    async with plugin(layer_agent) as page:
        not_json = await page.raw("functionID=7")
        not_object = await page.raw("[7]")
        bad_callback = await page.raw(json.dumps({"functionID": 7, "funcCallback": "a*b"}))
        bad_id = await page.raw(json.dumps({"functionID": "seven", "funcCallback": "mine"}))
        await page.socket.send_bytes(b"\x00\x01")
        binary = await page.socket.receive(timeout=30)
        no_data = await page.json(2)
        bad_base64 = await page.json(4, "not base64!")
        bad_rect = await page.json(2, b64(sample_pdf()), json.dumps({"llx": 200, "urx": 100}))
        short_hash = await page.json(9, b64(b"\x01" * 20))
        bad_items = await page.call(10, "{not an array")
        wrong_type = await page.call(10, json.dumps([json.dumps({"data": "eA==", "type": "exe"})]))
        xml_no_id = await page.json(1, b64(b"<Doc><Data>1</Data></Doc>"))
        enveloping = await page.json(1, b64(GENERIC), json.dumps({"SigningType": "Enveloping"}))
        assert await page.call(7, "") == ("1", "callbackDefault")
    for result, callback in (not_json, not_object, bad_callback):
        assert callback == "callbackDefault"
        answer = json.loads(result)
        assert answer["code"] == 1 and "VNPT-CA Plugin" in answer["error"], answer
    assert bad_id[1] == "mine" and json.loads(bad_id[0])["code"] == 1
    assert str(binary.data).endswith("*callbackDefault")
    assert json.loads(str(binary.data).partition("*")[0])["code"] == 1
    for answer in (no_data, bad_base64, bad_rect, short_hash):
        assert answer["code"] == 1 and answer["error"].startswith("Yêu cầu không hợp lệ"), answer
    assert json.loads(bad_items[0])["code"] == 1
    [item] = [json.loads(r) for r in json.loads(wrong_type[0])]
    assert item["code"] == 1 and "exe" in item["error"]
    assert xml_no_id["code"] == 8, xml_no_id
    assert enveloping["code"] == 1 and "Enveloping" in enveloping["error"]
    assert layer_agent.prompts() == []


def test_a_page_of_another_origin_cannot_open_the_socket(layer_agent: AgentProcess) -> None:
    layer_agent.script({"approved": True, "pin": PIN})

    async def attempt(headers: dict[str, str]) -> int:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(
                    f"wss://127.0.0.1:{layer_agent.layer_ports['vnpt']}/plugin",
                    ssl=layer_agent.tls,
                    headers=headers,
                )
        await asyncio.sleep(0.05)
        return refused.value.status

    assert asyncio.run(attempt({"Origin": HOSTILE})) == 403
    assert asyncio.run(attempt({})) == 403
    assert layer_agent.prompts() == []


async def test_check_token_says_0_when_no_token_is_plugged_in(
    empty_hsm: SoftHsm, tmp_path: Path
) -> None:
    running = start_agent(tmp_path, empty_hsm, layers=("vnpt",))
    try:
        async with plugin(running) as page:
            assert await page.call(34, "") == ("0", "callbackDefault")
        assert running.prompts() == [], "a token check asks nobody"
    finally:
        running.stop()


async def test_a_pin_at_item_level_and_password_names_are_refused_before_any_question(
    layer_agent: AgentProcess,
) -> None:
    layer_agent.script({"approved": True, "pin": PIN})
    async with plugin(layer_agent) as page:
        at_item_level = await page.call(
            10, json.dumps([json.dumps({"type": "cms", "data": "eA==", "UserPin": "246810"})])
        )
        password = await page.json(
            2, b64(sample_pdf()), json.dumps({"page": 1, "tokenPassword": "246810"})
        )
        # The vendor library's own defaults (empty login fields) are no PIN: signed as usual.
        defaults = await page.json(
            2,
            b64(sample_pdf()),
            json.dumps({"page": 1, "TsaPassword": "", "EncryptPassword": None}),
        )
    [item] = [json.loads(r) for r in json.loads(at_item_level[0])]
    for refused in (item, password):
        assert refused["code"] == 1, refused
        assert "không nhận mã PIN từ trang web" in refused["error"], refused
    assert defaults["code"] == 0, defaults
    assert len(layer_agent.prompts()) == 1, "only the call without a PIN was asked about"
    assert "246810" not in layer_agent.log_text()


async def test_a_time_stamping_url_the_computer_is_not_configured_with_is_refused(
    layer_agent: AgentProcess,
) -> None:
    # The agent would fetch it after the approval: a page may not choose where it goes.
    with socket.create_server(("127.0.0.1", 0)) as internal:
        internal.setblocking(False)
        url = f"http://127.0.0.1:{internal.getsockname()[1]}/internal-admin"
        async with plugin(layer_agent) as page:
            refused = await page.json(2, b64(sample_pdf()), json.dumps({"page": 1, "TsaUrl": url}))
        with pytest.raises(BlockingIOError):
            internal.accept()  # nobody came
    assert refused["code"] != 0
    assert "máy chủ cấp dấu thời gian" in refused["error"], refused
    assert layer_agent.prompts() == []


async def test_a_batch_with_one_unfit_pdf_asks_nothing_and_signs_nothing(
    layer_agent: AgentProcess,
) -> None:
    layer_agent.script({"approved": True, "pin": PIN}, {"approved": True, "pin": PIN})
    fine = json.dumps({"type": "pdf", "data": b64(sample_pdf()), "sigOptions": {"page": 1}})
    unfit = json.dumps({"type": "pdf", "data": b64(sample_pdf()), "sigOptions": {"page": 9}})
    async with plugin(layer_agent) as page:
        answer, _ = await page.call(10, json.dumps([fine, unfit]))
    first, second = (json.loads(r) for r in json.loads(answer))
    assert second["code"] != 0 and first["code"] != 0, (first, second)
    assert "data" not in first or not first["data"]
    assert layer_agent.prompts() == []


async def test_a_function_id_of_unicode_digits_is_refused_and_the_socket_keeps_serving(
    layer_agent: AgentProcess,
) -> None:
    async with plugin(layer_agent) as page:
        for odd in ("²", "1" * 5000):
            result, callback = await page.raw(
                json.dumps({"functionID": odd, "funcCallback": "cb", "args": []})
            )
            assert callback == "cb"
            assert json.loads(result)["code"] != 0
        assert await page.call(7, "") == ("1", "callbackDefault")


async def test_one_origin_may_keep_only_a_few_sockets_open(layer_agent: AgentProcess) -> None:
    # Each socket may carry a document-sized message, read whole before any budget sees it:
    # how many are open is what bounds them (agent/compat/vnpt/server.py).
    async with contextlib.AsyncExitStack() as stack:
        pages = [
            Plugin(await stack.enter_async_context(layer_socket(layer_agent, LAYER, "/plugin")))
            for _ in range(3)
        ]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await stack.enter_async_context(layer_socket(layer_agent, LAYER, "/plugin"))
        assert refused.value.status == 429
        for page in pages:
            assert await page.call(7, "") == ("1", "callbackDefault")
    async with plugin(layer_agent) as page:  # closed ones make room again
        assert await page.call(7, "") == ("1", "callbackDefault")


async def test_a_page_gone_during_the_question_closes_it(layer_agent: AgentProcess) -> None:
    layer_agent.script({"sleep": 60, "approved": True, "pin": PIN})
    call = {
        "functionID": 9,
        "funcCallback": "callbackDefault",
        "args": [b64(hashlib.sha256(b"trang VNPT").digest())],
        "domain": "portal.example.gov.vn",
    }
    async with plugin(layer_agent) as page:
        rows = await closed_mid_question(layer_agent, page.socket, json.dumps(call))
    assert rows == [OUTCOME_ABANDONED]
