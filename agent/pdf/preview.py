"""The page a signature goes on, as a small picture with the stamp's box drawn: for the question.

The consent dialog shows it beside the document's name, so that the user sees *what* is signed
and *where* the stamp will stand before typing the PIN. :func:`page_thumbnail` picks the page
from the prepared placement (the first page for an invisible signature, without a box);
:func:`render_page` draws it with PDFium (pypdfium2), under the lock every PDFium call in the
agent holds (:func:`agent.pdf.layout.pdfium_document`).

Bounded work: the bitmap is at most ``side`` pixels on its longer side whatever the page's size,
and PDFium draws progressively, giving up after :data:`RENDER_BUDGET` seconds (a page of a
million vector strokes would otherwise hold the question, and PDFium's lock, for seconds). A page
PDFium cannot open or draw, one drawn too slowly, or a picture that stays over ``max_bytes``
gives no thumbnail: the question is asked without it.

Coordinates: the stamp's box is in the page's user space (as the signature field's ``/Rect``);
:class:`~agent.pdf.layout.PageView` turns it into view space (``/Rotate`` applied, origin at the
bottom left of the visible area, the CropBox within the MediaBox), which scales to pixels with the
y axis turned over.
"""

from __future__ import annotations

import ctypes
import logging
import math
import time
from io import BytesIO
from typing import TYPE_CHECKING, Any, Final

from agent.pdf.layout import PageUnreadable, PageView, pdfium_document
from agent.pdf.models import Box, PageThumbnail
from agent.pdf.source import PdfSource

if TYPE_CHECKING:
    from PIL import Image

    from agent.pdf.signer import PreparedPdf

log = logging.getLogger(__name__)

RENDER_BUDGET: Final = 2.0
"""Seconds PDFium may spend drawing the page; past them, no thumbnail."""
OUTLINE: Final = (220, 0, 0, 255)
"""The stamp box's outline: red."""
FILL: Final = (220, 0, 0, 56)
"""Its inside: red at about a fifth, so the page stays readable under it."""
LINE: Final = 2
"""Width of the outline, pixels."""
MIN_BOX: Final = 5
"""Smallest side of the drawn box, pixels, so that a small stamp on a large page still shows."""


class NoPreview(Exception):
    """The page cannot be shown within the bounds (too slow to draw, picture too large)."""


def page_thumbnail(
    pdf: PdfSource,
    prepared: PreparedPdf,
    *,
    side: int,
    max_bytes: int,
    budget: float = RENDER_BUDGET,
) -> PageThumbnail | None:
    """The page the stamp of ``prepared`` goes on, its box drawn; for an invisible signature
    the first page, no box. ``None`` when the page cannot be shown (logged).

    Blocking: call it from a worker thread.
    """
    placement = prepared.placement
    index = placement.page_index if placement is not None else 0
    box = placement.box if placement is not None else None
    try:
        png = render_page(pdf, index, box, side=side, max_bytes=max_bytes, budget=budget)
    except (PageUnreadable, NoPreview) as exc:
        log.info("no preview of page %d: %s", index + 1, exc)
        return None
    return PageThumbnail(png, index, prepared.facts.pages, stamp=box is not None)


def render_page(
    pdf: PdfSource,
    page_index: int,
    stamp: Box | None,
    *,
    side: int,
    max_bytes: int,
    budget: float = RENDER_BUDGET,
) -> bytes:
    """PNG of page ``page_index`` (0-based) as viewed, its longer side ``side`` pixels, with
    ``stamp`` (a user-space box, or ``None``) outlined in red over a translucent red fill.

    :raises PageUnreadable: PDFium cannot open the document or the page.
    :raises NoPreview: the page has no area, took longer than ``budget`` seconds to draw, or
        its picture is over ``max_bytes`` even in 256 colours.
    """
    with pdfium_document(pdf) as document:
        page = document[page_index]
        view = PageView(_box(page.get_bbox()), int(page.get_rotation()) % 360)
        width_pt, height_pt = view.size
        if not (width_pt > 0 and height_pt > 0):
            raise NoPreview("the page has no visible area")
        scale = side / max(width_pt, height_pt)
        width = max(1, min(side, round(width_pt * scale)))
        height = max(1, min(side, round(height_pt * scale)))
        picture = _draw(page, width, height, budget)
    if stamp is not None:
        picture = _with_box(picture, view, stamp, (width / width_pt, height / height_pt))
    return _png(picture, max_bytes)


