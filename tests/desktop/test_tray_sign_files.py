"""The tray's "Ký tệp PDF…" with several files, under Xvfb: the real chooser window and Tk's
file dialog (their own process, as the tray starts them), typed into with xdotool; the tray's
controller signing through a real signing service on SoftHSM with a scripted consent (the
question and the progress window have tests of their own: tests/desktop/test_dialog.py,
tests/desktop/test_activity_window.py). pyHanko judges every file written.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.app import make_service
from agent.config import AgentConfig
from agent.messages import Lang, text
from agent.pdf.verify.check import verify_pdf
from agent.pdf.verify.render import report_to_text
from agent.protocol import PdfVerifyRequest, PdfVerifyResponse
from agent.service import SigningService
from agent.testing.prompter import ScriptedPrompter
from agent.token import Isolation, TokenService
from agent.ui.tray import TrayController
from agent.ui.tray_state import AgentHealth
from tests.conftest import PIN, SessionToken
from tests.desktop.xvfb import xdotool
from tests.pdftools import pyhanko_bottom_line, sample_pdf

pytestmark = pytest.mark.desktop

#: Seconds to wait for a window.
WAIT = 20.0
#: Seconds a window gets, once shown, before keys are sent to it.
SETTLE = 1.0


@dataclass
class RunningAgent:
    """What the controller uses of a running agent."""

    service: SigningService


class Notes:
    """The tray's notifications, as the user would read them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def notify(self, message: str) -> None:
        self.messages.append(message)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The agent's event loop, in a thread of its own as in the tray."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join()
    running.close()


@pytest.fixture
def tokens(token: SessionToken, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenService]:
    for name, value in token.hsm.environ().items():
        monkeypatch.setenv(name, value)
    service = TokenService([token.hsm.module], Isolation.THREAD)
    yield service
    service.close()


def tray(
    tmp_path: Path,
    tokens: TokenService,
    loop: asyncio.AbstractEventLoop,
    prompter: ScriptedPrompter,
) -> tuple[TrayController, Notes]:
    config = AgentConfig(data_dir=tmp_path / "data", check_revocation=False)
    notes = Notes()
    controller = TrayController(config, Lang.EN, notifier=notes)  # type: ignore[arg-type]
    controller.agent = RunningAgent(make_service(config, tokens, prompter))  # type: ignore[assignment]
    controller.loop = loop
    controller.health = AgentHealth(running=True)
    return controller, notes


def window(display: str, title: str) -> str:
    """The id of the window named ``title``, once it is shown and ready for keys (Tk gives
    the keyboard to its first widget a moment after the window appears)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = xdotool(display, "search", "--onlyvisible", "--name", pattern(title)).split()
        if found:
            time.sleep(SETTLE)
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no window {title!r}")


def pattern(title: str) -> str:
    """xdotool's pattern for the window named ``title``. xdotool matches the window's Latin-1
    name (``WM_NAME``), which cannot hold "…": the pattern stops before such a character."""
    plain = title.encode("latin-1", "replace").decode("latin-1").split("?")[0]
    return f"^{re.escape(plain)}" + ("$" if plain == title else "")


def gone(display: str, title: str) -> None:
    """Wait until no window named ``title`` is shown (Tk keeps its file dialog, withdrawn)."""
    deadline = time.monotonic() + WAIT
    while xdotool(display, "search", "--onlyvisible", "--name", pattern(title)).split():
        assert time.monotonic() < deadline, f"the window {title!r} stayed"
        time.sleep(0.2)


def choose_and_sign(display: str, paths: list[Path]) -> None:
    """What the user does: Choose…, several files typed into Tk's dialog (a Tcl list, as the
    dialog itself writes a selection of several), then Sign."""
    sign_title = text("tray_sign_title", Lang.EN)
    chooser = window(display, sign_title)
    xdotool(display, "windowfocus", "--sync", chooser)
    xdotool(display, "key", "Tab", "space")  # the first widget is the Choose button
    dialog_title = text("tray_choose_pdf", Lang.EN)
    dialog = window(display, dialog_title)
    xdotool(display, "windowfocus", "--sync", dialog)
    xdotool(display, "type", "--delay", "5", " ".join(f"{{{p}}}" for p in paths))
    xdotool(display, "key", "Return")
    gone(display, dialog_title)
    xdotool(display, "windowfocus", "--sync", chooser)
    xdotool(display, "key", "Return")
    gone(display, sign_title)


def signing(controller: TrayController) -> threading.Thread:
    """The menu's action, in a thread of its own as the tray runs it."""
    action = threading.Thread(target=controller.sign_pdf, daemon=True)
    action.start()
    return action


