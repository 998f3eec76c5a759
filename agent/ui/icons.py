"""The tray icon for each state, drawn with Pillow (no image files to ship).

A rounded square in the state's colour with a white token (a USB key) on it, and
a badge in the corner for the states that need the user: "!" when a certificate
is expiring, a padlock when the PIN is locked, a cross on an agent error. Colour is
never the only signal (colour-blind users): the badge shape differs too.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from PIL import Image, ImageDraw

from agent.ui.tray_state import TrayState

SIZE: Final = 64

#: RGBA fill per state.
COLOURS: Final = {
    TrayState.NO_TOKEN: (128, 128, 128, 255),
    TrayState.READY: (22, 128, 61, 255),
    TrayState.EXPIRING: (217, 119, 6, 255),
    TrayState.PIN_LOCKED: (185, 28, 28, 255),
    TrayState.ERROR: (185, 28, 28, 255),
}
_WHITE: Final = (255, 255, 255, 255)
_BADGE_BG: Final = (255, 255, 255, 255)
_BADGE_INK: Final = (17, 17, 17, 255)


def _token(draw: ImageDraw.ImageDraw, present: bool, colour: tuple[int, int, int, int]) -> None:
    """A USB key: a body and a connector; outlined only when no token is plugged in."""
    body = (14, 22, 42, 46)
    plug = (42, 27, 52, 41)
    if present:
        draw.rounded_rectangle(body, radius=5, fill=_WHITE)
        draw.rectangle(plug, fill=_WHITE)
        draw.ellipse((20, 29, 30, 39), fill=colour)
    else:
        draw.rounded_rectangle(body, radius=5, outline=_WHITE, width=3)
        draw.rectangle(plug, outline=_WHITE, width=3)


def _badge(draw: ImageDraw.ImageDraw, state: TrayState) -> None:
    box = (38, 38, 63, 63)
    draw.ellipse(box, fill=_BADGE_BG, outline=COLOURS[state], width=2)
    if state is TrayState.EXPIRING:
        draw.rectangle((49, 43, 52, 54), fill=_BADGE_INK)
        draw.rectangle((49, 56, 52, 59), fill=_BADGE_INK)
    elif state is TrayState.PIN_LOCKED:
        draw.arc((45, 42, 56, 53), 180, 360, fill=_BADGE_INK, width=2)
        draw.rectangle((44, 48, 57, 58), fill=_BADGE_INK)
    elif state is TrayState.ERROR:
        draw.line((45, 45, 56, 56), fill=_BADGE_INK, width=3)
        draw.line((45, 56, 56, 45), fill=_BADGE_INK, width=3)


@cache
def icon_image(state: TrayState) -> Image.Image:
    """The 64x64 RGBA icon for ``state`` (cached; do not modify the result)."""
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((2, 2, SIZE - 3, SIZE - 3), radius=12, fill=COLOURS[state])
    _token(draw, state is not TrayState.NO_TOKEN, COLOURS[state])
    if state in (TrayState.EXPIRING, TrayState.PIN_LOCKED, TrayState.ERROR):
        _badge(draw, state)
    return image
