"""kyso.js's ``signPdfBatch`` in a real headless Chromium, against the real agent on SoftHSM.

A page of the allowed demo portal makes three PDFs from bytes (a ``File``, a ``Blob`` with
options of its own, an ``ArrayBuffer``) and signs them with one question; the scripted user
approves with the PIN, and pyHanko judges what the page got back. Once through the extension,
once with the page's own ``fetch`` while the user presses Stop after the second document.
"""

from __future__ import annotations

import base64
import hashlib
import json
from io import BytesIO
from typing import Any

import pytest

from agent.testing.pki import LocalPki
from tests.browser.conftest import Browser
from tests.conftest import PIN, AgentProcess, SessionToken
from tests.pdftools import pyhanko_bottom_line, sample_pdf
from tests.verify import b64, der

pytestmark = pytest.mark.integration

#: The names the page gives (the first one is the File's own name).
NAMES = ["QĐ-001-UBND.pdf", "Công văn 002.pdf", "Tờ trình 003.pdf"]
#: The scripted user: approves the one question with the PIN.
APPROVE = {"approved": True, "pin": PIN}


def three_pdfs() -> list[bytes]:
    return [sample_pdf(pages=1 + i, text=f"Van ban so {i + 1}/UBND") for i in range(3)]


def batch_script(
    pdfs: list[bytes], token: SessionToken, options: dict[str, Any], **signing: str
) -> str:
    """Page script: three PDFs from bytes through ``signPdfBatch`` (``signing``: further
    options of the batch, such as ``level``); the answer as JSON."""
    return (
        """
      const kyso = await import("/kyso.js");
      const client = kyso.createClient(OPTIONS);
      const [first, second, third] = PDFS.map((text) => kyso.fromBase64(text));
      const documents = [
        new File([first], NAMES[0], { type: "application/pdf" }),
        { pdf: new Blob([second], { type: "application/pdf" }), documentName: NAMES[1],
          reason: "Đồng ý", appearance: { profile: "invisible" } },
        { pdf: third.slice().buffer, documentName: NAMES[2] },
      ];
      try {
        const state = await client.status();
        const result = await client.signPdfBatch(documents, {
          certificate: CERTIFICATE, reason: "Phê duyệt", location: "Huế",
          appearance: { profile: "personal" }, ...SIGNING,
        });
        return {
          ok: true, transport: state.transport, signed: result.signed, stopped: result.stopped,
          error: result.error && result.error.code,
          certificate: kyso.toBase64(result.certificate),
          documents: result.documents.map((d) => ({
            index: d.index, documentName: d.documentName, signed: d.signed,
            bytes: d.pdf instanceof Uint8Array, pdf: d.pdf ? kyso.toBase64(d.pdf) : null,
          })),
        };
      } catch (error) {
        return { ok: false, code: error.code, status: error.status, detail: error.detail };
      }
    """.replace("OPTIONS", json.dumps({"extensionTimeoutMs": 2000, **options}))
        .replace("PDFS", json.dumps([b64(pdf) for pdf in pdfs]))
        .replace("NAMES", json.dumps(NAMES, ensure_ascii=False))
        .replace("CERTIFICATE", json.dumps(b64(der(token.rsa))))
        .replace("SIGNING", json.dumps(signing))
    )


def reasons(pdf: bytes) -> list[str | None]:
    """The ``/Reason`` of each signature."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(pdf))
    found = [s.sig_object.get("/Reason") for s in reader.embedded_signatures]
    return [None if reason is None else str(reason) for reason in found]


def the_question(agent: AgentProcess, origin: str, pdfs: list[bytes]) -> None:
    """One question, from the page's origin, listing every PDF by name and SHA-256."""
    [question] = [p for p in agent.prompts() if p.get("action") == "sign"]
    assert question["origin"] == origin
    assert [(d["name"], d["digest"]) for d in question["documents"]] == [
        (name, hashlib.sha256(pdf).hexdigest()) for name, pdf in zip(NAMES, pdfs, strict=True)
    ]


def test_a_page_signs_three_pdfs_with_one_question_through_the_extension(
    browser: Browser, bridge_agent: AgentProcess, token: SessionToken, portal_port: int
) -> None:
    pdfs = three_pdfs()
    bridge_agent.script(APPROVE)
    bridge_agent.script_activities()  # the user watches the progress to the end
    origin = f"http://localhost:{portal_port}"
    result = browser.run("eval", url=f"{origin}/", script=batch_script(pdfs, token, {}))
    assert result["ok"] is True, result
    assert result["transport"] == "extension"
    assert (result["signed"], result["stopped"], result["error"]) == (3, False, None)
    assert base64.b64decode(result["certificate"]) == der(token.rsa)
    for index, (name, original, document) in enumerate(
        zip(NAMES, pdfs, result["documents"], strict=True)
    ):
        assert (document["index"], document["documentName"]) == (index, name)
        assert document["signed"] is True and document["bytes"] is True
        signed = base64.b64decode(document["pdf"])
        assert signed.startswith(original), name  # an incremental update of what the page sent
        assert pyhanko_bottom_line(signed, token.ca.cert) == [True], name
    # The batch's reason, but where the document gave its own.
    assert [reasons(base64.b64decode(d["pdf"])) for d in result["documents"]] == [
        ["Phê duyệt"],
        ["Đồng ý"],
        ["Phê duyệt"],
    ]
    the_question(bridge_agent, origin, pdfs)
    [progress] = [p for p in bridge_agent.prompts() if p.get("action") == "progress"]
    assert (progress["origin"], progress["total"]) == (origin, 3)
    assert bridge_agent.activity_updates()[-1] == {"done": 3}


def test_stop_after_the_second_pdf_gives_the_page_the_two_signed(
    browser: Browser,
    bridge_agent: AgentProcess,
    token: SessionToken,
    portal_port: int,
    tsa: LocalPki,
) -> None:
    pdfs = three_pdfs()
    bridge_agent.script(APPROVE)
    bridge_agent.script_activities({"stopAt": 1})  # Stop while the second one is signed,
    tsa.hold_tsa(after=1)  # which waits for its time-stamp until the agent has the Stop
    origin = f"http://localhost:{portal_port}"
    direct = {"transport": "direct", "ports": [bridge_agent.port]}
    script = batch_script(pdfs, token, direct, level="B-T")  # the agent's machine names tsa
    result = bridge_agent.held_until_stopped(
        tsa, lambda: browser.run("eval", extension=False, url=f"{origin}/", script=script)
    )
    assert result["ok"] is True, result
    assert result["transport"] == "direct"
    assert (result["signed"], result["stopped"], result["error"]) == (2, True, None)
    assert [d["signed"] for d in result["documents"]] == [True, True, False]
    unsigned = result["documents"][2]
    assert (unsigned["documentName"], unsigned["pdf"], unsigned["bytes"]) == (NAMES[2], None, False)
    for original, document in zip(pdfs, result["documents"][:2], strict=False):
        signed = base64.b64decode(document["pdf"])
        assert signed.startswith(original)
        assert pyhanko_bottom_line(signed, token.ca.cert, tsa.ca.cert) == [True]
    the_question(bridge_agent, origin, pdfs)
