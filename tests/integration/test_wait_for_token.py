"""No token plugged in: the agent asks for it, waits, and goes on by itself when it appears.

The real agent on a SoftHSM whose token directory starts empty. SoftHSM has no hot-plug: a
token made beforehand in another SoftHSM directory is moved into the agent's with one rename,
so the agent sees it appear whole, as a USB token does (never half-made). The user's part is
the scripted prompter's (the wait shown, Cancel pressed or not, the PIN typed); the real
window is tests/desktop/test_wait_for_token_dialog.py's.
"""

from __future__ import annotations

import base64
import concurrent.futures
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from agent.testing.samples import sample_pdf
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, provision
from tests.conftest import PIN, PORTAL, AgentProcess, Response, eventually, start_agent
from tests.verify import b64, der, digest_of, sign_body, verify_with_cryptography

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Spare:
    """A token made in a SoftHSM of its own, ready to be "plugged in" to another."""

    hsm: SoftHsm
    certificate: x509.Certificate
    ca: x509.Certificate

    def plug_into(self, target: SoftHsm) -> None:
        """Move the token's directory into ``target``'s token directory (one rename each)."""
        for made in self.hsm.token_dir.iterdir():
            os.rename(made, target.token_dir / made.name)


def spare_token(root: Path, label: str, holder: str) -> Spare:
    hsm = SoftHsm(root / "hsm").create()
    ca = TestCa.create()
    spec = TokenSpec(label, PIN, keys=(KeySpec("01", "EC", holder),))
    [key] = provision(hsm, ca, root / "ca", spec)
    return Spare(hsm, key.certificate, ca.cert)


@pytest.fixture
def unplugged(tmp_path: Path) -> Iterator[tuple[AgentProcess, SoftHsm]]:
    """An agent whose SoftHSM has no token, with a minute to answer."""
    hsm = SoftHsm(tmp_path / "agent-hsm").create()
    running = start_agent(tmp_path / "agent", hsm, "--prompt-timeout", "60", "--lang", "vi")
    yield running, hsm
    running.stop()


def waits(running: AgentProcess) -> list[dict[str, Any]]:
    return [p for p in running.prompts() if p.get("action") == "wait-token"]


def test_the_request_waits_and_signs_once_the_token_is_plugged_in(
    unplugged: tuple[AgentProcess, SoftHsm], tmp_path: Path
) -> None:
    running, hsm = unplugged
    spare = spare_token(tmp_path / "spare", "CẮM-SAU", "Phạm Thị Cắm")
    digest = digest_of("Công văn số 45/UBND".encode())
    running.script({"approved": True, "pin": PIN})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(running.post, "/v1/sign", sign_body(digest, documentName="CV-45"))
        [wait] = eventually(lambda: waits(running) or None, 20, "the request to wait for a token")
        assert wait == {"action": "wait-token", "origin": PORTAL, "lang": "vi", "seconds": 60}
        assert not answer.done(), "the request is still waiting"
        assert [p["action"] for p in running.prompts()] == ["wait-token"], "no question yet"
        spare.plug_into(hsm)
        response: Response = answer.result(timeout=30)
    assert response.status == 200, response.body
    signature = base64.b64decode(response.json["signature"])
    verify_with_cryptography(der(spare.certificate), signature, digest, "SHA-256")
    # Then the question, on the token that came: one wait, one question.
    assert [p["action"] for p in running.prompts()] == ["wait-token", "sign"]
    [question] = [p for p in running.prompts() if p["action"] == "sign"]
    assert [c["token"] for c in question["certificates"]] == ["CẮM-SAU"]


def test_cancel_while_waiting_is_user_cancelled_and_nothing_is_asked(
    unplugged: tuple[AgentProcess, SoftHsm],
) -> None:
    running, _hsm = unplugged
    running.script({"approved": True, "pin": PIN})
    running.script_activities({"cancel": True})
    response = running.post("/v1/sign", sign_body(digest_of(b"x")))
    assert (response.status, response.error_code) == (403, "USER_CANCELLED"), response.body
    assert [p["action"] for p in running.prompts()] == ["wait-token"]


