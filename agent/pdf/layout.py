"""What is already on a page, and where a stamp still fits: the geometry of stamp placement.

Three jobs, none of them about drawing:

* :class:`PageView`: a page as the reader sees it. Placement rules ("bottom right", "top right",
  "left of the leader's signature") speak of the page as viewed, so boxes are computed in *view
  space* (origin at the bottom left of the visible area as shown, after ``/Rotate``) and turned
  back into the page's user space (where widget rectangles live) at the end.
* :func:`signature_widgets`: the signature fields of the document (pyHanko's reader), signed or
  empty, with their page and rectangle: a new stamp never covers one.
* :func:`content_boxes` and :func:`find_text`: what the page draws (text runs, images, paths)
  and where a text occurs, from PDFium (pypdfium2). PDFium ships in the wheels for Linux and
  Windows, so the agent needs no poppler at run time. PDFium is not thread-safe: every call
  into it holds :data:`_PDFIUM`.

:func:`free_spot` finds the free box of a given size nearest to where a rule wants it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pyhanko.pdf_utils import generic

from agent.pdf.source import PdfSource, opened

if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
"""``(x1, y1, x2, y2)`` with x1 < x2 and y1 < y2."""

GRID: Final = 4.0
"""Points per cell of the occupancy grid of :func:`free_spot`."""
BACKGROUND_SHARE: Final = 0.8
"""An object covering this share of the page or more is a background (a scan, a frame, a
white fill), not something a stamp should avoid: a scanned page would otherwise have no room."""
_MAX_FIELDS: Final = 10_000
"""Signature fields read at most (a hostile form tree must not hang the agent)."""

_PDFIUM = threading.Lock()


class PageUnreadable(ValueError):
    """PDFium could not open the document or the page."""


# --------------------------------------------------------------------------- view space


@dataclass(frozen=True)
class PageView:
    """A page's visible area (user space) and its ``/Rotate``."""

    area: Box
    """CropBox within MediaBox, in user space."""
    rotation: int
    """0, 90, 180 or 270: how far the viewer turns the page clockwise."""

    @property
    def size(self) -> tuple[float, float]:
        """Width and height as viewed."""
        width, height = self.area[2] - self.area[0], self.area[3] - self.area[1]
        return (height, width) if self.rotation in (90, 270) else (width, height)

    def to_view(self, box: Box) -> Box:
        """A user-space box in view space."""
        return _normal(*self._point_to_view(box[0], box[1]), *self._point_to_view(box[2], box[3]))

    def to_user(self, box: Box) -> Box:
        """A view-space box in user space."""
        return _normal(*self._point_to_user(box[0], box[1]), *self._point_to_user(box[2], box[3]))

    def _point_to_view(self, x: float, y: float) -> tuple[float, float]:
        left, bottom, right, top = self.area
        a, b = x - left, y - bottom
        width, height = right - left, top - bottom
        # Turning the page clockwise by the rotation, then putting the origin back at the
        # bottom left of what is shown.
        if self.rotation == 90:
            return b, width - a
        if self.rotation == 180:
            return width - a, height - b
        if self.rotation == 270:
            return height - b, a
        return a, b

    def _point_to_user(self, u: float, v: float) -> tuple[float, float]:
        left, bottom, right, top = self.area
        width, height = right - left, top - bottom
        if self.rotation == 90:
            a, b = width - v, u
        elif self.rotation == 180:
            a, b = width - u, height - v
        elif self.rotation == 270:
            a, b = v, height - u
        else:
            a, b = u, v
        return left + a, bottom + b


def _normal(x1: float, y1: float, x2: float, y2: float) -> Box:
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def intersects(a: Box, b: Box, gap: float = 0.0) -> bool:
    """Whether the boxes overlap, or come closer than ``gap``."""
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


# --------------------------------------------------------------------------- signature fields


@dataclass(frozen=True)
class Widget:
    """One signature field's widget."""

    name: str
    """Fully qualified field name."""
    page_index: int | None
    """0-based page the widget is on; ``None`` when on no page (invisible fields)."""
    rect: Box
    """``/Rect`` in user space, normalised; all zero for an invisible field."""
    signed: bool
    """The field has a value (a signature)."""
    order: int
    """For signed fields, where the signature ends in the file (later signatures end later);
    0 for empty fields."""

    @property
    def visible(self) -> bool:
        """Whether the widget has an area."""
        return self.rect[2] - self.rect[0] > 0 and self.rect[3] - self.rect[1] > 0


