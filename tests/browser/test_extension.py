"""The extension, kyso.js and the demo portal in a real headless Chromium (Playwright).

The agent runs on SoftHSM with the scripted prompter; Chromium trusts its local CA through
the NSS database in its HOME, as a user's browser would. The portal's server serves
``http://localhost:PORT`` (allowed) and ``http://127.0.0.1:PORT`` (not allowed).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from tests.browser.conftest import EXTENSION_ID, Browser, other_agents_below
from tests.conftest import PIN, PORTAL, AgentProcess, SessionToken, run_cli
from tests.pdftools import NssDb, sample_pdf

pytestmark = pytest.mark.integration

DIGEST = hashlib.sha256(b"Quyet dinh so 123/QD-UBND").digest()
#: The user approves, picks Nguyễn Văn An's (RSA) certificate and types the PIN.
SIGN_AS_AN = {"approved": True, "pin": PIN, "certificate": "Nguyễn Văn An"}


def page_call(
    operation: str | None,
    *,
    transport: str = "auto",
    ports: list[int] | None = None,
    lie: str | None = None,
) -> str:
    """Page script: call kyso.js (or the raw protocol with a lie), return the result or error."""
    options: dict[str, Any] = {"transport": transport, "extensionTimeoutMs": 2000}
    if ports:
        options["ports"] = ports
    return (
        """
      const kyso = await import("/kyso.js");
      const client = kyso.createClient(OPTIONS);
      const digest = kyso.fromBase64(DIGEST);
      const lie = LIE;
      try {
        if (lie) {
          // Straight to the content script, claiming another origin in every way it could.
          const id = "lie" + Date.now();
          const answer = new Promise((resolve) => addEventListener("message", (e) => {
            if (e.data && e.data.dir === "response" && e.data.id === id) resolve(e.data);
          }));
          const body = { hash: kyso.toBase64(digest), hashAlgorithm: "SHA-256" };
          postMessage({
            kyso: "kyso-agent", dir: "request", id, type: "call", method: "POST",
            path: "/v1/sign", body, origin: lie, pageOrigin: lie,
            headers: { "Kyso-Page-Origin": lie, "Origin": lie },
          }, location.origin);
          const reply = await answer;
          return { ok: reply.status === 200, status: reply.status, body: reply.body };
        }
        const state = await client.status();
        const value = await client.OPERATION;
        return { ok: true, transport: state.transport, value: JSON.parse(JSON.stringify(value,
          (k, v) => v instanceof Uint8Array ? kyso.toBase64(v) : v)) };
      } catch (error) {
        return { ok: false, name: error.name, code: error.code, status: error.status,
                 message: error.message, detail: error.detail };
      }
    """.replace("OPTIONS", json.dumps(options))
        .replace("DIGEST", json.dumps(base64.b64encode(DIGEST).decode()))
        .replace("LIE", json.dumps(lie))
        .replace("OPERATION", operation or "status()")
    )


def audit_origins(agent: AgentProcess) -> list[str]:
    done = run_cli("audit", "--json", "--data-dir", str(agent.data_dir))
    assert done.returncode == 0, done.stderr
    return [entry["origin"] for entry in json.loads(done.stdout)["entries"]]


def check_rsa_signature(signature_b64: str, certificate_b64: str, token: SessionToken) -> None:
    cert = x509.load_der_x509_certificate(base64.b64decode(certificate_b64))
    assert cert == token.rsa
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(
        base64.b64decode(signature_b64),
        DIGEST,
        padding.PKCS1v15(),
        utils.Prehashed(hashes.SHA256()),
    )


def test_extension_loads_with_its_pinned_id_and_its_popup_finds_the_agent(
    browser: Browser, bridge_agent: AgentProcess
) -> None:
    # No port cached: the popup looks for the agent on 8988-8998 itself. (Headless
    # Chromium's UI language is always en-US; the catalogues are checked in test_files.py.)
    popup = browser.run("popup", agentPort=None)
    assert popup["state"] == "ok", popup
    assert "Kyso Agent is running" in popup["text"]
    assert "Version 0.1.0" in popup["text"]
    if not other_agents_below(bridge_agent.port):
        assert f"port {bridge_agent.port}" in popup["text"]
        assert popup["helpdesk"] == f"https://127.0.0.1:{bridge_agent.port}/"
        # The agent gives its status report to this extension (never to a page): tokens show.
        assert "Token KYSO-TEST is ready" in popup["text"]
        assert "Nguyễn Văn An — " in popup["text"] and "days left" in popup["text"]


def test_demo_portal_signs_a_pdf_through_the_extension_and_pdfsig_verifies_it(
    browser: Browser,
    bridge_agent: AgentProcess,
    token: SessionToken,
    portal_port: int,
    tmp_path: Path,
) -> None:
    bridge_agent.script(SIGN_AS_AN)
    pdf = tmp_path / "QD-123-UBND.pdf"
    pdf.write_bytes(sample_pdf())
    origin = f"http://localhost:{portal_port}"
    result = browser.run("portal", url=f"{origin}/", pdf=str(pdf), profile="personal")
    assert result["status"]["state"] == "ok", result
    assert result["status"]["transport"] == "extension"
    assert result["error"] is None, result["error"]
    signed = Path(result["download"]).read_bytes()
    assert Path(result["download"]).name == "QD-123-UBND-da-ky.pdf"
    assert signed.startswith(pdf.read_bytes())  # an incremental update of the original
    blocks = NssDb.create(tmp_path / "nss", token.ca.cert).pdfsig(signed, tmp_path)
    assert len(blocks) == 1
    assert "Signature is Valid" in blocks[0] and "Certificate is Trusted" in blocks[0], blocks[0]
    assert "Nguyễn Văn An" in blocks[0]
    assert "Nguyễn Văn An" in result["report"]
    [prompt] = bridge_agent.prompts()
    assert prompt["origin"] == origin
    assert "QD-123-UBND.pdf" in json.dumps(prompt, ensure_ascii=False)
    assert audit_origins(bridge_agent)[-1] == origin


def test_a_page_on_an_origin_not_allowed_is_refused_without_a_prompt(
    browser: Browser, bridge_agent: AgentProcess, portal_port: int
) -> None:
    bridge_agent.script(SIGN_AS_AN)
    before = audit_origins(bridge_agent)
    result = browser.run(
        "eval", url=f"http://127.0.0.1:{portal_port}/", script=page_call("sign(digest)")
    )
    assert result["ok"] is False, result
    assert result["name"] == "KysoError"
    assert result["code"] == "ORIGIN_NOT_ALLOWED"
    assert result["status"] == 403
    assert "chưa được phép" in result["message"]
    assert bridge_agent.prompts() == []
    assert audit_origins(bridge_agent) == before


def test_a_page_that_claims_an_allowed_origin_is_judged_by_its_tab(
    browser: Browser, bridge_agent: AgentProcess, portal_port: int
) -> None:
    bridge_agent.script(SIGN_AS_AN)
    allowed = f"http://localhost:{portal_port}"
    result = browser.run(
        "eval", url=f"http://127.0.0.1:{portal_port}/", script=page_call(None, lie=allowed)
    )
    assert result["status"] == 403, result
    assert result["body"]["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert bridge_agent.prompts() == []


def test_the_agent_records_the_tabs_origin_not_the_one_a_page_claims(
    browser: Browser, bridge_agent: AgentProcess, token: SessionToken, portal_port: int
) -> None:
    bridge_agent.script(SIGN_AS_AN)
    origin = f"http://localhost:{portal_port}"
    result = browser.run("eval", url=f"{origin}/", script=page_call(None, lie=PORTAL))
    assert result["ok"] is True, result
    check_rsa_signature(result["body"]["signature"], result["body"]["certificate"], token)
    [prompt] = bridge_agent.prompts()
    assert prompt["origin"] == origin
    assert audit_origins(bridge_agent)[-1] == origin
    assert PORTAL not in audit_origins(bridge_agent)


def test_direct_fetch_signs_for_an_allowed_origin_without_the_extension(
    browser: Browser, bridge_agent: AgentProcess, token: SessionToken, portal_port: int
) -> None:
    bridge_agent.script(SIGN_AS_AN)
    origin = f"http://localhost:{portal_port}"
    result: dict[str, Any] = browser.run(
        "eval",
        extension=False,
        url=f"{origin}/",
        script=page_call('sign(digest, { documentName: "QĐ-123.pdf" })', transport="auto").replace(
            "createClient({", f"createClient({{ ports: [{bridge_agent.port}],"
        ),
    )
    assert result["ok"] is True, result
    assert result["transport"] == "direct"
    assert result["value"]["signatureAlgorithm"] == "RS256"
    check_rsa_signature(result["value"]["signature"], result["value"]["certificate"], token)
    [prompt] = bridge_agent.prompts()
    assert prompt["origin"] == origin


def test_direct_fetch_from_an_origin_not_allowed_never_reaches_the_user(
    browser: Browser, bridge_agent: AgentProcess, portal_port: int
) -> None:
    bridge_agent.script(SIGN_AS_AN)
    result = browser.run(
        "eval",
        extension=False,
        url=f"http://127.0.0.1:{portal_port}/",
        script=page_call("sign(digest)", transport="direct", ports=[bridge_agent.port]),
    )
    # The agent answers without CORS headers, so the browser hides even the refusal.
    assert result["ok"] is False, result
    assert result["code"] == "AGENT_UNREACHABLE"
    assert bridge_agent.prompts() == []


def test_extension_id_is_the_one_the_agent_trusts_by_default() -> None:
    from agent.origin import DEV_EXTENSION_ID

    assert EXTENSION_ID == DEV_EXTENSION_ID
