"""The tray menu as data: built for each state and language, dispatched to a fake controller.

No display: the menu model is pure, and the controller's actions are driven with
fakes for the windows, the clipboard and the running agent.
"""

from __future__ import annotations

import asyncio
import errno
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.errors import AgentError, BadRequest, SigningFailed, UserCancelled
from agent.messages import Lang
from agent.origin import LOCAL_CALLER
from agent.pairing import PairingStore
from agent.pdf.models import Profile
from agent.pin import TriesLeft
from agent.protocol import (
    MAX_PDF_BATCH,
    PdfBatchSignRequest,
    PdfBatchSignResponse,
    PdfSignRequest,
    PdfSignResponse,
)
from agent.status.model import ListenerStatus
from agent.ui import local_signing
from agent.ui.menu import (
    SEPARATOR,
    Action,
    ActionKind,
    MenuInputs,
    MenuItem,
    actions,
    build_menu,
    dispatch,
)
from agent.ui.prefs import TrayPrefs, load_prefs, prefs_path
from agent.ui.sign_file import signed_path
from agent.ui.tray import TrayController, child_pids, effective_lang
from agent.ui.tray_state import AgentHealth, TrayState
from tests.unit.test_tray_state import EMPTY, NOW, inventory


def labels(items: tuple[MenuItem, ...]) -> list[str]:
    return [i.label for i in items if i is not SEPARATOR]


def find(items: tuple[MenuItem, ...], kind: ActionKind) -> MenuItem:
    for item in items:
        if item.action is not None and item.action.kind is kind:
            return item
        if item.submenu:
            try:
                return find(item.submenu, kind)
            except LookupError:
                pass
    raise LookupError(kind)


def menu(state: TrayState, lang: Lang = Lang.VI, **kwargs: Any) -> tuple[MenuItem, ...]:
    inv = kwargs.pop("inventory", inventory(400) if state is not TrayState.NO_TOKEN else EMPTY)
    return build_menu(MenuInputs(state=state, inventory=inv, lang=lang, now=NOW, **kwargs))


def test_vietnamese_menu_has_every_entry_of_the_issue() -> None:
    shown = labels(menu(TrayState.READY))
    for expected in (
        "Ký tệp PDF…",
        "Kiểm tra chữ ký PDF…",
        "Sao chép báo cáo trạng thái",
        "Cổng thông tin đã cho phép",
        "Mở thư mục nhật ký",
        "Khởi động cùng máy tính",
        "Giới thiệu",
        "Thoát",
    ):
        assert expected in shown
    assert any(label.startswith("Token TOKEN-A") for label in shown)
    assert any("Người 0 — hết hạn" in label for label in shown)


def test_english_menu() -> None:
    shown = labels(menu(TrayState.READY, Lang.EN))
    for expected in ("Sign a PDF file…", "Check PDF signatures…", "Copy status report", "Quit"):
        assert expected in shown


@pytest.mark.parametrize("state", list(TrayState))
def test_every_state_builds_a_menu_with_quit_and_a_default(state: TrayState) -> None:
    items = menu(state, agent_running=state is not TrayState.ERROR)
    assert find(items, ActionKind.QUIT).enabled
    assert [i for i in items if i.default] == [find(items, ActionKind.SHOW_STATUS)]


def test_signing_needs_a_token_and_a_running_agent() -> None:
    assert find(menu(TrayState.READY), ActionKind.SIGN_PDF).enabled
    assert not find(menu(TrayState.NO_TOKEN), ActionKind.SIGN_PDF).enabled
    assert not find(menu(TrayState.READY, agent_running=False), ActionKind.SIGN_PDF).enabled
    # Checking a signature needs no token.
    assert find(menu(TrayState.NO_TOKEN), ActionKind.VERIFY_PDF).enabled


def test_no_token_menu_says_so() -> None:
    assert "Chưa cắm USB token" in labels(menu(TrayState.NO_TOKEN))


def test_locked_token_is_marked() -> None:
    locked = inventory(400, tries=TriesLeft.LOCKED)
    shown = labels(menu(TrayState.PIN_LOCKED, Lang.EN, inventory=locked))
    assert "Token TOKEN-A: PIN locked" in shown


def test_expired_certificate_line() -> None:
    shown = labels(menu(TrayState.EXPIRING, Lang.EN, inventory=inventory(-3)))
    assert any("Người 0 — expired" in label for label in shown)


