"""The page preview of the consent question: the renderer (agent/pdf/preview.py), the private
copy for the viewer (agent/pdf/viewer.py) and the question's wire form and view of both.

The renderer's pixels are checked against positions computed here by hand for each
``/Rotate`` (not through :class:`~agent.pdf.layout.PageView`, which the renderer uses): the
stamp's outline is red where it should be, and everything outside its box is exactly PDFium's
drawing of the page.
"""

from __future__ import annotations

import base64
import json
import math
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from agent.algorithms import HashAlgorithm
from agent.consent.prompter import (
    MAX_PREVIEW_BYTES,
    PREVIEW_SIDE,
    CertificateChoice,
    DocumentView,
    PagePreview,
    PromptAction,
    PromptRequest,
)
from agent.messages import Lang
from agent.pdf import viewer
from agent.pdf.layout import PageUnreadable
from agent.pdf.models import Appearance, Profile
from agent.pdf.preview import NoPreview, page_thumbnail, render_page
from agent.pdf.signer import prepare_pdf
from agent.pdf.viewer import copy_name, is_viewer_copy, make_viewer_copy, remove_viewer_copy
from agent.ui.dialog_model import InvalidQuestion, describe, parse_question
from tests.pdftools import classic_pdf
from tests.placement_pdfs import Page, body_text, build

Box = tuple[float, float, float, float]
A4_W, A4_H = 595.0, 842.0
STAMP: Box = (380.0, 90.0, 530.0, 150.0)
RULE: Box = (85.0, 300.0, 250.0, 340.0)
"""A black block drawn on the page, away from the stamp: the page itself must show."""


def decode(png: bytes) -> Image.Image:
    with Image.open(BytesIO(png)) as picture:
        return picture.convert("RGB")


def is_red(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 180 and g < 80 and b < 80


def expected_pixels(box: Box, rotate: int, page: Box, side: int = PREVIEW_SIDE) -> Box:
    """``box`` (user space) in pixels of the page as a viewer shows it, by hand per rotation:
    0: x right, y up; 90 clockwise: user y runs right, user x down; 180: both turned over;
    270: user y runs left, user x up."""
    left, bottom, right, top = page
    w, h = right - left, top - bottom
    scale = side / max(w, h)
    x1, y1, x2, y2 = box[0] - left, box[1] - bottom, box[2] - left, box[3] - bottom
    if rotate == 0:
        px = (x1, h - y2, x2, h - y1)
    elif rotate == 90:
        px = (y1, x1, y2, x2)
    elif rotate == 180:
        px = (w - x2, y1, w - x1, y2)
    else:
        px = (h - y2, w - x2, h - y1, w - x1)
    return px[0] * scale, px[1] * scale, px[2] * scale, px[3] * scale


def page_with_rule(rotate: int) -> bytes:
    page = body_text(Page(rotate=rotate), top=780, bottom=600)
    page.rules.append(RULE)
    return build([page])


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_the_stamp_is_outlined_in_red_where_it_goes_and_the_rest_is_the_page(
    rotate: int,
) -> None:
    pdf = page_with_rule(rotate)
    with_box = decode(render_page(pdf, 0, STAMP, side=260, max_bytes=MAX_PREVIEW_BYTES))
    plain = decode(render_page(pdf, 0, None, side=260, max_bytes=MAX_PREVIEW_BYTES))
    portrait = rotate in (0, 180)
    assert with_box.size == ((184, 260) if portrait else (260, 184))

    x1, y1, x2, y2 = expected_pixels(STAMP, rotate, (0, 0, A4_W, A4_H))
    left, top, right, bottom = math.floor(x1), math.floor(y1), math.ceil(x2) - 1, math.ceil(y2) - 1
    middle_x, middle_y = (left + right) // 2, (top + bottom) // 2
    # The outline, two pixels wide, on all four sides.
    for x, y in [(left, middle_y), (left + 1, middle_y), (right, middle_y), (middle_x, top)]:
        assert is_red(with_box.getpixel((x, y))), (rotate, (x, y), with_box.getpixel((x, y)))
    assert is_red(with_box.getpixel((middle_x, bottom)))
    # Outside it, the page as it was.
    for x, y in [(left - 3, middle_y), (right + 3, middle_y), (middle_x, top - 3)]:
        assert not is_red(with_box.getpixel((x, y)))
    # Inside, the page shows through a translucent red: white turns pink.
    r, g, b = with_box.getpixel((middle_x, middle_y))
    assert r > 230 and 150 < g < 235 and 150 < b < 235, (r, g, b)

    # Every pixel that differs from the plain drawing lies in the stamp's box.
    differing = [
        (x, y)
        for y in range(plain.height)
        for x in range(plain.width)
        if with_box.getpixel((x, y)) != plain.getpixel((x, y))
    ]
    assert differing
    assert all(left - 1 <= x <= right + 1 and top - 1 <= y <= bottom + 1 for x, y in differing)

    # The page is drawn as viewed: the black block where this rotation puts it.
    rx1, ry1, rx2, ry2 = expected_pixels(RULE, rotate, (0, 0, A4_W, A4_H))
    assert max(plain.getpixel((round((rx1 + rx2) / 2), round((ry1 + ry2) / 2)))) < 60
    # and nothing at the mirrored place.
    mirrored = (plain.width - round((rx1 + rx2) / 2), plain.height - round((ry1 + ry2) / 2))
    assert min(plain.getpixel(mirrored)) > 200


def test_a_cropped_page_shows_its_visible_area_and_the_box_within_it() -> None:
    crop = (100.0, 150.0, 500.0, 750.0)
    stamp: Box = (300.0, 200.0, 450.0, 260.0)
    content = b"0 g %g %g %g %g re f\n" % (RULE[0] + 50, RULE[1], 100, 40)
    pdf = classic_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /CropBox [%g %g %g %g] "
            b"/Contents 4 0 R >>" % crop,
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        ]
    )
    picture = decode(render_page(pdf, 0, stamp, side=260, max_bytes=MAX_PREVIEW_BYTES))
    assert picture.size == (173, 260)  # 400 x 600 points
    x1, y1, x2, y2 = expected_pixels(stamp, 0, crop)
    assert is_red(picture.getpixel((math.floor(x1), round((y1 + y2) / 2))))
    assert is_red(picture.getpixel((round((x1 + x2) / 2), math.ceil(y2) - 1)))
    bx1, by1, bx2, by2 = expected_pixels(
        (RULE[0] + 50, RULE[1], RULE[0] + 150, RULE[1] + 40), 0, crop
    )
    assert max(picture.getpixel((round((bx1 + bx2) / 2), round((by1 + by2) / 2)))) < 60


