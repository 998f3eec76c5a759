"""The wait and progress window under Xvfb, driven as the agent drives it.

The test plays the agent: it starts the command with pipes, writes the first line and the
steps, and closes standard input when done; and plays the official: it finds the window by its
title, presses Esc or clicks the button with xdotool, and reads what the window shows through
Tk's ``send`` (tests/desktop/test_dialog.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.desktop import screenshots
from tests.desktop.test_dialog import inspect_dialog, send_to_dialog, wait_for_dialog, xdotool

pytestmark = pytest.mark.desktop

ORIGIN = "https://portal.example.gov.vn"
STOP = b'{"stop": true}\n'
PROGRESS = {"action": "progress", "origin": ORIGIN, "lang": "vi", "total": 20}
WAIT = {
    "action": "wait-token",
    "origin": ORIGIN,
    "lang": "vi",
    "seconds": 120,
    "certificate": "CN=Nguyễn Văn An,O=UBND tỉnh,C=VN",
}
#: The agent runs the consent dialog's command for activities; the window's own works too.
DIALOG = ("-m", "agent.ui.dialog", "--timeout", "120")
ACTIVITY = ("-m", "agent.ui.activity")

# The first ttk button: where it is on screen, and whether it is disabled.
_BUTTON = """
proc kyso_button {w} {
    foreach c [winfo children $w] {
        if {[winfo class $c] eq {TButton}} {
            return [list [winfo rootx $c] [winfo rooty $c] [winfo width $c] [winfo height $c] \
                [$c instate disabled] [$c cget -text]]
        }
        set found [kyso_button $c]
        if {$found ne {}} { return $found }
    }
    return {}
}
kyso_button .
"""


def line(wire: dict[str, Any]) -> bytes:
    return json.dumps(wire, ensure_ascii=False).encode() + b"\n"


class Window:
    """The window's process, its pipes, and everything it wrote on standard output."""

    def __init__(self, display: str, command: tuple[str, ...]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "DISPLAY": display},
        )
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read1(4096):
            self.output += chunk

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def close_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def wait_output(self, expected: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while bytes(self.output) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bytes(self.output) == expected

    def exit_code(self, timeout: float = 10) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def end(self) -> None:
        """Kill the process if it still runs, and close the pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):  # gone with bytes left unread
                    pipe.close()

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")


@contextmanager
def window(display: str, first: bytes, command: tuple[str, ...] = ACTIVITY) -> Iterator[Window]:
    shown = Window(display, command)
    try:
        shown.write(first)
        yield shown
    finally:
        shown.end()


def texts(display: str) -> str:
    shown = inspect_dialog(display)
    assert shown is not None, "no window"
    return " | ".join(shown["texts"])


def wait_for_text(display: str, wanted: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = texts(display)
        if wanted in said:
            return said
        time.sleep(0.1)
    raise AssertionError(f"{wanted!r} never shown: {said}")


def button(display: str) -> tuple[int, int, bool, str]:
    """The button's centre, whether it is disabled, and its text."""
    sent = send_to_dialog(display, _BUTTON)
    assert sent is not None, "no window"
    x, y, width, height, disabled, label = sent[0][1]
    return int(x) + int(width) // 2, int(y) + int(height) // 2, disabled == "1", label


def window_state(display: str) -> str:
    sent = send_to_dialog(display, "wm state .")
    assert sent is not None, "no window"
    return sent[0][0]


def test_progress_shows_the_count_and_esc_stops_once(xvfb: str) -> None:
    with window(xvfb, line(PROGRESS)) as shown:
        shown.write(line({"done": 2, "current": "QĐ-122.pdf"}))
        shown.write(line({"done": 3, "current": "QĐ-123.pdf"}))
        wait_for_dialog(xvfb)
        said = wait_for_text(xvfb, "Đã ký 3/20 tài liệu")
        assert "Đang ký tài liệu" in said and "example.gov.vn" in said
        assert "Đang ký: QĐ-123.pdf" in said
        inspected = inspect_dialog(xvfb)
        assert inspected is not None and inspected["topmost"] is True
        title = xdotool(xvfb, "search", "--onlyvisible", "--name", "Kyso Agent")
        assert title.returncode == 0 and title.stdout.split()
        assert button(xvfb)[2:] == (False, "Dừng")

        assert xdotool(xvfb, "key", "Escape").returncode == 0
        shown.wait_output(STOP)
        wait_for_text(xvfb, "Đang dừng sau tài liệu đang ký…")
        x, y, disabled, _ = button(xvfb)
        assert disabled, "Stop is pressed once"
        # Esc again, a click on the disabled button: still the one line.
        xdotool(xvfb, "key", "Escape")
        xdotool(xvfb, "mousemove", str(x), str(y), "click", "1")
        # The current document goes on; the window shows it until the agent closes its input.
        shown.write(line({"done": 4}))
        wait_for_text(xvfb, "Đã ký 4/20 tài liệu")
        assert shown.process.poll() is None, "the window waits for the agent"
        assert bytes(shown.output) == STOP

        shown.close_input()
        assert shown.exit_code() == 0, shown.stderr()
        assert bytes(shown.output) == STOP


def test_wait_for_the_token_through_the_dialogs_command_and_cancel_by_click(xvfb: str) -> None:
    with window(xvfb, line(WAIT), DIALOG) as shown:
        wait_for_dialog(xvfb)
        said = texts(xvfb)
        assert "Hãy cắm USB token" in said and "example.gov.vn" in said
        assert "Token chứa chứng thư số của: Nguyễn Văn An" in said
        assert "Tự động hủy sau 2:00" in said or "Tự động hủy sau 1:5" in said
        x, y, disabled, label = button(xvfb)
        assert (disabled, label) == (False, "Hủy")

        assert xdotool(xvfb, "mousemove", str(x), str(y), "click", "1").returncode == 0
        shown.wait_output(STOP)
        deadline = time.monotonic() + 10
        while window_state(xvfb) != "withdrawn" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert window_state(xvfb) == "withdrawn", "Cancel closes the window at once"
        assert shown.process.poll() is None, "the process waits for the agent"

        shown.close_input()
        assert shown.exit_code() == 0, shown.stderr()
        assert bytes(shown.output) == STOP


def test_wait_for_the_token_in_english_cancelled_by_esc(xvfb: str) -> None:
    with window(xvfb, line({**WAIT, "lang": "en"})) as shown:
        wait_for_dialog(xvfb)
        said = texts(xvfb)
        assert "Plug in your USB token" in said
        assert "Token with the certificate of: Nguyễn Văn An" in said
        assert button(xvfb)[3] == "Cancel"
        assert xdotool(xvfb, "key", "Escape").returncode == 0
        shown.wait_output(STOP)
        shown.close_input()
        assert shown.exit_code() == 0, shown.stderr()
        assert bytes(shown.output) == STOP


@pytest.mark.parametrize("first", [PROGRESS, WAIT], ids=["progress", "wait-token"])
@pytest.mark.parametrize("command", [ACTIVITY, DIALOG], ids=["activity", "dialog"])
def test_the_end_of_input_closes_the_window_without_a_word(
    xvfb: str, first: dict[str, Any], command: tuple[str, ...]
) -> None:
    with window(xvfb, line(first), command) as shown:
        wait_for_dialog(xvfb)
        shown.close_input()
        assert shown.exit_code() == 0, shown.stderr()
        assert bytes(shown.output) == b""


def test_two_thousand_fast_updates_and_junk_do_not_hold_the_window(xvfb: str) -> None:
    steps = b"".join(line({"done": n // 100, "current": f"hash-{n}"}) for n in range(2000))
    junk = b"garbage\n" + b'{"done": "x"}\n' + b"x" * (200 * 1024) + b"\n" + b"[1]\n"
    with window(xvfb, line(PROGRESS)) as shown:
        wait_for_dialog(xvfb)
        shown.write(steps + junk + line({"done": 20}))
        wait_for_text(xvfb, "Đã ký 20/20 tài liệu")
        assert "Đã ký xong." in texts(xvfb)
        shown.close_input()
        assert shown.exit_code(timeout=20) == 0, shown.stderr()
        assert bytes(shown.output) == b""


def test_updates_written_before_the_window_shows_are_not_lost(xvfb: str) -> None:
    steps = b"".join(line({"done": n}) for n in range(1, 6))
    with window(xvfb, line(PROGRESS) + steps, DIALOG) as shown:
        wait_for_dialog(xvfb)
        wait_for_text(xvfb, "Đã ký 5/20 tài liệu")
        shown.close_input()
        assert shown.exit_code() == 0, shown.stderr()


@pytest.mark.parametrize(
    "first",
    [
        b'{"action": "dance", "origin": "https://a.vn"}\n',
        b'{"action": "progress", "origin": "https://a.vn"}\n',
        b"not json\n",
        b"",
    ],
)
def test_a_first_line_that_is_no_activity_ends_with_2_and_no_window(
    xvfb: str, first: bytes
) -> None:
    with window(xvfb, first) as shown:
        shown.close_input()
        assert shown.exit_code() == 2
        assert xdotool(xvfb, "search", "--name", "Kyso Agent").stdout == ""
        assert bytes(shown.output) == b""


def test_an_activity_through_the_dialog_with_a_bad_field_ends_with_2(xvfb: str) -> None:
    with window(xvfb, b'{"action": "wait-token", "origin": "https://a.vn"}\n', DIALOG) as shown:
        assert shown.exit_code() == 2, "stdin still open: the window did not wait for more"


def test_the_wait_goes_by_itself_when_the_agent_never_closes_its_input(xvfb: str) -> None:
    with window(xvfb, line({**WAIT, "seconds": 1})) as shown:
        wait_for_dialog(xvfb)
        # The countdown ends, then the grace period: the process ends though stdin is open.
        assert shown.exit_code(timeout=20) == 3, shown.stderr()
        assert bytes(shown.output) == b""


@pytest.mark.parametrize("trailer", [b"", b"\n"], ids=["no-newline", "newline"])
def test_a_question_still_reaches_the_consent_dialog(
    xvfb: str, tmp_path: Path, trailer: bytes
) -> None:
    question = {**screenshots.STATES["sign-single"], "lang": "vi"}
    for n, raw in enumerate(
        (
            json.dumps(question, ensure_ascii=False).encode() + trailer,
            json.dumps(question, ensure_ascii=False, indent=2).encode() + trailer,
        )
    ):
        out = tmp_path / f"q{n}.png"
        done = subprocess.run(
            [sys.executable, "-m", "agent.ui.dialog", "--screenshot", str(out)],
            input=raw,
            env={**os.environ, "DISPLAY": xvfb},
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 0


def test_the_screenshots_of_both_windows(tmp_path: Path, xvfb: str) -> None:
    written = screenshots.render_activities(tmp_path, xvfb)
    assert {p.name for p in written} == {
        f"{state}-{lang}.png" for state in ("wait-token", "progress") for lang in ("vi", "en")
    }
    for path in written:
        with Image.open(path) as picture:
            width, height = picture.size
        assert 300 < width < 800 and 150 < height < 600, (path.name, picture.size)
