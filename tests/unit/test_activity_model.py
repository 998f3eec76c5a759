"""What the wait and progress window shows and reads, without a display (activity_model)."""

from __future__ import annotations

import io
import json
import threading

import pytest

from agent.consent.activity import MAX_ACTIVITY_NAME, ActivityKind, ActivityRequest, Step
from agent.messages import Lang
from agent.origin import LOCAL_CALLER
from agent.ui.activity_model import (
    ELLIPSIS,
    MAX_LINE_BYTES,
    STOP_LINE,
    InvalidActivity,
    Latest,
    activity_kind,
    describe_progress,
    describe_wait,
    ellipsize,
    feed,
    holder_of,
    lines,
    parse_request,
    parse_step,
    wait_countdown,
)
from agent.ui.dialog_model import OriginView

ORIGIN = "https://portal.example.gov.vn"
SUBJECT = "CN=Nguyễn Văn An,O=UBND tỉnh,C=VN"


def line(wire: object) -> bytes:
    return json.dumps(wire, ensure_ascii=False).encode() + b"\n"


WAIT = ActivityRequest(ActivityKind.WAIT_TOKEN, ORIGIN, Lang.VI, seconds=120, certificate=SUBJECT)
PROGRESS = ActivityRequest(ActivityKind.PROGRESS, ORIGIN, Lang.VI, total=20)


# --- the first line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [WAIT, PROGRESS, ActivityRequest(ActivityKind.WAIT_TOKEN, ORIGIN, Lang.EN, seconds=5)],
)
def test_the_first_line_the_agent_writes_reads_back_the_same(request_: ActivityRequest) -> None:
    assert parse_request(line(request_.to_wire())) == request_


def test_the_first_line_may_come_without_its_newline() -> None:
    assert parse_request(line(PROGRESS.to_wire()).rstrip()) == PROGRESS


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json\n",
        b"[1, 2]\n",
        b'"progress"\n',
        b"\xff\xfe\n",
        line({"action": "sign", "origin": ORIGIN}),
        line({"action": "select-certificate", "origin": ORIGIN, "certificates": []}),
        line({"origin": ORIGIN, "total": 3}),
        line({"action": 1, "origin": ORIGIN, "total": 3}),
        line({"action": "progress", "total": 3}),
        line({"action": "progress", "origin": "", "total": 3}),
        line({"action": "progress", "origin": ORIGIN}),
        line({"action": "progress", "origin": ORIGIN, "total": -1}),
        line({"action": "progress", "origin": ORIGIN, "total": 2.5}),
        line({"action": "progress", "origin": ORIGIN, "total": True}),
        line({"action": "wait-token", "origin": ORIGIN}),
        line({"action": "wait-token", "origin": ORIGIN, "seconds": "120"}),
        line({"action": "wait-token", "origin": ORIGIN, "seconds": -1}),
        b'{"action": "wait-token", "origin": "x", "seconds": Infinity}\n',
        line({"action": "progress", "origin": ORIGIN, "total": 3, "pad": "x" * MAX_LINE_BYTES}),
        b"[" * 100_000 + b"\n",
    ],
)
def test_a_first_line_that_is_no_activity_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidActivity):
        parse_request(raw)


def test_an_unknown_language_is_spoken_as_vietnamese_and_a_strange_certificate_left_out() -> None:
    request = parse_request(
        line(
            {"action": "wait-token", "origin": ORIGIN, "seconds": 9, "lang": "fr", "certificate": 7}
        )
    )
    assert request.lang is Lang.VI
    assert request.certificate is None


def test_activity_kind_tells_an_activity_from_a_question() -> None:
    assert activity_kind(line(WAIT.to_wire())) is ActivityKind.WAIT_TOKEN
    assert activity_kind(line(PROGRESS.to_wire())) is ActivityKind.PROGRESS
    # A question, its first line only (pretty-printed), garbage, and a long line: not activities.
    assert activity_kind(line({"action": "sign", "origin": ORIGIN})) is None
    assert activity_kind(b"{\n") is None
    assert activity_kind(b"\x00\x01") is None
    assert activity_kind(b"") is None
    assert activity_kind(line({"action": "progress", "pad": "x" * MAX_LINE_BYTES})) is None


# --- the further lines -----------------------------------------------------------------------


def test_a_step_reads_back_the_same() -> None:
    for step in (Step(3, "QĐ-123.pdf"), Step(0), Step(20, None)):
        assert parse_step(line(step.to_wire())) == step


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n",
        b"garbage\n",
        b"\xff\n",
        b"[]\n",
        line({"current": "a.pdf"}),
        line({"done": -1}),
        line({"done": "3"}),
        line({"done": 1.5}),
        line({"done": False}),
        line({"done": 3, "current": 5}),
        line({"done": 3, "current": ["a"]}),
    ],
)
def test_a_malformed_step_is_none(raw: bytes) -> None:
    assert parse_step(raw) is None