def test_approved_portals_submenu_revokes_each() -> None:
    items = menu(TrayState.READY, paired=("https://a.tinh.gov.vn", "https://b.tinh.gov.vn"))
    portals = next(i for i in items if i.label == "Cổng thông tin đã cho phép")
    assert [p.label for p in portals.submenu] == ["https://a.tinh.gov.vn", "https://b.tinh.gov.vn"]
    assert portals.submenu[1].submenu[0].action == Action(
        ActionKind.REVOKE_ORIGIN, "https://b.tinh.gov.vn"
    )
    empty = next(i for i in menu(TrayState.READY) if i.label == "Cổng thông tin đã cho phép")
    assert not empty.submenu[0].enabled


LISTENERS = (
    ListenerStatus("vgca", "VGCA Sign Service", True, "wss://127.0.0.1:8987"),
    ListenerStatus("vnpt", "VNPT-CA Plugin", True, "wss://127.0.0.1:4434", held=(4433,)),
    ListenerStatus("bkav", "BKAV Signer Plugin", True, None, held=(8443,)),
    ListenerStatus("fpt", "FPT SignPlugin", False, None),
)


@pytest.mark.parametrize(
    ("lang", "heading", "expected"),
    [
        (
            Lang.VI,
            "Tương thích plugin khác",
            [
                "VGCA Sign Service: cổng 8987",
                "VNPT-CA Plugin: cổng 4434 (4433 do chương trình khác giữ)",
                "BKAV Signer Plugin: chưa nghe được (8443 do chương trình khác giữ)",
                "FPT SignPlugin: đã tắt theo chính sách",
            ],
        ),
        (
            Lang.EN,
            "Other plugins' protocols",
            [
                "VGCA Sign Service: port 8987",
                "VNPT-CA Plugin: port 4434 (4433 held by another program)",
                "BKAV Signer Plugin: not listening (8443 held by another program)",
                "FPT SignPlugin: off by policy",
            ],
        ),
    ],
)
def test_the_plugin_layers_submenu_says_which_port_each_one_has(
    lang: Lang, heading: str, expected: list[str]
) -> None:
    items = menu(TrayState.READY, lang, listeners=LISTENERS)
    [layers] = [i for i in items if i.label == heading]
    assert [line.label for line in layers.submenu] == expected
    assert not any(line.enabled for line in layers.submenu), "information, not actions"
    # An agent not started yet has no layers to show: no empty submenu.
    assert heading not in labels(menu(TrayState.READY, lang))


def test_autostart_toggle_carries_the_new_value() -> None:
    off = find(menu(TrayState.READY, autostart=False), ActionKind.SET_AUTOSTART)
    on = find(menu(TrayState.READY, autostart=True), ActionKind.SET_AUTOSTART)
    assert (off.checked, off.action) == (False, Action(ActionKind.SET_AUTOSTART, "on"))
    assert (on.checked, on.action) == (True, Action(ActionKind.SET_AUTOSTART, "off"))
    unsupported = menu(TrayState.READY, autostart_supported=False)
    assert not find(unsupported, ActionKind.SET_AUTOSTART).enabled


def test_language_radio_marks_the_current_one() -> None:
    items = menu(TrayState.READY, Lang.EN)
    langs = next(i for i in items if i.submenu and i.label.startswith("Language"))
    assert [(i.label, i.checked, i.radio) for i in langs.submenu] == [
        ("Tiếng Việt", False, True),
        ("English", True, True),
    ]


@dataclass
class FakeController:
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def show_status(self) -> None:
        self.calls.append(("show_status", None))

    def sign_pdf(self) -> None:
        self.calls.append(("sign_pdf", None))

    def verify_pdf(self) -> None:
        self.calls.append(("verify_pdf", None))

    def copy_status(self) -> None:
        self.calls.append(("copy_status", None))

    def export_support_bundle(self) -> None:
        self.calls.append(("export_support_bundle", None))

    def revoke_origin(self, origin: str) -> None:
        self.calls.append(("revoke_origin", origin))

    def open_logs(self) -> None:
        self.calls.append(("open_logs", None))

    def set_autostart(self, enabled: bool) -> None:
        self.calls.append(("set_autostart", enabled))

    def set_lang(self, lang: Lang) -> None:
        self.calls.append(("set_lang", lang))

    def about(self) -> None:
        self.calls.append(("about", None))

    def quit(self) -> None:
        self.calls.append(("quit", None))


