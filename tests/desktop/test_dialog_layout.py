"""The dialog's layout, measured: every state of docs/dialog in both languages, widget by widget.

The pictures in docs/dialog are looked at by a person; these checks hold for every state, each
time: the window is on the screen and holds all its widgets, each gets at least the size it asks
for (a label given less is cut: the marks of Vietnamese letters go first), no two overlap, text
keeps clear of buttons and fields, and the countdown and key hint stand on their own line above
the buttons (they once ran into the Hủy button).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import combinations
from typing import Any

import pytest

from agent.messages import Lang, text
from agent.ui.dialog_model import countdown_text
from tests.desktop import screenshots
from tests.desktop.dialog_geometry import Layout, Widget, parse
from tests.desktop.xvfb import virtual_display

pytestmark = pytest.mark.desktop

LANGS = ("vi", "en")
#: A state, a language and whether Ký was pressed with nothing typed (the dialog then says
#: what is missing, above the buttons).
CASES = [(state, lang, False) for state in screenshots.STATES for lang in LANGS] + [
    (state, lang, True) for state in ("sign-single", "final-try") for lang in LANGS
]
#: Widgets with a box of their own that text must keep clear of, by at least MIN_GAP pixels.
BOXED = frozenset({"TButton", "Button", "TEntry", "Entry"})
MIN_GAP = 4


def _cases(stack: ExitStack) -> list[dict[str, Any]]:
    """Every case as tests.desktop.dialog_geometry reads it, in the order of CASES (the
    PDF's copy kept until the end)."""
    cases = []
    for state, lang, approve in CASES:
        question = screenshots.in_language(screenshots.STATES[state], lang)
        if state in screenshots.PDF_PREVIEW_STATES:
            question = stack.enter_context(screenshots.with_pdf_preview(question))
        cases.append({"question": question, "approve": approve})
    return cases


@pytest.fixture(scope="module")
def layouts() -> Iterator[dict[tuple[str, str, bool], Layout]]:
    """The layout of every case, all measured in one process on one private X server."""
    with ExitStack() as stack:
        try:
            display = stack.enter_context(virtual_display())
        except FileNotFoundError:
            if os.environ.get("CI"):
                raise
            pytest.skip("Xvfb is not installed")
        measured = subprocess.run(
            [sys.executable, "-m", "tests.desktop.dialog_geometry"],
            input=json.dumps(_cases(stack), ensure_ascii=False).encode(),
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert measured.returncode == 0, measured.stderr.decode(errors="replace")
        found = json.loads(measured.stdout)
        yield {case: parse(data) for case, data in zip(CASES, found, strict=True)}


def describe_widget(widget: Widget) -> str:
    return f"{widget.cls} {widget.text[:40]!r} at {widget.rect}"


@pytest.mark.parametrize(("state", "lang", "approve"), CASES)
def test_the_window_is_on_the_screen_and_holds_every_widget(
    layouts: dict[tuple[str, str, bool], Layout], state: str, lang: str, approve: bool
) -> None:
    layout = layouts[state, lang, approve]
    window = layout.window
    assert window.x >= 0 and window.y >= 0, window
    assert window.right <= layout.screen_width and window.bottom <= layout.screen_height, window
    for widget in layout.widgets:
        if widget.mapped:
            assert window.contains(widget.rect), describe_widget(widget)


@pytest.mark.parametrize(("state", "lang", "approve"), CASES)
def test_every_widget_gets_the_room_it_asks_for(
    layouts: dict[tuple[str, str, bool], Layout], state: str, lang: str, approve: bool
) -> None:
    for widget in layouts[state, lang, approve].shown():
        assert widget.rect.width >= widget.req_width, describe_widget(widget)
        assert widget.rect.height >= widget.req_height, describe_widget(widget)


@pytest.mark.parametrize(("state", "lang", "approve"), CASES)
def test_no_two_widgets_overlap_and_text_keeps_clear_of_buttons_and_fields(
    layouts: dict[tuple[str, str, bool], Layout], state: str, lang: str, approve: bool
) -> None:
    shown = layouts[state, lang, approve].shown()
    for one, other in combinations(shown, 2):
        assert not one.rect.overlaps(other.rect), (describe_widget(one), describe_widget(other))
        if (one.cls in BOXED) != (other.cls in BOXED) and (one.text or other.text):
            assert one.rect.gap(other.rect) >= MIN_GAP, (
                describe_widget(one),
                describe_widget(other),
            )


@pytest.mark.parametrize(("state", "lang", "approve"), CASES)
def test_the_countdown_and_key_hint_stand_on_their_own_line_above_the_buttons(
    layouts: dict[tuple[str, str, bool], Layout], state: str, lang: str, approve: bool
) -> None:
    layout = layouts[state, lang, approve]
    question = screenshots.STATES[state]
    signing = question["action"] == "sign"
    language = Lang(lang)
    approve = text("dialog_sign" if signing else "dialog_allow", language)
    cancel = text("dialog_cancel", language)
    buttons = [layout.find(approve), layout.find(cancel)]
    hint = layout.find(text("dialog_keys", language, approve=approve, cancel=cancel))
    [countdown] = [
        w
        for w in layout.shown()
        if w.text == countdown_text(120, language) or w.text == countdown_text(119, language)
    ]
    top = min(button.rect.y for button in buttons)
    for note in (hint, countdown):
        assert note.rect.bottom + MIN_GAP <= top, (describe_widget(note), top)
    assert not hint.rect.overlaps(countdown.rect)
    # The two buttons side by side, the same size, the default one first.
    assert buttons[0].rect.y == buttons[1].rect.y
    assert buttons[0].rect.width == buttons[1].rect.width
    assert buttons[0].rect.right < buttons[1].rect.x


@pytest.mark.parametrize("lang", LANGS)
def test_what_is_missing_shows_above_the_buttons_without_moving_into_them(
    layouts: dict[tuple[str, str, bool], Layout], lang: str
) -> None:
    language = Lang(lang)
    for state, missing in (("sign-single", "dialog_need_pin"), ("final-try", "dialog_need_pin")):
        before, after = layouts[state, lang, False], layouts[state, lang, True]
        said = after.find(text(missing, language))
        sign = after.find(text("dialog_sign", language))
        assert said.rect.bottom + MIN_GAP <= sign.rect.y
        assert all(w.text != said.text for w in before.widgets if w.mapped), "hidden until then"
        assert after.window.height > before.window.height, "the window grew to show it"
