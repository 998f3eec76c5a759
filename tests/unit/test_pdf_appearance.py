"""Signature appearances (Nghị định 30/2020/NĐ-CP, Phụ lục I), checked on the rendered page.

Each test signs a two-page A4 PDF with pyHanko's ``SimpleSigner`` (EC keys issued by a
throwaway CA), renders the page with poppler's ``pdftoppm`` at 72 dpi (one pixel per
point) and compares it with the unsigned page; ``pdftotext`` proves the Vietnamese text
is real text (glyphs plus ToUnicode), ``pdfsig`` and pyHanko's validator that the
signatures still hold.

``python -m tests.unit.test_pdf_appearance docs/appearance [--serif FONT.ttf]`` writes
the example renders shown in the documentation.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from xml.etree import ElementTree

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from fontTools import subset
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageDraw, ImageFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from agent.algorithms import HashAlgorithm, KeyType
from agent.errors import BadRequest
from agent.pdf import fonts
from agent.pdf.appearance import stamp_style
from agent.pdf.fonts import FontError, FontStyle, find_font, font_for, prepare_font
from agent.pdf.models import (
    Appearance,
    AppearanceError,
    PdfSignOptions,
    Placement,
    Profile,
    SignerIdentity,
)
from agent.pdf.placement import field_spec, resolve_placement
from agent.pdf.signer import sign_pdf
from agent.protocol import parse_appearance
from agent.testing.softhsm import TestCa, vn_name
from tests.pdftools import classic_pdf, page_text, qpdf_clean, sample_pdf
from tests.placement_pdfs import (
    LETTERHEAD_LEFT,
    LETTERHEAD_MOTTO,
    LETTERHEAD_RIGHT,
    Box,
    Page,
    barcode_page,
    body_text,
    build,
    fields_page,
    letterhead_page,
)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdftoppm", "pdftotext", "pdfsig")),
    reason="needs poppler-utils (pdftoppm, pdftotext, pdfsig)",
)

AN = SignerIdentity("Nguyễn Văn An", "Văn phòng UBND tỉnh Thừa Thiên Huế")
OFFICE = SignerIdentity("Văn phòng UBND tỉnh Thừa Thiên Huế", "Văn phòng UBND tỉnh Thừa Thiên Huế")
"""An organisation's certificate: the holder is the office itself."""
SIGNED_AT = datetime(2026, 11, 29, 7, 5, 9, tzinfo=UTC)
"""14:05:09 in Vietnam."""
A4 = (595, 842)
NUMBER = "Số: 123/QĐ-UBND"


# --------------------------------------------------------------------------- material


def scribble_png() -> bytes:
    """A blue handwritten-looking stroke on a transparent background."""
    image = Image.new("RGBA", (400, 160), (0, 0, 0, 0))
    points = [(20 + i * 4, 80 + 50 * math.sin(i / 6) * math.cos(i / 17)) for i in range(90)]
    ImageDraw.Draw(image).line(points, fill=(20, 40, 200, 255), width=6)
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def seal_png() -> bytes:
    """A red round seal with text, transparent outside the rings."""
    red = (220, 0, 0, 255)
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, 290, 290), outline=red, width=12)
    draw.ellipse((45, 45, 255, 255), outline=red, width=5)
    draw.regular_polygon((150, 150, 30), 5, fill=red)
    font = ImageFont.load_default(size=24)
    draw.text((150, 100), "UBND TINH", fill=red, font=font, anchor="mm")
    draw.text((150, 200), "TT HUE", fill=red, font=font, anchor="mm")
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (40, 20), (200, 0, 0)).save(out, "JPEG")
    return out.getvalue()


def png(width: int, height: int) -> bytes:
    out = BytesIO()
    Image.new("L", (width, height), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def software_signer(ca: TestCa, who: SignerIdentity) -> signers.SimpleSigner:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key.public_key(), vn_name(who.name, who.organization or ""))
    der = serialization.Encoding.DER
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(der)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        ),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(ca.cert.public_bytes(der))]
        ),
    )


async def sign(
    pdf: bytes,
    appearance: Appearance,
    signer: signers.SimpleSigner,
    who: SignerIdentity,
    *,
    font_dir: Path,
    field: str = "Signature1",
) -> bytes:
    """Sign as ``agent.pdf.signer`` does: our field spec and stamp style, pyHanko's signer."""
    placement = resolve_placement(pdf, appearance)
    if placement is not None and placement.field is not None:
        field = placement.field
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES),
        signer,
        stamp_style=stamp_style(appearance, who, SIGNED_AT, font_dir, placement),
        new_field_spec=field_spec(field, placement),
    )
    out = BytesIO()
    await pdf_signer.async_sign_pdf(
        IncrementalPdfFileWriter(BytesIO(pdf), strict=False), output=out
    )
    return out.getvalue()


def render(pdf: bytes, page: int, dpi: int = 72) -> Image.Image:
    """One page (1-based) as RGB; at 72 dpi one pixel is one point."""
    done = subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-f", str(page), "-l", str(page), "-singlefile", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return Image.open(BytesIO(done.stdout)).convert("RGB")


Pixels = tuple[int, int, int, int]


def text_lines(pdf: bytes, page: int) -> dict[str, tuple[float, float, float, float]]:
    """Each text line of the page and its box as poppler computes it from the font's
    widths (points, origin top-left: the pixel grid at 72 dpi)."""
    done = subprocess.run(
        ["pdftotext", "-bbox-layout", "-f", str(page), "-l", str(page), "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    lines = {}
    root = ElementTree.fromstring(done.stdout)  # noqa: S314 - poppler's output for our PDF
    for line in root.iter("{http://www.w3.org/1999/xhtml}line"):
        words = [w.text or "" for w in line]
        box = tuple(float(line.attrib[k]) for k in ("xMin", "yMin", "xMax", "yMax"))
        lines[" ".join(words)] = box
    return lines  # type: ignore[return-value]


def pixels(box: tuple[float, float, float, float], height: int = A4[1]) -> Pixels:
    """PDF box (origin bottom-left) → pixel box (origin top-left) at 72 dpi."""
    x1, y1, x2, y2 = box
    return math.floor(x1), math.floor(height - y2), math.ceil(x2), math.ceil(height - y1)


def pixels_of(box: tuple[float, float, float, float]) -> Pixels:
    """A box already in top-left coordinates, rounded outwards to pixels."""
    return math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3])