def test_every_menu_action_reaches_the_controller() -> None:
    items = menu(TrayState.READY, paired=("https://a.tinh.gov.vn",))
    fake = FakeController()
    for action in actions(items):
        dispatch(action, fake)
    assert fake.calls == [
        ("show_status", None),
        ("sign_pdf", None),
        ("verify_pdf", None),
        ("copy_status", None),
        ("export_support_bundle", None),
        ("revoke_origin", "https://a.tinh.gov.vn"),
        ("open_logs", None),
        ("set_autostart", True),
        ("set_lang", Lang.VI),
        ("set_lang", Lang.EN),
        ("about", None),
        ("quit", None),
    ]


# The real controller, with fakes around it.


class Recorder:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def notify(self, message: str) -> None:
        self.messages.append(message)


class MemoryAutostart:
    def __init__(self) -> None:
        self.command: list[str] | None = None

    def is_enabled(self) -> bool:
        return self.command is not None

    def enable(self, command: Any) -> None:
        self.command = list(command)

    def disable(self) -> None:
        self.command = None


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join()
    running.close()


def controller(tmp_path: Path, **kwargs: Any) -> tuple[TrayController, Recorder]:
    notes = Recorder()
    made = TrayController(
        AgentConfig(data_dir=tmp_path),
        Lang.EN,
        notifier=notes,  # type: ignore[arg-type]
        switch=MemoryAutostart(),
        clock=lambda: NOW,
        **kwargs,
    )
    return made, notes


class FakeService:
    def __init__(self, fail: bool = False) -> None:
        self.requests: list[PdfSignRequest] = []
        self.fail = fail

    async def sign_pdf(self, caller: Any, request: PdfSignRequest) -> PdfSignResponse:
        self.requests.append(request)
        if self.fail:
            raise UserCancelled("no")
        return PdfSignResponse(request.pdf + b"%signed", b"cert")


@dataclass
class FakeAgent:
    service: FakeService


