"""The PIN leaves the prompter's raw answer before the answer is parsed (take_pin): what is
parsed into Python strings, which cannot be wiped, no longer holds it."""

from __future__ import annotations

import json

import pytest

from agent.consent.prompter import parse_answer, take_pin


@pytest.mark.parametrize(
    ("raw", "pin"),
    [
        ('{"approved": true, "pin": "123456"}', b"123456"),
        ('{"pin":"12\\"34", "approved": true}', b'12"34'),
        ('{"approved": true, "pin" : "a\\\\b\\/c"}', b"a\\b/c"),
        ('{"approved": true, "pin": "\\u0031\\u0032ab"}', b"12ab"),
    ],
)
def test_the_pin_is_moved_out_and_the_rest_still_parses(raw: str, pin: bytes) -> None:
    buffer = bytearray(raw.encode())
    taken = take_pin(buffer)
    assert taken is not None and taken.reveal() == pin
    assert pin not in buffer or pin == b""
    value = json.loads(buffer.decode())
    assert set(value["pin"]) == {"*"}
    answer = parse_answer(value, taken)
    assert answer.approved and answer.pin is taken


def test_an_answer_without_a_pin_is_left_alone() -> None:
    raw = bytearray(b'{"approved": false}')
    assert take_pin(raw) is None
    assert raw == b'{"approved": false}'


def test_a_pin_with_an_escape_it_cannot_need_is_left_to_the_parser() -> None:
    raw = bytearray(b'{"approved": true, "pin": "12\\u00e934"}')
    assert take_pin(raw) is None
    answer = parse_answer(json.loads(raw.decode()))
    assert answer.pin is not None and answer.pin.reveal() == "12é34".encode()
