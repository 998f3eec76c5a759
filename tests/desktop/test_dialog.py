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
from tests.verify import b64, der, digest_of, verify_with_cryptography
from tests.xmlsig import assert_judges_accept, numbered_invoice

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
proc kyso_masks {w} {
    set out {}
    foreach c [winfo children $w] {
        if {[winfo class $c] in {Entry TEntry}} { lappend out [$c cget -show] }
        set out [concat $out [kyso_masks $c]]
    }
    return $out
}
kyso_masks .
"""

# Runs each Tcl script of argv in the open dialog's interpreter; prints, for each, its result
# as a string and as a Tcl list (exit 1 when there is no dialog, or it closed meanwhile).
_SEND = """
import json, sys, tkinter as tk
root = tk.Tk()
root.withdraw()
names = [str(n) for n in root.winfo_interps() if str(n).startswith("kysoAgent")]
if not names:
    sys.exit(1)
try:
    results = [root.send(names[0], script) for script in sys.argv[1:]]
    print(json.dumps([[str(r), [str(i) for i in root.splitlist(r)]] for r in results]))
except tk.TclError:
    sys.exit(1)
"""


def send_to_dialog(display: str, *scripts: str) -> list[tuple[str, list[str]]] | None:
    """What each Tcl script gives in the open dialog (string, list), or None without one.

    Asked in a child process: Xlib ends a process whose X server goes away, and each
    test's Xvfb does. Tk's ``send`` waits without end for an interpreter that is registered
    but no longer answers (a window closing as another opens): the ask is then given up as
    "no dialog yet", and the caller's own deadline decides.
    """
    try:
        found = subprocess.run(
            [sys.executable, "-c", _SEND, *scripts],
            env={"DISPLAY": display},
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    if found.returncode != 0:
        return None
    return [(raw, items) for raw, items in json.loads(found.stdout)]


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
    """The dialog's window, once it is on screen and has the keyboard.

    Polled rather than ``search --sync``: a window that closes while xdotool walks the tree
    (the last test's dialog) makes it exit on BadWindow, which only means "look again".
    """
    deadline = time.monotonic() + timeout
    windows: list[str] = []
    while not windows:
        assert time.monotonic() < deadline, "no dialog came on screen"
        windows = dialog_windows(display)
        if not windows:
            time.sleep(0.1)
    window = windows[0]
    while time.monotonic() < deadline:
        inspected = inspect_dialog(display)
        if inspected is not None and inspected["focus"]:
            return window
        time.sleep(0.1)
    raise AssertionError("the dialog never took the keyboard focus")


def inspect_dialog(display: str) -> dict[str, Any] | None:
    """What the open dialog shows: its texts, the focused widget, topmost, PIN masking."""
    sent = send_to_dialog(display, _TEXTS, "focus", "wm attributes . -topmost", _MASKS)
    if sent is None:
        return None
    texts, focus, topmost, masks = sent
    return {"texts": texts[1], "focus": focus[0], "topmost": topmost[0] == "1", "masks": masks[1]}


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


# The scrolled document list: its whole text, then the visible fraction (first, last).
_LIST = """
proc kyso_list {w what} {
    foreach c [winfo children $w] {
        if {[winfo class $c] eq {Text}} {
            if {$what eq {text}} { return [$c get 1.0 end-1c] }
            return [$c yview]
        }
        set found [kyso_list $c $what]
        if {$found ne {}} { return $found }
    }
    return {}
}
"""


def ask_dialog(display: str, tcl: str) -> str:
    """The result of ``tcl`` in the open dialog (with :data:`_LIST`'s procedure defined)."""
    sent = send_to_dialog(display, _LIST + tcl)
    assert sent is not None, "no dialog"
    return sent[0][0]


def test_a_batch_of_invoices_is_listed_in_full_and_scrolls_by_keyboard(
    token: SessionToken, tmp_path: Path, xvfb: str
) -> None:
    count = 40
    documents = [
        {"xml": b64(numbered_invoice(n)), "profile": "einvoice", "documentName": f"HĐ số {n}"}
        for n in range(1, count + 1)
    ]
    body = {"documents": documents, "certificate": b64(der(token.rsa))}
    with dialog_agent(token, tmp_path, xvfb) as running:
        result: list[Response] = []
        worker = threading.Thread(
            target=lambda: result.append(running.post("/v1/xml/sign/batch", body))
        )
        worker.start()
        try:
            wait_for_dialog(xvfb)
            listing = ask_dialog(xvfb, "kyso_list . text")
            lines = listing.splitlines()
            # Every invoice by name and by what it says, in order; none summed up.
            assert [line for line in lines if line.startswith("HĐ số ")] == [
                f"HĐ số {n}" for n in range(1, count + 1)
            ]
            assert (
                sum(line == "Bên bán: CÔNG TY TNHH THỬ NGHIỆM (MST 0100000001)" for line in lines)
                == count
            )
            assert f"Số: {count}" in lines
            texts = inspect_dialog(xvfb)
            assert texts is not None
            assert f"Cuộn để xem đủ {count} tài liệu." in texts["texts"]
            # The window stays on the screen; the list shows its top part only.
            height, screen = ask_dialog(
                xvfb, "list [winfo height .] [winfo screenheight .]"
            ).split()
            assert int(height) < int(screen)
            first, last = map(float, ask_dialog(xvfb, "kyso_list . view").split())
            assert first == 0.0 and last < 0.5
            # Keyboard only: Shift+Tab from the PIN field reaches the list, Ctrl+End its end.
            xdotool(xvfb, "key", "shift+Tab")
            xdotool(xvfb, "key", "ctrl+End")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                first, last = map(float, ask_dialog(xvfb, "kyso_list . view").split())
                if last == 1.0:
                    break
                time.sleep(0.1)
            assert last == 1.0 and first > 0.5, (first, last)
            xdotool(xvfb, "key", "Tab")  # back to the PIN field
            xdotool(xvfb, "type", "--delay", "20", PIN)
            xdotool(xvfb, "key", "Return")
        finally:
            worker.join(120)
    [response] = result
    assert response.status == 200, response.body[:500]
    answer = response.json
    assert answer["signed"] == count
    first_signed = base64.b64decode(answer["documents"][0]["xml"])
    last_signed = base64.b64decode(answer["documents"][-1]["xml"])
    assert f"<SHDon>{count}</SHDon>".encode() in last_signed
    for signed in (first_signed, last_signed):
        assert_judges_accept(signed, token.ca.cert)
