"""The real consent dialog under Xvfb: the agent started without ``--prompter`` on a display.

The test plays the official: it finds the window by its title, types the PIN with
xdotool (real key events to whatever has the keyboard focus, so the dialog must
have taken it), and reads what the window shows through Tk's ``send``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agent.algorithms import HashAlgorithm
from agent.consent.prompter import (
    CertificateChoice,
    DocumentView,
    PromptAction,
    PromptRequest,
)
from agent.ui.prompter import DialogPrompter
from tests.conftest import PIN, PORTAL, WRONG_PIN, AgentProcess, Response, SessionToken, start_agent
from tests.desktop import screenshots
from tests.verify import b64, digest_of, verify_with_cryptography

pytestmark = pytest.mark.desktop

TITLE = "Kyso Agent"
MESSAGE = "Quyết định số 7/QĐ-UBND".encode()
SIGN = {
    "hash": b64(digest_of(MESSAGE)),
    "hashAlgorithm": "SHA-256",
    "documentName": "QĐ-7.pdf",
}

# Every text shown by the dialog, collected in the dialog's own Tk interpreter.
_TEXTS = """
proc kyso_texts {w} {
    set out {}
    foreach c [winfo children $w] {
        if {![catch {$c cget -text} t] && $t ne ""} { lappend out $t }
        set out [concat $out [kyso_texts $c]]
    }
    return $out
}
kyso_texts .
"""
_MASKS = """
set m {}
foreach f [winfo children .] {
    foreach r [winfo children $f] {
        foreach e [winfo children $r] {
            if {[winfo class $e] eq {Entry}} { lappend m [$e cget -show] }
        }
    }
}
set m
"""

_INSPECT = f"""
import json, sys, tkinter as tk
root = tk.Tk()
root.withdraw()
names = [str(n) for n in root.winfo_interps() if str(n).startswith("kysoAgent")]
if not names:
    sys.exit(1)
app = names[0]
try:
    texts = root.splitlist(root.send(app, {_TEXTS!r}))
    focus = root.send(app, "focus")
    topmost = root.send(app, "wm attributes . -topmost")
    masks = root.splitlist(root.send(app, {_MASKS!r}))
except tk.TclError:
    sys.exit(1)  # it closed meanwhile
print(json.dumps({{"texts": [str(t) for t in texts], "focus": str(focus),
                  "topmost": str(topmost) == "1", "masks": [str(m) for m in masks]}}))
