"""What the consent dialog shows and answers, without a display (agent.ui.dialog_model)."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime

import pytest

from agent.algorithms import HashAlgorithm
from agent.app import make_prompter
from agent.config import AgentConfig
from agent.consent.external import ExternalPrompter
from agent.consent.prompter import (
    CertificateChoice,
    DocumentView,
    PinRequest,
    PromptAction,
    PromptRequest,
    RetryReason,
    parse_answer,
)
from agent.messages import Lang, keys, languages_of
from agent.pin import TriesLeft
from agent.protocol import MAX_BATCH_ITEMS, MAX_DOCUMENT_NAME, MAX_XML_BATCH
from agent.ui.dialog_model import (
    MAX_QUESTION_BYTES,
    AnswerRefused,
    InvalidQuestion,
    OriginView,
    PinField,
    Tone,
    build_answer,
    cancel_answer,
    countdown_text,
    describe,
    fingerprint,
    parse_question,
    registrable_domain,
    split_origin,
)
from agent.ui.display import display_available
from agent.ui.prompter import DialogPrompter, dialog_command
from agent.xml.summary import MAX_FIELD_CHARS, Party, XmlKind, XmlSummary, summary_lines

DIGEST = bytes.fromhex("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
AN = CertificateChoice(
    id="id-an",
    subject="CN=Nguyễn Văn An,O=UBND tỉnh Thừa Thiên Huế,C=VN",
    issuer="CN=Kyso Test CA,O=Kyso,C=VN",
    not_after=datetime(2028, 11, 28, 6, 37, 7, tzinfo=UTC),
    token="KYSO-TEST",
)
BINH = CertificateChoice(
    id="id-binh",
    subject="CN=Trần Thị Bình,C=VN",
    issuer="CN=Kyso Test CA",
    not_after=datetime(2027, 3, 15, 12, 0, tzinfo=UTC),
    token="KYSO-TEST",
)
PIN_OK = PinRequest(required=True, pinpad=False, tries_left=TriesLeft.OK)


def sign(lang: Lang = Lang.VI, **changes: object) -> PromptRequest:
    request = PromptRequest(
        action=PromptAction.SIGN,
        origin="https://portal.example.gov.vn",
        certificates=(AN,),
        documents=(DocumentView("QĐ-123.pdf", DIGEST, HashAlgorithm.SHA256),),
        pin=PIN_OK,
        lang=lang,
    )
    return dataclasses.replace(request, **changes)  # type: ignore[arg-type]


def select(lang: Lang = Lang.VI) -> PromptRequest:
    return PromptRequest(
        PromptAction.SELECT_CERTIFICATE, "https://dichvucong.hue.gov.vn", (AN, BINH), lang=lang
    )


# --- origin ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("portal.example.gov.vn", "example.gov.vn"),
        ("a.b.hue.gov.vn", "hue.gov.vn"),
        ("dichvucong.gov.vn", "dichvucong.gov.vn"),
        ("shop.abc.com.vn", "abc.com.vn"),
        ("lms.hust.edu.vn", "hust.edu.vn"),
        ("www.vnpt.vn", "vnpt.vn"),
        ("gov.vn", "gov.vn"),
        ("sub.example.com", "example.com"),
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("intranet", "intranet"),
    ],
)
def test_registrable_domain(host: str, domain: str) -> None:
    assert registrable_domain(host) == domain


@pytest.mark.parametrize(
    ("origin", "parts"),
    [
        ("https://portal.example.gov.vn", ("https://portal.", "example.gov.vn", "")),
        ("https://a.hue.gov.vn:8443", ("https://a.", "hue.gov.vn", ":8443")),
        ("https://example.gov.vn", ("https://", "example.gov.vn", "")),
        ("http://localhost:3000", ("http://", "localhost", ":3000")),
        ("http://127.0.0.1", ("http://", "127.0.0.1", "")),
        ("https://[::1]:9443", ("https://", "[::1]", ":9443")),
        ("chrome-extension://abcdef", ("", "chrome-extension://abcdef", "")),
    ],
)
def test_origin_is_split_around_the_registrable_domain(
    origin: str, parts: tuple[str, str, str]
) -> None:
    view = split_origin(origin)
    assert view == OriginView(*parts)
    assert view.full == origin


# --- documents and certificates ------------------------------------------------------------------


def test_fingerprint_shows_the_first_eight_and_last_four_hex_digits() -> None:
    assert fingerprint(DIGEST) == "2CF2 4DBA … 9824"
    assert fingerprint(bytes.fromhex("abcd")) == "ABCD"


@pytest.mark.parametrize(
    ("lang", "heading", "fingerprint_line", "approve"),
    [
        (Lang.VI, "Tài liệu sẽ ký:", "Mã băm SHA-256: 2CF2 4DBA … 9824", "Ký"),
        (Lang.EN, "Document to sign:", "SHA-256 fingerprint: 2CF2 4DBA … 9824", "Sign"),
    ],
)
def test_sign_single_document(
    lang: Lang, heading: str, fingerprint_line: str, approve: str
) -> None:
    view = describe(sign(lang))
    assert "Kyso Agent" in view.window_title
    assert view.origin == OriginView("https://portal.", "example.gov.vn", "")
    assert view.documents_heading == heading
    assert [(d.name, d.fingerprint) for d in view.documents] == [("QĐ-123.pdf", fingerprint_line)]
    assert view.documents_scroll == ""
    assert view.notices == ()
    assert view.pin.field is PinField.ENTRY
    assert view.pin.notes == ()
    assert not view.pin.final_try
    assert not view.chooser
    assert view.approve_label == approve
    assert view.keys_hint == f"Enter = {approve} · Esc = {view.cancel_label}"


def test_certificate_shows_holder_organisation_issuer_and_end_date() -> None:
    vi = describe(sign()).certificates[0]
    assert vi.holder == "Nguyễn Văn An"
    assert vi.lines == (
        "Đơn vị: UBND tỉnh Thừa Thiên Huế",
        "Cấp bởi: Kyso Test CA",
        "Hiệu lực đến: 28/11/2028",
        "Token: KYSO-TEST",
    )
    en = describe(sign(Lang.EN, certificates=(BINH,))).certificates[0]
    assert en.holder == "Trần Thị Bình"
    assert en.lines == ("Issued by: Kyso Test CA", "Valid until: 2027-03-15", "Token: KYSO-TEST")


def test_certificate_without_common_name_shows_its_subject() -> None:
    odd = dataclasses.replace(AN, subject="O=Sở Nội vụ,C=VN", issuer="O=Some CA")
    view = describe(sign(certificates=(odd,))).certificates[0]
    assert view.holder == "O=Sở Nội vụ,C=VN"
    assert "Cấp bởi: O=Some CA" in view.lines


@pytest.mark.parametrize(
    ("lang", "heading", "scroll"),
    [
        (Lang.VI, "7 tài liệu sẽ được ký:", "Cuộn để xem đủ 7 tài liệu."),
        (Lang.EN, "7 documents will be signed:", "Scroll to see all 7 documents."),
    ],
)
def test_batch_lists_every_document_and_scrolls_when_long(
    lang: Lang, heading: str, scroll: str
) -> None:
    documents = tuple(
        DocumentView(f"QĐ-{n}.pdf" if n != 2 else None, bytes([n]) * 32, HashAlgorithm.SHA256)
        for n in range(7)
    )
    view = describe(sign(lang, documents=documents))
    assert view.documents_heading == heading
    assert len(view.documents) == 7, "every document is listed, none summed up"
    assert view.documents[2].name == ("(không tên)" if lang is Lang.VI else "(unnamed)")
    assert view.documents[6].name == "QĐ-6.pdf"
    assert view.documents_scroll == scroll


def test_a_short_batch_is_listed_without_a_scrolled_box() -> None:
    # Six lines at two per document (name, fingerprint): within MAX_INLINE_DOCUMENT_LINES.
    documents = tuple(
        DocumentView(f"QĐ-{n}.pdf", bytes([n]) * 32, HashAlgorithm.SHA256) for n in range(3)
    )
    assert describe(sign(documents=documents)).documents_scroll == ""
    # One invoice with its summary lines stays inline; two of them need the box.
    invoice = DocumentView(
        "HĐ 1.xml", DIGEST, HashAlgorithm.SHA256, summary=tuple(f"line {n}" for n in range(7))
    )
    assert describe(sign(documents=(invoice,))).documents_scroll == ""
    assert describe(sign(documents=(invoice, invoice))).documents_scroll != ""


def _largest_question(documents: tuple[DocumentView, ...]) -> bytes:
    """The question as ExternalPrompter writes it."""
    request = sign(documents=documents, certificates=(AN, BINH))
    return json.dumps(request.to_wire(), ensure_ascii=False).encode("utf-8")


def test_the_largest_question_the_agent_can_ask_fits_the_dialogs_limit() -> None:
    # Names as long as the API allows, in three-byte characters; every summary field as long
    # as the summary keeps it, also in three-byte characters.
    name = "Ữ" * MAX_DOCUMENT_NAME
    field = "Ữ" * MAX_FIELD_CHARS
    party = Party(field, field)
    invoice = XmlSummary(
        kind=XmlKind.INVOICE,
        root="HDon",
        signed_id=field,
        form=field,
        serial=field,
        number=field,
        issued=field,
        currency=field,
        total=field,
        seller=party,
        buyer=party,
    )
    lines = summary_lines(invoice, Lang.VI)
    assert len(lines) >= 6
    hashes = tuple(
        DocumentView(name, bytes(64), HashAlgorithm.SHA512) for _ in range(MAX_BATCH_ITEMS)
    )
    invoices = tuple(
        DocumentView(name, bytes(32), HashAlgorithm.SHA256, summary=lines)
        for _ in range(MAX_XML_BATCH)
    )
    for documents in (hashes, invoices):
        question = _largest_question(documents)
        assert len(question) < MAX_QUESTION_BYTES // 2
        view = describe(parse_question(json.loads(question)))
        assert len(view.documents) == len(documents)
        assert view.documents_scroll


@pytest.mark.parametrize(
    ("lang", "heading", "approve"),
    [
        (Lang.VI, "Chọn chứng thư số (2):", "Đồng ý"),
        (Lang.EN, "Choose a certificate (2):", "Allow"),
    ],
)
def test_select_certificate_offers_a_chooser_and_no_pin(
    lang: Lang, heading: str, approve: str
) -> None:
    view = describe(select(lang))
    assert view.chooser
    assert view.certificates_heading == heading
    assert [c.holder for c in view.certificates] == ["Nguyễn Văn An", "Trần Thị Bình"]
    assert view.documents == () and view.documents_heading == ""
    assert view.pin.field is PinField.NONE
    assert view.approve_label == approve
    assert "Kyso Agent" in view.window_title
    assert build_answer(view, 1, "", final_tick=False) == {
        "approved": True,
        "certificateId": "id-binh",
    }


# --- PIN states ------------------------------------------------------------------------------


def test_approve_needs_the_pin() -> None:
    view = describe(sign())
    with pytest.raises(AnswerRefused, match=r"^Hãy nhập mã PIN\.$"):
        build_answer(view, 0, "", final_tick=False)
    answer = build_answer(view, 0, "246810", final_tick=False)
    assert answer == {"approved": True, "certificateId": "id-an", "pin": "246810"}
    parsed = parse_answer(answer)
    assert parsed.approved and parsed.certificate_id == "id-an"
    assert parsed.pin is not None and parsed.pin.reveal() == b"246810"


def test_no_certificate_chosen_is_refused() -> None:
    with pytest.raises(AnswerRefused, match="Choose a certificate"):
        build_answer(describe(select(Lang.EN)), None, "", final_tick=False)
    with pytest.raises(AnswerRefused):
        build_answer(describe(select(Lang.EN)), 2, "", final_tick=False)


@pytest.mark.parametrize(
    ("lang", "warning"),
    [
        (Lang.VI, "Cảnh báo: chỉ còn ít lần nhập mã PIN. Hãy nhập cẩn thận."),
        (Lang.EN, "Warning: few PIN attempts remain. Type carefully."),
    ],
)
def test_low_tries_warn(lang: Lang, warning: str) -> None:
    view = describe(sign(lang, pin=dataclasses.replace(PIN_OK, tries_left=TriesLeft.LOW)))
    assert [(n.text, n.tone) for n in view.pin.notes] == [(warning, Tone.WARNING)]
    assert not view.pin.final_try
    assert build_answer(view, 0, "1", final_tick=False)["pin"] == "1"


@pytest.mark.parametrize(
    ("lang", "warning", "tick", "refusal"),
    [
        (
            Lang.VI,
            "CẢNH BÁO: đây là lần nhập mã PIN cuối cùng. Nếu sai, token sẽ bị khóa.",
            "Tôi hiểu và vẫn muốn thử lần cuối",
            "Hãy đánh dấu ô xác nhận để thử lần cuối.",
        ),
        (
            Lang.EN,
            "WARNING: this is the final PIN attempt. A wrong PIN locks the token.",
            "I understand and want to make the final attempt",
            "Tick the box to make the final attempt.",
        ),
    ],
)
def test_final_try_is_red_and_needs_the_tick(
    lang: Lang, warning: str, tick: str, refusal: str
) -> None:
    view = describe(sign(lang, pin=dataclasses.replace(PIN_OK, tries_left=TriesLeft.FINAL)))
    assert [(n.text, n.tone) for n in view.pin.notes] == [(warning, Tone.DANGER)]
    assert view.pin.final_try and view.pin.tick_label == tick
    with pytest.raises(AnswerRefused) as refused:
        build_answer(view, 0, "246810", final_tick=False)
    assert str(refused.value) == refusal
    with pytest.raises(AnswerRefused):
        build_answer(view, 0, "", final_tick=True)
    answer = build_answer(view, 0, "246810", final_tick=True)
    assert answer["confirmFinalTry"] is True
    assert parse_answer(answer).final_try_confirmed


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        (Lang.VI, "Sau khi bấm Ký, hãy nhập mã PIN trên bàn phím của đầu đọc."),
        (Lang.EN, "After pressing Sign, enter the PIN on the reader's keypad."),
    ],
)
def test_pinpad_has_no_pin_field(lang: Lang, note: str) -> None:
    pinpad = PinRequest(required=False, pinpad=True, tries_left=TriesLeft.OK)
    view = describe(sign(lang, pin=pinpad))
    assert view.pin.field is PinField.PINPAD
    assert [(n.text, n.tone) for n in view.pin.notes] == [(note, Tone.INFO)]
    assert build_answer(view, 0, "typed anyway", final_tick=False) == {
        "approved": True,
        "certificateId": "id-an",
    }


def test_pinpad_final_try_still_needs_the_tick() -> None:
    pinpad = PinRequest(required=False, pinpad=True, tries_left=TriesLeft.FINAL)
    view = describe(sign(pin=pinpad))
    assert [n.tone for n in view.pin.notes] == [Tone.INFO, Tone.DANGER]
    with pytest.raises(AnswerRefused):
        build_answer(view, 0, "", final_tick=False)
    assert build_answer(view, 0, "", final_tick=True)["confirmFinalTry"] is True


@pytest.mark.parametrize("lang", list(Lang))
def test_cached_pin_says_so_and_needs_no_pin(lang: Lang) -> None:
    cached = PinRequest(required=False, pinpad=False, tries_left=TriesLeft.OK, cached=True)
    view = describe(sign(lang, pin=cached))
    assert view.pin.field is PinField.CACHED
    assert len(view.pin.notes) == 1 and view.pin.notes[0].tone is Tone.INFO
    assert "pin" not in build_answer(view, 0, "", final_tick=False)


@pytest.mark.parametrize(
    ("lang", "retry", "first_use"),
    [
        (
            Lang.VI,
            "Mã PIN vừa nhập không đúng. Hãy nhập lại.",
            "Đây là lần đầu tiên trang này yêu cầu. "
            "Đồng ý cũng là cho phép trang này dùng Kyso Agent từ nay về sau.",
        ),
        (
            Lang.EN,
            "The PIN you entered is incorrect. Please try again.",
            "This is the first request from this portal. "
            "Approving also allows it to use Kyso Agent from now on.",
        ),
    ],
)
def test_retry_and_first_use_notices(lang: Lang, retry: str, first_use: str) -> None:
    view = describe(sign(lang, retry=RetryReason.PIN_INCORRECT, first_use=True))
    assert [(n.text, n.tone) for n in view.notices] == [
        (retry, Tone.DANGER),
        (first_use, Tone.WARNING),
    ]
    assert describe(sign(lang)).notices == ()


def test_cancel_answer() -> None:
    assert cancel_answer() == {"approved": False}
    assert not parse_answer(cancel_answer()).approved


@pytest.mark.parametrize(
    ("remaining", "lang", "shown"),
    [
        (120, Lang.VI, "Tự động hủy sau 2:00"),
        (65.2, Lang.EN, "Cancels by itself in 1:06"),
        (0.1, Lang.EN, "Cancels by itself in 0:01"),
        (-3, Lang.VI, "Tự động hủy sau 0:00"),
    ],
)
def test_countdown_text(remaining: float, lang: Lang, shown: str) -> None:
    assert countdown_text(remaining, lang) == shown


def test_every_dialog_text_is_in_both_languages() -> None:
    dialog_keys = {k for k in keys() if k.startswith("dialog_")}
    assert len(dialog_keys) > 20
    for key in dialog_keys:
        assert languages_of(key) == frozenset(Lang), key


# --- the question on the wire ---------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        sign(),
        sign(Lang.EN, retry=RetryReason.PIN_INCORRECT, first_use=True),
        sign(pin=PinRequest(required=False, pinpad=True, tries_left=TriesLeft.FINAL)),
        sign(documents=(DocumentView(None, b"\1" * 48, HashAlgorithm.SHA384),)),
        select(),
    ],
)
def test_question_round_trips_through_the_wire(request_: PromptRequest) -> None:
    assert parse_question(request_.to_wire()) == request_


@pytest.mark.parametrize(
    "wire",
    [
        [],
        "sign",
        {},
        {"action": "delete", "origin": "https://a.vn", "certificates": []},
        {"action": "sign", "origin": "https://a.vn", "certificates": []},
        {"action": "sign", "origin": "https://a.vn", "certificates": ["x"]},
        {**sign().to_wire(), "documents": [{"digest": "zz", "algorithm": "SHA-256"}]},
        {**sign().to_wire(), "documents": [{"digest": "00", "algorithm": "MD5"}]},
        {**sign().to_wire(), "origin": 7},
        {**sign().to_wire(), "lang": "fr"},
        {**sign().to_wire(), "pin": {"triesLeft": "maybe"}},
    ],
)
def test_malformed_questions_are_refused(wire: object) -> None:
    with pytest.raises(InvalidQuestion):
        parse_question(wire)


# --- who asks --------------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Windows/macOS always have one")
def test_a_display_is_there_when_x11_or_wayland_says_so() -> None:
    assert not display_available({})
    assert display_available({"DISPLAY": ":0"})
    assert display_available({"WAYLAND_DISPLAY": "wayland-0"})


def test_make_prompter_prefers_the_command_then_the_dialog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("agent.ui.display.display_available", lambda: True)
    assert isinstance(make_prompter(AgentConfig()), DialogPrompter)
    configured = make_prompter(AgentConfig(prompter="my-prompter --flag"))
    assert isinstance(configured, ExternalPrompter)
    monkeypatch.setattr("agent.ui.display.display_available", lambda: False)
    assert not isinstance(make_prompter(AgentConfig()), DialogPrompter)


def test_dialog_command_runs_this_python() -> None:
    assert dialog_command(3) == [sys.executable, "-m", "agent.ui.dialog", "--timeout", "3"]
    assert dialog_command(2.5)[-1] == "2.5"


@pytest.mark.parametrize(
    ("lang", "portal", "local"),
    [
        (Lang.VI, "Một trang web yêu cầu bạn ký số", "Bạn đang ký số một tệp trên máy tính này"),
        (Lang.EN, "A web portal asks you to sign", "You are signing a file from this computer"),
    ],
)
def test_a_file_signed_from_this_computer_is_not_called_a_portal_request(
    lang: Lang, portal: str, local: str
) -> None:
    assert describe(sign(lang)).heading == portal
    assert describe(sign(lang, origin="local://kyso-agent")).heading == local


def test_a_document_from_or_to_another_origin_says_so_under_its_name() -> None:
    other = "https://files.example.gov.vn"
    routed = DocumentView("QĐ-123.pdf", DIGEST, HashAlgorithm.SHA256, other, other)
    request = sign(documents=(routed,))
    # The question reaches the dialog process as JSON and comes back the same.
    assert parse_question(request.to_wire()) == request
    [line] = describe(request).documents
    assert line.route == (
        f"Lấy từ: {other} (không phải trang yêu cầu)",
        f"Bản đã ký gửi tới: {other} (không phải trang yêu cầu)",
    )
    [plain] = describe(sign()).documents
    assert plain.route == ()
