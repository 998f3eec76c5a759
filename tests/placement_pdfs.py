"""Real-world-shaped pages for stamp placement, written by hand (no PDF library): a 2-D
barcode in the top right corner, a letterhead, rotated pages, small pages, empty signature
fields. Each builder also returns where it drew what, in PDF points, for the checks."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.pdftools import classic_pdf

Box = tuple[float, float, float, float]

A4 = (595.0, 842.0)
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


@dataclass
class Page:
    """One page to write."""

    size: tuple[float, float] = A4
    rotate: int = 0
    lines: list[tuple[float, float, float, str]] = field(default_factory=list)
    """Text: (x, baseline y, font size, ASCII text) in Helvetica."""
    barcode: Box | None = None
    """Where a QR-like black and white module image is drawn."""
    rules: list[Box] = field(default_factory=list)
    """Filled black rectangles (the rule under a letterhead's motto)."""
    fields: list[tuple[str, Box]] = field(default_factory=list)
    """Empty signature fields: (name, rect)."""


def build(pages: Sequence[Page]) -> bytes:
    """A PDF of ``pages``; an AcroForm when a page has signature fields."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree (written last)
    page_refs: list[int] = []
    all_fields: list[int] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    for page in pages:
        content = b""
        xobjects = b""
        if page.barcode is not None:
            image = add(_modules(25, seed=len(page_refs)))
            x1, y1, x2, y2 = page.barcode
            content += b"q %g 0 0 %g %g %g cm /Code Do Q\n" % (x2 - x1, y2 - y1, x1, y1)
            xobjects = b"/XObject << /Code %d 0 R >> " % image
        for x1, y1, x2, y2 in page.rules:
            content += b"0 g %g %g %g %g re f\n" % (x1, y1, x2 - x1, y2 - y1)
        for x, y, size, text in page.lines:
            content += b"BT /F1 %g Tf %g %g Td (%s) Tj ET\n" % (size, x, y, text.encode("ascii"))
        contents = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        page_id = add(b"")  # written below, once its widgets have numbers
        annots = [
            add(
                b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (%s) /F 4 "
                b"/Rect [%g %g %g %g] /P %d 0 R >>"
                % (name.encode("ascii"), x1, y1, x2, y2, page_id)
            )
            for name, (x1, y1, x2, y2) in page.fields
        ]
        annot_list = b" ".join(b"%d 0 R" % a for a in annots)
        objects[page_id - 1] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Rotate %d "
            b"/Contents %d 0 R /Resources << %s/Font << /F1 %s >> >> /Annots [%s] >>"
            % (page.size[0], page.size[1], page.rotate, contents, xobjects, FONT, annot_list)
        )
        page_refs.append(page_id)
        all_fields += annots
    kids = b" ".join(b"%d 0 R" % p for p in page_refs)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_refs))
    form = b""
    if all_fields:
        listed = b" ".join(b"%d 0 R" % f for f in all_fields)
        form = b" /AcroForm << /Fields [%s] /SigFlags 0 >>" % listed
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R%s >>" % form
    return classic_pdf(objects)


def _modules(count: int, seed: int) -> bytes:
    """A ``count`` x ``count`` grey image of black and white modules, one byte a pixel, with
    the three finder squares of a QR code."""
    noise = random.Random(seed)
    rows = []
    for y in range(count):
        row = bytearray()
        for x in range(count):
            rings = [
                max(abs(x - fx - 3), abs(y - fy - 3))
                for fx, fy in ((0, 0), (count - 7, 0), (0, count - 7))
                if 0 <= x - fx < 7 and 0 <= y - fy < 7
            ]
            if rings:
                row.append(255 if rings[0] == 2 else 0)
            else:
                row.append(0 if noise.random() < 0.5 else 255)
        rows.append(bytes(row))
    pixels = b"".join(rows)
    head = (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (count, count, len(pixels))
    )
    return head + pixels + b"\nendstream"


def body_text(page: Page, top: float = 700, bottom: float = 300) -> Page:
    """``page`` with lines of body text from ``top`` down to ``bottom`` at the left margin."""
    y = top
    while y >= bottom:
        page.lines.append((85, y, 12, "Dieu 1. Noi dung van ban hanh chinh, dong chu thu nghiem."))
        y -= 18
    return page


def barcode_page() -> tuple[bytes, Box]:
    """An A4 page with a 70 x 70 pt 2-D barcode where the attachment stamp would go (its top
    right corner, 20 pt from the edges) and body text; the barcode's box."""
    code = (495.0, 752.0, 565.0, 822.0)
    page = body_text(Page(barcode=code))
    page.lines.append((85, 790, 13, "UY BAN NHAN DAN TINH THUA THIEN HUE"))
    return build([page]), code


LETTERHEAD_LEFT = "UY BAN NHAN DAN TINH"
LETTERHEAD_RIGHT = "CONG HOA XA HOI CHU NGHIA VIET NAM"
LETTERHEAD_MOTTO = "Doc lap - Tu do - Hanh phuc"


def letterhead_page() -> tuple[bytes, list[Box]]:
    """An A4 page with the decree's letterhead across the top (agency on the left, the
    national title and motto with its rule on the right) and body text; the boxes of the
    letterhead's parts (approximate, from Helvetica's widths: checks use pdftotext's)."""
    page = body_text(Page())
    page.lines += [
        (60, 800, 12, LETTERHEAD_LEFT),
        (318, 800, 11, LETTERHEAD_RIGHT),
        (370, 784, 12, LETTERHEAD_MOTTO),
    ]
    rule = (370.0, 779.0, 520.0, 780.0)
    page.rules.append(rule)
    return build([page]), [rule]


def fields_page(names: Sequence[str], rects: Sequence[Box]) -> bytes:
    """A two-page A4 document whose last page has empty signature fields ``names`` at
    ``rects`` below its body text."""
    first = body_text(Page())
    last = body_text(Page(), top=700, bottom=400)
    last.fields = list(zip(names, rects, strict=True))
    return build([first, last])
