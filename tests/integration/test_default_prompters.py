"""The prompters the agent picks by itself: the console on a terminal, else refusal."""

from __future__ import annotations

import os
import pty
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PIN, WRONG_PIN, AgentProcess, Response, SessionToken, start_agent
from tests.verify import b64, digest_of

pytestmark = pytest.mark.integration

SIGN = {"hash": b64(digest_of(b"console")), "hashAlgorithm": "SHA-256", "documentName": "QĐ-9.pdf"}


class Terminal:
    """The far end of a pseudo-terminal, read as a person would read the screen."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.screen = ""

    def wait_for(self, text: str, times: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.screen.count(text) < times:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                self.screen += os.read(self.master, 65536).decode("utf-8", "replace")

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())


@contextmanager
def agent_on_a_terminal(
    token: SessionToken, root: Path, *extra: str
) -> Iterator[tuple[AgentProcess, Terminal]]:
    """The agent with its default prompter, its stdin a pseudo-terminal the test types into."""
    master, slave = pty.openpty()
    running = start_agent(root, token.hsm, *extra, scripted=False, stdin=slave)
    os.close(slave)
    try:
        yield running, Terminal(master)
    finally:
        running.stop()
        os.close(master)


def test_console_prompt_on_a_terminal_shows_the_request_and_reads_the_pin_unechoed(
    token: SessionToken, tmp_path: Path
) -> None:
    result: list[Response] = []
    with agent_on_a_terminal(token, tmp_path) as (running, terminal):
        worker = threading.Thread(target=lambda: result.append(running.post("/v1/sign", SIGN)))
        worker.start()
        # The choice between the two signing certificates comes first; Enter takes the first.
        terminal.wait_for("Chọn chứng thư số")
        terminal.type("")
        terminal.wait_for("Nhập mã PIN")
        assert "Yêu cầu KÝ SỐ từ https://portal.example.gov.vn" in terminal.screen
        assert "QĐ-9.pdf" in terminal.screen
        assert "Nguyễn Văn An" in terminal.screen and "Trần Thị Bình" in terminal.screen
        terminal.type(WRONG_PIN)
        terminal.wait_for("Mã PIN không đúng")
        terminal.wait_for("Nhập mã PIN", times=2)
        assert terminal.screen.count("Chọn chứng thư số") == 1, (
            "the retry offers only the chosen one"
        )
        terminal.type(PIN)
        worker.join(30)
        assert result and result[0].status == 200, result
        assert PIN not in terminal.screen and WRONG_PIN not in terminal.screen, "PIN was echoed"


def test_console_prompt_chooses_a_certificate_and_cancels(
    token: SessionToken, tmp_path: Path
) -> None:
    result: list[Response] = []
    with agent_on_a_terminal(token, tmp_path) as (running, terminal):
        worker = threading.Thread(
            target=lambda: result.append(running.post("/v1/certificates", {}))
        )
        worker.start()
        terminal.wait_for("muốn đọc chứng thư số")
        terminal.wait_for("Chọn chứng thư số")
        terminal.type("h")
        worker.join(30)
        assert result[0].error_code == "USER_CANCELLED"


def test_without_terminal_or_prompter_every_request_is_refused_with_a_reason(
    token: SessionToken, tmp_path: Path
) -> None:
    running = start_agent(tmp_path, token.hsm, scripted=False)
    try:
        response = running.post("/v1/sign", SIGN)
        assert response.error_code == "USER_CANCELLED"
        assert "no way to ask the user" in running.log_text()
    finally:
        running.stop()


def test_typing_after_a_timed_out_question_never_answers_the_next_one(
    token: SessionToken, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    named = {
        **SIGN,
        "certificate": b64(token.rsa.public_bytes(serialization.Encoding.DER)),
    }
    with agent_on_a_terminal(token, tmp_path, "--prompt-timeout", "2") as (running, terminal):
        first = running.post("/v1/sign", named)
        assert first.error_code == "CONSENT_TIMEOUT"
        terminal.type(PIN)  # the official types the PIN just too late
        time.sleep(0.3)
        second = running.post("/v1/sign", named)
        assert second.error_code == "CONSENT_TIMEOUT", "a stale line answered a new question"