def within(inner: Pixels | None, outer: Pixels, slack: int = 1) -> bool:
    if inner is None:
        return False
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def changed(before: Image.Image, after: Image.Image) -> Pixels | None:
    """Bounding box of the pixels that differ noticeably."""
    difference = ImageChops.difference(before, after).convert("L")
    return difference.point(lambda v: 255 if v > 24 else 0).getbbox()


def colour_bbox(image: Image.Image, test: str) -> Pixels | None:
    """Bounding box of the pixels that are ``red``, ``blue`` or ``dark``."""
    r, g, b = image.split()

    def mask(channel: Image.Image, low: int, high: int) -> Image.Image:
        return channel.point(lambda v: 255 if low <= v <= high else 0).convert("1")

    if test == "red":
        m = ImageChops.logical_and(mask(r, 150, 255), mask(g, 0, 90))
        m = ImageChops.logical_and(m, mask(b, 0, 90))
    elif test == "blue":
        m = ImageChops.logical_and(mask(b, 120, 255), mask(r, 0, 110))
    else:
        m = ImageChops.logical_and(mask(r, 0, 110), mask(g, 0, 110))
        m = ImageChops.logical_and(m, mask(b, 0, 110))
    return m.getbbox()


def crop(image: Image.Image, box: Pixels) -> Image.Image:
    return image.crop(box)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ca() -> TestCa:
    return TestCa.create("Kyso Appearance Test CA")


@pytest.fixture(scope="module")
def an_signer(ca: TestCa) -> signers.SimpleSigner:
    return software_signer(ca, AN)


@pytest.fixture(scope="module")
def office_signer(ca: TestCa) -> signers.SimpleSigner:
    return software_signer(ca, OFFICE)


@pytest.fixture(scope="module")
def font_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fonts")


@pytest.fixture(scope="module")
def document() -> bytes:
    return sample_pdf(pages=2)


@pytest.fixture(scope="module")
def blank_pages(document: bytes) -> dict[int, Image.Image]:
    return {1: render(document, 1), 2: render(document, 2)}


# --------------------------------------------------------------------------- profiles


async def test_invisible_signature_adds_no_widget_and_changes_no_page(
    document: bytes,
    blank_pages: dict[int, Image.Image],
    an_signer: signers.SimpleSigner,
    font_dir: Path,
) -> None:
    appearance = Appearance(Profile.INVISIBLE, rect=(10, 10, 100, 100), anchor="[[nowhere]]")
    assert resolve_placement(document, appearance) is None
    assert field_spec("Signature1", None).box is None
    assert stamp_style(appearance, AN, SIGNED_AT, font_dir) is None

    signed = await sign(document, appearance, an_signer, AN, font_dir=font_dir)

    widget = PdfFileReader(BytesIO(signed)).embedded_signatures[0].sig_field
    x1, y1, x2, y2 = (float(v) for v in widget.get("/Rect", [0, 0, 0, 0]))
    assert (x2 - x1, y2 - y1) == (0, 0)
    for page in (1, 2):
        assert changed(blank_pages[page], render(signed, page)) is None


async def test_personal_without_image_writes_signer_and_time_in_the_default_box_of_the_last_page(
    document: bytes,
    blank_pages: dict[int, Image.Image],
    an_signer: signers.SimpleSigner,
    font_dir: Path,
) -> None:
    appearance = Appearance(Profile.PERSONAL, page=-1)
    placement = resolve_placement(document, appearance)
    assert placement == Placement(1, (339, 72, 539, 152))  # 200 x 80, lower right

    signed = await sign(document, appearance, an_signer, AN, font_dir=font_dir)

    after = render(signed, 2)
    box = pixels(placement.box)
    ink = changed(blank_pages[2], after)
    assert within(ink, box), f"changes at {ink} outside the stamp {box}"
    assert changed(blank_pages[1], render(signed, 1)) is None
    text = page_text(signed, 2)
    assert "Ký bởi: Nguyễn Văn An" in text
    assert "Thời gian ký: 29/11/2026 14:05:09 +07:00" in text
    # Sane widths: the time line fills most of the box, neither squeezed nor cut off.
    assert ink is not None
    assert 0.7 * (box[2] - box[0]) <= ink[2] - ink[0] <= box[2] - box[0]
    lines = text_lines(signed, 2)
    for line in ("Ký bởi: Nguyễn Văn An", "Thời gian ký: 29/11/2026 14:05:09 +07:00"):
        assert within(pixels_of(lines[line]), box), (line, lines[line], box)


async def test_personal_image_fills_the_box_in_blue_without_text(
    document: bytes,
    blank_pages: dict[int, Image.Image],
    an_signer: signers.SimpleSigner,
    font_dir: Path,
) -> None:
    rect = (300.0, 300.0, 500.0, 380.0)
    appearance = Appearance(Profile.PERSONAL, page=2, rect=rect, image=scribble_png())

    signed = await sign(document, appearance, an_signer, AN, font_dir=font_dir)

    after = render(signed, 2)
    box = pixels(rect)
    assert within(changed(blank_pages[2], after), box)
    blue = colour_bbox(after, "blue")
    assert within(blue, box)
    assert blue is not None
    # The 400 x 160 px scribble is scaled to the 196 pt inner width of the box.
    assert blue[2] - blue[0] > 0.8 * (box[2] - box[0])
    assert "Ký bởi" not in page_text(signed, 2)


