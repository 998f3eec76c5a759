"""The catalogue covers every wire code in both languages; errors keep secrets out."""

from __future__ import annotations

import importlib
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent import errors
from agent.errors import AgentError, BadRequest, ErrorCode, InternalError, PayloadTooLarge
from agent.messages import (
    Lang,
    Phrase,
    format_date,
    keys,
    languages_of,
    pick_lang,
    template_of,
    text,
)


def test_every_error_code_has_vietnamese_and_english_text() -> None:
    for code in ErrorCode:
        assert code.value in keys()
        assert languages_of(code.value) == {Lang.VI, Lang.EN}


def test_every_catalogue_entry_is_translated() -> None:
    for key in keys():
        assert languages_of(key) == {Lang.VI, Lang.EN}, key


def test_every_error_class_has_a_code_and_status() -> None:
    classes = [
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, AgentError)
    ]
    assert len(classes) > 15
    for cls in classes:
        assert isinstance(cls.code, ErrorCode)
        assert 400 <= cls.http_status < 600


def test_internal_detail_never_reaches_the_caller() -> None:
    wire = InternalError("secret path /home/x and stack").to_wire(Lang.EN)
    assert "secret" not in wire["error"]["message"]
    assert wire["error"]["code"] == "INTERNAL"


def test_bad_request_detail_is_shown() -> None:
    wire = BadRequest("'hash' is 31 bytes").to_wire(Lang.EN)
    assert "'hash' is 31 bytes" in wire["error"]["message"]


def test_a_phrase_detail_is_shown_in_the_callers_language_and_logged_in_english() -> None:
    error = BadRequest(Phrase.of("bad_json"))
    assert error.public_message(Lang.VI) == text("BAD_REQUEST", Lang.VI, detail=text("bad_json"))
    assert error.public_message(Lang.EN) == text(
        "BAD_REQUEST", Lang.EN, detail=text("bad_json", Lang.EN)
    )
    assert error.detail == str(error) == text("bad_json", Lang.EN)


def test_a_phrase_names_a_catalogue_key() -> None:
    with pytest.raises(KeyError):
        Phrase.of("no_such_key")


def test_payload_too_large_names_the_limit() -> None:
    assert "1024" in PayloadTooLarge(1024).public_message(Lang.VI)


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, Lang.VI),
        ("en-US,en;q=0.9", Lang.EN),
        ("vi-VN,vi;q=0.9,en;q=0.8", Lang.VI),
        ("fr-FR, en;q=0.5", Lang.EN),
        ("fr", Lang.VI),
        ("en;q=0.2, vi;q=0.8", Lang.VI),
        ("en;q=abc", Lang.VI),
    ],
)
def test_accept_language(header: str | None, lang: Lang) -> None:
    assert pick_lang(header) is lang


def test_unknown_language_falls_back_to_vietnamese() -> None:
    assert text("BUSY", "de") == text("BUSY", Lang.VI)


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "The document has 1 signature."),
        (2, "The document has 2 signatures."),
        (0, "The document has 0 signatures."),
    ],
)
def test_english_counts_take_the_right_plural_form(count: int, expected: str) -> None:
    assert text("verify_count", Lang.EN, count=count) == expected
    # Vietnamese nouns do not change with the number.
    assert text("verify_count", Lang.VI, count=count) == f"Tài liệu có {count} chữ ký số."


def _rendered(key: str, lang: Lang, count: int = 1) -> str:
    """``key`` in ``lang`` with a value for each of its placeholders (numbers: ``count``)."""
    values: dict[str, object] = {}
    for _text, name, spec, _conversion in string.Formatter().parse(template_of(key, lang)):
        if name:
            # A time's spec (``%H:%M``) needs a time; a count or a name takes a number.
            values[name.split(".")[0]] = (
                datetime(2028, 11, 28, tzinfo=UTC) if "%" in (spec or "") else count
            )
    return text(key, lang, **values)


def test_no_message_writes_a_plural_with_parentheses() -> None:
    for key in keys():
        for lang in Lang:
            for count in (1, 2):  # either form of a {count:one|other}
                shown = _rendered(key, lang, count)
                assert "(s)" not in shown and "(các)" not in shown, (key, lang, shown)


def test_literal_braces_show_single_with_or_without_values() -> None:
    # A template writes a literal brace doubled; the reader sees one, also in a message that
    # has no values ("a JSON object ({...})").
    for key in keys():
        for lang in Lang:
            shown = _rendered(key, lang)
            assert "{{" not in shown and "}}" not in shown, (key, lang, shown)
    assert Phrase.of("bad_json_not_object").render(Lang.EN) == (
        "the body must be a JSON object ({...}), not an array or a single value"
    )
    assert "({...})" in Phrase.of("bad_json_not_object").render(Lang.VI)


def test_a_field_list_says_field_or_fields_by_its_length() -> None:
    one = Phrase.of("bad_missing_fields", fields="hash", count=1).render(Lang.EN)
    two = Phrase.of("bad_unknown_fields", fields="a, b", count=2).render(Lang.EN)
    assert one == "missing field hash; add it"
    assert two.startswith("unknown fields a, b; leave them out")


def test_one_date_format_per_language_everywhere() -> None:
    moment = datetime(2028, 11, 28, 6, 37, 7, tzinfo=UTC)
    local = moment.astimezone()
    assert format_date(moment, Lang.VI) == f"{local:%d/%m/%Y}"
    assert format_date(moment, Lang.EN) == f"{local:%Y-%m-%d}"
    # The dialog, the tray menu, the terminal prompter and XML summaries all call it.
    for module in (
        "agent.ui.dialog_model",
        "agent.ui.menu",
        "agent.consent.console",
        "agent.xml.summary",
    ):
        source = Path(importlib.import_module(module).__file__ or "").read_text()
        assert "format_date(" in source, module
        assert "%d/%m/%Y" not in source and "%Y-%m-%d" not in source, module
