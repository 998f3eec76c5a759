"""The dialog without a mouse: Tab, Shift+Tab, the arrows, Space, Enter and Alt, as xdotool types
them on a private X display, and the answer the dialog writes.

The dialog runs as the agent runs it (``python -m agent.ui.dialog``, the question on stdin);
the test reads which widget has the keyboard through Tk's ``send`` (tests/desktop/test_dialog.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.desktop import screenshots
from tests.desktop.test_dialog import send_to_dialog, wait_for_dialog, xdotool

pytestmark = pytest.mark.desktop

PIN = "246810"


class Dialog:
    """The dialog process on a display, driven by keys."""

    def __init__(self, display: str, process: subprocess.Popen[bytes]) -> None:
        self.display = display
        self.process = process

    def keys(self, *keys: str) -> None:
        for key in keys:
            assert xdotool(self.display, "key", key).returncode == 0

    def type(self, value: str) -> None:
        assert xdotool(self.display, "type", "--delay", "20", value).returncode == 0

    def focus(self) -> tuple[str, str]:
        """The Tk class and text of the widget with the keyboard."""
        sent = send_to_dialog(
            self.display,
            "winfo class [focus]",
            "if {[catch {[focus] cget -text} t]} { set t {} } else { set t }",
        )
        assert sent is not None, "no dialog"
        return sent[0][0], sent[1][0]

    def tab_to(self, expected: tuple[str, str], key: str = "Tab") -> None:
        """Press ``key`` once; the keyboard must then be on ``expected`` (class, text)."""
        self.keys(key)
        assert self.focus() == expected

    def answer(self) -> dict[str, Any]:
        """What the dialog wrote on stdout once it closed."""
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        assert self.process.wait(20) == 0
        return dict(json.loads(out))


@contextmanager
def dialog(display: str, state: str, lang: str = "vi") -> Iterator[Dialog]:
    """The dialog for a screenshot state, shown and holding the keyboard."""
    question = screenshots.in_language(screenshots.STATES[state], lang)
    process = subprocess.Popen(
        [sys.executable, "-m", "agent.ui.dialog", "--timeout", "60"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "DISPLAY": display},
    )
    try:
        assert process.stdin is not None
        process.stdin.write(json.dumps(question).encode())
        process.stdin.close()
        wait_for_dialog(display)
        yield Dialog(display, process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_the_final_try_is_confirmed_and_signed_with_the_keyboard_alone(xvfb: str) -> None:
    with dialog(xvfb, "final-try") as shown:
        assert shown.focus() == ("TEntry", "")
        shown.type(PIN)
        tick = ("TCheckbutton", "Tôi hiểu và vẫn muốn thử lần cuối")
        sign, cancel = ("TButton", "Ký"), ("TButton", "Hủy")
        shown.tab_to(tick)
        shown.keys("space")  # ticks it
        shown.tab_to(sign)
        shown.tab_to(cancel)
        shown.tab_to(sign, "shift+Tab")
        # Alt+P: back to the field the PIN label names, the PIN still in it.
        shown.keys("alt+p")
        assert shown.focus() == ("TEntry", "")
        shown.tab_to(tick)
        shown.tab_to(sign)
        shown.keys("space")  # presses Ký
        answer = shown.answer()
    certificate = screenshots.STATES["final-try"]["certificates"][0]["id"]
    assert answer == {
        "approved": True,
        "certificateId": certificate,
        "pin": PIN,
        "confirmFinalTry": True,
    }


def test_the_final_try_is_not_signed_until_its_box_is_ticked(xvfb: str) -> None:
    """Ký without the tick says what is missing and signs nothing; Alt+T ticks it."""
    with dialog(xvfb, "final-try", "en") as shown:
        shown.type(PIN)
        shown.keys("Return")
        assert shown.process.poll() is None, "signed without the tick"
        assert shown.focus() == ("TEntry", "")
        shown.keys("alt+i")  # "I understand…": ticks the box and goes there
        assert shown.focus() == ("TCheckbutton", "I understand and want to make the final attempt")
        shown.keys("Return")
        answer = shown.answer()
    assert answer["confirmFinalTry"] is True and answer["pin"] == PIN


def test_a_certificate_is_chosen_with_tab_and_the_arrows(xvfb: str) -> None:
    question = screenshots.STATES["select-certificate"]
    first, second = (c["id"] for c in question["certificates"])
    with dialog(xvfb, "select-certificate") as shown:
        an, binh = ("TRadiobutton", "Nguyễn Văn An"), ("TRadiobutton", "Trần Thị Bình")
        allow, cancel = ("TButton", "Đồng ý"), ("TButton", "Hủy")
        # One Tab stop for the group, on the chosen certificate (the first).
        shown.tab_to(an)
        shown.tab_to(binh, "Down")
        shown.tab_to(an, "Down")  # round again
        shown.tab_to(binh, "Up")
        shown.tab_to(allow)
        shown.tab_to(cancel)
        shown.tab_to(binh)  # round to the group: its chosen one
        shown.tab_to(allow)
        shown.keys("space")
        answer = shown.answer()
    assert answer == {"approved": True, "certificateId": second}
    assert first != second


def test_enter_on_the_focused_cancel_button_cancels(xvfb: str) -> None:
    with dialog(xvfb, "sign-single") as shown:
        shown.type(PIN)
        shown.tab_to(("TButton", "Ký"))
        shown.tab_to(("TButton", "Hủy"))
        shown.keys("Return")
        answer = shown.answer()
    assert answer == {"approved": False}
