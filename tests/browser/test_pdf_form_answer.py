"""A page that posts a PDF as a form and asks for the signed file back, in real headless Chromium.

What a portal does when it wants a ``Blob`` to save or upload again rather than base64: a
``FormData`` with the ``File`` and its options, ``fetch`` with ``Accept: application/pdf``,
``response.blob()``, and the certificate from the ``Kyso-Certificate`` header, which the page can
read only if the agent exposes it (CORS). The real agent on SoftHSM signs; pyHanko judges.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from tests.browser.conftest import Browser
from tests.conftest import PIN, AgentProcess, SessionToken
from tests.pdftools import pyhanko_bottom_line, sample_pdf
from tests.verify import b64, der

pytestmark = pytest.mark.integration

NAME = "QĐ-045-UBND.pdf"


def form_script(agent: AgentProcess, pdf: bytes, options: dict[str, Any], accept: str) -> str:
    """Page script: ``pdf`` as a ``File`` in a form, posted with ``accept``; what came back."""
    return (
        """
      const bytes = Uint8Array.from(atob(PDF), (c) => c.charCodeAt(0));
      const file = new File([bytes], NAME, { type: "application/pdf" });
      const form = new FormData();
      form.append("options", JSON.stringify({ documentName: file.name, ...OPTIONS }));
      form.append("file", file);
      const response = await fetch(URL, {
        method: "POST", body: form, headers: { Accept: ACCEPT },
      });
      const blob = await response.blob();
      const signed = new Uint8Array(await blob.arrayBuffer());
      let text = "";
      for (let at = 0; at < signed.length; at += 0x8000) {
        text += String.fromCharCode(...signed.subarray(at, at + 0x8000));
      }
      return {
        status: response.status, type: blob.type,
        certificate: response.headers.get("Kyso-Certificate"), body: btoa(text),
      };
    """.replace("PDF", json.dumps(b64(pdf)))
        .replace("NAME", json.dumps(NAME, ensure_ascii=False))
        .replace("OPTIONS", json.dumps(options))
        .replace("URL", json.dumps(f"https://127.0.0.1:{agent.port}/v1/pdf/sign"))
        .replace("ACCEPT", json.dumps(accept))
    )


def test_a_form_that_asks_for_the_pdf_gets_the_signed_file_as_a_blob(
    browser: Browser, bridge_agent: AgentProcess, token: SessionToken, portal_port: int
) -> None:
    original = sample_pdf(pages=2, text="Quyet dinh so 45/QD-UBND")
    bridge_agent.script({"approved": True, "pin": PIN}, {"approved": False})
    origin = f"http://localhost:{portal_port}"
    options = {"certificate": b64(der(token.rsa))}
    script = form_script(bridge_agent, original, options, "application/pdf")
    result = browser.run("eval", extension=False, url=f"{origin}/", script=script)
    assert (result["status"], result["type"]) == (200, "application/pdf"), result
    assert base64.b64decode(result["certificate"]) == der(token.rsa)
    signed = base64.b64decode(result["body"])
    assert signed.startswith(original)  # an incremental update of the file the page sent
    assert pyhanko_bottom_line(signed, token.ca.cert) == [True]
    [question] = [p for p in bridge_agent.prompts() if p.get("action") == "sign"]
    assert question["origin"] == origin
    assert [(d["name"], d["digest"]) for d in question["documents"]] == [
        (NAME, hashlib.sha256(original).hexdigest())
    ]

    # Refused by the user: the page that asked for a PDF reads a JSON error, status first.
    refused = browser.run("eval", extension=False, url=f"{origin}/", script=script)
    assert refused["status"] == 403, refused
    assert refused["type"].split(";")[0] == "application/json", refused
    error = json.loads(base64.b64decode(refused["body"]))["error"]
    assert error["code"] == "USER_CANCELLED"
    assert refused["certificate"] is None


def test_kyso_js_sends_the_file_as_a_form_and_gets_the_file_back(
    browser: Browser, bridge_agent: AgentProcess, token: SessionToken, portal_port: int
) -> None:
    # kyso.js's signPdf straight to the agent, Chromium's own fetch under it, watched.
    original = sample_pdf(pages=3, text="Cong van so 88/UBND")
    bridge_agent.script({"approved": True, "pin": PIN})
    origin = f"http://localhost:{portal_port}"
    script = (
        """
      const kyso = await import("/kyso.js");
      const seen = [];
      const watched = async (url, init) => {
        const response = await fetch(url, init);
        seen.push({
          path: new URL(url).pathname, form: init.body instanceof FormData,
          accept: (init.headers || {}).Accept || null,
          answered: response.headers.get("Content-Type"),
        });
        return response;
      };
      const client = kyso.createClient({ transport: "direct", ports: [PORT], fetch: watched });
      const bytes = Uint8Array.from(atob(PDF), (c) => c.charCodeAt(0));
      const file = new File([bytes], NAME, { type: "application/pdf" });
      const result = await client.signPdf(file, { documentName: NAME, certificate: CERTIFICATE });
      const report = await client.verifyPdf(new File([result.pdf], NAME));
      return {
        seen, bytes: result.pdf instanceof Uint8Array, report,
        pdf: kyso.toBase64(result.pdf), certificate: kyso.toBase64(result.certificate),
      };
    """.replace("PORT", str(bridge_agent.port))
        .replace("PDF", json.dumps(b64(original)))
        .replace("NAME", json.dumps(NAME, ensure_ascii=False))
        .replace("CERTIFICATE", json.dumps(b64(der(token.rsa))))
    )
    result = browser.run("eval", extension=False, url=f"{origin}/", script=script)
    # signPdf, then verifyPdf on what it signed: each sends a form, with the Accept it reads.
    sent = [(s["path"], s["form"], s["accept"], s["answered"]) for s in result["seen"]]
    assert [s for s in sent if s[0].startswith("/v1/pdf/")] == [
        ("/v1/pdf/sign", True, "application/pdf", "application/pdf"),
        ("/v1/pdf/verify", True, "application/json", "application/json; charset=utf-8"),
    ]
    assert result["bytes"] is True
    assert base64.b64decode(result["certificate"]) == der(token.rsa)
    signed = base64.b64decode(result["pdf"])
    assert signed.startswith(original)
    assert pyhanko_bottom_line(signed, token.ca.cert) == [True]
    [signature] = result["report"]["signatures"]
    assert (signature["intact"], signature["signer"]) == (True, "Nguyễn Văn An")
