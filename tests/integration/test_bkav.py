"""The BkavCA Signer Plugin compatibility, end to end: the real agent on SoftHSM, a WebSocket
client that speaks as ``BkavCAPlugin.js`` does (``*``-joined calls, pieces of 114,271
characters, several calls on one socket), and independent verifiers on what comes back:
openssl for the CMS, pdfsig and pyHanko for the PDF, xmlsec1 and signxml for the XML."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from agent.audit import OUTCOME_ABANDONED
from tests.conftest import PIN, AgentProcess, SessionToken, start_agent
from tests.integration.conftest import closed_mid_question, layer_socket
from tests.pdftools import NssDb, assert_pdf_signatures_valid, sample_pdf
from tests.verify import assert_cms_verifies
from tests.xmlsig import DSIG, GENERIC, INVOICE, assert_judges_accept, numbered_invoice

pytestmark = pytest.mark.integration

ORIGIN = "http://127.0.0.1:9"
"""The portal's origin (allowed exactly); nothing needs to listen there."""
LAYER = "bkav"
"""The plugin layer ``layer_agent`` (``tests/integration/conftest.py``) starts the agent with."""
ORIGINS = (ORIGIN,)
"""The origins it allows besides PORTAL."""
CHUNK = 114_271
CALLBACK = "BkavExtensionCallback"


@dataclass
class Reply:
    """One call's answer: what the callback receives, and the reason frame before it."""

    result: str
    reason: str | None = None
    callback: bool = True

    @property
    def decoded(self) -> bytes:
        return base64.b64decode(self.result)