def test_no_token_within_the_prompt_timeout_is_token_not_present(
    tmp_path: Path,
) -> None:
    hsm = SoftHsm(tmp_path / "hsm").create()
    running = start_agent(tmp_path / "agent", hsm, "--prompt-timeout", "2")
    try:
        running.script({"approved": True, "pin": PIN})
        response = running.post("/v1/certificates", {})
        assert (response.status, response.error_code) == (409, "TOKEN_NOT_PRESENT"), response.body
        assert [p["action"] for p in running.prompts()] == ["wait-token"]
        assert "USB token" in response.json["error"]["message"]
    finally:
        running.stop()


def test_a_named_certificate_is_waited_for_by_its_holder_and_used_when_it_comes(
    unplugged: tuple[AgentProcess, SoftHsm], tmp_path: Path
) -> None:
    running, hsm = unplugged
    other = spare_token(tmp_path / "other", "KHÁC", "Người Khác")
    other.plug_into(hsm)  # a token is in, but not the one holding the portal's certificate
    wanted = spare_token(tmp_path / "wanted", "ĐÚNG", "Đỗ Văn Đúng")
    digest = digest_of(b"to the right token")
    running.script({"approved": True, "pin": PIN})
    body = sign_body(digest)
    body["certificate"] = b64(der(wanted.certificate))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(running.post, "/v1/sign", body)
        [wait] = eventually(lambda: waits(running) or None, 20, "the wait for the named token")
        assert "Đỗ Văn Đúng" in wait["certificate"]
        wanted.plug_into(hsm)
        response: Response = answer.result(timeout=30)
    assert response.status == 200, response.body
    verify_with_cryptography(
        der(wanted.certificate),
        base64.b64decode(response.json["signature"]),
        digest,
        "SHA-256",
    )


def test_with_waiting_turned_off_by_policy_the_answer_is_immediate(tmp_path: Path) -> None:
    hsm = SoftHsm(tmp_path / "hsm").create()
    running = start_agent(
        tmp_path / "agent", hsm, "--prompt-timeout", "60", policy={"wait_for_token": False}
    )
    try:
        response = running.post("/v1/sign", sign_body(digest_of(b"x")))
        assert (response.status, response.error_code) == (409, "TOKEN_NOT_PRESENT")
        assert running.prompts() == []
    finally:
        running.stop()


def test_sign_pdf_in_a_terminal_asks_for_the_token_and_goes_on_when_it_comes(
    tmp_path: Path,
) -> None:
    """``kyso-agent sign-pdf`` with its console prompter (no display, stdin a terminal)."""
    from tests.integration.test_default_prompters import Terminal
    from tests.pdftools import pyhanko_bottom_line

    hsm = SoftHsm(tmp_path / "hsm").create()
    spare = spare_token(tmp_path / "spare", "TOKEN-TERMINAL", "Vũ Thị Gõ")
    source = tmp_path / "to-trinh.pdf"
    source.write_bytes(sample_pdf())
    env = {**hsm.environ(), "HOME": str(tmp_path)}
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONWARNINGS"):
        env.pop(variable, None)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "sign-pdf",
            str(source),
            "-o",
            str(tmp_path / "out.pdf"),
            "--data-dir",
            str(tmp_path / "data"),
            "--pkcs11-module",
            str(hsm.module),
            "--lang",
            "vi",
        ],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(slave)
    terminal = Terminal(master)
    try:
        try:
            terminal.wait_for("Hãy cắm USB token")
        except OSError:  # the terminal closed: the command ended
            raise AssertionError(process.communicate(timeout=10)[1]) from None
        assert process.poll() is None, "it waits"
        spare.plug_into(hsm)
        terminal.wait_for("Nhập mã PIN")
        terminal.type(PIN)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert process.returncode == 0, err
    assert "signed:" in out
    signed = (tmp_path / "out.pdf").read_bytes()
    assert pyhanko_bottom_line(signed, spare.ca) == [True]