"""


def xdotool(display: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run xdotool on ``display``."""
    return subprocess.run(
        ["xdotool", *args],
        env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def dialog_windows(display: str) -> list[str]:
    """Visible windows titled Kyso Agent."""
    found = xdotool(display, "search", "--onlyvisible", "--name", TITLE)
    return found.stdout.split()


def wait_for_dialog(display: str, timeout: float = 20) -> str:
    """The dialog's window, once it is on screen and has the keyboard."""
    found = xdotool(display, "search", "--sync", "--onlyvisible", "--name", TITLE, timeout=timeout)
    assert found.returncode == 0, found.stderr
    window = found.stdout.split()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inspected = inspect_dialog(display)
        if inspected is not None and inspected["focus"]:
            return window
        time.sleep(0.1)
    raise AssertionError("the dialog never took the keyboard focus")


def inspect_dialog(display: str) -> dict[str, Any] | None:
    """What the open dialog shows: its texts, the focused widget, topmost, PIN masking.

    Asked in a child process: Xlib ends a process whose X server goes away, and each
    test's Xvfb does.
    """
    found = subprocess.run(
        [sys.executable, "-c", _INSPECT],
        env={"DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    shown: dict[str, Any] | None = json.loads(found.stdout) if found.returncode == 0 else None
    return shown


@contextmanager
def dialog_agent(
    token: SessionToken, root: Path, display: str, *extra: str
) -> Iterator[AgentProcess]:
    """The agent with its default prompter on ``display``."""
    running = start_agent(
        root,
        token.hsm,
        "--lang",
        "vi",
        *extra,
        scripted=False,
        env={"DISPLAY": display},
        policy={"cancel_backoff_seconds": 0},
    )
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def in_background(
    running: AgentProcess, body: dict[str, object], origin: str = PORTAL
) -> Iterator[list[Response]]:
    """POST /v1/sign on a thread; the list holds the response once the block ends."""
    result: list[Response] = []
    worker = threading.Thread(
        target=lambda: result.append(running.post("/v1/sign", body, origin=origin))
    )
    worker.start()
    try:
        yield result
    finally:
        worker.join(60)
    assert result, "the request did not finish"


def dialog_processes(running: AgentProcess) -> list[str]:
    """Processes the agent started that are still running, but its token module's worker."""
    found = subprocess.run(
        ["pgrep", "-P", str(running.process.pid)], capture_output=True, text=True, check=False
    )
    return [pid for pid in found.stdout.split() if not _is_token_worker(pid)]


def _is_token_worker(pid: str) -> bool:
    try:
        return b"agent.token.host" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def assert_signed(response: Response) -> None:
    assert response.status == 200, response.body
    body = response.json
    certificate = base64.b64decode(body["certificate"])
    verify_with_cryptography(
        certificate, base64.b64decode(body["signature"]), digest_of(MESSAGE), "SHA-256"
    )


def test_typing_the_pin_and_enter_signs(token: SessionToken, tmp_path: Path, xvfb: str) -> None:
    with dialog_agent(token, tmp_path, xvfb) as running:
        with in_background(running, SIGN) as result:
            wait_for_dialog(xvfb)
            shown = inspect_dialog(xvfb)
            assert shown is not None
            texts = " | ".join(shown["texts"])
            assert "example.gov.vn" in texts and "https://portal." in texts
            assert "QĐ-7.pdf" in texts
            assert "Nguyễn Văn An" in texts and "Trần Thị Bình" in texts, "a chooser of two"
            assert "Ký" in texts and "Hủy" in texts
            assert shown["topmost"] is True
            assert shown["masks"] == ["•"], "one PIN field, masked"
            assert str(shown["focus"]).endswith("entry"), shown["focus"]
            assert xdotool(xvfb, "type", "--delay", "20", PIN).returncode == 0
            assert xdotool(xvfb, "key", "Return").returncode == 0
        assert_signed(result[0])
        assert PIN not in running.log_text()


def test_escape_cancels(token: SessionToken, tmp_path: Path, xvfb: str) -> None:
    with dialog_agent(token, tmp_path, xvfb) as running:
        with in_background(running, SIGN) as result:
            wait_for_dialog(xvfb)
            xdotool(xvfb, "key", "Escape")
        assert result[0].status != 200
        assert result[0].error_code == "USER_CANCELLED"
        assert dialog_windows(xvfb) == []


def test_wrong_pin_then_right_pin_signs_and_the_second_dialog_says_so(
    token: SessionToken, tmp_path: Path, xvfb: str
) -> None:
    with dialog_agent(token, tmp_path, xvfb, "--lang", "en") as running:
        with in_background(running, SIGN) as result:
            wait_for_dialog(xvfb)
            first = inspect_dialog(xvfb)
            assert first is not None
            assert not any("incorrect" in t for t in first["texts"])
            xdotool(xvfb, "type", "--delay", "20", WRONG_PIN)
            xdotool(xvfb, "key", "Return")
            # The first dialog closes; the agent asks again with retry PIN_INCORRECT.
            deadline = time.monotonic() + 20
            second = None
            while time.monotonic() < deadline:
                second = inspect_dialog(xvfb)
                if second and any("incorrect" in t for t in second["texts"]):
                    break
                time.sleep(0.1)
            assert second is not None
            assert "The PIN you entered is incorrect. Please try again." in second["texts"]
            wait_for_dialog(xvfb)
            xdotool(xvfb, "type", "--delay", "20", PIN)
            xdotool(xvfb, "key", "Return")
        assert_signed(result[0])


def test_no_answer_times_out_and_leaves_no_dialog_behind(
    token: SessionToken, tmp_path: Path, xvfb: str
) -> None:
    with dialog_agent(token, tmp_path, xvfb, "--prompt-timeout", "3") as running:
        started = time.monotonic()
        with in_background(running, SIGN) as result:
            wait_for_dialog(xvfb)
            shown = inspect_dialog(xvfb)
            assert shown is not None
            assert any(t.startswith("Tự động hủy sau 0:0") for t in shown["texts"])
        assert result[0].error_code == "CONSENT_TIMEOUT"
        assert time.monotonic() - started < 15
        time.sleep(0.5)
        assert dialog_windows(xvfb) == []
        assert dialog_processes(running) == []


def test_two_portals_at_once_get_one_dialog_at_a_time(
    token: SessionToken, tmp_path: Path, xvfb: str
) -> None:
    other = "https://so.tinh.gov.vn"  # through the wildcard entry
    with dialog_agent(token, tmp_path, xvfb) as running:
        with in_background(running, SIGN) as first, in_background(running, SIGN, other) as second:
            wait_for_dialog(xvfb)
            time.sleep(1.0)
            assert len(dialog_windows(xvfb)) == 1
            xdotool(xvfb, "key", "Escape")
            time.sleep(0.3)
            wait_for_dialog(xvfb)
            assert len(dialog_windows(xvfb)) == 1
            xdotool(xvfb, "key", "Escape")
        assert first[0].error_code == second[0].error_code == "USER_CANCELLED"


async def test_dialog_prompter_opens_one_dialog_at_a_time(tmp_path: Path) -> None:
    """The prompter's own lock, with a stand-in dialog that records when it is open."""
    record = tmp_path / "open.jsonl"
    fake = (
        "import json, sys, time; sys.stdin.read(); t = time.monotonic(); time.sleep(0.4); "
        f"open({str(record)!r}, 'a').write(json.dumps([t, time.monotonic()]) + '\\n'); "
        "print(json.dumps({'approved': False}))"
    )
    prompter = DialogPrompter(10, command=[sys.executable, "-c", fake])
    choice = CertificateChoice("id", "CN=A", "CN=CA", datetime(2030, 1, 1, tzinfo=UTC), "T")
    request = PromptRequest(
        PromptAction.SIGN,
        PORTAL,
        (choice,),
        (DocumentView("a.pdf", b"\0" * 32, HashAlgorithm.SHA256),),
    )
    other = PromptRequest(PromptAction.SELECT_CERTIFICATE, "https://so.tinh.gov.vn", (choice,))
    answers = await asyncio.gather(*(prompter.ask(r) for r in (request, other, request)))
    assert [a.approved for a in answers] == [False, False, False]
    spans = sorted(json.loads(line) for line in record.read_text().splitlines())
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, "two dialogs were open at the same time"


def test_screenshot_generator_renders_every_state(tmp_path: Path, xvfb: str) -> None:
    written = screenshots.render_all(tmp_path, xvfb)
    assert {p.name for p in written} == {
        f"{state}-{lang}.png" for state in screenshots.STATES for lang in ("vi", "en")
    }
    for path in written:
        with Image.open(path) as picture:
            width, height = picture.size
        assert 300 < width < 800 and 200 < height < 1000, (path.name, picture.size)