async def test_organization_seal_covers_the_left_third_and_text_the_rest(
    document: bytes,
    blank_pages: dict[int, Image.Image],
    office_signer: signers.SimpleSigner,
    font_dir: Path,
) -> None:
    rect = (300.0, 150.0, 500.0, 230.0)
    appearance = Appearance(Profile.ORGANIZATION, page=-1, rect=rect, image=seal_png())

    signed = await sign(document, appearance, office_signer, OFFICE, font_dir=font_dir)

    after = render(signed, 2)
    box = pixels(rect)
    left_third = (box[0], box[1], box[0] + (box[2] - box[0]) // 3, box[3])
    right_part = (left_third[2], box[1], box[2], box[3])
    assert within(changed(blank_pages[2], after), box)
    red = colour_bbox(after, "red")
    assert within(red, left_third), f"seal at {red}, left third is {left_third}"
    assert red is not None and red[2] - red[0] > 0.8 * (left_third[2] - left_third[0])
    assert within(colour_bbox(crop(after, right_part), "dark"), (0, 0, *_size(right_part)))
    text = " ".join(page_text(signed, 2).split())
    assert "Văn phòng UBND tỉnh Thừa Thiên Huế" in text
    assert "2026-11-29T14:05:09+07:00" in text


def _size(box: Pixels) -> tuple[int, int]:
    return box[2] - box[0], box[3] - box[1]


async def test_organization_without_organization_name_shows_the_holder(
    document: bytes, an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    appearance = Appearance(Profile.ORGANIZATION, page=-1)

    signed = await sign(
        document, appearance, an_signer, SignerIdentity("Trần Thị Bình", None), font_dir=font_dir
    )

    text = " ".join(page_text(signed, 2).split())
    assert "Trần Thị Bình 2026-11-29T14:05:09+07:00" in text


async def test_attachment_sits_top_right_of_page_one_in_10pt_text_of_true_widths(
    document: bytes,
    blank_pages: dict[int, Image.Image],
    an_signer: signers.SimpleSigner,
    font_dir: Path,
) -> None:
    appearance = Appearance(Profile.ATTACHMENT, text=NUMBER)
    placement = resolve_placement(document, appearance)
    assert placement is not None
    _, _, x2, y2 = placement.box
    assert placement.page_index == 0
    assert (x2, y2) == (A4[0] - 20, A4[1] - 20)

    signed = await sign(document, appearance, an_signer, AN, font_dir=font_dir)

    after = render(signed, 1)
    ink = changed(blank_pages[1], after)
    assert within(ink, pixels(placement.box))
    assert changed(blank_pages[2], render(signed, 2)) is None
    assert f"{NUMBER}\n2026-11-29T14:05:09+07:00" in page_text(signed, 1)
    # At 10 pt with the font's own advances: glyph widths written in 2048ths of an em
    # instead of 1000ths would double the lines (and the box would clip them).
    font = font_for(f"{NUMBER}\n2026-11-29T14:05:09+07:00", FontStyle.SERIF, font_dir)
    lines = text_lines(signed, 1)
    for line in (NUMBER, "2026-11-29T14:05:09+07:00"):
        x_min, _, x_max, _ = lines[line]
        assert x_max - x_min == pytest.approx(font.width(line, 10), abs=1.5), line
        assert within(pixels_of(lines[line]), pixels(placement.box)), line
    assert ink is not None
    expected = font.width("2026-11-29T14:05:09+07:00", 10)
    assert expected - 4 <= ink[2] - ink[0] <= expected + 1
    # Black text, right-aligned against the box.
    assert colour_bbox(after, "dark") is not None
    assert ink[2] >= math.floor(x2) - 2


async def test_anchor_places_the_stamp_on_the_placeholder(
    blank_pages: dict[int, Image.Image],
    an_signer: signers.SimpleSigner,
    font_dir: Path,
) -> None:
    document = sample_pdf(pages=2, text="[[KY_SO]]")
    blank = render(document, 2)
    appearance = Appearance(Profile.PERSONAL, page=-1, anchor="[[KY_SO]]")
    placement = resolve_placement(document, appearance)
    assert placement is not None
    x1, y1, x2, y2 = placement.box
    # sample_pdf writes the placeholder with Helvetica 14 at (72, 770): about 72…135 x 767…784.
    assert (x2 - x1, y2 - y1) == (200, 80)
    assert 95 < (x1 + x2) / 2 < 115
    assert 770 < (y1 + y2) / 2 < 782
    assert placement.page_index == 1

    signed = await sign(document, appearance, an_signer, AN, font_dir=font_dir)

    assert within(changed(blank, render(signed, 2)), pixels(placement.box))


def test_anchor_of_several_words_takes_the_size_of_rect(document: bytes) -> None:
    appearance = Appearance(Profile.PERSONAL, page=1, rect=(0, 0, 120, 40), anchor="trang  1")
    placement = resolve_placement(document, appearance)
    assert placement is not None
    x1, y1, x2, y2 = placement.box
    assert (x2 - x1, y2 - y1) == (120, 40)
    # "trang 1" ends the line "Quyet dinh so 123/QD-UBND - trang 1" (x ≈ 267…311).
    assert 250 < (x1 + x2) / 2 < 320
    assert 765 < (y1 + y2) / 2 < 785


def test_anchor_near_the_edge_is_moved_onto_the_page() -> None:
    document = sample_pdf(pages=1, text="[[KY_SO]]")
    appearance = Appearance(Profile.PERSONAL, rect=(0, 0, 300, 200), anchor="[[KY_SO]]")
    placement = resolve_placement(document, appearance)
    assert placement is not None
    assert placement.box[0] == 0
    assert placement.box[3] <= A4[1]


def with_page_entries(pdf: bytes, page_index: int, entries: dict[str, generic.PdfObject]) -> bytes:
    """``pdf`` with entries set in one page's dictionary (an incremental update)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page_ref, _ = writer.find_page_for_modification(page_index)
    page = page_ref.get_object()
    for key, value in entries.items():
        page[generic.NameObject(key)] = value
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_rotated_page_takes_a_rect_as_is_and_an_anchor() -> None:
    document = with_page_entries(
        sample_pdf(pages=1, text="[[KY_SO]]"), 0, {"/Rotate": generic.NumberObject(90)}
    )
    rect = (100.0, 100.0, 300.0, 180.0)
    assert resolve_placement(document, Appearance(Profile.PERSONAL, rect=rect)) == Placement(
        0, rect, rotation=90
    )
    placement = resolve_placement(document, Appearance(Profile.PERSONAL, anchor="[[KY_SO]]"))
    assert placement is not None and placement.rotation == 90
    x1, y1, x2, y2 = placement.box
    # 200 x 80 as viewed is 80 x 200 in the page's own space; centred on the placeholder
    # (about 72…135 x 767…784), pushed down inside the page.
    assert (x2 - x1, y2 - y1) == (80, 200)
    assert 95 < (x1 + x2) / 2 < 115
    assert y2 == A4[1]


def test_crop_box_bounds_the_stamp(document: bytes) -> None:
    crop = generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 400, 500)])
    cropped = with_page_entries(document, 1, {"/CropBox": crop})
    with pytest.raises(AppearanceError, match=re.escape("visible area is [0, 0, 400, 500]")):
        resolve_placement(cropped, Appearance(Profile.PERSONAL, page=2, rect=(300, 100, 500, 180)))
    placement = resolve_placement(cropped, Appearance(Profile.ATTACHMENT, page=2, text=NUMBER))
    assert placement is not None
    assert placement.box[2:] == (380, 480)


def test_given_rect_is_used_as_is(document: bytes) -> None:
    appearance = Appearance(Profile.ORGANIZATION, page=2, rect=(60.5, 100, 260.5, 180))
    assert resolve_placement(document, appearance) == Placement(1, (60.5, 100, 260.5, 180))
    spec = field_spec("Signature2", Placement(1, (60.5, 100, 260.5, 180)))
    assert (spec.sig_field_name, spec.on_page, spec.box) == ("Signature2", 1, (60, 100, 260, 180))


def test_without_a_page_stamps_go_where_the_profile_puts_them(document: bytes) -> None:
    # The signature block of an official document is on its last page; the attachment
    # stamp is on the first (Phụ lục I).
    for profile in (Profile.PERSONAL, Profile.ORGANIZATION):
        placement = resolve_placement(document, Appearance(profile))
        assert placement is not None and placement.page_index == 1, profile
    attachment = resolve_placement(document, Appearance(Profile.ATTACHMENT, text=NUMBER))
    assert attachment is not None and attachment.page_index == 0


def test_the_agent_signs_at_the_moment_its_stamp_shows(
    document: bytes, ca: TestCa, font_dir: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key.public_key(), vn_name(AN.name, AN.organization or ""))

    def raw(digest: bytes, algorithm: HashAlgorithm) -> bytes:
        assert algorithm is HashAlgorithm.SHA256
        return key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))

    signed = sign_pdf(
        document,
        certificate=cert.public_bytes(serialization.Encoding.DER),
        chain=[ca.cert.public_bytes(serialization.Encoding.DER)],
        key_type=KeyType.EC,
        options=PdfSignOptions(appearance=Appearance(Profile.PERSONAL)),
        identity=AN,
        raw=raw,
        font_dir=font_dir,
        signing_time=SIGNED_AT,
    )
    [embedded] = PdfFileReader(BytesIO(signed)).embedded_signatures
    # PAdES keeps the signing time in /M only (no CMS signing-time attribute).
    attributes = {a["type"].native for a in embedded.signer_info["signed_attrs"]}
    assert "signing_time" not in attributes
    assert embedded.sig_object["/M"] == generic.pdf_date(SIGNED_AT)
    assert "Thời gian ký: 29/11/2026 14:05:09 +07:00" in page_text(signed, 2)


@pytest.mark.parametrize(
    ("appearance", "message"),
    [
        (
            Appearance(Profile.PERSONAL, page=5),
            "page 5 is outside the document (the document has 2",
        ),
        (Appearance(Profile.PERSONAL, page=-3), "page -3 is outside"),
        (Appearance(Profile.PERSONAL, rect=(500, 700, 700, 780)), "is outside page 2"),
        (Appearance(Profile.ATTACHMENT, text="Số: 1", rect=(-10, 0, 100, 50)), "is outside page 1"),
        (Appearance(Profile.PERSONAL, rect=(100, 100, 110, 200)), "too small"),
        (Appearance(Profile.PERSONAL, image=jpeg()), "must be a PNG"),
        (Appearance(Profile.ORGANIZATION, image=b"\x89PNG\r\n\x1a\nbroken"), "not a readable PNG"),
        (Appearance(Profile.PERSONAL, image=png(5000, 1)), "at most 4096 pixels"),
        (
            Appearance(Profile.PERSONAL, image=b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024)),
            "larger than",
        ),
        (Appearance(Profile.ATTACHMENT), "needs 'text'"),
        (Appearance(Profile.PERSONAL, anchor="[[KY_SO]]"), "'[[KY_SO]]' is not on page 2"),
    ],
    ids=[
        "page-after-end",
        "page-before-start",
        "rect-off-the-right",
        "rect-off-the-left",
        "rect-too-small",
        "jpeg",
        "broken-png",
        "png-too-wide",
        "png-too-big",
        "attachment-without-number",
        "anchor-not-found",
    ],
)
def test_impossible_appearances_are_refused_with_a_reason(
    document: bytes, appearance: Appearance, message: str
) -> None:
    with pytest.raises(AppearanceError, match=re.escape(message)):
        resolve_placement(document, appearance)


def test_bad_image_is_refused_by_stamp_style_too(font_dir: Path) -> None:
    appearance = Appearance(Profile.ORGANIZATION, image=jpeg())
    with pytest.raises(AppearanceError, match="must be a PNG"):
        stamp_style(appearance, AN, SIGNED_AT, font_dir=font_dir)
    assert issubclass(AppearanceError, ValueError)


def test_a_character_no_font_has_is_refused_rather_than_drawn_as_a_box(font_dir: Path) -> None:
    who = SignerIdentity("Nguyễn Văn \ue000", None)
    with pytest.raises(AppearanceError, match="no installed serif font has glyphs for"):
        stamp_style(Appearance(Profile.PERSONAL), who, SIGNED_AT, font_dir)


def test_unreadable_pdf_is_an_appearance_error() -> None:
    with pytest.raises(AppearanceError, match="cannot be read"):
        resolve_placement(b"%PDF-1.7\nnot really", Appearance(Profile.PERSONAL))


@pytest.mark.parametrize(
    "moment",
    [
        SIGNED_AT,
        SIGNED_AT.astimezone(timezone(timedelta(hours=-5))),
        SIGNED_AT.astimezone(timezone(timedelta(hours=7))),
    ],
    ids=["utc", "new-york", "hanoi"],
)
def test_signing_time_is_shown_in_vietnam_time_whatever_the_zone(
    moment: datetime, font_dir: Path
) -> None:
    personal = stamp_style(Appearance(Profile.PERSONAL), AN, moment, font_dir=font_dir)
    organization = stamp_style(Appearance(Profile.ORGANIZATION), AN, moment, font_dir=font_dir)
    assert isinstance(personal, TextStampStyle)
    assert isinstance(organization, TextStampStyle)
    assert "29/11/2026 14:05:09 +07:00" in personal.stamp_text
    assert "2026-11-29T14:05:09+07:00" in organization.stamp_text


def test_text_with_a_percent_sign_survives_pyhankos_interpolation(font_dir: Path) -> None:
    style = stamp_style(
        Appearance(Profile.ATTACHMENT, text="Số: 5%/BC"), AN, SIGNED_AT, font_dir=font_dir
    )
    assert isinstance(style, TextStampStyle)
    assert (style.stamp_text % {"ts": "x"}).startswith("Số: 5%/BC\n")


async def test_three_signatures_in_incremental_updates_all_validate(  # noqa: PLR0917 - fixtures
    tmp_path: Path,
    document: bytes,
    ca: TestCa,
    an_signer: signers.SimpleSigner,
    office_signer: signers.SimpleSigner,
    font_dir: Path,
) -> None:
    personal_rect = (330.0, 120.0, 530.0, 200.0)
    pdf = await sign(
        document,
        Appearance(Profile.PERSONAL, page=-1, rect=personal_rect, image=scribble_png()),
        an_signer,
        AN,
        font_dir=font_dir,
        field="Signature1",
    )
    pdf = await sign(
        pdf,
        Appearance(Profile.ORGANIZATION, page=-1, image=seal_png()),
        office_signer,
        OFFICE,
        font_dir=font_dir,
        field="Signature2",
    )
    pdf = await sign(
        pdf,
        Appearance(Profile.ATTACHMENT, text=NUMBER),
        an_signer,
        AN,
        font_dir=font_dir,
        field="Signature3",
    )

    signed = tmp_path / "signed.pdf"
    signed.write_bytes(pdf)
    done = subprocess.run(["pdfsig", "-nocert", signed], capture_output=True, check=False)
    report = done.stdout.decode()
    assert report.count("Signature is Valid.") == 3, report

    root = asn1_x509.Certificate.load(ca.cert.public_bytes(serialization.Encoding.DER))
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    embedded = PdfFileReader(BytesIO(pdf)).embedded_signatures
    assert [s.field_name for s in embedded] == ["Signature1", "Signature2", "Signature3"]
    for signature in embedded:
        status = await async_validate_pdf_signature(signature, context)
        assert status.intact and status.valid, status.pretty_print_details()
        assert status.bottom_line, status.pretty_print_details()

    last = render(pdf, 2)
    assert within(colour_bbox(last, "blue"), pixels(personal_rect))
    # The seal goes beside the leader's signature, on its left, never over it.
    seal_rect = widget_rects(pdf)["Signature2"][1]
    assert seal_rect[2] <= personal_rect[0]
    red = colour_bbox(last, "red")
    seal_left_third = pixels((seal_rect[0], seal_rect[1], seal_rect[0] + 66, seal_rect[3]))
    assert within(red, seal_left_third)


# --------------------------------------------------------------------------- placement, real pages


def widget_rects(pdf: bytes) -> dict[str, tuple[int, Box]]:
    """Each signature field's page (0-based) and widget rectangle, read back from the file."""
    reader = PdfFileReader(BytesIO(pdf))
    pages = {
        reader.find_page_for_modification(i)[0].idnum: i
        for i in range(int(reader.root["/Pages"]["/Count"]))
    }
    found = {}
    for name, _, ref in fields.enumerate_sig_fields(reader):
        widget = ref.get_object()
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        page = widget.get_value_as_reference("/P").idnum if "/P" in widget else None
        found[name] = (pages.get(page, -1), (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    return found


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def pdfsig_valid(pdf: bytes, tmp: Path) -> int:
    """How many signatures poppler's pdfsig finds valid (the certificates aside)."""
    path = tmp / "signed.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True, check=False)
    return done.stdout.decode().count("Signature is Valid.")


async def pyhanko_intact(pdf: bytes, ca: TestCa) -> list[bool]:
    root = asn1_x509.Certificate.load(ca.cert.public_bytes(serialization.Encoding.DER))
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    verdicts = []
    for signature in PdfFileReader(BytesIO(pdf)).embedded_signatures:
        status = await async_validate_pdf_signature(signature, context)
        verdicts.append(bool(status.intact and status.valid and status.bottom_line))
    return verdicts


def page_height(pdf: bytes, page: int) -> int:
    return render(pdf, page).height


needs_qpdf = pytest.mark.skipif(shutil.which("qpdf") is None, reason="needs qpdf")


@needs_qpdf
async def test_the_seal_after_the_leaders_signature_sits_beside_it_never_over_it(  # noqa: PLR0917
    tmp_path: Path,
    document: bytes,
    ca: TestCa,
    an_signer: signers.SimpleSigner,
    office_signer: signers.SimpleSigner,
    font_dir: Path,
) -> None:
    # SignApproved, then SignIssued: neither gives a position.
    approved = await sign(document, Appearance(Profile.PERSONAL), an_signer, AN, font_dir=font_dir)
    issued = await sign(
        approved,
        Appearance(Profile.ORGANIZATION, image=seal_png(), details=("Số: 123/QĐ-UBND",)),
        office_signer,
        OFFICE,
        font_dir=font_dir,
        field="Signature2",
    )

    rects = widget_rects(issued)
    (leader_page, leader), (seal_page, seal) = rects["Signature1"], rects["Signature2"]
    assert leader_page == seal_page == 1, "the seal goes on the page of the leader's signature"
    assert not overlap(leader, seal), (leader, seal)
    # Beside it, on its left (Điều 33: the seal on the left of the signature), same height.
    assert seal[2] <= leader[0] <= seal[2] + 4
    assert abs((seal[1] + seal[3]) / 2 - (leader[1] + leader[3]) / 2) <= 1
    before, after = render(approved, 2), render(issued, 2)
    ink = changed(before, after)
    assert ink is not None and within(ink, pixels(seal)), (ink, seal)
    assert within(colour_bbox(after, "red"), pixels(seal))
    assert "Ký bởi: Nguyễn Văn An" in page_text(issued, 2), "the leader's stamp still reads"
    assert pdfsig_valid(issued, tmp_path) == 2
    assert await pyhanko_intact(issued, ca) == [True, True]
    qpdf_clean(issued, tmp_path)


@needs_qpdf
async def test_the_attachment_stamp_keeps_clear_of_a_barcode_in_the_top_right_corner(
    tmp_path: Path, ca: TestCa, an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    pdf, code = barcode_page()
    blank = render(pdf, 1)

    signed = await sign(
        pdf, Appearance(Profile.ATTACHMENT, text=NUMBER), an_signer, AN, font_dir=font_dir
    )

    _, stamp = widget_rects(signed)["Signature1"]
    assert not overlap(stamp, code), (stamp, code)
    after = render(signed, 1)
    ink = changed(blank, after)
    assert ink is not None and within(ink, pixels(stamp))
    code_pixels = pixels(code)
    assert changed(blank.crop(code_pixels), after.crop(code_pixels)) is None, "barcode intact"
    assert stamp[1] > A4[1] * 0.75, "still at the top of the page"
    assert f"{NUMBER}\n2026-11-29T14:05:09+07:00" in page_text(signed, 1)
    assert pdfsig_valid(signed, tmp_path) == 1
    assert await pyhanko_intact(signed, ca) == [True]
    qpdf_clean(signed, tmp_path)


def test_a_rect_from_the_portal_wins_over_page_content() -> None:
    pdf, code = barcode_page()
    appearance = Appearance(Profile.ATTACHMENT, text=NUMBER, rect=code)
    assert resolve_placement(pdf, appearance) == Placement(0, code)


@needs_qpdf
async def test_the_copy_stamp_leaves_the_letterhead_readable(
    tmp_path: Path, an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    pdf, rules = letterhead_page()
    blank = render(pdf, 1)
    head = {
        line: box
        for line, box in text_lines(pdf, 1).items()
        if line in (LETTERHEAD_LEFT, LETTERHEAD_RIGHT, LETTERHEAD_MOTTO)
    }
    assert len(head) == 3, head

    signed = await sign(
        pdf,
        Appearance(Profile.ATTACHMENT, text="Sao y bản chính\nSố: 5/SY"),
        an_signer,
        AN,
        font_dir=font_dir,
    )

    _, stamp = widget_rects(signed)["Signature1"]
    stamp_pixels = pixels(stamp)
    after = render(signed, 1)
    for line, box in head.items():
        area = pixels_of(box)
        assert not overlap(stamp_pixels, area), (line, box, stamp)
        assert changed(blank.crop(area), after.crop(area)) is None, line
    for rule in rules:
        assert not overlap(stamp, rule)
    after_lines = text_lines(signed, 1)
    assert all(line in after_lines for line in head)
    assert within(changed(blank, after), stamp_pixels)
    assert pdfsig_valid(signed, tmp_path) == 1
    qpdf_clean(signed, tmp_path)


def ink_crop(before: Image.Image, after: Image.Image) -> Image.Image:
    ink = changed(before, after)
    assert ink is not None, "the stamp left no ink"
    return after.crop(ink)


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two greyscale crops, ``b`` scaled to ``a``'s size."""
    grey_a, grey_b = a.convert("L"), b.convert("L").resize(a.size)
    histogram = ImageChops.difference(grey_a, grey_b).histogram()
    return sum(i * n for i, n in enumerate(histogram)) / (a.width * a.height)


@needs_qpdf
@pytest.mark.parametrize("rotation", [90, 180, 270])
async def test_a_stamp_on_a_rotated_page_reads_upright_where_the_profile_puts_it(
    tmp_path: Path, rotation: int, an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    upright = build([body_text(Page())])
    turned = build([body_text(Page(rotate=rotation))])
    reference = ink_crop(
        render(upright, 1),
        render(
            await sign(upright, Appearance(Profile.PERSONAL), an_signer, AN, font_dir=font_dir), 1
        ),
    )
    blank = render(turned, 1)  # pdftoppm shows the page as a reader does, turned

    signed = await sign(turned, Appearance(Profile.PERSONAL), an_signer, AN, font_dir=font_dir)

    after = render(signed, 1)
    ink = changed(blank, after)
    assert ink is not None
    stamp = after.crop(ink)
    # Text runs across the page as viewed: the stamp's ink is wider than tall, as upright.
    assert abs(stamp.width - reference.width) <= 2 and abs(stamp.height - reference.height) <= 2
    assert stamp.width > 2 * stamp.height, (stamp.size, ink)
    # And it is not upside down: it looks like the upright stamp, not like it turned over.
    assert difference(reference, stamp) < difference(reference.rotate(180), stamp) / 2
    # Bottom right of the page as viewed, where the signature block is.
    assert ink[0] > after.width / 2 and ink[1] > after.height * 2 / 3, (ink, after.size)
    assert "Ký bởi: Nguyễn Văn An" in page_text(signed, 1)
    assert pdfsig_valid(signed, tmp_path) == 1
    qpdf_clean(signed, tmp_path)


async def test_an_attachment_stamp_on_a_turned_page_sits_top_right_as_viewed(
    an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    turned = build([Page(rotate=90)])
    blank = render(turned, 1)

    signed = await sign(
        turned, Appearance(Profile.ATTACHMENT, text=NUMBER), an_signer, AN, font_dir=font_dir
    )

    after = render(signed, 1)
    ink = changed(blank, after)
    assert ink is not None
    assert ink[2] - ink[0] > 3 * (ink[3] - ink[1]), ink
    assert ink[2] > after.width * 0.9 and ink[1] < after.height * 0.2, (ink, after.size)


@pytest.mark.parametrize(
    "size", [(300, 140), (298, 420), (227, 160)], ids=["slip", "a6", "receipt"]
)
async def test_a_small_page_gets_a_stamp_that_fits_when_no_rect_was_given(
    tmp_path: Path, size: tuple[int, int], an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    pdf = build([Page(size=size, lines=[(10, size[1] - 20, 10, "Bien lai thu tien")])])
    blank = render(pdf, 1)
    appearance = Appearance(Profile.PERSONAL)
    placement = resolve_placement(pdf, appearance)
    assert placement is not None
    x1, y1, x2, y2 = placement.box
    assert 0 <= x1 < x2 <= size[0] and 0 <= y1 < y2 <= size[1]

    signed = await sign(pdf, appearance, an_signer, AN, font_dir=font_dir)

    after = render(signed, 1)
    assert within(changed(blank, after), pixels(placement.box, height=size[1]))
    assert "Nguyễn Văn An" in page_text(signed, 1)
    assert pdfsig_valid(signed, tmp_path) == 1


def test_a_page_too_small_for_any_stamp_is_refused_saying_what_to_do() -> None:
    pdf = build([Page(size=(100, 60))])
    with pytest.raises(AppearanceError) as refused:
        resolve_placement(pdf, Appearance(Profile.PERSONAL))
    assert "too small for a signature stamp" in str(refused.value)
    assert "'rect' [" not in str(refused.value), "no rect was sent: none is blamed"
    assert refused.value.phrase.key == "place_page_too_small"
    assert "profile 'invisible'" in refused.value.phrase.render("vi")


def test_a_rect_the_caller_gave_off_a_small_page_is_named() -> None:
    pdf = build([Page(size=(300, 140))])
    appearance = Appearance(Profile.PERSONAL, rect=(44, 72, 244, 152))
    with pytest.raises(
        AppearanceError, match=re.escape("'rect' [44, 72, 244, 152] is outside page 1")
    ):
        resolve_placement(pdf, appearance)


LEADER_FIELD = (330.0, 150.0, 530.0, 230.0)
CLERK_FIELD = (80.0, 150.0, 280.0, 230.0)


@needs_qpdf
async def test_the_only_empty_signature_field_is_signed_in_place(
    tmp_path: Path, ca: TestCa, an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    pdf = fields_page(["SigLanhDao"], [LEADER_FIELD])
    blank = render(pdf, 2)

    signed = await sign(pdf, Appearance(Profile.PERSONAL), an_signer, AN, font_dir=font_dir)

    assert widget_rects(signed) == {"SigLanhDao": (1, LEADER_FIELD)}
    assert [s.field_name for s in PdfFileReader(BytesIO(signed)).embedded_signatures] == [
        "SigLanhDao"
    ]
    assert within(changed(blank, render(signed, 2)), pixels(LEADER_FIELD))
    assert "Ký bởi: Nguyễn Văn An" in page_text(signed, 2)
    assert pdfsig_valid(signed, tmp_path) == 1
    assert await pyhanko_intact(signed, ca) == [True]
    qpdf_clean(signed, tmp_path)


@needs_qpdf
async def test_the_named_field_is_signed_and_the_other_stays_empty(
    tmp_path: Path, ca: TestCa, an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    pdf = fields_page(["SigLanhDao", "SigVanThu"], [LEADER_FIELD, CLERK_FIELD])
    blank = render(pdf, 2)

    signed = await sign(
        pdf, Appearance(Profile.PERSONAL, field="SigVanThu"), an_signer, AN, font_dir=font_dir
    )

    embedded = PdfFileReader(BytesIO(signed)).embedded_signatures
    assert [s.field_name for s in embedded] == ["SigVanThu"]
    empty = [n for n, _, _ in fields.enumerate_sig_fields(PdfFileReader(BytesIO(signed)), False)]
    assert empty == ["SigLanhDao"]
    assert within(changed(blank, render(signed, 2)), pixels(CLERK_FIELD))
    assert pdfsig_valid(signed, tmp_path) == 1
    assert await pyhanko_intact(signed, ca) == [True]
    qpdf_clean(signed, tmp_path)


def test_with_two_empty_fields_and_no_name_a_new_field_avoids_both() -> None:
    pdf = fields_page(["SigLanhDao", "SigVanThu"], [LEADER_FIELD, CLERK_FIELD])
    placement = resolve_placement(pdf, Appearance(Profile.PERSONAL))
    assert placement is not None and placement.field is None
    assert not overlap(placement.box, LEADER_FIELD) and not overlap(placement.box, CLERK_FIELD)


async def test_a_named_field_that_is_missing_or_signed_is_refused_before_signing(
    an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    pdf = fields_page(["SigLanhDao", "SigVanThu"], [LEADER_FIELD, CLERK_FIELD])
    with pytest.raises(AppearanceError) as missing:
        resolve_placement(pdf, Appearance(Profile.PERSONAL, field="SigGiamDoc"))
    assert missing.value.phrase.key == "place_field_missing_among"
    assert "SigLanhDao, SigVanThu" in str(missing.value)
    signed = await sign(
        pdf, Appearance(Profile.PERSONAL, field="SigVanThu"), an_signer, AN, font_dir=font_dir
    )
    with pytest.raises(AppearanceError, match="'SigVanThu' is already signed") as again:
        resolve_placement(signed, Appearance(Profile.ORGANIZATION, field="SigVanThu"))
    assert again.value.phrase.render("vi").startswith("ô chữ ký 'SigVanThu' đã được ký")
    with pytest.raises(AppearanceError, match="no empty signature field at all"):
        resolve_placement(sample_pdf(pages=1), Appearance(Profile.PERSONAL, field="SigLanhDao"))


def test_a_named_field_shown_in_several_places_is_refused_before_signing() -> None:
    """One field with two widgets (the same signature shown on two pages, say): pyHanko signs
    single-widget fields only, and would fail after the PIN."""
    content = b"BT /F1 12 Tf 72 760 Td (Bien ban) Tj ET"
    widget = (
        b"<< /Type /Annot /Subtype /Widget /Parent 5 0 R /F 4 /P 3 0 R /Rect [%d 100 %d 160] >>"
    )
    pdf = classic_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Annots [6 0 R 7 0 R] >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
            b"<< /FT /Sig /T (SigChung) /Kids [6 0 R 7 0 R] >>",
            widget % (60, 260),
            widget % (330, 530),
        ]
    )
    with pytest.raises(AppearanceError) as refused:
        resolve_placement(pdf, Appearance(Profile.PERSONAL, field="SigChung"))
    assert refused.value.phrase.key == "place_field_many_widgets"
    # Nor is it taken as "the only empty field" when no position is given.
    placed = resolve_placement(pdf, Appearance(Profile.PERSONAL))
    assert placed is not None and placed.field is None


async def test_a_rect_or_anchor_over_an_existing_signature_is_refused(
    an_signer: signers.SimpleSigner, font_dir: Path
) -> None:
    document = sample_pdf(pages=1, text="[[KY_SO]]")
    signed = await sign(
        document,
        Appearance(Profile.PERSONAL, rect=(40, 740, 240, 820)),
        an_signer,
        AN,
        font_dir=font_dir,
    )
    over = Appearance(Profile.ORGANIZATION, rect=(100, 700, 300, 780))
    with pytest.raises(AppearanceError, match="covers the signature field 'Signature1' on page 1"):
        resolve_placement(signed, over)
    on_anchor = Appearance(Profile.ORGANIZATION, anchor="[[KY_SO]]")
    with pytest.raises(AppearanceError) as refused:
        resolve_placement(signed, on_anchor)
    assert refused.value.phrase.key == "place_anchor_covers_signature"
    beside = Appearance(Profile.ORGANIZATION, rect=(240, 740, 440, 820))
    assert resolve_placement(signed, beside) == Placement(0, (240, 740, 440, 820))


def test_the_portal_names_a_field_in_the_appearance() -> None:
    parsed = parse_appearance({"profile": "personal", "field": "SigLanhDao"})
    assert parsed == Appearance(Profile.PERSONAL, field="SigLanhDao")
    with pytest.raises(BadRequest) as blank:
        parse_appearance({"profile": "personal", "field": "  "})
    assert blank.value.phrase is not None and blank.value.phrase.key == "place_field_blank"


# --------------------------------------------------------------------------- fonts


def _some_font() -> Path:
    return find_font("Ký bởi: Nguyễn Văn An", FontStyle.SERIF)


def test_prepared_font_has_1000_units_per_em_and_is_made_once(tmp_path: Path) -> None:
    source = tmp_path / "source.ttf"
    shutil.copyfile(_some_font(), source)
    cache = tmp_path / "cache"

    first = prepare_font(source, cache)
    made = first.path.stat().st_mtime_ns
    again = prepare_font(source, cache)

    assert again == first
    assert first.path.parent == cache
    assert first.path.stat().st_mtime_ns == made
    with TTFont(first.path) as font:
        assert font["head"].unitsPerEm == 1000
        assert "fpgm" not in font
    assert first.covers("Thời gian ký")
    # A changed source is prepared again.
    os.utime(source, ns=(made, made + 10**9))
    assert prepare_font(source, cache).path != first.path


def test_font_without_vietnamese_glyphs_is_passed_over(tmp_path: Path) -> None:
    full = _some_font()
    latin = tmp_path / "latin-only.ttf"
    with TTFont(full) as font:
        subsetter = subset.Subsetter(subset.Options(layout_features=[]))
        subsetter.populate(text="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz: ")
        subsetter.subset(font)
        font.save(latin)

    assert find_font("Ky boi: Nguyen Van An", candidates=[latin, full]) == latin
    assert find_font("Ký bởi: Nguyễn Văn An", candidates=[latin, full]) == full
    with pytest.raises(FontError, match="no installed serif font has glyphs for"):
        find_font("Ký bởi", candidates=[latin])
    with pytest.raises(FontError, match="no sans font found"):
        find_font("Ký bởi", FontStyle.SANS, candidates=[tmp_path / "missing.ttf"])


def test_known_font_paths_cover_debian_and_windows() -> None:
    serif = [str(p) for p in fonts.FONT_CANDIDATES[FontStyle.SERIF]]
    assert any(p.endswith("liberation/LiberationSerif-Regular.ttf") for p in serif)
    assert any(p.endswith("dejavu/DejaVuSans.ttf") for p in serif)
    assert any(p.lower().endswith("times.ttf") for p in serif)
    sans = [str(p) for p in fonts.FONT_CANDIDATES[FontStyle.SANS]]
    assert any(p.lower().endswith("arial.ttf") for p in sans)


# --------------------------------------------------------------------------- examples


def examples() -> dict[str, tuple[Appearance, SignerIdentity, int]]:
    """Name → appearance, signer and page of the example renders."""
    box = (339.0, 72.0, 539.0, 152.0)
    return {
        "personal": (Appearance(Profile.PERSONAL, page=-1), AN, 2),
        "personal-image": (
            Appearance(Profile.PERSONAL, page=-1, rect=box, image=scribble_png()),
            AN,
            2,
        ),
        "organization": (
            Appearance(Profile.ORGANIZATION, page=-1, rect=box, image=seal_png()),
            OFFICE,
            2,
        ),
        "attachment": (Appearance(Profile.ATTACHMENT, text=NUMBER), AN, 1),
    }


async def write_examples(directory: Path, font_dir: Path, dpi: int = 144) -> list[Path]:
    """Sign the sample document once per profile and save the stamp area of each page."""
    ca = TestCa.create("Kyso Appearance Example CA")
    document = sample_pdf(pages=2)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (appearance, who, page) in examples().items():
        placement = resolve_placement(document, appearance)
        assert placement is not None
        signed = await sign(document, appearance, software_signer(ca, who), who, font_dir=font_dir)
        scale = dpi / 72
        x1, y1, x2, y2 = placement.box
        margin = 12
        area = (
            round((x1 - margin) * scale),
            round((A4[1] - y2 - margin) * scale),
            round((x2 + margin) * scale),
            round((A4[1] - y1 + margin) * scale),
        )
        path = directory / f"{name}.png"
        render(signed, page, dpi).crop(area).save(path, optimize=True)
        written.append(path)
    return written


async def test_example_renders_are_small_pngs(tmp_path: Path, font_dir: Path) -> None:
    written = await write_examples(tmp_path, font_dir=font_dir)
    assert [p.name for p in written] == [f"{name}.png" for name in examples()]
    for path in written:
        assert 0 < path.stat().st_size < 60_000
        with Image.open(path) as image:
            assert image.format == "PNG"


if __name__ == "__main__":
    # python -m tests.unit.test_pdf_appearance docs/appearance [--serif FONT.ttf]
    arguments = sys.argv[1:]
    target = Path(arguments[0]) if arguments else Path("docs/appearance")
    if "--serif" in arguments:
        preferred = Path(arguments[arguments.index("--serif") + 1])
        fonts.FONT_CANDIDATES[FontStyle.SERIF] = (preferred,)  # type: ignore[index]
    for written_path in asyncio.run(write_examples(target, target / ".fonts")):
        print(written_path)
    shutil.rmtree(target / ".fonts", ignore_errors=True)