def test_the_picture_is_bounded_whatever_the_page_size() -> None:
    huge = build([Page(size=(14400.0, 7200.0))])
    tiny = build([Page(size=(20.0, 40.0))])
    assert decode(render_page(huge, 0, None, side=260, max_bytes=MAX_PREVIEW_BYTES)).size == (
        260,
        130,
    )
    assert decode(render_page(tiny, 0, None, side=120, max_bytes=MAX_PREVIEW_BYTES)).size == (
        60,
        120,
    )


def heavy_page(strokes: int = 30_000) -> bytes:
    ops = b"".join(
        b"%d %d m %d %d l S\n" % (i % 500, i * 7 % 800, i * 3 % 500, i % 800)
        for i in range(strokes)
    )
    return classic_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"\nendstream",
        ]
    )


def test_a_page_too_slow_to_draw_gives_no_picture() -> None:
    with pytest.raises(NoPreview, match="longer than"):
        render_page(heavy_page(), 0, None, side=260, max_bytes=MAX_PREVIEW_BYTES, budget=0.0)
    # The lock and the document are released: the next drawing works.
    assert render_page(page_with_rule(0), 0, STAMP, side=100, max_bytes=MAX_PREVIEW_BYTES)


def test_broken_input_and_a_picture_over_the_size_limit_give_no_picture() -> None:
    with pytest.raises(PageUnreadable):
        render_page(b"%PDF-1.7\nnot really", 0, None, side=260, max_bytes=MAX_PREVIEW_BYTES)
    with pytest.raises(PageUnreadable):
        render_page(page_with_rule(0), 3, None, side=260, max_bytes=MAX_PREVIEW_BYTES)
    with pytest.raises(NoPreview, match="over 200 bytes"):
        render_page(page_with_rule(0), 0, STAMP, side=260, max_bytes=200)


def test_the_thumbnail_is_of_the_stamps_page_or_the_first_page_for_an_invisible_signature() -> None:
    pages = [body_text(Page()) for _ in range(3)]
    pages[1].rules.append(RULE)  # only page 2 has the black block
    pdf = build(pages)
    visible = prepare_pdf(pdf, Appearance(profile=Profile.PERSONAL, page=2, rect=STAMP))
    thumbnail = page_thumbnail(pdf, visible, side=PREVIEW_SIDE, max_bytes=MAX_PREVIEW_BYTES)
    assert thumbnail is not None
    assert (thumbnail.page_index, thumbnail.pages, thumbnail.stamp) == (1, 3, True)
    assert thumbnail.png == render_page(
        pdf, 1, STAMP, side=PREVIEW_SIDE, max_bytes=MAX_PREVIEW_BYTES
    )

    invisible = prepare_pdf(pdf, Appearance())
    first = page_thumbnail(pdf, invisible, side=PREVIEW_SIDE, max_bytes=MAX_PREVIEW_BYTES)
    assert first is not None
    assert (first.page_index, first.pages, first.stamp) == (0, 3, False)
    picture = decode(first.png)
    assert not any(
        is_red(picture.getpixel((x, y))) for x in range(0, 184, 3) for y in range(0, 260, 3)
    )