def test_sign_file_saves_next_to_the_original_without_overwriting(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    tray, notes = controller(tmp_path)
    service = FakeService()
    tray.agent, tray.loop = FakeAgent(service), loop  # type: ignore[assignment]
    tray.health = AgentHealth(running=True)
    source = tmp_path / "Quyết định 12.pdf"
    source.write_bytes(b"%PDF-1.7 fake")
    (tmp_path / "Quyết định 12-signed.pdf").write_bytes(b"an earlier signature")
    saved = tray.sign_file(source, "personal")
    assert saved == tmp_path / "Quyết định 12-signed-2.pdf"
    assert saved.read_bytes() == b"%PDF-1.7 fake%signed"
    assert (tmp_path / "Quyết định 12-signed.pdf").read_bytes() == b"an earlier signature"
    request = service.requests[0]
    assert request.document_name == "Quyết định 12.pdf"
    assert notes.messages == [f"Signed and saved: {saved}"]


def test_sign_file_reports_a_refusal(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    tray, notes = controller(tmp_path)
    tray.agent, tray.loop = FakeAgent(FakeService(fail=True)), loop  # type: ignore[assignment]
    tray.health = AgentHealth(running=True)
    source = tmp_path / "a.pdf"
    source.write_bytes(b"%PDF-1.7 fake")
    assert tray.sign_file(source, "invisible") is None
    assert not (tmp_path / "a-signed.pdf").exists()
    assert notes.messages[0].startswith("The file was not signed: ")


def test_sign_file_without_a_running_agent(tmp_path: Path) -> None:
    tray, notes = controller(tmp_path)
    source = tmp_path / "a.pdf"
    source.write_bytes(b"%PDF-1.7 fake")
    assert tray.sign_file(source, "invisible") is None
    assert notes.messages[0].startswith("The file was not signed")


def test_signed_path_counts_up(tmp_path: Path) -> None:
    original = tmp_path / "x.pdf"
    assert signed_path(original) == tmp_path / "x-signed.pdf"
    (tmp_path / "x-signed.pdf").touch()
    (tmp_path / "x-signed-2.pdf").touch()
    assert signed_path(original) == tmp_path / "x-signed-3.pdf"


def test_revoke_autostart_and_language_actions(tmp_path: Path) -> None:
    tray, notes = controller(tmp_path)
    changes: list[int] = []
    tray.on_change = lambda: changes.append(1)
    PairingStore(tray.config.pairing_file).pair("https://a.tinh.gov.vn")
    dispatch(Action(ActionKind.REVOKE_ORIGIN, "https://a.tinh.gov.vn"), tray)
    assert PairingStore(tray.config.pairing_file).list() == []
    assert notes.messages == ["Revoked https://a.tinh.gov.vn"]
    dispatch(Action(ActionKind.SET_AUTOSTART, "on"), tray)
    assert tray.autostart.is_enabled()
    assert find(tray.menu(), ActionKind.SET_AUTOSTART).checked is True
    dispatch(Action(ActionKind.SET_LANG, "vi"), tray)
    assert tray.lang is Lang.VI
    assert load_prefs(prefs_path(tmp_path)) == TrayPrefs(Lang.VI)
    assert "Thoát" in labels(tray.menu())
    assert len(changes) == 3


def test_language_precedence(tmp_path: Path) -> None:
    config = AgentConfig(data_dir=tmp_path, lang=Lang.VI)
    assert effective_lang(None, TrayPrefs(), config) is Lang.VI
    assert effective_lang(None, TrayPrefs(Lang.EN), config) is Lang.EN
    assert effective_lang("vi", TrayPrefs(Lang.EN), config) is Lang.VI


def test_damaged_prefs_are_ignored(tmp_path: Path) -> None:
    prefs_path(tmp_path).write_text("{not json")
    assert load_prefs(prefs_path(tmp_path)) == TrayPrefs()
    prefs_path(tmp_path).write_text('{"lang": "fr"}')
    assert load_prefs(prefs_path(tmp_path)) == TrayPrefs()


def test_token_events_become_notifications(tmp_path: Path) -> None:
    from agent.token.monitor import TokenEvent, TokenEventKind

    tray, _ = controller(tmp_path)
    inv = inventory(10)
    token = inv.tokens[0]
    cert = inv.certificates[0]
    assert tray.event_message(TokenEvent(TokenEventKind.INSERTED, token)) == (
        "Token TOKEN-A plugged in"
    )
    assert tray.event_message(TokenEvent(TokenEventKind.REMOVED, token)) == "Token TOKEN-A removed"
    expiring = tray.event_message(TokenEvent(TokenEventKind.EXPIRING, token, cert, 10))
    assert expiring.startswith("The certificate of Người 0 expires in 10 days")


def test_child_pids_reads_proc(tmp_path: Path) -> None:
    for pid, parent in ((10, 1), (11, 10), (12, 10)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (py thon) S {parent} 1 1 0")
    (tmp_path / "self").mkdir()
    assert sorted(child_pids(10, tmp_path)) == [11, 12]


# --- several files: one question (agent/ui/local_signing.py) --------------------------------


class BatchService(FakeService):
    """Signs batches; ``ends`` says how each ends (count signed, stopped, error)."""

    def __init__(self, *ends: tuple[int, bool, AgentError | None], refuse: str = "") -> None:
        super().__init__()
        self.ends = list(ends)
        self.refuse = refuse
        self.batches: list[PdfBatchSignRequest] = []

    async def check_pdf(self, request: PdfSignRequest) -> None:
        if request.document_name == self.refuse:
            raise BadRequest("the document's author allows no change")

    async def sign_pdf_batch(
        self, caller: Any, request: PdfBatchSignRequest
    ) -> PdfBatchSignResponse:
        assert caller is LOCAL_CALLER
        self.batches.append(request)
        count, stopped, error = (
            self.ends.pop(0) if self.ends else (len(request.documents), False, None)
        )
        return PdfBatchSignResponse(
            names=tuple(d.document_name for d in request.documents),
            signed=tuple(d.pdf + b"%signed" for d in request.documents[:count]),
            certificate=b"cert",
            stopped=stopped,
            error=error,
        )


def running_tray(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, service: FakeService
) -> tuple[TrayController, Recorder]:
    tray, notes = controller(tmp_path)
    tray.agent, tray.loop = FakeAgent(service), loop  # type: ignore[assignment]
    tray.health = AgentHealth(running=True)
    return tray, notes


def originals(folder: Path, *names: str) -> list[Path]:
    paths = [folder / name for name in names]
    for path in paths:
        path.write_bytes(b"%PDF-1.7 " + path.name.encode())
    return paths


def test_several_files_are_signed_after_one_question_and_saved_beside_each(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    service = BatchService()
    tray, notes = running_tray(tmp_path, loop, service)
    paths = originals(tmp_path, "Quyết định 1.pdf", "b.pdf", "c.pdf")
    (tmp_path / "b-signed.pdf").write_bytes(b"an earlier signature")
    saved = tray.sign_files(paths, "personal")
    [batch] = service.batches
    assert [d.document_name for d in batch.documents] == [p.name for p in paths]
    assert {d.options.appearance.profile for d in batch.documents} == {Profile.PERSONAL}
    assert saved == [
        tmp_path / "Quyết định 1-signed.pdf",
        tmp_path / "b-signed-2.pdf",
        tmp_path / "c-signed.pdf",
    ]
    for original, copy in zip(paths, saved, strict=True):
        assert copy.read_bytes() == original.read_bytes() + b"%signed"
    assert (tmp_path / "b-signed.pdf").read_bytes() == b"an earlier signature"
    assert service.requests == [], "not one question per file"
    assert notes.messages == [
        "Signed and saved 3 files next to the originals: "
        "Quyết định 1-signed.pdf, b-signed-2.pdf, c-signed.pdf"
    ]


def test_the_menu_action_takes_the_files_the_window_chose(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = BatchService()
    tray, _ = running_tray(tmp_path, loop, service)
    paths = originals(tmp_path, "a.pdf", "b.pdf")
    choice = {"paths": [str(p) for p in paths], "profile": "organization"}
    monkeypatch.setattr(tray, "choose_pdf", lambda verify: None if verify else choice)
    tray.sign_pdf()
    [batch] = service.batches
    assert [d.document_name for d in batch.documents] == ["a.pdf", "b.pdf"]
    assert {d.options.appearance.profile for d in batch.documents} == {Profile.ORGANIZATION}


def test_a_file_that_cannot_be_signed_is_named_and_nothing_is_asked(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    service = BatchService(refuse="b.pdf")
    tray, notes = running_tray(tmp_path, loop, service)
    paths = originals(tmp_path, "a.pdf", "b.pdf", "c.pdf")
    assert tray.sign_files(paths, "invisible") == []
    assert service.batches == []
    assert sorted(tmp_path.iterdir()) == sorted(paths)
    [note] = notes.messages
    assert note.startswith("No file was signed: b.pdf: Invalid request: ")


def test_stop_and_a_later_failure_say_what_was_signed_and_what_was_not(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    service = BatchService((1, True, None), (2, False, SigningFailed("the TSA did not answer")))
    tray, notes = running_tray(tmp_path, loop, service)
    stopped = originals(tmp_path, "a.pdf", "b.pdf", "c.pdf")
    assert tray.sign_files(stopped, "invisible") == [tmp_path / "a-signed.pdf"]
    failed = originals(tmp_path, "d.pdf", "e.pdf", "f.pdf")
    assert len(tray.sign_files(failed, "invisible")) == 2
    assert notes.messages[0] == (
        "Signed and saved 1 of 3 files next to the originals: a-signed.pdf. "
        "Not signed: b.pdf, c.pdf (you pressed Stop)."
    )
    assert notes.messages[1].startswith(
        "Signed and saved 2 of 3 files next to the originals: d-signed.pdf, e-signed.pdf. "
        "Not signed: f.pdf (The signature could not be completed: "
    )


def test_a_copy_that_cannot_be_written_ends_the_selection(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = BatchService()
    tray, notes = running_tray(tmp_path, loop, service)
    paths = originals(tmp_path, "a.pdf", "b.pdf", "c.pdf")
    real = local_signing.create_atomically

    def disk_full(path: Path, data: bytes, *, mode: int) -> None:
        if path.name == "b-signed.pdf":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data, mode=mode)

    monkeypatch.setattr(local_signing, "create_atomically", disk_full)
    assert tray.sign_files(paths, "invisible") == [tmp_path / "a-signed.pdf"]
    assert notes.messages == [
        "Signed and saved 1 of 3 files next to the originals: a-signed.pdf. "
        "Not signed: b.pdf, c.pdf (b.pdf: No space left on device)."
    ]


def test_a_large_selection_is_signed_in_parts_a_question_each(tmp_path: Path) -> None:
    many = originals(tmp_path, *(f"{n:03d}.pdf" for n in range(MAX_PDF_BATCH + 2)))
    cut = local_signing.parts(many, max_bytes=10**9)
    assert [len(part) for part in cut] == [MAX_PDF_BATCH, 2]
    size = many[0].stat().st_size
    cut = local_signing.parts(many[:5], max_bytes=2 * size)
    assert [len(part) for part in cut] == [2, 2, 1]
    assert local_signing.parts(many[:2], max_bytes=size - 1) == [[many[0]], [many[1]]]


def test_a_notification_lists_a_few_names_and_counts_the_rest(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    tray, notes = running_tray(tmp_path, loop, BatchService())
    tray.sign_files(originals(tmp_path, *(f"{n}.pdf" for n in range(8))), "invisible")
    assert notes.messages == [
        "Signed and saved 8 files next to the originals: "
        "0-signed.pdf, 1-signed.pdf, 2-signed.pdf, 3-signed.pdf, 4-signed.pdf and 3 more"
    ]
