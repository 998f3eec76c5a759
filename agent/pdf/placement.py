"""Where a visible signature goes: a page and a box, resolved against the document.

:func:`resolve_placement` turns ``field``/``page``/``rect``/``anchor`` into a page index and a box
in PDF points, or refuses with :class:`~agent.pdf.models.AppearanceError` before anyone is asked.
In this order: the field the portal named; the document's only empty signature field when no
position was given; the portal's ``anchor`` or ``rect``; else the profile's rule of Nghị định
30/2020/NĐ-CP relative to what is already signed (:func:`_by_rule`), moved to free space when
the rule's place is covered by the page's content (:mod:`agent.pdf.layout`). A new stamp never
covers a signature field's widget. :func:`field_spec` makes the signature field.

Anchors are found with PDFium's text (pyHanko does not extract text): the box, of the
profile's size or the size of ``rect`` if one is given, is centred on the first occurrence of
the anchor text on the requested page.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO, Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigFieldSpec

from agent.messages import Phrase
from agent.pdf.layout import (
    PageUnreadable,
    PageView,
    Widget,
    content_boxes,
    find_text,
    free_spot,
    intersects,
    other_annotations,
    signature_widgets,
)
from agent.pdf.models import Appearance, AppearanceError, Box, Placement, Profile
from agent.pdf.source import PdfSource, opened

log = logging.getLogger(__name__)

MIN_STAMP_SIDE: Final = 16
"""Smallest box side accepted, in points."""
DEFAULT_MARGIN: Final = (56, 72)
"""Right and bottom distance of the default ``personal``/``organization`` box from the page
edge (about 2 cm and 2.5 cm, the decree's page margins)."""
ATTACHMENT_MARGIN: Final = 20
"""Distance of the default ``attachment`` box from the top and right edges."""
SMALL_MARGIN: Final = 6
"""Smallest distance from the page edge on a page too small for the usual margins."""
MIN_SHRINK: Final = 0.5
"""A stamp is shrunk to fit a small page down to this share of its size (10 pt text to 5 pt)."""
FIELD_GAP: Final = 2
"""Points left between a new stamp and an existing signature field."""
_TOLERANCE: Final = 0.5
"""Points a rect may stick out of the page by (rounding in callers' arithmetic)."""


def resolve_placement(pdf: PdfSource, appearance: Appearance) -> Placement | None:
    """The page and box of the signature, or ``None`` for an invisible one in a new field.

    In this order: the field the portal named (``appearance.field``); the document's only empty
    signature field when no position was given; the portal's ``anchor`` or ``rect``; else the
    profile's rule (:func:`_by_rule`), moved to free space when the rule's place is taken. A
    new stamp never covers a signature field's widget; a ``rect`` or anchor that would is
    refused.

    Also checks the image and text of the appearance, so that a bad request fails
    here, before anyone is asked to sign.

    :raises AppearanceError: page outside the document, box outside the page, too small or
        over a signature field, anchor not found, no such empty field, image not an
        acceptable PNG, attachment without text.
    """
    profile = appearance.profile
    if profile is Profile.INVISIBLE and appearance.field is None:
        return None
    if profile is not Profile.INVISIBLE:
        # The stamp code (fonts, images) loads only for a stamp: agent.pdf.signer's _stamp.
        from agent.pdf.appearance import check_content

        check_content(appearance)
    with opened(pdf) as stream:  # the reader's objects read from it as they are used
        return _resolve(pdf, _Document.read(stream), appearance)


def _resolve(pdf: PdfSource, document: _Document, appearance: Appearance) -> Placement | None:
    if appearance.field is not None:
        return _into_field(document, appearance.field)
    only = _only_empty_field(document, appearance)
    if only is not None:
        return only
    index = document.page_index(appearance)
    view = document.view(index)
    fields = [w for w in document.widgets if w.page_index == index and w.visible]
    if appearance.anchor is not None:
        box = _on_anchor(pdf, index, view, appearance)
        _refuse_covering(box, fields, index, appearance.anchor)
    elif appearance.rect is not None:
        box = appearance.rect
        _check_box(box, view.area, index)
        _refuse_covering(box, fields, index, None)
    else:
        box = _by_rule(pdf, document, index, view=view, appearance=appearance, fields=fields)
    return Placement(index, box, rotation=view.rotation)


def field_spec(field_name: str, placement: Placement | None) -> SigFieldSpec | None:
    """A new signature field named ``field_name``: invisible (no widget rectangle) for
    ``None``, else a widget on the placement's page and box; ``None`` when the placement is an
    existing field (pyHanko signs it as it is)."""
    if placement is None:
        return SigFieldSpec(sig_field_name=field_name)
    if placement.field is not None:
        return None
    x1, y1, x2, y2 = placement.box
    return SigFieldSpec(
        sig_field_name=field_name,
        on_page=placement.page_index,
        box=(round(x1), round(y1), round(x2), round(y2)),
    )


_READ_ERRORS: Final = (PdfError, KeyError, TypeError, ValueError, IndexError, RecursionError)


@dataclass(frozen=True)
class _Document:
    """What placement needs of the document: its pages and signature fields."""

    pages: list[generic.IndirectObject]
    widgets: list[Widget]

    @classmethod
    def read(cls, stream: BinaryIO) -> _Document:
        try:
            reader = PdfFileReader(stream, strict=False)
            if reader.encrypted:
                # Only files opening with the empty user password get this far
                # (agent.pdf.signer.inspect_pdf); field names are encrypted strings.
                reader.decrypt("")
            count = int(reader.root["/Pages"]["/Count"])
            pages = [
                reader.find_page_for_modification(i)[0]  # type: ignore[no-untyped-call]
                for i in range(count)
            ]
            widgets = signature_widgets(reader, pages)
        except _READ_ERRORS as exc:
            log.info("placement: the PDF cannot be read: %s", exc)
            raise AppearanceError(Phrase.of("place_pdf_unreadable")) from exc
        return cls(pages, widgets)

    def page_index(self, appearance: Appearance) -> int:
        """0-based index of the requested page, or of the profile's page when none was given:
        the first for an attachment, the page of the latest visible signature for the
        organisation's (it goes beside the leader's), else the last (the signature block)."""
        page = appearance.page
        if page is None:
            if appearance.profile is Profile.ATTACHMENT:
                return 0
            signed = [
                w for w in self.widgets if w.signed and w.visible and w.page_index is not None
            ]
            if appearance.profile is Profile.ORGANIZATION and signed:
                latest = max(signed, key=lambda w: w.order)
                assert latest.page_index is not None  # noqa: S101 - filtered above
                return latest.page_index
            page = -1
        count = len(self.pages)
        index = page - 1 if page > 0 else count + page
        if page == 0 or not 0 <= index < count:
            raise AppearanceError(Phrase.of("place_page_outside", page=page, count=count))
        return index

    def view(self, index: int) -> PageView:
        """The page's visible area and rotation."""
        try:
            page = self.pages[index].get_object()  # type: ignore[no-untyped-call]
            media = _rectangle(_inherited(page, "/MediaBox"))
            crop = _rectangle(_inherited(page, "/CropBox")) or media
            rotation_value = _inherited(page, "/Rotate")
            rotation = (
                int(rotation_value) if isinstance(rotation_value, generic.NumberObject) else 0
            )
        except _READ_ERRORS as exc:
            raise AppearanceError(Phrase.of("place_page_unreadable", page=index + 1)) from exc
        if media is None or crop is None:
            raise AppearanceError(Phrase.of("place_page_unreadable", page=index + 1))
        visible = (
            max(media[0], crop[0]),
            max(media[1], crop[1]),
            min(media[2], crop[2]),
            min(media[3], crop[3]),
        )
        if visible[0] >= visible[2] or visible[1] >= visible[3]:
            visible = media
        # /Rotate must be a multiple of 90; viewers ignore anything else.
        rotation = rotation % 360 if rotation % 90 == 0 else 0
        return PageView(visible, rotation)


def _into_field(document: _Document, name: str) -> Placement:
    """The empty signature field the portal named."""
    named = [w for w in document.widgets if w.name == name]
    if not named:
        empty = sorted({w.name for w in document.widgets if not w.signed})
        if not empty:
            raise AppearanceError(Phrase.of("place_field_missing", field=name))
        raise AppearanceError(
            Phrase.of("place_field_missing_among", field=name, fields=", ".join(empty))
        )
    widget = named[0]
    if widget.signed:
        raise AppearanceError(Phrase.of("place_field_signed", field=name))
    if len(named) > 1:
        # One signature, several places on the pages: pyHanko signs only single-widget
        # fields, and would fail after the PIN.
        raise AppearanceError(Phrase.of("place_field_many_widgets", field=name))
    if widget.page_index is None or not widget.visible:
        # A field without a widget area is signed as it is: nothing shows.
        return Placement(widget.page_index or 0, (0, 0, 0, 0), field=name)
    view = document.view(widget.page_index)
    return Placement(widget.page_index, widget.rect, field=name, rotation=view.rotation)


def _only_empty_field(document: _Document, appearance: Appearance) -> Placement | None:
    """The document's one empty visible signature field, when no position was given and the
    profile has no prescribed place of its own (an attachment stamp goes top right of page 1,
    whatever fields the document has for its own signers)."""
    if (
        appearance.rect is not None
        or appearance.anchor is not None
        or appearance.profile is Profile.ATTACHMENT
    ):
        return None
    empty = [w for w in document.widgets if not w.signed]
    if len({w.name for w in empty}) != 1 or len(empty) != 1:
        return None
    [widget] = empty
    if widget.page_index is None or not widget.visible:
        return None
    if appearance.page is not None and document.page_index(appearance) != widget.page_index:
        return None
    view = document.view(widget.page_index)
    return Placement(widget.page_index, widget.rect, field=widget.name, rotation=view.rotation)


def _inherited(page: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    """A page attribute, looked up through the page tree as PDF inheritance wants."""
    node: generic.DictionaryObject | None = page
    for _ in range(64):  # page trees are shallow; a cycle must not hang the agent
        if node is None:
            return None
        if key in node:
            value: generic.PdfObject = node[key]
            return value
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return None


def _rectangle(value: object) -> Box | None:
    """A PDF rectangle, normalised so that x1 < x2 and y1 < y2."""
    if value is None:
        return None
    if not isinstance(value, generic.ArrayObject) or len(value) != 4:
        raise ValueError(f"not a rectangle: {value!r}")
    a, b, c, d = (float(v) for v in value)
    return min(a, c), min(b, d), max(a, c), max(b, d)


def _fit(
    size: tuple[int, int], margins: tuple[float, float], page: tuple[float, float], index: int
) -> tuple[tuple[int, int], tuple[float, float]]:
    """The stamp's size and its distance from the page edges on a page of ``page`` size
    (as viewed): the profile's on a page large enough; on a small page (A6, a receipt) the
    margins shrink first, then the stamp, to no less than :data:`MIN_SHRINK` of itself."""
    width, height = size
    page_width, page_height = page
    if width + 2 * margins[0] <= page_width and height + 2 * margins[1] <= page_height:
        return size, margins
    small = (
        min(margins[0], max(SMALL_MARGIN, page_width * 0.04)),
        min(margins[1], max(SMALL_MARGIN, page_height * 0.04)),
    )
    scale = min(
        1.0,
        (page_width - 2 * small[0]) / width,
        (page_height - 2 * small[1]) / height,
    )
    shrunk = (math.floor(width * scale), math.floor(height * scale))
    if scale < MIN_SHRINK or min(shrunk) < MIN_STAMP_SIDE:
        raise AppearanceError(
            Phrase.of(
                "place_page_too_small",
                page=index + 1,
                width=f"{page_width:g}",
                height=f"{page_height:g}",
            )
        )
    return shrunk, small


def _by_rule(
    pdf: PdfSource,
    document: _Document,
    index: int,
    *,
    view: PageView,
    appearance: Appearance,
    fields: list[Widget],
) -> Box:
    """The profile's place on the page (Nghị định 30/2020/NĐ-CP), in user space.

    The rules, on the page as viewed:

    * ``attachment``: top right corner of the page (Phụ lục I: "góc trên, bên phải, trang đầu").
    * ``personal``: bottom right, where the signature block (chức vụ, họ tên) of a document is
      (Phụ lục I: at the place of the signer's signature on paper).
    * ``organization``: beside the latest visible signature on the page, the leader's, on its
      left. Điều 33 khoản 1 điểm b puts the seal over about a third of the signature on its
      left; in a PDF, two overlapping widgets make both unreadable, so the organisation's
      stamp touches the leader's on its left instead of covering it (its seal, drawn in the
      stamp's left third, stays on the leader's left). Where that side is taken or off the
      page: below, above, then right of it. Without a signature on the page: bottom right.

    Where the rule's place covers page content (a barcode, a letterhead, text), the stamp goes
    to the nearest free place of its size; when the page has none, to the rule's place. It
    never covers a signature field's widget (signed or waiting for its signer).
    """
    from agent.pdf.appearance import stamp_size

    page = view.size
    profile = appearance.profile
    natural = stamp_size(appearance)
    if profile is Profile.ATTACHMENT:
        size, margins = _fit(natural, (ATTACHMENT_MARGIN, ATTACHMENT_MARGIN), page, index)
    else:
        size, margins = _fit(natural, (DEFAULT_MARGIN[0], DEFAULT_MARGIN[1]), page, index)
    width, height = size
    taken = [view.to_view(w.rect) for w in fields]
    rule: list[Box] = []
    if profile is Profile.ATTACHMENT:
        x2, y2 = page[0] - margins[0], page[1] - margins[1]
        rule.append((x2 - width, y2 - height, x2, y2))
    else:
        signed = [w for w in fields if w.signed]
        if profile is Profile.ORGANIZATION and signed:
            lx1, ly1, lx2, ly2 = view.to_view(max(signed, key=lambda w: w.order).rect)
            middle = (ly1 + ly2) / 2
            rule += [
                (
                    lx1 - FIELD_GAP - width,
                    middle - height / 2,
                    lx1 - FIELD_GAP,
                    middle + height / 2,
                ),
                (lx1, ly1 - FIELD_GAP - height, lx1 + width, ly1 - FIELD_GAP),
                (lx1, ly2 + FIELD_GAP, lx1 + width, ly2 + FIELD_GAP + height),
                (
                    lx2 + FIELD_GAP,
                    middle - height / 2,
                    lx2 + FIELD_GAP + width,
                    middle + height / 2,
                ),
            ]
        x2 = page[0] - margins[0]
        rule.append((x2 - width, margins[1], x2, margins[1] + height))
    rule = [_whole(box) for box in rule]
    content = _content(pdf, document, index, view, fields)
    edge = min(margins[0], margins[1], float(ATTACHMENT_MARGIN))
    for avoid in (content, []):
        for box in rule:
            if (
                _inside(box, page)
                and not _hits(box, taken, FIELD_GAP / 2)
                and not _hits(box, avoid)
            ):
                return view.to_user(box)
        grown = [(x1 - 1, y1 - 1, x2 + 1, y2 + 1) for x1, y1, x2, y2 in taken]
        spot = free_spot(size, page, edge, [*grown, *avoid], near=rule[0])
        if spot is not None:
            return view.to_user(spot)
    raise AppearanceError(Phrase.of("place_no_room", page=index + 1))


def _content(
    pdf: PdfSource, document: _Document, index: int, view: PageView, fields: list[Widget]
) -> list[Box]:
    """View-space boxes of what the page shows besides signature fields; none when PDFium
    cannot read the page (the stamp then goes by the rule alone, still clear of fields)."""
    try:
        boxes = content_boxes(pdf, index, view.area)
    except PageUnreadable as exc:
        log.warning("placement: page %d content not read (%s); placing by rule", index + 1, exc)
        boxes = []
    try:
        page = document.pages[index].get_object()  # type: ignore[no-untyped-call]
        boxes += other_annotations(page, {w.rect for w in fields})
    except _READ_ERRORS as exc:
        log.info("placement: annotations of page %d not read: %s", index + 1, exc)
    return [view.to_view(box) for box in boxes]


def _whole(box: Box) -> Box:
    """The box moved to whole points (pyHanko's widget boxes are whole points)."""
    x1, y1 = math.floor(box[0]), math.floor(box[1])
    return x1, y1, x1 + round(box[2] - box[0]), y1 + round(box[3] - box[1])


def _inside(box: Box, page: tuple[float, float]) -> bool:
    return box[0] >= 0 and box[1] >= 0 and box[2] <= page[0] and box[3] <= page[1]


def _hits(box: Box, others: list[Box], gap: float = 0.0) -> bool:
    return any(intersects(box, other, gap) for other in others)


def _on_anchor(pdf: PdfSource, index: int, view: PageView, appearance: Appearance) -> Box:
    """A box of the stamp's size (as viewed) centred on the anchor text, moved inside the
    page if needed; in user space."""
    assert appearance.anchor is not None  # noqa: S101 - the caller checked
    needle = " ".join(unicodedata.normalize("NFC", appearance.anchor).split())
    if not needle:
        raise AppearanceError(Phrase.of("place_anchor_empty"))
    try:
        found = find_text(pdf, index, needle)
    except PageUnreadable as exc:
        log.info("placement: text of page %d not read: %s", index + 1, exc)
        raise AppearanceError(Phrase.of("place_anchor_unreadable", page=index + 1)) from exc
    if found is None:
        raise AppearanceError(
            Phrase.of("place_anchor_not_found", anchor=appearance.anchor, page=index + 1)
        )
    from agent.pdf.appearance import stamp_size

    page_width, page_height = view.size
    if appearance.rect is not None:
        width, height = stamp_size(appearance)
    else:
        margins = (DEFAULT_MARGIN[0], DEFAULT_MARGIN[1])
        (width, height), _ = _fit(stamp_size(appearance), margins, view.size, index)
    if width > page_width or height > page_height:
        raise AppearanceError(
            Phrase.of(
                "place_anchor_stamp_too_big",
                width=width,
                height=height,
                page=index + 1,
                size=f"{page_width:g} x {page_height:g}",
            )
        )
    anchor = view.to_view(found)
    cx, cy = (anchor[0] + anchor[2]) / 2, (anchor[1] + anchor[3]) / 2
    x1 = min(max(cx - width / 2, 0), page_width - width)
    y1 = min(max(cy - height / 2, 0), page_height - height)
    return view.to_user((x1, y1, x1 + width, y1 + height))


def _refuse_covering(box: Box, fields: list[Widget], index: int, anchor: str | None) -> None:
    """A portal's position wins over page content, never over a signature field."""
    for widget in fields:
        if intersects(box, widget.rect):
            if anchor is not None:
                raise AppearanceError(
                    Phrase.of(
                        "place_anchor_covers_signature",
                        anchor=anchor,
                        page=index + 1,
                        field=widget.name,
                    )
                )
            raise AppearanceError(
                Phrase.of(
                    "place_rect_covers_signature", rect=_fmt(box), page=index + 1, field=widget.name
                )
            )


def _check_box(box: Box, page: Box, index: int) -> None:
    x1, y1, x2, y2 = box
    if not all(math.isfinite(v) for v in box):
        raise AppearanceError(Phrase.of("place_rect_not_finite"))
    if x2 - x1 < MIN_STAMP_SIDE or y2 - y1 < MIN_STAMP_SIDE:
        raise AppearanceError(
            Phrase.of("place_rect_too_small", rect=_fmt(box), minimum=MIN_STAMP_SIDE)
        )
    left, bottom, right, top = page
    if (
        x1 < left - _TOLERANCE
        or y1 < bottom - _TOLERANCE
        or x2 > right + _TOLERANCE
        or y2 > top + _TOLERANCE
    ):
        raise AppearanceError(
            Phrase.of("place_rect_outside", rect=_fmt(box), page=index + 1, area=_fmt(page))
        )


def _fmt(box: Box) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"