@dataclass
class Plugin:
    """A page's side of the socket, as ``BkavCAPlugin.js`` speaks it."""

    socket: aiohttp.ClientWebSocketResponse
    frames: list[int] = field(default_factory=list)
    """Frames of each call sent (a call over 114,271 characters is in pieces)."""

    async def call(self, *fields: str, callback: bool = True, host: str | None = None) -> Reply:
        text = "*".join(fields) + (f"*{CALLBACK}" if callback else "")
        if host is not None:  # what ProcessData adds to SetLicenseKey
            text += f"*{host}"
        text += "*end"
        pieces = [text[i : i + CHUNK] for i in range(0, len(text) // CHUNK * CHUNK, CHUNK)]
        pieces.append(text[len(text) // CHUNK * CHUNK :])
        for piece in pieces:
            await self.socket.send_str(piece)
        self.frames.append(len(pieces))
        reason = None
        while True:
            message = await self.socket.receive(timeout=120)
            assert message.type is aiohttp.WSMsgType.TEXT, message
            parts = message.data.split("*")
            assert parts[-1] == "end", message.data[:200]
            if parts[-2] == "KysoAgentMessage":
                reason = base64.b64decode(parts[0]).decode()
                continue
            if parts[-2] == CALLBACK:
                return Reply(message.data[: -len(CALLBACK) - 5], reason)
            return Reply(message.data[:-4], reason, callback=False)


async def _session(agent: AgentProcess, origin: str, calls: Any) -> Any:
    async with layer_socket(agent, LAYER, origin=origin) as socket:
        return await calls(Plugin(socket))


def talk(agent: AgentProcess, calls: Any, origin: str = ORIGIN) -> Any:
    """Run ``calls(plugin)`` on one socket."""
    return asyncio.run(_session(agent, origin, calls))


def certificate_list(reply: Reply) -> list[dict[str, str]]:
    root = etree.fromstring(reply.decoded)
    assert root.tag == "Certificates"
    return [
        {
            "serial": c.findtext("SerialNumber") or "",
            "subject": c.findtext("SubjectDN/CN") or "",
            "issuer": c.findtext("IssuerDN/CN") or "",
            "valid_to": c.findtext("TimeValidTo") or "",
        }
        for c in root.iter("Certificate")
    ]


def test_settings_version_and_licence_answer_without_a_question(layer_agent: AgentProcess) -> None:
    async def calls(plugin: Plugin) -> list[Reply]:
        return [
            await plugin.call("26", "PD94bWwgbGljZW5zZT4=", callback=False, host="evil.example"),
            await plugin.call("23", "1", callback=False),
            await plugin.call("25", "BkavCA,BkavCAv2S", callback=False),
            await plugin.call("31", "0", "0", "0", callback=False),
            await plugin.call("42", "1", callback=False),
            await plugin.call("30", "1", callback=False),
            await plugin.call("7", "1"),
        ]

    licence, pkcs11, dll, cache, sha, version, valid = talk(layer_agent, calls)
    assert [r.result for r in (licence, pkcs11, dll, cache, sha)] == ["1"] * 5
    assert not any(r.callback for r in (licence, pkcs11, dll, cache, sha, version))
    assert version.result and version.result[0].isdigit()
    assert valid.callback and valid.result == "1"
    assert layer_agent.prompts() == []


def test_certificate_list_then_cms_with_that_serial(
    layer_agent: AgentProcess, token: SessionToken, ca_pem: Path, tmp_path: Path
) -> None:
    data = "Tôi đồng ý với điều khoản".encode()
    layer_agent.script(
        {"approved": True, "certificate": "Nguyễn Văn An"},
        {"approved": True, "pin": PIN},
    )

    async def calls(plugin: Plugin) -> tuple[Reply, Reply]:
        listed = await plugin.call("13", "SerialNumber", "1", "0", "0")
        [serial] = [c["serial"] for c in certificate_list(listed)]
        signed = await plugin.call("38", base64.b64encode(data).decode(), serial)
        return listed, signed

    listed, signed = talk(layer_agent, calls)
    [entry] = certificate_list(listed)
    assert entry["subject"] == "Nguyễn Văn An"
    assert entry["serial"] == format(token.rsa.serial_number, "X")
    assert entry["issuer"] == "Kyso Test CA"
    assert_cms_verifies(signed.decoded, data, ca_pem, tmp_path)
    select, sign = layer_agent.prompts()
    assert select["action"] == "select-certificate" and sign["action"] == "sign"
    assert {p["origin"] for p in (select, sign)} == {ORIGIN}
    # The serial the page named is the only certificate offered.
    [offered] = sign["certificates"]
    assert "Nguyễn Văn An" in offered["subject"]


def test_xml_invoice_then_sha1_then_a_list_under_one_question(
    layer_agent: AgentProcess, token: SessionToken
) -> None:
    yes = {"approved": True, "pin": PIN, "certificate": "Nguyễn Văn An"}
    layer_agent.script(yes, yes, yes)
    invoice = base64.b64encode(INVOICE).decode()
    listed = ";".join(base64.b64encode(numbered_invoice(n)).decode() for n in (5, 6, 7))

    async def calls(plugin: Plugin) -> list[Reply]:
        return [
            # What SignXML sends: the tags it lowercases, "undefined" where the page set none.
            await plugin.call("0", invoice, "", "undefined", "", "undefined", "", "0"),
            await plugin.call("42", "0", callback=False),
            await plugin.call("0", invoice, "DLHDon", "", "NMua", "2025/03/14 09:00:00", "", "0"),
            await plugin.call("42", "1", callback=False),
            await plugin.call("45", listed, "", "", "", "", "", "0"),
        ]

    async def checks(plugin: Plugin) -> list[Reply]:
        tampered = seller.decoded.replace(b"<SHDon>123<", b"<SHDon>124<")
        return [
            await plugin.call("8", seller.result, "1"),
            await plugin.call("8", base64.b64encode(tampered).decode(), "1"),
            await plugin.call("8", invoice, "1"),
        ]

    seller, _, buyer, _, batch = talk(layer_agent, calls)
    valid, changed, unsigned = talk(layer_agent, checks)
    assert (valid.result, changed.result, unsigned.result) == ("1", "-4", "-2")
    signed = seller.decoded
    assert_judges_accept(signed, token.ca.cert)
    tree = etree.fromstring(signed)
    assert tree.find(f"DSCKS/NBan/{{{DSIG}}}Signature") is not None
    method = tree.find(f".//{{{DSIG}}}SignatureMethod")
    assert method is not None and method.get("Algorithm", "").endswith("rsa-sha256")

    by_buyer = etree.fromstring(buyer.decoded)
    assert by_buyer.find(f"DSCKS/NMua/{{{DSIG}}}Signature") is not None
    digest = by_buyer.find(f".//{{{DSIG}}}DigestMethod")
    assert digest is not None and digest.get("Algorithm", "").endswith("#sha1")

    documents = [base64.b64decode(part) for part in batch.result.split(";")]
    assert len(documents) == 3
    for document in documents:
        assert_judges_accept(document, token.ca.cert)
    prompts = layer_agent.prompts()
    assert [len(p["documents"]) for p in prompts] == [1, 1, 3]


def test_xml_of_no_known_kind_is_signed_where_the_tags_say(
    layer_agent: AgentProcess, token: SessionToken
) -> None:
    layer_agent.script({"approved": True, "pin": PIN, "certificate": "Nguyễn Văn An"})
    document = base64.b64encode(GENERIC).decode()

    async def calls(plugin: Plugin) -> Reply:
        return await plugin.call("1", document, "Data", "", "Signatures", "", "", "0")

    signed = talk(layer_agent, calls).decoded
    tree = etree.fromstring(signed)
    reference = tree.find(f".//{{{DSIG}}}Reference")
    assert reference is not None and reference.get("URI") == "#payload"
    assert tree.find(f"Signatures/{{{DSIG}}}Signature") is not None
    assert_judges_accept(signed, token.ca.cert)


def test_a_pdf_in_many_pieces_is_signed_where_the_page_says(
    layer_agent: AgentProcess, nss: NssDb, token: SessionToken, tmp_path: Path
) -> None:
    layer_agent.script({"approved": True, "pin": PIN, "certificate": "Nguyễn Văn An"})
    pdf = sample_pdf(pages=2, filler=400_000)
    assert len(base64.b64encode(pdf)) > 3 * CHUNK

    async def calls(plugin: Plugin) -> tuple[Reply, list[int]]:
        reply = await plugin.call(
            "3", base64.b64encode(pdf).decode(), "", "1", "Ai đó", "72", "600", "1"
        )
        return reply, plugin.frames

    reply, frames = talk(layer_agent, calls)
    assert frames[0] > 3
    signed = reply.decoded
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)
    [prompt] = layer_agent.prompts()
    assert prompt["documents"][0]["name"].startswith("Tài liệu PDF do trang web gửi")
    assert prompt["documents"][0]["digest"] == hashlib.sha256(pdf).hexdigest()


def test_refusals_keep_the_socket_serving(layer_agent: AgentProcess) -> None:
    layer_agent.script({"approved": False})
    xml = base64.b64encode(INVOICE).decode()

    async def calls(plugin: Plugin) -> list[Reply]:
        return [
            await plugin.call("37", "0", "123456"),
            await plugin.call("36", "0", "123456", "654321"),
            await plugin.call("5", "UEsDBA==", "1"),
            await plugin.call("4", "C:\\a.pdf", "C:\\b.pdf", "", "1", "x"),
            await plugin.call("0", "không-phải-base64", "", "", "", "", "", "0"),
            await plugin.call("42", "7", callback=False),
            await plugin.call("99", "x"),
            await plugin.call("abc", "x"),
            await plugin.call("0", xml, "", "", "", "", "", "0"),
            await plugin.call("30", "1", callback=False),
        ]

    login, change, office, path, garbage, sha, unknown, word, cancelled, version = talk(
        layer_agent, calls
    )
    assert login.result == change.result == "0"
    assert login.reason is not None and "mã PIN" in login.reason
    assert office.result == "MA==" and office.reason is not None and "Office" in office.reason
    assert path.result == "0" and path.reason is not None and "đường dẫn" in path.reason
    assert garbage.result == "NA==" and garbage.reason is not None
    assert "Base64String" in garbage.reason
    assert sha.result == "4" and not sha.callback
    assert unknown.result == "0" and unknown.reason is not None and "99" in unknown.reason
    assert word.result == "4"
    assert cancelled.result == "MTM=" and cancelled.reason is not None
    assert version.result[0].isdigit()
    # Only the invoice reached a question; the PIN-bearing calls never did.
    assert [p["action"] for p in layer_agent.prompts()] == ["sign"]


def test_a_page_of_another_origin_cannot_open_the_socket(layer_agent: AgentProcess) -> None:
    async def attempt() -> int:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(
                    f"wss://127.0.0.1:{layer_agent.layer_ports['bkav']}",
                    ssl=layer_agent.tls,
                    origin="https://evil.example",
                )
            return refused.value.status

    assert asyncio.run(attempt()) == 403
    assert layer_agent.prompts() == []


def test_a_call_over_the_bound_is_answered_and_dropped(token: SessionToken, tmp_path: Path) -> None:
    small = start_agent(
        tmp_path / "small",
        token.hsm,
        *("--allow-origin", ORIGIN),
        policy={"max_pdf_bytes": 100_000},
        layers=("bkav",),
    )
    try:
        huge = "A" * (5 * 1024 * 1024)

        async def calls(plugin: Plugin) -> tuple[Reply, Reply]:
            return await plugin.call("3", huge, "", "1", "x"), await plugin.call("7", "1")

        dropped, after = talk(small, calls)
    finally:
        small.stop()
    assert dropped.result == "NA==" and dropped.reason is not None
    assert after.result == "1"
    assert small.prompts() == []


def test_a_page_gone_during_the_question_closes_it(layer_agent: AgentProcess) -> None:
    layer_agent.script({"sleep": 60, "approved": True, "pin": PIN})
    document = base64.b64encode(GENERIC).decode()
    call = "*".join(("1", document, "Data", "", "Signatures", "", "", "0", CALLBACK, "end"))

    async def closed() -> list[str]:
        async with layer_socket(layer_agent, LAYER, origin=ORIGIN) as page:
            return await closed_mid_question(layer_agent, page, call)

    assert asyncio.run(closed()) == [OUTCOME_ABANDONED]