def test_several_files_are_signed_after_one_question_and_saved_beside_their_originals(
    *,
    xvfb: str,
    token: SessionToken,
    tokens: TokenService,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISPLAY", xvfb)
    # Names with spaces, as the dialog quotes them in a list. Vietnamese letters are left to
    # tests/unit/test_tray_menu.py: xdotool drops them now and then on a busy machine (it
    # remaps a key for each, and the window may read the keymap after it was put back).
    folder = tmp_path / "Van ban den"
    folder.mkdir()
    paths = [folder / name for name in ("Quyet dinh 12.pdf", "to-trinh.pdf", "bao cao.pdf")]
    for number, path in enumerate(paths, 1):
        path.write_bytes(sample_pdf(pages=number, text=f"Van ban {number}"))
    earlier = folder / "to-trinh-signed.pdf"
    earlier.write_bytes(b"an earlier signed copy")
    prompter = ScriptedPrompter([{"approved": True, "pin": PIN}])
    controller, notes = tray(tmp_path, tokens, loop, prompter)

    action = signing(controller)
    choose_and_sign(xvfb, paths)
    action.join(60)
    assert not action.is_alive()

    # One question listing every file, in the order chosen; the progress named each.
    [question] = prompter.requests
    assert [d.name for d in question.documents] == [p.name for p in paths]
    [progress] = prompter.activities
    assert [s.current for s in progress.steps[:-1]] == [p.name for p in paths]
    saved = [
        folder / "Quyet dinh 12-signed.pdf",
        folder / "to-trinh-signed-2.pdf",  # the name taken is never overwritten
        folder / "bao cao-signed.pdf",
    ]
    assert earlier.read_bytes() == b"an earlier signed copy"
    assert sorted(folder.iterdir()) == sorted([*paths, earlier, *saved]), "no partial file left"
    for original, copy in zip(paths, saved, strict=True):
        signed = copy.read_bytes()
        assert signed.startswith(original.read_bytes()), "incremental update"
        assert pyhanko_bottom_line(signed, token.ca.cert) == [True], copy
    assert notes.messages == [
        "Signed and saved 3 files next to the originals: "
        "Quyet dinh 12-signed.pdf, to-trinh-signed-2.pdf, bao cao-signed.pdf"
    ]

    # "Verify a PDF…" on a copy: its PDF worker reads the file where it is, and reports what
    # the same checks report on its bytes (no trust roots configured: intact, not trusted).
    service = controller.agent.service  # type: ignore[union-attr]
    handed: list[object] = []
    verify = service.verify_pdf

    async def watched(request: PdfVerifyRequest, lang: Lang) -> PdfVerifyResponse:
        handed.append(request.pdf)
        return await verify(request, lang)

    monkeypatch.setattr(service, "verify_pdf", watched)
    expected = verify_pdf(saved[0].read_bytes(), [], fetch_revocation=False)
    assert controller.verify_text(saved[0]) == report_to_text(expected, "en")
    assert handed == [saved[0]], "the file's path, not its bytes read into the tray"
    assert [s.intact for s in expected.signatures] == [True]
    missing = folder / "gone.pdf"
    assert controller.verify_text(missing) == f"{missing}: No such file or directory"


def test_stop_keeps_the_files_signed_and_names_those_that_were_not(
    *,
    xvfb: str,
    token: SessionToken,
    tokens: TokenService,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISPLAY", xvfb)
    paths = [tmp_path / f"{name}.pdf" for name in ("a", "b", "c", "d")]
    for path in paths:
        path.write_bytes(sample_pdf(text=path.stem))
    # Stop pressed while the second file is being signed: it finishes, no other begins.
    prompter = ScriptedPrompter([{"approved": True, "pin": PIN}], activities=[{"stopAt": 1}])
    controller, notes = tray(tmp_path, tokens, loop, prompter)

    action = signing(controller)
    choose_and_sign(xvfb, paths)
    action.join(60)
    assert not action.is_alive()

    assert len(prompter.requests) == 1
    for path in paths[:2]:
        copy = path.with_name(f"{path.stem}-signed.pdf")
        assert pyhanko_bottom_line(copy.read_bytes(), token.ca.cert) == [True]
    assert not any(p.with_name(f"{p.stem}-signed.pdf").exists() for p in paths[2:])
    assert notes.messages == [
        "Signed and saved 2 of 4 files next to the originals: a-signed.pdf, b-signed.pdf. "
        "Not signed: c.pdf, d.pdf (you pressed Stop)."
    ]
