"""A page that goes away takes its request with it: the dialog closes, a queued question is never
asked, the audit says ``abandoned``, and the agent goes on serving.

The real ``kyso-agent serve`` with the scripted external prompter (a process, as the desktop
dialog is); the client is a plain HTTPS connection that closes midway, as a tab does.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.audit import OUTCOME_ABANDONED, OUTCOME_SIGNED
from tests.conftest import PIN, PORTAL, AgentProcess, SessionToken, eventually, start_agent
from tests.verify import digest_of, sign_body

SLOW_USER = 50.0
"""Seconds the first dialog stays open unanswered: far longer than any wait below, so that only
the page going away can end it."""


@pytest.fixture
def patient(token: SessionToken, tmp_path: Path) -> Iterator[AgentProcess]:
    """An agent whose questions wait a minute for the user."""
    running = start_agent(
        tmp_path / "agent",
        token.hsm,
        "--prompt-timeout",
        "60",
        policy={"cancel_backoff_seconds": 0},
    )
    yield running
    running.stop()


def send_sign(agent: AgentProcess, text: str, token: SessionToken) -> http.client.HTTPSConnection:
    """A connection that has sent ``/v1/sign`` and does not read the answer."""
    client = http.client.HTTPSConnection("127.0.0.1", agent.port, context=agent.tls, timeout=60)
    body = json.dumps(sign_body(digest_of(text.encode()), token.rsa)).encode()
    client.request(
        "POST", "/v1/sign", body, headers={"Origin": PORTAL, "Content-Type": "application/json"}
    )
    return client


def asked(agent: AgentProcess, text: str, token: SessionToken) -> http.client.HTTPSConnection:
    """A page's ``/v1/sign`` for ``text``, once the user (who takes their time) is asked."""
    agent.script({"sleep": SLOW_USER, "approved": True, "pin": PIN})
    client = send_sign(agent, text, token)
    eventually(agent.prompts, 30, "the user was asked")
    return client


def test_a_page_gone_during_the_question_closes_the_dialog_and_is_audited(
    patient: AgentProcess, token: SessionToken
) -> None:
    client = asked(patient, "trang đã đóng", token)
    assert patient.open_dialogs(), "the dialog is open"
    client.close()  # the tab is closed

    eventually(lambda: not patient.open_dialogs(), 30, "the dialog closed")
    assert eventually(patient.audit_outcomes, 30, "the question was audited") == [OUTCOME_ABANDONED]
    # Nothing was signed for the page that went away, and the agent goes on.
    patient.script({"approved": True, "pin": PIN})
    response = patient.post("/v1/sign", sign_body(digest_of(b"trang sau"), token.rsa))
    assert response.status == 200, response.body
    assert patient.audit_outcomes() == [OUTCOME_ABANDONED, OUTCOME_SIGNED]
    assert "Traceback" not in patient.log_text()


def test_a_page_gone_while_its_question_waits_its_turn_is_never_asked(
    patient: AgentProcess, token: SessionToken
) -> None:
    # The user reads the first question for a few seconds, then declines it; the pages of the
    # requests waiting behind it are closed meanwhile.
    patient.script({"sleep": 3, "approved": False}, {"approved": True, "pin": PIN})
    first = send_sign(patient, "câu hỏi đầu", token)
    eventually(patient.prompts, 30, "the first question was asked")
    # Requests of the same page wait behind its open dialog, four at most; once they are all
    # waiting, one more is BUSY at once (a request that finds a free place waits too, and is
    # left waiting with the others).
    waiting = [send_sign(patient, f"xếp hàng {n}", token) for n in range(4)]
    eventually(lambda: busy(patient, token, waiting), 30, "every place behind the dialog taken")
    for client in waiting:
        client.close()
    try:
        assert first.getresponse().status == 403  # USER_CANCELLED
    finally:
        first.close()

    # None of the waiting requests reached the user: the next question is this one, and the
    # user's second answer is its own.
    response = patient.post("/v1/sign", sign_body(digest_of("sau đó".encode()), token.rsa))
    assert response.status == 200, response.body
    assert len(patient.prompts()) == 2
    assert patient.audit_outcomes() == ["USER_CANCELLED", OUTCOME_SIGNED]


def busy(
    agent: AgentProcess, token: SessionToken, waiting: list[http.client.HTTPSConnection]
) -> bool:
    """Whether one more request is refused BUSY; one that waits instead joins ``waiting``."""
    probe = send_sign(agent, "thêm một", token)
    probe.sock.settimeout(1.0)
    try:
        answer = probe.getresponse()
    except TimeoutError:
        waiting.append(probe)
        return False
    body = json.loads(answer.read())
    probe.close()
    assert answer.status == 429 and body["error"]["code"] == "BUSY", body
    return True


def test_an_agent_stopped_while_the_user_decides_records_the_question(
    patient: AgentProcess, token: SessionToken
) -> None:
    client = asked(patient, "máy tắt", token)
    try:
        patient.stop()  # SIGTERM, as at logoff
    finally:
        client.close()
    assert patient.process.returncode == 0
    assert patient.open_dialogs() == []
    assert patient.audit_outcomes() == [OUTCOME_ABANDONED]
    assert "not written" not in patient.log_text()
