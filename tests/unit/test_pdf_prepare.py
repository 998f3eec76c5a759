"""What prepare_pdf refuses before anyone is asked, and the name it gives the new field."""

from __future__ import annotations

import pytest

from agent.messages import Lang
from agent.pdf.models import Appearance, Profile
from agent.pdf.signer import BadPdf, free_field_name, inspect_pdf, prepare_pdf
from agent.testing.softhsm import TestCa
from tests.pdf_corpus import certified, corrupt_content_stream, corrupt_object_stream, with_fields
from tests.pdftools import sample_pdf


@pytest.fixture(scope="module")
def ca() -> TestCa:
    return TestCa.create()


@pytest.mark.parametrize(
    ("taken", "signatures", "name"),
    [
        (frozenset(), 0, "Signature1"),
        (frozenset({"Signature1"}), 1, "Signature2"),
        # Taken by fields of any kind, signed or not, at any depth (partial names count too).
        (frozenset({"Signature1", "Signature2", "Signature3"}), 1, "Signature4"),
        (frozenset({"Approvals", "Approvals.Signature2", "Signature2"}), 1, "Signature3"),
        # A signature pyHanko did not count still has its field.
        (frozenset({"Signature1", "Signature2"}), 1, "Signature3"),
    ],
)
def test_the_new_field_gets_the_first_free_name(
    taken: frozenset[str], signatures: int, name: str
) -> None:
    assert free_field_name(taken, signatures) == name


def test_every_field_name_is_seen_through_nested_kids(ca: TestCa) -> None:
    facts = inspect_pdf(with_fields(ca))
    assert facts.signatures == 1
    assert {"Signature1", "Signature2", "Signature3", "Signature4"} <= facts.field_names
    assert "Approvals.Signature4" in facts.field_names
    prepared = prepare_pdf(with_fields(ca), Appearance())
    assert prepared.field_name == "Signature5"


@pytest.mark.parametrize(
    ("pdf", "key"),
    [
        (corrupt_content_stream(damaged_page=1), "bad_pdf_damaged_page"),
        (corrupt_object_stream(), "bad_pdf_damaged"),
        (sample_pdf().replace(b"/Pages 2 0 R", b"/Nothing 2 0 R"), "bad_pdf_damaged"),
        (b"GIF89a", "bad_pdf_not_pdf"),
        (b"%PDF-1.7\n", "bad_pdf_damaged"),
    ],
)
def test_a_damaged_pdf_is_refused_with_a_sentence_for_people(pdf: bytes, key: str) -> None:
    with pytest.raises(BadPdf) as caught:
        prepare_pdf(pdf, Appearance())
    assert caught.value.phrase.key == key
    # The reader's words stay in the exception (the log), out of what people read.
    for lang in Lang:
        assert "0x" not in caught.value.phrase.render(lang)
        assert "'/Pages'" not in caught.value.phrase.render(lang)


def test_certification_levels(ca: TestCa) -> None:
    with pytest.raises(BadPdf) as locked:
        prepare_pdf(certified(ca, 1), Appearance())
    assert locked.value.phrase.key == "bad_pdf_locked"
    assert "khóa" in locked.value.phrase.render(Lang.VI)
    for level in (2, 3):
        prepared = prepare_pdf(certified(ca, level), Appearance())
        assert prepared.facts.certified and prepared.field_name == "Signature2"
        with pytest.raises(BadPdf) as visible:
            prepare_pdf(certified(ca, level), Appearance(Profile.PERSONAL))
        assert visible.value.phrase.key == "bad_pdf_certified_visible"
