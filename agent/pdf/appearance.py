"""Visible signatures as Nghị định 30/2020/NĐ-CP, Phụ lục I draws them, rendered by pyHanko.

Four profiles (:class:`~agent.pdf.models.Profile`):

``invisible``
    No widget on any page.
``personal``
    The leader's signature: the signature image (transparent PNG) filling the box, or
    without an image the text "Ký bởi: NAME" / "Thời gian ký: dd/mm/yyyy HH:MM:SS +07:00".
``organization``
    The issuing organisation: the red seal (transparent PNG) over the left third of the
    box, the organisation's name and the signing time (ISO 8601, Vietnam time) beside it.
``attachment``
    An attachment: top-right corner of page 1, no image, the "số và ký hiệu" of the
    document it belongs to and the signing time (ISO 8601), Times New Roman
    metrics (Liberation Serif), 10 pt, black.

Where: :func:`resolve_placement` turns ``page``/``rect``/``anchor`` into a page index and a
box in PDF points, or refuses with :class:`AppearanceError`; :func:`field_spec` makes the
signature field and :func:`stamp_style` what is drawn in it. The signing time is shown in
Vietnam time (UTC+07:00, no daylight saving) whatever the machine's time zone.

Anchors are found with poppler's ``pdftotext -bbox-layout`` (pyHanko does not extract
text): the box, of the profile's size or the size of ``rect`` if one is given, is centred
on the first occurrence of the anchor text on the requested page.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import unicodedata
import warnings
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from io import BytesIO
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

from PIL import Image, UnidentifiedImageError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.stamp import BaseStampStyle, StaticStampStyle, TextStampStyle

from agent.pdf.fonts import FontStyle, MissingGlyphs, PreparedFont, font_for
from agent.pdf.models import Appearance, Profile, SignerIdentity

VIETNAM_TIME: Final = timezone(timedelta(hours=7), "+07:00")
"""Giờ Việt Nam: UTC+07:00 all year."""

# The stamp's wording is part of the signed document and prescribed in Vietnamese by the
# decree; it is not interface text and is never translated.
SIGNED_BY: Final = "Ký bởi"
SIGNING_TIME: Final = "Thời gian ký"

MAX_IMAGE_BYTES: Final = 2 * 1024 * 1024
"""Largest signature or seal PNG accepted."""
MAX_IMAGE_PIXELS: Final = 4096
"""Longest side, in pixels, of an image accepted (a small PNG can decode to gigapixels)."""
EMBEDDED_IMAGE_PIXELS: Final = 1200
"""Longest side embedded: about 400 dpi over a 3-inch stamp; larger images are scaled down."""
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"

STAMP_SIZE: Final = (200, 80)
"""Default box of ``personal`` and ``organization`` stamps, in points."""
ATTACHMENT_WIDTH: Final = 200
"""Default width of ``attachment`` stamps; the height follows the number of lines."""
ATTACHMENT_FONT_SIZE: Final = 10
"""Phụ lục I: cỡ chữ 10."""
TEXT_FONT_SIZE: Final = 10
"""Text of ``personal`` and ``organization`` stamps before any shrinking to fit."""
MIN_STAMP_SIDE: Final = 16
"""Smallest box side accepted, in points."""
DEFAULT_MARGIN: Final = (56, 72)
"""Right and bottom distance of the default ``personal``/``organization`` box from the page
edge (about 2 cm and 2.5 cm, the decree's page margins)."""
ATTACHMENT_MARGIN: Final = 20
"""Distance of the default ``attachment`` box from the top and right edges."""
INNER_PADDING: Final = 4
"""Space between the stamp's edge and its text."""
PDFTOTEXT_TIMEOUT: Final = 30.0
"""Seconds allowed to poppler's ``pdftotext`` to find an anchor on one page."""
_TOLERANCE: Final = 0.5
"""Points a rect may stick out of the page by (rounding in callers' arithmetic)."""


class AppearanceError(ValueError):
    """The requested appearance cannot be drawn: page or box outside the document, anchor
    not found, unusable image or text. The message says which, in English."""


@dataclass(frozen=True)
class Placement:
    """Where a visible signature goes, resolved against the document."""

    page_index: int
    """0-based index of the page."""
    box: tuple[float, float, float, float]
    """``(x1, y1, x2, y2)`` in PDF points (default user space, origin bottom-left)."""


Box = tuple[float, float, float, float]


class _Wrap(Enum):
    """Whether a line of stamp text may be broken at spaces to fit the box."""

    WORDS = "words"
    NEVER = "never"


# --------------------------------------------------------------------------- placement


def resolve_placement(pdf: bytes, appearance: Appearance) -> Placement | None:
    """The page and box of the signature, or ``None`` for an invisible one.

    Also checks the image and text of the appearance, so that a bad request fails
    here, before anyone is asked to sign.

    :raises AppearanceError: page outside the document, box outside the page or too
        small, anchor not found, image not an acceptable PNG, attachment without text.
    """
    if appearance.profile is Profile.INVISIBLE:
        return None
    _check_content(appearance)
    page = appearance.page
    if page is None:
        page = 1 if appearance.profile is Profile.ATTACHMENT else -1
    page_index, page_box, rotation = _page_geometry(pdf, page)
    width, height = _stamp_size(appearance)
    if appearance.anchor is not None:
        if rotation % 360:
            raise AppearanceError(
                f"anchors are not supported on rotated pages (page {page_index + 1} is "
                f"rotated by {rotation}°); give 'rect' instead"
            )
        found = _find_anchor(pdf, page_index, page_box, appearance.anchor)
        box = _centred(found, width, height, page_box, page_index)
    elif appearance.rect is not None:
        box = appearance.rect
    else:
        box = _default_box(appearance.profile, width, height, page_box, page_index)
    _check_box(box, page_box, page_index)
    return Placement(page_index, box)


def field_spec(field_name: str, placement: Placement | None) -> SigFieldSpec:
    """A new signature field named ``field_name``: invisible (no widget rectangle) for
    ``None``, else a widget on the placement's page and box."""
    if placement is None:
        return SigFieldSpec(sig_field_name=field_name)
    x1, y1, x2, y2 = placement.box
    return SigFieldSpec(
        sig_field_name=field_name,
        on_page=placement.page_index,
        box=(round(x1), round(y1), round(x2), round(y2)),
    )


def _page_geometry(pdf: bytes, page: int) -> tuple[int, Box, int]:
    """0-based index, visible box (CropBox within MediaBox) and rotation of ``page``."""
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        count = int(reader.root["/Pages"]["/Count"])
    except (PdfError, KeyError, TypeError, ValueError, IndexError, RecursionError) as exc:
        raise AppearanceError(f"the PDF cannot be read: {exc}") from exc
    index = page - 1 if page > 0 else count + page
    if page == 0 or not 0 <= index < count:
        raise AppearanceError(
            f"page {page} is outside the document, which has {count} page"
            f"{'' if count == 1 else 's'} (1 = first page, -1 = last page)"
        )
    try:
        page_ref, _ = reader.find_page_for_modification(index)  # type: ignore[no-untyped-call]
        page_obj = page_ref.get_object()
        media = _rectangle(_inherited(page_obj, "/MediaBox"))
        crop = _rectangle(_inherited(page_obj, "/CropBox")) or media
        rotation_value = _inherited(page_obj, "/Rotate")
        rotation = int(rotation_value) if isinstance(rotation_value, generic.NumberObject) else 0
    except (PdfError, KeyError, TypeError, ValueError, IndexError, RecursionError) as exc:
        raise AppearanceError(f"page {page} of the PDF cannot be read: {exc}") from exc
    if media is None:
        raise AppearanceError(f"page {page} of the PDF has no MediaBox")
    assert crop is not None  # noqa: S101 - media is not None
    visible = (
        max(media[0], crop[0]),
        max(media[1], crop[1]),
        min(media[2], crop[2]),
        min(media[3], crop[3]),
    )
    if visible[0] >= visible[2] or visible[1] >= visible[3]:
        visible = media
    return index, visible, rotation


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


def _stamp_size(appearance: Appearance) -> tuple[int, int]:
    """Width and height of the box in whole points: those of ``rect`` if given (also with
    an anchor), else the profile's default. pyHanko draws in a box of whole points."""
    if appearance.rect is not None:
        x1, y1, x2, y2 = appearance.rect
        return round(x2) - round(x1), round(y2) - round(y1)
    if appearance.profile is Profile.ATTACHMENT:
        lines = len(_attachment_number(appearance).split("\n")) + 1
        return ATTACHMENT_WIDTH, lines * _leading(ATTACHMENT_FONT_SIZE) + _descent(
            ATTACHMENT_FONT_SIZE
        )
    return STAMP_SIZE


def _default_box(profile: Profile, width: int, height: int, page: Box, index: int) -> Box:
    left, bottom, right, top = page
    if profile is Profile.ATTACHMENT:
        x2, y2 = right - ATTACHMENT_MARGIN, top - ATTACHMENT_MARGIN
        box = (x2 - width, y2 - height, x2, y2)
    else:
        x2, y1 = right - DEFAULT_MARGIN[0], bottom + DEFAULT_MARGIN[1]
        box = (x2 - width, y1, x2, y1 + height)
    if box[0] < left or box[1] < bottom:
        raise AppearanceError(
            f"page {index + 1} ({right - left:g} x {top - bottom:g} pt) is too small for the "
            f"default {width} x {height} pt stamp; give a smaller 'rect'"
        )
    return box


def _centred(anchor: Box, width: int, height: int, page: Box, index: int) -> Box:
    """A ``width`` x ``height`` box centred on ``anchor``, moved inside the page if needed."""
    left, bottom, right, top = page
    if width > right - left or height > top - bottom:
        raise AppearanceError(
            f"a {width} x {height} pt stamp does not fit on page {index + 1} "
            f"({right - left:g} x {top - bottom:g} pt)"
        )
    cx, cy = (anchor[0] + anchor[2]) / 2, (anchor[1] + anchor[3]) / 2
    x1 = min(max(cx - width / 2, left), right - width)
    y1 = min(max(cy - height / 2, bottom), top - height)
    return x1, y1, x1 + width, y1 + height


def _check_box(box: Box, page: Box, index: int) -> None:
    x1, y1, x2, y2 = box
    if not all(math.isfinite(v) for v in box):
        raise AppearanceError("'rect' must be four finite numbers")
    if x2 - x1 < MIN_STAMP_SIDE or y2 - y1 < MIN_STAMP_SIDE:
        raise AppearanceError(
            f"'rect' {_fmt(box)} is too small: each side must be at least {MIN_STAMP_SIDE} pt "
            "(x1 < x2, y1 < y2)"
        )
    left, bottom, right, top = page
    if (
        x1 < left - _TOLERANCE
        or y1 < bottom - _TOLERANCE
        or x2 > right + _TOLERANCE
        or y2 > top + _TOLERANCE
    ):
        raise AppearanceError(
            f"'rect' {_fmt(box)} is outside page {index + 1}, whose visible area is "
            f"{_fmt(page)} (PDF points, origin bottom-left)"
        )


def _fmt(box: Box) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


# --------------------------------------------------------------------------- anchors


def _find_anchor(pdf: bytes, index: int, page: Box, anchor: str) -> Box:
    """Box (PDF points) of the first occurrence of ``anchor`` on the page."""
    needle = " ".join(unicodedata.normalize("NFC", anchor).split())
    if not needle:
        raise AppearanceError("'anchor' must contain some text")
    executable = shutil.which("pdftotext")
    if executable is None:
        raise AppearanceError(
            "placing the stamp on an anchor text needs poppler's pdftotext, which is not "
            "installed; give 'rect' instead"
        )
    try:
        # The PDF goes in on stdin: the document is never written to disk.
        done = subprocess.run(
            [
                executable,
                "-q",
                "-f",
                str(index + 1),
                "-l",
                str(index + 1),
                "-cropbox",
                "-bbox-layout",
                "-enc",
                "UTF-8",
                "-",
                "-",
            ],
            input=pdf,
            capture_output=True,
            timeout=PDFTOTEXT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AppearanceError(f"searching page {index + 1} for the anchor took too long") from exc
    except OSError as exc:
        raise AppearanceError(f"pdftotext could not be run to find the anchor: {exc}") from exc
    if done.returncode != 0:
        raise AppearanceError(f"the text of page {index + 1} cannot be read to find the anchor")
    for words in _lines(done.stdout):
        found = _match(words, needle)
        if found is not None:
            # pdftotext measures from the top-left corner of the crop box.
            x_min, y_min, x_max, y_max = found
            return page[0] + x_min, page[3] - y_max, page[0] + x_max, page[3] - y_min
    raise AppearanceError(f"the anchor text {anchor!r} is not on page {index + 1}")


_Word = tuple[str, Box]


def _lines(xhtml: bytes) -> list[list[_Word]]:
    """Words of each text line in pdftotext's ``-bbox-layout`` output."""
    try:
        # Generated by poppler from the page's text (escaped, no DTD subset), not by
        # the document's author.
        root = ElementTree.fromstring(xhtml)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise AppearanceError("the text of the page cannot be read to find the anchor") from exc
    lines: list[list[_Word]] = []
    try:
        for line in root.iter():
            if not line.tag.endswith("}line"):
                continue
            words: list[_Word] = []
            for word in line:
                if word.tag.endswith("}word") and word.text:
                    at = word.attrib
                    box = (
                        float(at["xMin"]),
                        float(at["yMin"]),
                        float(at["xMax"]),
                        float(at["yMax"]),
                    )
                    words.append((unicodedata.normalize("NFC", word.text), box))
            lines.append(words)
    except (KeyError, ValueError) as exc:
        raise AppearanceError("the text of the page cannot be read to find the anchor") from exc
    return lines


def _match(words: list[_Word], needle: str) -> Box | None:
    """Union of the boxes of the words covering ``needle`` in a line, if it occurs."""
    starts: list[int] = []
    text = ""
    for word, _ in words:
        if text:
            text += " "
        starts.append(len(text))
        text += word
    at = text.find(needle)
    if at < 0:
        return None
    end = at + len(needle)
    boxes = [
        box
        for (word, box), start in zip(words, starts, strict=True)
        if start < end and start + len(word) > at
    ]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


# --------------------------------------------------------------------------- drawing


def stamp_style(
    appearance: Appearance,
    signer: SignerIdentity,
    signing_time: datetime,
    font_dir: Path | None = None,
) -> BaseStampStyle | None:
    """What pyHanko draws in the signature box; ``None`` for an invisible signature.

    ``personal``: the image if there is one (``text`` is then not shown), else
    "Ký bởi: NAME" and "Thời gian ký: …"; ``text``, if given, replaces the "Ký bởi" line
    (e.g. "KT. CHỦ TỊCH"). ``organization``: the seal, if given, over the left third, and
    ``text`` or the organisation (else the holder's name), then ``details`` (number and
    issue date), above the ISO 8601 time.
    ``attachment``: ``text`` above the ISO 8601 time; an image is ignored. Long names are
    broken at spaces; text that still does not fit is shrunk, never cut.

    ``signing_time`` is shown in Vietnam time (a naive value is taken as local time).
    ``font_dir`` caches the rescaled fonts (see :mod:`agent.pdf.fonts`); ``None`` uses a
    temporary directory for this process.

    :raises AppearanceError: image not an acceptable PNG, attachment without text, a
        character that no installed font has.
    :raises agent.pdf.fonts.FontError: no font installed at all, or a broken font file.
    """
    profile = appearance.profile
    if profile is Profile.INVISIBLE:
        return None
    _check_content(appearance)
    moment = signing_time.astimezone(VIETNAM_TIME)
    width, height = _stamp_size(appearance)
    if profile is Profile.ATTACHMENT:
        number = _attachment_number(appearance).split("\n")
        lines = [(line, _Wrap.NEVER) for line in [*number, moment.isoformat(timespec="seconds")]]
        return _text_stamp(
            lines,
            font_dir,
            ATTACHMENT_FONT_SIZE,
            box=(width, height),
            area=(0, 0, width, height),
            align=(AxisAlignment.ALIGN_MAX, AxisAlignment.ALIGN_MAX),
        )
    image = _png(appearance.image) if appearance.image is not None else None
    if profile is Profile.PERSONAL:
        if image is not None:
            return StaticStampStyle(
                border_width=0,
                background=PdfImage(image),
                background_opacity=1.0,
                background_layout=SimpleBoxLayoutRule(
                    x_align=AxisAlignment.ALIGN_MID,
                    y_align=AxisAlignment.ALIGN_MID,
                    margins=Margins(2, 2, 2, 2),
                    inner_content_scaling=InnerScaling.STRETCH_TO_FIT,
                ),
            )
        who = appearance.text or f"{SIGNED_BY}: {signer.name}"
        when = f"{SIGNING_TIME}: {moment:%d/%m/%Y %H:%M:%S} +07:00"
        return _text_stamp(
            _who_and_when(who, when),
            font_dir,
            TEXT_FONT_SIZE,
            box=(width, height),
            area=_padded(0, width, height),
            align=(AxisAlignment.ALIGN_MIN, AxisAlignment.ALIGN_MID),
        )
    # Profile.ORGANIZATION: the seal over the left third, the text on the rest.
    who = appearance.text or signer.organization or signer.name
    when = moment.isoformat(timespec="seconds")
    seal_width = width // 3
    style = _text_stamp(
        _who_and_when(who, when, appearance.details),
        font_dir,
        TEXT_FONT_SIZE,
        box=(width, height),
        area=_padded(seal_width if image is not None else 0, width, height),
        align=(AxisAlignment.ALIGN_MIN, AxisAlignment.ALIGN_MID),
    )
    if image is None:
        return style
    return replace(
        style,
        background=PdfImage(image),
        background_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins(left=0, right=width - seal_width, top=0, bottom=0),
            inner_content_scaling=InnerScaling.STRETCH_TO_FIT,
        ),
    )


def _who_and_when(who: str, when: str, details: tuple[str, ...] = ()) -> list[tuple[str, _Wrap]]:
    """Name lines (may wrap), detail lines (may wrap) and the time line (never breaks: it
    shrinks with the rest)."""
    named = [(line, _Wrap.WORDS) for line in who.split("\n")]
    return named + [(line, _Wrap.WORDS) for line in details] + [(when, _Wrap.NEVER)]


def _padded(left: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The text area from ``left`` to the right edge, inside the inner padding."""
    return left + INNER_PADDING, INNER_PADDING, width - INNER_PADDING, height - INNER_PADDING


def _text_stamp(
    lines: list[tuple[str, _Wrap]],
    font_dir: Path | None,
    size: int,
    *,
    box: tuple[int, int],
    area: tuple[int, int, int, int],
    align: tuple[AxisAlignment, AxisAlignment],
) -> TextStampStyle:
    """Lines of text in ``area`` (x1, y1, x2, y2 within a ``box`` of width x height),
    ``size`` pt unless they must shrink to fit."""
    text = "\n".join(unicodedata.normalize("NFC", line) for line, _ in lines)
    try:
        font = font_for(text, FontStyle.SERIF, font_dir)
    except MissingGlyphs as exc:
        raise AppearanceError(f"the stamp text cannot be written: {exc}") from exc
    x1, y1, x2, y2 = area
    wrapped = [
        part
        for line, wrap in lines
        for part in (
            _wrap(unicodedata.normalize("NFC", line), font, size, x2 - x1)
            if wrap is _Wrap.WORDS
            else [unicodedata.normalize("NFC", line)]
        )
    ]
    return TextStampStyle(
        border_width=0,
        background_opacity=1.0,
        text_box_style=TextBoxStyle(
            font=font.engine_factory(size),
            font_size=size,
            leading=_leading(size),
            # Room below the last baseline for descenders (g, p, ự).
            box_layout_rule=SimpleBoxLayoutRule(
                x_align=AxisAlignment.ALIGN_MIN,
                y_align=AxisAlignment.ALIGN_MIN,
                margins=Margins(bottom=_descent(size)),
                inner_content_scaling=InnerScaling.NO_SCALING,
            ),
        ),
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=align[0],
            y_align=align[1],
            margins=Margins(left=x1, right=box[0] - x2, top=box[1] - y2, bottom=y1),
            inner_content_scaling=InnerScaling.SHRINK_TO_FIT,
        ),
        # pyHanko applies %-interpolation to the text; it is complete already.
        stamp_text="\n".join(wrapped).replace("%", "%%"),
    )


def _leading(size: int) -> int:
    return math.ceil(size * 1.2)


def _descent(size: int) -> int:
    return math.ceil(size * 0.3)


def _wrap(line: str, font: PreparedFont, size: int, width: float) -> list[str]:
    """Break ``line`` at spaces into lines no wider than ``width`` (a longer word stays whole)."""
    words = line.split()
    if not words:
        return [line]
    out = [words[0]]
    for word in words[1:]:
        candidate = f"{out[-1]} {word}"
        if font.width(candidate, size) <= width:
            out[-1] = candidate
        else:
            out.append(word)
    return out


def _attachment_number(appearance: Appearance) -> str:
    """The "số và ký hiệu" an attachment stamp must show."""
    if not appearance.text or not appearance.text.strip():
        raise AppearanceError(
            "the attachment profile needs 'text': the number and symbol of the document "
            "it belongs to (số và ký hiệu, e.g. 'Số: 123/QĐ-UBND')"
        )
    return appearance.text.strip()


def _check_content(appearance: Appearance) -> None:
    if appearance.profile is Profile.ATTACHMENT:
        _attachment_number(appearance)
    if appearance.image is not None and appearance.profile in (
        Profile.PERSONAL,
        Profile.ORGANIZATION,
    ):
        _png(appearance.image)


_IMAGE_ERRORS: Final = (
    OSError,
    ValueError,
    SyntaxError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)
"""What Pillow raises for a damaged or hostile image."""


def _png(data: bytes) -> Image.Image:
    """The image as RGBA, at most :data:`EMBEDDED_IMAGE_PIXELS` on its longest side."""
    if len(data) > MAX_IMAGE_BYTES:
        raise AppearanceError(f"'image' is larger than {MAX_IMAGE_BYTES} bytes")
    if not data.startswith(PNG_MAGIC):
        raise AppearanceError("'image' must be a PNG (transparent background)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data), formats=["PNG"])
    except _IMAGE_ERRORS as exc:
        raise AppearanceError(f"'image' is not a readable PNG: {exc}") from exc
    if max(image.size) > MAX_IMAGE_PIXELS:
        raise AppearanceError(
            f"'image' is {image.width} x {image.height} pixels; at most "
            f"{MAX_IMAGE_PIXELS} pixels a side are accepted"
        )
    try:
        image.load()
        converted = image.convert("RGBA")
    except _IMAGE_ERRORS as exc:
        raise AppearanceError(f"'image' is not a readable PNG: {exc}") from exc
    converted.thumbnail((EMBEDDED_IMAGE_PIXELS, EMBEDDED_IMAGE_PIXELS), Image.Resampling.LANCZOS)
    return converted
