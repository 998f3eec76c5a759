"""The real dialog under Xvfb shows the page a PDF's stamp goes on and opens the document.

The agent runs without ``--prompter`` on a private X display; the test reads the window through
Tk's ``send`` (tests/desktop/test_dialog.py) and presses keys with xdotool.

The OS viewer is a mock: ``xdg-open`` is found first on ``PATH`` in a directory of the test,
as a shell script that records the path it was given and a copy of what it found there, and
prints on its standard output and error (which must not reach the agent: the dialog's standard
output is its answer). What the real ``xdg-open`` then does (start the desktop's PDF viewer) is
the desktop's business, not the agent's.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PIN, AgentProcess, Response, SessionToken, start_agent
from tests.desktop import screenshots
from tests.desktop.test_dialog import inspect_dialog, send_to_dialog, wait_for_dialog, xdotool
from tests.placement_pdfs import Page, body_text, build
from tests.verify import b64, der

pytestmark = pytest.mark.desktop

STAMP = (380.0, 90.0, 530.0, 150.0)

# Every label showing an image: the image's size, a pixel of it, whether the label is on screen.
_IMAGES = """
proc kyso_images {w x y} {
    set out {}
    foreach c [winfo children $w] {
        if {[winfo class $c] eq {Label} && [$c cget -image] ne {}} {
            set img [$c cget -image]
            lappend out [list [image width $img] [image height $img] [winfo ismapped $c] \
                [$img get $x $y]]
        }
        set out [concat $out [kyso_images $c $x $y]]
    }
    return $out
}
"""


def images(display: str, x: int, y: int) -> list[tuple[int, int, bool, tuple[int, ...]]]:
    """(width, height, on screen, RGB at x, y) of every image the open dialog shows."""
    sent = send_to_dialog(display, _IMAGES + f"kyso_images . {x} {y}")
    assert sent is not None, "no dialog"
    found = []
    for item in sent[0][1]:
        width, height, mapped, *rgb = item.replace("{", " ").replace("}", " ").split()
        found.append((int(width), int(height), mapped == "1", tuple(int(v) for v in rgb)))
    return found


def focus_class(display: str) -> str:
    sent = send_to_dialog(display, "winfo class [focus]")
    assert sent is not None
    return sent[0][0]


@pytest.fixture
def fake_viewer(tmp_path: Path) -> tuple[Path, Path]:
    """A directory with the mock ``xdg-open``, and the file it records in (one line a call:
    the path it got; ``viewer.txt.N.pdf`` beside it: what the path held, copied before the line
    is written, so that a test that sees the line finds the copy)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    record = tmp_path / "viewer.txt"
    script = folder / "xdg-open"
    script.write_text(
        "#!/bin/sh\n"
        f'record="{record}"\n'
        'calls=$(cat "$record" 2>/dev/null | wc -l | tr -d " ")\n'
        'cp "$1" "$record.$((calls + 1)).pdf"\n'
        'printf "%s\\n" "$1" >> "$record"\n'
        'echo "not an answer"\n'
        'echo "viewer noise" >&2\n'
    )
    script.chmod(0o755)
    return folder, record


