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

Where the stamp goes is :mod:`agent.pdf.placement`'s; this module draws it (:func:`stamp_style`),
upright as the page is viewed whatever its ``/Rotate``, and knows its size
(:func:`stamp_size`) and what it may hold (:func:`check_content`). The signing time is shown in
Vietnam time (UTC+07:00, no daylight saving) whatever the machine's time zone.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
import warnings
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from io import BytesIO
from pathlib import Path
from typing import Final

from PIL import Image, UnidentifiedImageError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.layout import (
    AxisAlignment,
    BoxConstraints,
    InnerScaling,
    Margins,
    SimpleBoxLayoutRule,
)
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import BaseStamp, BaseStampStyle, StaticStampStyle, TextStampStyle
from pyhanko.stamp.noop import NoOpStampStyle

from agent.messages import Phrase
from agent.pdf.fonts import FontStyle, MissingGlyphs, PreparedFont, font_for
from agent.pdf.models import Appearance, AppearanceError, Placement, Profile, SignerIdentity

log = logging.getLogger(__name__)

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
INNER_PADDING: Final = 4
"""Space between the stamp's edge and its text."""


class _Wrap(Enum):
    """Whether a line of stamp text may be broken at spaces to fit the box."""

    WORDS = "words"
    NEVER = "never"


def stamp_style(
    appearance: Appearance,
    signer: SignerIdentity,
    signing_time: datetime,
    font_dir: Path | None = None,
    placement: Placement | None = None,
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
    temporary directory for this process. ``placement`` (from :func:`resolve_placement`)
    gives the box the stamp is laid out for and the page's rotation, which the stamp is
    turned by so that it reads upright; without it, the profile's default box.

    :raises AppearanceError: image not an acceptable PNG, attachment without text, a
        character that no installed font has.
    :raises agent.pdf.fonts.FontError: no font installed at all, or a broken font file.
    """
    profile = appearance.profile
    if profile is Profile.INVISIBLE:
        # Signing an existing field invisibly: keep whatever the field shows (usually nothing)
        # rather than let pyHanko draw its own default stamp into the widget.
        return NoOpStampStyle() if placement is not None else None
    check_content(appearance)
    moment = signing_time.astimezone(VIETNAM_TIME)
    width, height = stamp_size(appearance)
    rotation = 0
    if placement is not None:
        x1, y1, x2, y2 = placement.box
        if x2 - x1 > 0 and y2 - y1 > 0:
            width, height = round(x2) - round(x1), round(y2) - round(y1)
        rotation = placement.rotation
        if rotation in (90, 270):
            width, height = height, width
    style = _style(appearance, signer, moment, font_dir, (width, height))
    return _Upright(inner=style, rotation=rotation) if rotation else style


@dataclass(frozen=True)
class _Upright(BaseStampStyle):
    """A stamp turned by the page's ``/Rotate``, so that it reads upright as the page is viewed.

    The appearance stream is drawn for the box as viewed (width and height swapped at 90° and
    270°) and given a ``/Matrix`` turning it counter-clockwise by the rotation: the viewer,
    which turns the whole page clockwise by ``/Rotate``, turns it back (ISO 32000-1, 12.5.5:
    the transformed ``/BBox`` is fitted to the widget's ``/Rect``).
    """

    inner: BaseStampStyle | None = None
    """The stamp as drawn on an unrotated page."""
    rotation: int = 0
    """The page's ``/Rotate``: 90, 180 or 270."""

    def create_stamp(
        self, writer: BasePdfFileWriter, box: BoxConstraints, text_params: dict[str, object]
    ) -> BaseStamp | None:
        assert self.inner is not None  # noqa: S101 - always built with one
        if self.rotation in (90, 270):
            box = BoxConstraints(width=box.height, height=box.width)
        stamp = self.inner.create_stamp(writer, box, text_params)
        if stamp is None:
            return None
        cos, sin = _TURNS[self.rotation]
        form = stamp.register().get_object()  # type: ignore[no-untyped-call]
        form[generic.NameObject("/Matrix")] = generic.ArrayObject(
            generic.NumberObject(v)  # type: ignore[no-untyped-call]
            for v in (cos, sin, -sin, cos, 0, 0)
        )
        return stamp


_TURNS: Final = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}
"""Cosine and sine of each page rotation."""


def _style(
    appearance: Appearance,
    signer: SignerIdentity,
    moment: datetime,
    font_dir: Path | None,
    size: tuple[int, int],
) -> BaseStampStyle:
    """The stamp of the profile for a box of ``size`` (as viewed)."""
    profile = appearance.profile
    width, height = size
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
        log.info("stamp text: %s", exc)
        raise AppearanceError(Phrase.of("place_text_unwritable", chars=_missing(exc))) from exc
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


def _missing(exc: MissingGlyphs) -> str:
    """The characters no font has, as :mod:`agent.pdf.fonts` quotes them in its message."""
    found = re.search(r"glyphs for ('(?:[^'\\]|\\.)*'|\"[^\"]*\")", str(exc))
    return found.group(1) if found else "?"


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
        raise AppearanceError(Phrase.of("place_attachment_needs_text"))
    return appearance.text.strip()


def check_content(appearance: Appearance) -> None:
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
        raise AppearanceError(Phrase.of("place_image_too_large", limit=MAX_IMAGE_BYTES))
    if not data.startswith(PNG_MAGIC):
        raise AppearanceError(Phrase.of("place_image_not_png"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data), formats=["PNG"])
    except _IMAGE_ERRORS as exc:
        log.info("stamp image: %s", exc)
        raise AppearanceError(Phrase.of("place_image_unreadable")) from exc
    if max(image.size) > MAX_IMAGE_PIXELS:
        raise AppearanceError(
            Phrase.of(
                "place_image_too_many_pixels",
                width=image.width,
                height=image.height,
                limit=MAX_IMAGE_PIXELS,
            )
        )
    try:
        image.load()
        converted = image.convert("RGBA")
    except _IMAGE_ERRORS as exc:
        log.info("stamp image: %s", exc)
        raise AppearanceError(Phrase.of("place_image_unreadable")) from exc
    converted.thumbnail((EMBEDDED_IMAGE_PIXELS, EMBEDDED_IMAGE_PIXELS), Image.Resampling.LANCZOS)
    return converted


def stamp_size(appearance: Appearance) -> tuple[int, int]:
    """Width and height of the stamp as viewed, in whole points: those of ``rect`` if given
    (also with an anchor), else the profile's default. pyHanko draws in a box of whole
    points."""
    if appearance.rect is not None:
        x1, y1, x2, y2 = appearance.rect
        return round(x2) - round(x1), round(y2) - round(y1)
    if appearance.profile is Profile.ATTACHMENT:
        lines = len(_attachment_number(appearance).split("\n")) + 1
        return ATTACHMENT_WIDTH, lines * _leading(ATTACHMENT_FONT_SIZE) + _descent(
            ATTACHMENT_FONT_SIZE
        )
    return STAMP_SIZE