def signature_widgets(
    reader: PdfFileReader, pages: Sequence[generic.IndirectObject]
) -> list[Widget]:
    """Every signature field's widgets; ``pages`` are the page references in order."""
    from pyhanko.sign.fields import enumerate_sig_fields

    on_page: dict[tuple[int, int], int] = {}
    for index, page_ref in enumerate(pages):
        annots = page_ref.get_object().get("/Annots")  # type: ignore[no-untyped-call]
        annots = annots.get_object() if annots is not None else None
        if isinstance(annots, generic.ArrayObject):
            for annot in annots:
                if isinstance(annot, generic.IndirectObject):
                    on_page[(annot.idnum, annot.generation)] = index
    widgets: list[Widget] = []
    for count, (name, value, field_ref) in enumerate(enumerate_sig_fields(reader)):
        if count >= _MAX_FIELDS:
            break
        field = field_ref.get_object()
        kids = field.get("/Kids")
        refs: list[generic.IndirectObject] = (
            [k for k in kids.get_object() if isinstance(k, generic.IndirectObject)]
            if kids is not None and "/Rect" not in field
            else [field_ref]
        )
        order = _signature_end(value)
        for ref in refs:
            annot = ref.get_object()  # type: ignore[no-untyped-call]
            rect = _rect_of(annot)
            widgets.append(
                Widget(
                    name=str(name),
                    page_index=on_page.get((ref.idnum, ref.generation)),
                    rect=rect,
                    signed=value is not None,
                    order=order,
                )
            )
    return widgets


def _rect_of(annot: generic.PdfObject) -> Box:
    try:
        value = annot["/Rect"]  # type: ignore[index]
        x1, y1, x2, y2 = (float(v) for v in value)
    except (KeyError, TypeError, ValueError):
        return 0.0, 0.0, 0.0, 0.0
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return 0.0, 0.0, 0.0, 0.0
    return _normal(x1, y1, x2, y2)


def _signature_end(value: generic.PdfObject | None) -> int:
    """End of the byte range a signature covers: the later signature ends further on."""
    try:
        byte_range = value.get_object()["/ByteRange"]  # type: ignore[union-attr]
        return int(byte_range[2]) + int(byte_range[3])
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        return 0


def other_annotations(page: generic.DictionaryObject, skip: set[Box]) -> list[Box]:
    """Rectangles of the page's annotations a stamp should rather not cover (stamps, notes,
    other form fields), except those in ``skip``; links and pop-ups lie over text anyway."""
    annots = page.get("/Annots")
    annots = annots.get_object() if annots is not None else None
    boxes: list[Box] = []
    if not isinstance(annots, generic.ArrayObject):
        return boxes
    for position, entry in enumerate(annots):
        if position >= _MAX_FIELDS:
            break
        annot = entry.get_object()
        if not isinstance(annot, generic.DictionaryObject):
            continue
        if annot.get("/Subtype") in ("/Link", "/Popup"):
            continue
        rect = _rect_of(annot)
        if rect[2] > rect[0] and rect[3] > rect[1] and rect not in skip:
            boxes.append(rect)
    return boxes


# --------------------------------------------------------------------------- PDFium


def content_boxes(pdf: PdfSource, page_index: int, area: Box) -> list[Box]:
    """User-space boxes of what the page draws (text runs, images, paths, shadings, forms),
    clipped to ``area``; backgrounds covering most of the page are left out.

    :raises PageUnreadable: PDFium cannot open the document or the page.
    """
    page_area = (area[2] - area[0]) * (area[3] - area[1])
    boxes: list[Box] = []
    with pdfium_document(pdf) as document:
        for obj in document[page_index].get_objects(max_depth=1):
            x1, y1, x2, y2 = (float(v) for v in obj.get_bounds())
            box = (max(x1, area[0]), max(y1, area[1]), min(x2, area[2]), min(y2, area[3]))
            if box[0] > box[2] or box[1] > box[3]:
                continue  # wholly off the visible area
            if (box[2] - box[0]) * (box[3] - box[1]) >= BACKGROUND_SHARE * page_area:
                continue
            boxes.append(box)
    return boxes


def find_text(pdf: PdfSource, page_index: int, needle: str) -> Box | None:
    """User-space box of the first occurrence of ``needle`` (whitespace-normalised, NFC) on
    the page, or ``None``.

    :raises PageUnreadable: PDFium cannot open the document, the page or its text.
    """
    with pdfium_document(pdf) as document:
        return _search(document[page_index].get_textpage(), needle)