def test_a_page_that_cannot_be_drawn_leaves_the_question_without_a_thumbnail() -> None:
    pdf = heavy_page(3000)
    prepared = prepare_pdf(pdf, Appearance())
    assert page_thumbnail(pdf, prepared, side=260, max_bytes=MAX_PREVIEW_BYTES, budget=0.0) is None


# --------------------------------------------------------------------------- the viewer's copy


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private temporary directory standing for the system's."""
    folder = tmp_path / "tmp"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def test_the_copy_is_private_read_only_and_removed(temp_dir: Path) -> None:
    pdf = page_with_rule(0)
    path = make_viewer_copy(pdf, "QĐ-123/UBND.pdf")
    assert path.read_bytes() == pdf
    assert path.name == "QĐ-123_UBND.pdf"
    assert path.parent.parent == temp_dir and path.parent.name.startswith(viewer.PREFIX)
    if sys.platform != "win32":
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o400
    assert is_viewer_copy(path)
    remove_viewer_copy(path)
    assert not path.parent.exists()
    assert not is_viewer_copy(path)


@pytest.mark.skipif(sys.platform == "win32", reason="modes and symbolic links")
def test_only_the_agents_own_copies_may_be_opened(temp_dir: Path, tmp_path: Path) -> None:
    path = make_viewer_copy(b"%PDF-1.7\n", "a.pdf")
    folder = path.parent
    elsewhere = tmp_path / "elsewhere.pdf"
    elsewhere.write_bytes(b"%PDF-1.7\n")
    assert not is_viewer_copy(elsewhere), "outside the copies' directories"
    script = folder / "run.sh"
    script.write_text("#!/bin/sh\n")
    assert not is_viewer_copy(script), "not a .pdf"
    link = folder / "link.pdf"
    link.symlink_to(elsewhere)
    assert not is_viewer_copy(link), "a symbolic link"
    assert not is_viewer_copy(Path(path.name)), "relative"
    assert not is_viewer_copy(folder / ".." / folder.name / path.name), "with .."
    lookalike = temp_dir / (viewer.PREFIX + "made-by-someone")
    lookalike.mkdir(mode=0o755)
    (lookalike / "a.pdf").write_bytes(b"%PDF-1.7\n")
    assert not is_viewer_copy(lookalike / "a.pdf"), "a directory others may enter"
    deeper = folder / "sub"
    deeper.mkdir(mode=0o700)
    (deeper / "a.pdf").write_bytes(b"%PDF-1.7\n")
    assert not is_viewer_copy(deeper / "a.pdf"), "not directly in a copy's directory"
    assert is_viewer_copy(path)


def test_a_copy_left_behind_is_removed_by_a_later_one(temp_dir: Path) -> None:
    old = make_viewer_copy(b"%PDF-1.7\n", "old.pdf")
    recent = make_viewer_copy(b"%PDF-1.7\n", "recent.pdf")
    long_ago = time.time() - viewer.STALE_AFTER - 60
    os.utime(old.parent, (long_ago, long_ago))
    newest = make_viewer_copy(b"%PDF-1.7\n", "new.pdf")
    assert not old.parent.exists()
    assert recent.exists() and newest.exists(), "copies of questions still open are kept"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("QĐ-123.pdf", "QĐ-123.pdf"),
        ("Tờ trình số 7", "Tờ trình số 7.pdf"),
        ("../../etc/passwd", "etc_passwd.pdf"),
        ('a<b>:"c"|?*.PDF', "a_b___c.pdf"),
        ("CON.pdf", "document.pdf"),
        (None, "document.pdf"),
        ("...", "document.pdf"),
        ("x" * 300 + ".pdf", "x" * viewer.MAX_NAME + ".pdf"),
    ],
)
def test_the_copys_name_is_the_documents_made_safe(name: str | None, expected: str) -> None:
    assert copy_name(name) == expected


# --------------------------------------------------------------------------- on the wire


def png_of(size: tuple[int, int]) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (255, 255, 255)).save(out, format="PNG")
    return out.getvalue()