def _box(values: Any) -> Box:
    x1, y1, x2, y2 = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise NoPreview("the page's box is not a number")
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _draw(page: Any, width: int, height: int, budget: float) -> Image.Image:
    """The page drawn into a ``width`` x ``height`` RGB picture, progressively: PDFium asks
    after each step whether to pause, and a pause past the deadline ends the drawing."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    deadline = time.monotonic() + budget
    pause = pdfium_c.IFSDK_PAUSE(version=1)
    # Kept in a local for as long as PDFium may call it.
    asks = dict(pdfium_c.IFSDK_PAUSE._fields_)["NeedToPauseNow"](
        lambda _pause: int(time.monotonic() > deadline)
    )
    pause.NeedToPauseNow = asks
    bitmap = pdfium.PdfBitmap.new_native(width, height, pdfium_c.FPDFBitmap_BGR)
    try:
        pdfium_c.FPDFBitmap_FillRect(bitmap, 0, 0, width, height, 0xFFFFFFFF)
        status = pdfium_c.FPDF_RenderPageBitmap_Start(
            bitmap, page, 0, 0, width, height, 0, pdfium_c.FPDF_ANNOT, ctypes.byref(pause)
        )
        try:
            while status == pdfium_c.FPDF_RENDER_TOBECONTINUED:
                if time.monotonic() > deadline:
                    raise NoPreview(f"drawing the page took longer than {budget:g} s")
                status = pdfium_c.FPDF_RenderPage_Continue(page, ctypes.byref(pause))
        finally:
            pdfium_c.FPDF_RenderPage_Close(page)
        if status != pdfium_c.FPDF_RENDER_DONE:
            raise NoPreview("PDFium could not draw the page")
        drawn: Image.Image = bitmap.to_pil()
        return drawn.convert("RGB")  # a copy: the bitmap's memory is freed below
    finally:
        bitmap.close()


def _with_box(
    picture: Image.Image, view: PageView, stamp: Box, scale: tuple[float, float]
) -> Image.Image:
    """``picture`` with the user-space box ``stamp`` drawn at its place on the viewed page."""
    from PIL import Image, ImageDraw

    u1, v1, u2, v2 = view.to_view(stamp)
    _, height_pt = view.size
    # View space has its origin at the bottom left; pixels count from the top left.
    left, right = u1 * scale[0], u2 * scale[0]
    top, bottom = (height_pt - v2) * scale[1], (height_pt - v1) * scale[1]
    width, height = picture.size
    x1, x2 = _span(left, right, width)
    y1, y2 = _span(top, bottom, height)
    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).rectangle((x1, y1, x2, y2), fill=FILL, outline=OUTLINE, width=LINE)
    return Image.alpha_composite(picture.convert("RGBA"), overlay).convert("RGB")


def _span(start: float, end: float, limit: int) -> tuple[int, int]:
    """First and last pixel (inclusive) of ``[start, end)`` within ``[0, limit)``, at least
    :data:`MIN_BOX` pixels long where the picture allows."""
    first, last = math.floor(start), math.ceil(end) - 1
    if last - first + 1 < MIN_BOX:
        middle = (first + last) // 2
        first, last = middle - MIN_BOX // 2, middle - MIN_BOX // 2 + MIN_BOX - 1
    first, last = max(0, first), min(limit - 1, last)
    return first, max(first, last)


def _png(picture: Image.Image, max_bytes: int) -> bytes:
    """``picture`` as PNG, in 256 colours if the full colours are over ``max_bytes``."""
    png = _encoded(picture)
    if len(png) > max_bytes:
        png = _encoded(picture.quantize(colors=256))  # a scanned page full of noise
    if len(png) > max_bytes:
        raise NoPreview(f"the picture is over {max_bytes} bytes")
    return png


def _encoded(picture: Image.Image) -> bytes:
    out = BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()