@contextlib.contextmanager
def pdfium_document(pdf: PdfSource) -> Iterator[Any]:
    """``pdf`` opened in PDFium, under :data:`_PDFIUM`, closed after; PDFium's errors (and a
    page index it does not have) as :class:`PageUnreadable`. Every use of PDFium in the agent
    goes through here (placement, the consent dialog's page preview)."""
    import pypdfium2 as pdfium

    # A file goes to PDFium as an open stream, not a path: PDFium's own file opening takes
    # 8-bit paths, and a Windows user's profile path may be Vietnamese.
    with _PDFIUM, opened(pdf) as stream:
        try:
            document = pdfium.PdfDocument(stream if isinstance(pdf, Path) else pdf)
        except pdfium.PdfiumError as exc:
            raise PageUnreadable(str(exc)) from exc
        try:
            yield document
        except (pdfium.PdfiumError, IndexError, ValueError) as exc:
            raise PageUnreadable(str(exc)) from exc
        finally:
            document.close()


def _search(text_page: object, needle: str) -> Box | None:
    """The first match of ``needle`` in the page's text, ignoring how words are spaced."""
    chars = text_page.get_text_range()  # type: ignore[attr-defined]
    # Match on the page's text with runs of whitespace collapsed, then map back to the
    # characters PDFium knows boxes for.
    collapsed: list[str] = []
    origin: list[int] = []
    clusters: list[tuple[str, int]] = []
    for index, char in enumerate(chars):
        if clusters and unicodedata.combining(char):
            base, first = clusters[-1]
            clusters[-1] = (base + char, first)
        else:
            clusters.append((char, index))
    for cluster, index in clusters:
        if cluster.isspace():
            if collapsed and collapsed[-1] != " ":
                collapsed.append(" ")
                origin.append(index)
            continue
        # Vietnamese text may be stored decomposed (a + combining marks): compare composed.
        for part in unicodedata.normalize("NFC", cluster):
            collapsed.append(part)
            origin.append(index)
    haystack = "".join(collapsed)
    at = haystack.find(needle)
    if at < 0:
        return None
    boxes = [
        text_page.get_charbox(i)  # type: ignore[attr-defined]
        for i in _unique(origin[at : at + len(needle)])
        if not chars[i].isspace()
    ]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _unique(indices: Sequence[int]) -> Iterator[int]:
    seen: set[int] = set()
    for index in indices:
        if index not in seen:
            seen.add(index)
            yield index


# --------------------------------------------------------------------------- free space


def free_spot(
    size: tuple[float, float],
    page: tuple[float, float],
    margin: float,
    obstacles: Sequence[Box],
    near: Box,
) -> Box | None:
    """The box of ``size`` (view space) at least ``margin`` inside a ``page`` of that size,
    touching no obstacle, whose lower-left corner is nearest to that of ``near``; ``None``
    when there is no such box.

    The page is cut into :data:`GRID`-point cells; a cell any obstacle touches is taken.
    A summed-area table then answers "is this window free" in constant time per position.
    """
    width, height = size
    page_width, page_height = page
    cols, rows = int(page_width // GRID), int(page_height // GRID)
    span_x, span_y = math.ceil(width / GRID), math.ceil(height / GRID)
    if cols < span_x or rows < span_y:
        return None
    taken = [[0] * cols for _ in range(rows)]
    for x1, y1, x2, y2 in obstacles:
        c1, c2 = max(0, int(x1 // GRID)), min(cols - 1, int(x2 // GRID))
        r1, r2 = max(0, int(y1 // GRID)), min(rows - 1, int(y2 // GRID))
        for row in range(r1, r2 + 1):
            cells = taken[row]
            for col in range(c1, c2 + 1):
                cells[col] = 1
    # sums[r][c]: taken cells in rows < r and cols < c.
    sums = [[0] * (cols + 1) for _ in range(rows + 1)]
    for row in range(rows):
        running = 0
        above, here, cells = sums[row], sums[row + 1], taken[row]
        for col in range(cols):
            running += cells[col]
            here[col + 1] = above[col + 1] + running
    best: tuple[float, Box] | None = None
    low_col, low_row = math.ceil(margin / GRID), math.ceil(margin / GRID)
    high_x, high_y = page_width - margin - width, page_height - margin - height
    for row in range(low_row, rows - span_y + 1):
        y = row * GRID
        if y > high_y:
            break
        top, bottom = sums[row + span_y], sums[row]
        for col in range(low_col, cols - span_x + 1):
            x = col * GRID
            if x > high_x:
                break
            if top[col + span_x] - top[col] - bottom[col + span_x] + bottom[col]:
                continue
            distance = math.hypot(x - near[0], y - near[1])
            if best is None or distance < best[0]:
                best = (distance, (x, y, x + width, y + height))
    return best[1] if best is not None else None