def question(*documents: DocumentView, lang: Lang = Lang.VI) -> PromptRequest:
    choice = CertificateChoice("id", "CN=A", "CN=CA", datetime(2030, 1, 1, tzinfo=UTC), "T")
    return PromptRequest(
        PromptAction.SIGN, "https://portal.example.gov.vn", (choice,), documents, lang=lang
    )


def through_the_wire(request: PromptRequest) -> PromptRequest:
    return parse_question(json.loads(json.dumps(request.to_wire())))


def test_the_preview_and_the_copy_cross_the_wire_and_are_shown_with_a_caption() -> None:
    png = png_of((184, 260))
    document = DocumentView(
        "QĐ-123.pdf",
        bytes(32),
        HashAlgorithm.SHA256,
        preview=PagePreview(png, page=2, pages=3, stamp=True),
        file=Path("/run/user/1000/kyso-agent-view-x/QĐ-123.pdf"),
    )
    wire = question(document).to_wire()["documents"][0]
    assert wire["preview"] == {
        "png": base64.b64encode(png).decode(),
        "page": 2,
        "pages": 3,
        "stamp": True,
    }
    assert wire["file"] == "/run/user/1000/kyso-agent-view-x/QĐ-123.pdf"
    [parsed] = through_the_wire(question(document)).documents
    assert parsed == document

    [line] = describe(question(document)).documents
    assert line.preview is not None
    assert (line.preview.width, line.preview.height) == (184, 260)
    assert line.preview.caption == "Trang 2/3 — khung đỏ là chỗ đặt chữ ký."
    assert line.file == document.file
    [english] = describe(question(document, lang=Lang.EN)).documents
    assert english.preview is not None
    assert english.preview.caption == "Page 2 of 3 — the red box is where the signature goes."
    assert describe(question(document, lang=Lang.EN)).open_label == "Open document…"

    invisible = DocumentView(
        "a.pdf", bytes(32), HashAlgorithm.SHA256, preview=PagePreview(png, 1, 3, stamp=False)
    )
    [line] = describe(question(invisible)).documents
    assert line.preview is not None
    assert line.preview.caption == "Trang 1/3 — chữ ký này không hiện trên trang."


def test_a_batch_shows_no_page_and_no_copy() -> None:
    png = png_of((184, 260))
    one = DocumentView(
        "a.pdf",
        bytes(32),
        HashAlgorithm.SHA256,
        preview=PagePreview(png, 1, 1, True),
        file=Path("/x/a.pdf"),
    )
    lines = describe(question(one, one)).documents
    assert [(line.preview, line.file) for line in lines] == [(None, None), (None, None)]


def test_a_question_without_a_preview_is_read_as_before() -> None:
    plain = DocumentView("a.pdf", bytes(32), HashAlgorithm.SHA256)
    assert "preview" not in question(plain).to_wire()["documents"][0]
    [parsed] = through_the_wire(question(plain)).documents
    assert parsed.preview is None and parsed.file is None


@pytest.mark.parametrize(
    ("preview", "reason"),
    [
        (
            {
                "png": base64.b64encode(png_of((300, 100))).decode(),
                "page": 1,
                "pages": 1,
                "stamp": True,
            },
            "too large",
        ),
        ({"png": "A" * (MAX_PREVIEW_BYTES * 2), "page": 1, "pages": 1, "stamp": True}, "too large"),
        (
            {
                "png": base64.b64encode(b"GIF89a" + bytes(40)).decode(),
                "page": 1,
                "pages": 1,
                "stamp": True,
            },
            "not a PNG",
        ),
        ({"png": "not base64!", "page": 1, "pages": 1, "stamp": True}, "not base64"),
        (
            {
                "png": base64.b64encode(png_of((10, 10))).decode(),
                "page": 4,
                "pages": 3,
                "stamp": True,
            },
            "outside",
        ),
        ({"png": base64.b64encode(png_of((10, 10))).decode(), "page": 1, "pages": 1}, "stamp"),
        ("iVBOR", "object"),
    ],
)
def test_the_dialog_refuses_a_preview_outside_the_protocol(preview: object, reason: str) -> None:
    wire = question(DocumentView("a.pdf", bytes(32), HashAlgorithm.SHA256)).to_wire()
    wire["documents"][0]["preview"] = preview
    with pytest.raises(InvalidQuestion, match=reason):
        parse_question(wire)


def test_the_dialog_refuses_a_file_that_is_not_a_path() -> None:
    wire = question(DocumentView("a.pdf", bytes(32), HashAlgorithm.SHA256)).to_wire()
    for bad in (42, "", "a\0b.pdf", "/" + "x" * 5000):
        wire["documents"][0]["file"] = bad
        with pytest.raises(InvalidQuestion, match="'file'"):
            parse_question(wire)