def test_a_long_name_is_cut_to_the_protocols_length() -> None:
    step = parse_step(line({"done": 1, "current": "x" * 10_000}))
    assert step is not None and step.current == "x" * MAX_ACTIVITY_NAME


def test_lines_skip_an_over_long_line_whole() -> None:
    huge = b"x" * (3 * MAX_LINE_BYTES) + b"\n"
    exact = b"y" * (MAX_LINE_BYTES - 1) + b"\n"
    stream = io.BytesIO(b"one\n" + huge + b"two\n" + exact + b"three")
    assert list(lines(stream)) == [b"one\n", b"two\n", exact, b"three"]


def test_an_over_long_last_line_without_newline_is_skipped() -> None:
    stream = io.BytesIO(b"one\n" + b"x" * (2 * MAX_LINE_BYTES))
    assert list(lines(stream)) == [b"one\n"]


def test_feed_keeps_only_the_newest_step_and_says_when_the_input_ended() -> None:
    body = b"".join(line(Step(n, f"{n}.pdf").to_wire()) for n in range(2000))
    stream = io.BytesIO(body + b"garbage\n" + b"z" * (MAX_LINE_BYTES + 5) + b"\n")
    latest = Latest()
    feed(stream, latest)
    assert latest.lines == 2001  # the over-long line is never handed on
    assert latest.take() == (Step(1999, "1999.pdf"), True)
    assert latest.take() == (None, True), "a step is taken once"


def test_feed_ends_on_a_read_that_fails() -> None:
    class Broken(io.RawIOBase):
        def readline(self, size: int | None = -1) -> bytes:
            raise OSError("gone")

    latest = Latest()
    feed(Broken(), latest)  # type: ignore[arg-type]
    assert latest.take() == (None, True)


def test_latest_hands_steps_across_threads() -> None:
    latest = Latest()
    seen: list[Step] = []

    def writer() -> None:
        for n in range(1, 5001):
            latest.put(Step(n))
        latest.end()

    thread = threading.Thread(target=writer)
    thread.start()
    ended = False
    while not ended:
        step, ended = latest.take()
        if step is not None:
            seen.append(step)
    step, _ = latest.take()
    if step is not None:
        seen.append(step)
    thread.join()
    assert seen and seen[-1] == Step(5000)
    assert [s.done for s in seen] == sorted(s.done for s in seen)


def test_the_stop_line_is_one_json_line() -> None:
    assert STOP_LINE.endswith(b"\n") and STOP_LINE.count(b"\n") == 1
    assert json.loads(STOP_LINE) == {"stop": True}


# --- what the windows say --------------------------------------------------------------------


def test_the_wait_window_in_vietnamese() -> None:
    view = describe_wait(WAIT)
    assert view.window_title == "Kyso Agent — Đang chờ USB token"
    assert view.heading == "Hãy cắm USB token"
    assert view.origin == OriginView("https://portal.", "example.gov.vn", "")
    assert view.origin_label == "Trang web yêu cầu:"
    assert "tự tiếp tục" in view.explanation
    assert view.holder == "Token chứa chứng thư số của: Nguyễn Văn An"
    assert view.cancel_label == "Hủy"
    assert view.keys_hint == "Esc = Hủy"
    assert wait_countdown(view, 120) == "Tự động hủy sau 2:00"
    assert wait_countdown(view, 0.2) == "Tự động hủy sau 0:01"
    assert wait_countdown(view, -3) == "Tự động hủy sau 0:00"


def test_the_wait_window_in_english() -> None:
    view = describe_wait(
        ActivityRequest(ActivityKind.WAIT_TOKEN, ORIGIN, Lang.EN, seconds=65, certificate=SUBJECT)
    )
    assert view.window_title == "Kyso Agent — Waiting for the USB token"
    assert view.heading == "Plug in your USB token"
    assert view.origin_label == "Requested by:"
    assert view.explanation == "The portal's request goes on by itself once the token is in."
    assert view.holder == "Token with the certificate of: Nguyễn Văn An"
    assert (view.cancel_label, view.keys_hint) == ("Cancel", "Esc = Cancel")
    assert wait_countdown(view, 65) == "Cancels by itself in 1:05"


def test_the_wait_window_without_a_certificate_names_no_holder() -> None:
    for certificate in (None, "", "   "):
        request = ActivityRequest(
            ActivityKind.WAIT_TOKEN, ORIGIN, seconds=5, certificate=certificate
        )
        assert describe_wait(request).holder == ""


