"""A tab closed while the agent asks: real headless Chromium closes it, the dialog closes too.

A portal page asks for a signature, by ``fetch`` straight to the agent or through kyso.js and the
browser extension; while the question is open (the scripted dialog, a process of its own as the
desktop dialog is, takes its time) the user closes the tab, and only the tab: the browser stays
open until the test has seen the dialog go. The agent stops the request, the dialog goes away at
once (not at its timeout) and the audit trail says ``abandoned``. The agent then serves the next
page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.audit import OUTCOME_ABANDONED, OUTCOME_SIGNED
from tests.browser.conftest import Browser, closed_while_asked
from tests.conftest import PIN, AgentProcess, SessionToken
from tests.verify import b64, der, digest_of

pytestmark = pytest.mark.integration

SLOW_USER = 60.0
"""Seconds the dialog stays open unanswered: beyond the agent's 20 s prompt timeout, so that
only the closed tab can end it before that."""


def fetch_script(agent: AgentProcess, token: SessionToken, text: str, *, wait: bool) -> str:
    """Page script: ``fetch`` ``/v1/sign`` for ``text``; awaited (its status) with ``wait``."""
    body = {
        "hash": b64(digest_of(text.encode())),
        "hashAlgorithm": "SHA-256",
        "certificate": b64(der(token.rsa)),
    }
    call = (
        f"fetch({json.dumps(f'https://127.0.0.1:{agent.port}/v1/sign')}, {{method: 'POST', "
        f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(json.dumps(body))}}})"
    )
    if wait:
        return f"const answer = await {call}; return answer.status;"
    return f"window.pending = {call}; return null;"


def extension_script(token: SessionToken, text: str) -> str:
    """Page script: kyso.js through the extension signs ``text``'s digest; not awaited."""
    return """
      const kyso = await import("/kyso.js");
      const client = kyso.createClient({ transport: "extension", extensionTimeoutMs: 5000 });
      await client.status();  // the extension answers: calls go through it
      window.pending = client.sign(kyso.fromBase64(DIGEST), { certificate: kyso.fromBase64(CERT) })
        .catch(() => null);
      return null;
    """.replace("DIGEST", json.dumps(b64(digest_of(text.encode())))).replace(
        "CERT", json.dumps(b64(der(token.rsa)))
    )


@pytest.mark.parametrize("way", ["fetch", "extension"])
def test_closing_the_tab_closes_the_question(  # noqa: PLR0917 - fixtures
    browser: Browser,
    bridge_agent: AgentProcess,
    token: SessionToken,
    portal_port: int,
    tmp_path: Path,
    way: str,
) -> None:
    origin = f"http://localhost:{portal_port}"
    bridge_agent.script({"sleep": SLOW_USER, "approved": True, "pin": PIN})
    before = len(bridge_agent.audit_outcomes())
    script = (
        fetch_script(bridge_agent, token, "tab đã đóng", wait=False)
        if way == "fetch"
        else extension_script(token, "tab đã đóng")
    )
    question, rows = closed_while_asked(
        browser,
        bridge_agent,
        f"{origin}/",
        script,
        tmp_path / "release",
        extension=way == "extension",
    )
    assert question["origin"] == origin
    assert rows == [OUTCOME_ABANDONED]

    bridge_agent.script({"approved": True, "pin": PIN})
    status = browser.run(
        "eval",
        extension=False,
        url=f"{origin}/",
        script=fetch_script(bridge_agent, token, "trang tiếp theo", wait=True),
    )
    assert status == 200
    assert bridge_agent.audit_outcomes()[before:] == [OUTCOME_ABANDONED, OUTCOME_SIGNED]
