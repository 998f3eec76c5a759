"""The external prompter's answer, read from a real child process into one wipeable buffer
(agent/consent/external.py)."""

from __future__ import annotations

import sys

import pytest

from agent.consent.external import MAX_ANSWER_BYTES, ExternalPrompter
from agent.consent.prompter import PromptAction, PromptRequest

pytestmark = pytest.mark.integration

QUESTION = PromptRequest(PromptAction.SELECT_CERTIFICATE, "https://dichvucong.gov.vn", ())


def printing(text: str) -> list[str]:
    """A prompter that reads the question and prints ``text``."""
    return [sys.executable, "-c", f"import sys; sys.stdin.read(); sys.stdout.write({text!r})"]


async def test_an_answer_with_a_pin_is_read_whole() -> None:
    answer = await ExternalPrompter(
        printing('{"approved": true, "certificateId": "01", "pin": "80471326"}'), 10
    ).ask(QUESTION)
    assert answer.approved and answer.certificate_id == "01"
    assert answer.pin is not None and answer.pin.reveal() == b"80471326"


async def test_an_answer_too_large_is_a_cancel_and_the_prompter_is_not_left_blocked() -> None:
    huge = '{"approved": true, "pin": "1", "x": "' + "a" * (MAX_ANSWER_BYTES * 4) + '"}'
    answer = await ExternalPrompter(printing(huge), 10).ask(QUESTION)
    assert not answer.approved and answer.pin is None


async def test_an_answer_of_exactly_the_largest_size_is_read() -> None:
    head = '{"approved": true, "certificateId": "'
    tail = '"}'
    text = head + "c" * (MAX_ANSWER_BYTES - len(head) - len(tail)) + tail
    assert len(text) == MAX_ANSWER_BYTES
    answer = await ExternalPrompter(printing(text), 10).ask(QUESTION)
    assert answer.approved and answer.certificate_id is not None
