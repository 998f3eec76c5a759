"""No token plugged in, with the real windows under Xvfb: "Hãy cắm USB token", then the
consent dialog by itself once the token is in.

SoftHSM has no hot-plug: a token made beforehand in another SoftHSM directory is moved into
the agent's with one rename while the window waits (tests/integration/test_wait_for_token.py).
"""

from __future__ import annotations

import base64
import concurrent.futures
from pathlib import Path

import pytest

from agent.testing.softhsm import SoftHsm
from tests.conftest import PIN, PORTAL, Response, start_agent
from tests.desktop.test_batch_dialog import wait_for_text
from tests.desktop.test_dialog import dialog_windows, wait_for_dialog, xdotool
from tests.integration.test_wait_for_token import spare_token
from tests.verify import der, digest_of, sign_body, verify_with_cryptography

pytestmark = pytest.mark.desktop


def test_the_window_asks_for_the_token_and_the_question_follows_when_it_is_in(
    tmp_path: Path, xvfb: str
) -> None:
    hsm = SoftHsm(tmp_path / "agent-hsm").create()
    spare = spare_token(tmp_path / "spare", "CẮM-VÀO", "Hoàng Thị Chờ")
    running = start_agent(
        tmp_path / "agent",
        hsm,
        "--lang",
        "vi",
        "--prompt-timeout",
        "60",
        scripted=False,
        env={"DISPLAY": xvfb},
    )
    digest = digest_of("Tờ trình 12".encode())
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(running.post, "/v1/sign", sign_body(digest, documentName="TT-12"))
            texts = " | ".join(wait_for_text(xvfb, "Hãy cắm USB token"))
            assert "Hãy cắm USB token" in texts
            assert "example.gov.vn" in texts and PORTAL.split(".")[0] in texts
            assert "Hủy" in texts
            assert not answer.done()
            spare.plug_into(hsm)
            # The waiting window goes and the consent dialog comes by itself.
            wait_for_dialog(xvfb)
            question = " | ".join(wait_for_text(xvfb, "TT-12"))
            assert "Hoàng Thị Chờ" in question and "TT-12" in question
            xdotool(xvfb, "type", "--delay", "20", PIN)
            xdotool(xvfb, "key", "Return")
            response: Response = answer.result(timeout=60)
    finally:
        running.stop()
    assert response.status == 200, response.body
    verify_with_cryptography(
        der(spare.certificate), base64.b64decode(response.json["signature"]), digest, "SHA-256"
    )


def test_cancel_in_the_waiting_window_ends_the_request(tmp_path: Path, xvfb: str) -> None:
    hsm = SoftHsm(tmp_path / "agent-hsm").create()
    running = start_agent(
        tmp_path / "agent", hsm, "--lang", "vi", scripted=False, env={"DISPLAY": xvfb}
    )
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(running.post, "/v1/certificates", {})
            wait_for_text(xvfb, "Hãy cắm USB token")
            xdotool(xvfb, "key", "Escape")
            response: Response = answer.result(timeout=30)
    finally:
        running.stop()
    assert (response.status, response.error_code) == (403, "USER_CANCELLED")
    assert dialog_windows(xvfb) == []