def test_the_holder_is_the_common_name_else_the_whole_subject() -> None:
    assert holder_of("CN=Trần Thị Bình,O=Sở Nội vụ,C=VN") == "Trần Thị Bình"
    assert holder_of("O=Sở Nội vụ,C=VN") == "O=Sở Nội vụ,C=VN"
    assert holder_of("not a name") == "not a name"
    long = holder_of("O=" + "x" * 1000)
    assert len(long) <= 200 and ELLIPSIS in long


def test_a_file_on_this_computer_is_not_called_a_portals_request() -> None:
    request = ActivityRequest(ActivityKind.WAIT_TOKEN, str(LOCAL_CALLER), seconds=5)
    assert describe_wait(request).explanation == "Việc ký sẽ tự tiếp tục khi bạn cắm token."


def test_the_progress_window_in_vietnamese() -> None:
    view = describe_progress(PROGRESS, Step(3, "QĐ-123.pdf"))
    assert view.window_title == "Kyso Agent — Đang ký tài liệu"
    assert view.heading == "Đang ký tài liệu"
    assert view.counter == "Đã ký 3/20 tài liệu"
    assert (view.done, view.total) == (3, 20)
    assert view.current == "Đang ký: QĐ-123.pdf"
    assert (view.stop_label, view.status, view.stopping) == ("Dừng", "Esc = Dừng", False)


def test_the_progress_window_in_english_with_plurals() -> None:
    many = ActivityRequest(ActivityKind.PROGRESS, ORIGIN, Lang.EN, total=20)
    one = ActivityRequest(ActivityKind.PROGRESS, ORIGIN, Lang.EN, total=1)
    view = describe_progress(many, Step(3, "QĐ-123.pdf"))
    assert view.window_title == "Kyso Agent — Signing documents"
    assert view.heading == "Signing documents"
    assert view.counter == "Signed 3 of 20 documents"
    assert view.current == "Now signing: QĐ-123.pdf"
    assert (view.stop_label, view.status) == ("Stop", "Esc = Stop")
    assert describe_progress(one, Step(0, "a.pdf")).counter == "Signed 0 of 1 document"
    assert describe_progress(one, Step(1)).counter == "Signed 1 of 1 document"


@pytest.mark.parametrize(
    ("lang", "step", "current"),
    [
        (Lang.VI, None, "Đang chuẩn bị…"),
        (Lang.EN, None, "Getting ready…"),
        (Lang.VI, Step(4), "Đang ký tài liệu thứ 5"),
        (Lang.EN, Step(4), "Now signing document 5"),
        (Lang.VI, Step(4, "  \n "), "Đang ký tài liệu thứ 5"),
        (Lang.VI, Step(20), "Đã ký xong."),
        (Lang.EN, Step(20), "All signed."),
        (Lang.VI, Step(2, "Tờ\ntrình\t1.pdf"), "Đang ký: Tờ trình 1.pdf"),
    ],
)
def test_the_current_line(lang: Lang, step: Step | None, current: str) -> None:
    request = ActivityRequest(ActivityKind.PROGRESS, ORIGIN, lang, total=20)
    assert describe_progress(request, step).current == current


def test_more_done_than_the_total_shows_the_total() -> None:
    view = describe_progress(PROGRESS, Step(25))
    assert (view.done, view.counter) == (20, "Đã ký 20/20 tài liệu")


def test_stopping_says_so_in_both_languages() -> None:
    view = describe_progress(PROGRESS, Step(3, "a.pdf"), stopping=True)
    assert view.stopping is True
    assert view.status == "Đang dừng sau tài liệu đang ký…"
    english = ActivityRequest(ActivityKind.PROGRESS, ORIGIN, Lang.EN, total=20)
    assert describe_progress(english, None, stopping=True).status == (
        "Stopping after the current document…"
    )


def test_a_long_name_is_shortened_in_the_middle_to_fit() -> None:
    name = "Quyết định số 123/QĐ-UBND về việc phê duyệt kế hoạch năm 2025.pdf"
    view = describe_progress(PROGRESS, Step(1, name), fits=lambda shown: len(shown) <= 40)
    assert len(view.current) <= 40
    assert view.current.startswith("Đang ký: Quyết")
    assert view.current.endswith(".pdf") and ELLIPSIS in view.current


def test_ellipsize() -> None:
    assert ellipsize("short.pdf", lambda s: True) == "short.pdf"
    for width in range(1, 30):
        shown = ellipsize("abcdefghijklmnopqrstuvwxyz.pdf", lambda s, w=width: len(s) <= w)
        assert len(shown) <= max(width, 1), (width, shown)
        assert ELLIPSIS in shown
    assert ellipsize("abc", lambda s: False) == ELLIPSIS
