"""The PIN object refuses to leak."""

from __future__ import annotations

import pickle

import pytest

from agent.consent.prompter import PromptAnswer
from agent.pin import Pin


def test_pin_is_masked_in_repr_and_str() -> None:
    pin = Pin("246810")
    assert "246810" not in repr(pin)
    assert "246810" not in str(pin)
    assert "246810" not in f"{pin!r} {pin}"
    assert "246810" not in repr(PromptAnswer(True, "id", pin))


def test_pin_reveals_bytes_and_wipes() -> None:
    pin = Pin("12ồ4")
    assert pin.reveal() == "12ồ4".encode()
    pin.wipe()
    assert pin.reveal() == b""
    assert not pin


def test_pin_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Pin("1"))