def opened(record: Path, count: int, timeout: float = 10) -> list[str]:
    """The paths the mock viewer got, once it got ``count``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if record.exists():
            lines = record.read_text("utf-8").splitlines()
            if len(lines) >= count:
                return lines
        time.sleep(0.1)
    raise AssertionError(f"the viewer was not started {count} time(s)")


def three_pages() -> bytes:
    return build([body_text(Page(), top=780, bottom=600) for _ in range(3)])


@contextmanager
def dialog_agent(
    token: SessionToken, root: Path, display: str, viewer_bin: Path
) -> Iterator[tuple[AgentProcess, Path]]:
    """The agent with its dialog on ``display``, the mock viewer first on PATH, and its own
    temporary directory (where the copies go)."""
    temp = root / "tmp"
    temp.mkdir(mode=0o700, parents=True)
    running = start_agent(
        root / "agent",
        token.hsm,
        "--lang",
        "vi",
        scripted=False,
        env={
            "DISPLAY": display,
            "PATH": f"{viewer_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "TMPDIR": str(temp),
        },
        policy={"cancel_backoff_seconds": 0},
    )
    try:
        yield running, temp
    finally:
        running.stop()


def test_the_dialog_shows_the_stamps_page_and_opens_the_document_in_the_viewer(
    token: SessionToken, tmp_path: Path, xvfb: str, fake_viewer: tuple[Path, Path]
) -> None:
    viewer_bin, record = fake_viewer
    pdf = three_pages()
    body = {
        "pdf": b64(pdf),
        "certificate": b64(der(token.rsa)),
        "documentName": "QĐ-7.pdf",
        "appearance": {"profile": "personal", "page": 2, "rect": list(STAMP)},
    }
    with dialog_agent(token, tmp_path, xvfb, viewer_bin) as (running, temp):
        result: list[Response] = []
        worker = threading.Thread(target=lambda: result.append(running.post("/v1/pdf/sign", body)))
        worker.start()
        try:
            wait_for_dialog(xvfb)
            shown = inspect_dialog(xvfb)
            assert shown is not None
            assert "Trang 2/3 — khung đỏ là chỗ đặt chữ ký." in shown["texts"]
            assert "Mở tài liệu…" in shown["texts"]
            # The page, A4 portrait at 260 pixels, and on it the stamp's red outline: the left
            # edge of the box at STAMP, in the middle of its height.
            scale = 260 / 842
            x = int(STAMP[0] * scale)
            y = int((842 - (STAMP[1] + STAMP[3]) / 2) * scale)
            [(width, height, on_screen, rgb)] = images(xvfb, x, y)
            assert (width, height, on_screen) == (184, 260, True)
            assert rgb[0] > 180 and rgb[1] < 80 and rgb[2] < 80, rgb

            # Alt + the underlined letter opens the document.
            xdotool(xvfb, "key", "alt+m")
            [path] = opened(record, 1)
            copy = Path(path)
            assert copy.parent.parent == temp and copy.name == "QĐ-7.pdf"
            assert Path(f"{record}.1.pdf").read_bytes() == pdf
            # (The dialog then stops being always on top; without a window manager, as here,
            # X keeps that state as it was, so it is not checked.)
            # Keyboard only: Shift+Tab from the PIN field reaches the button, Space presses it.
            xdotool(xvfb, "key", "shift+Tab")
            assert focus_class(xvfb) == "TButton"
            xdotool(xvfb, "key", "space")
            assert opened(record, 2) == [path, path]
            # Enter still signs (back in the PIN field).
            xdotool(xvfb, "key", "Tab")
            assert focus_class(xvfb) == "TEntry"
            xdotool(xvfb, "type", "--delay", "20", PIN)
            xdotool(xvfb, "key", "Return")
        finally:
            if worker.is_alive():
                xdotool(xvfb, "key", "Escape")  # a failed check: end the question
            worker.join(60)
        [response] = result
        # The mock viewer's output went nowhere near the dialog's answer.
        assert response.status == 200, response.body[:300]
        assert base64.b64decode(response.json["pdf"]).startswith(pdf)
        assert not copy.exists() and list(temp.glob("kyso-agent-view-*")) == []


def test_the_dialog_offers_to_open_only_the_agents_own_copy(
    tmp_path: Path, xvfb: str, fake_viewer: tuple[Path, Path]
) -> None:
    """A question naming any other file (here a PDF of the test's) gets no button, and the
    keys that would press it start nothing."""
    viewer_bin, record = fake_viewer
    elsewhere = tmp_path / "elsewhere.pdf"
    elsewhere.write_bytes(three_pages())
    with screenshots.with_pdf_preview(screenshots.STATES["sign-pdf-preview"]) as prepared:
        question = {**prepared, "lang": "vi"}
        question["documents"][0]["file"] = str(elsewhere)
        dialog = subprocess.Popen(
            [sys.executable, "-m", "agent.ui.dialog", "--timeout", "60"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "DISPLAY": xvfb, "PATH": f"{viewer_bin}{os.pathsep}/usr/bin:/bin"},
        )
        try:
            assert dialog.stdin is not None
            dialog.stdin.write(json.dumps(question).encode())
            dialog.stdin.close()
            wait_for_dialog(xvfb)
            shown = inspect_dialog(xvfb)
            assert shown is not None
            assert "Mở tài liệu…" not in shown["texts"]
            assert any(t.startswith("Trang 2/2") for t in shown["texts"]), "the page still shows"
            xdotool(xvfb, "key", "alt+m")
            time.sleep(1.0)
            assert not record.exists(), "no viewer started"
            xdotool(xvfb, "key", "Escape")
            assert dialog.stdout is not None
            answer = dialog.stdout.read()
            assert dialog.wait(20) == 0
        finally:
            if dialog.poll() is None:
                dialog.kill()
                dialog.wait()
            if dialog.stdout is not None:
                dialog.stdout.close()
    assert json.loads(answer) == {"approved": False}
