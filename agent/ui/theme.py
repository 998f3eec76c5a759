"""The look of every Tk window of the agent, in one place: ``theme = apply_theme(root)``.

:func:`apply_theme` gives a fresh :class:`tkinter.Tk` root

* the **Sun Valley** light theme (sv-ttk: Windows 11's controls, drawn by ttk from pictures,
  so they look the same on Windows 10, 11 and Linux); should it not load (the package
  missing, a Tk too old), the platform's own ttk theme instead (``vista`` on Windows,
  ``aqua`` on macOS, ``clam`` elsewhere) with the same fonts, colours and spacing;
* **fonts with Vietnamese glyphs** (Segoe UI on Windows; Noto Sans or DejaVu Sans on Linux),
  in *points*, made after :func:`~agent.ui.win32_dpi.scale_tk` has set the monitor's pixels
  per point, so text is sharp and in proportion at 150 % as at 100 %. sv-ttk's own fonts
  are sized in pixels and name Segoe UI Variable; they are redefined here, so that every
  ttk widget uses the fonts below;
* **named ttk styles** for what the windows say: :data:`HEADING`, :data:`STRONG`,
  :data:`MUTED`, :data:`SMALL`, :data:`MONO`, :data:`ERROR`, :data:`DANGER_CHECK`, the
  notices' :func:`notice_style` and :data:`ACCENT` for the default button;

and returns a :class:`Theme`: the fonts, colours and spacing (in pixels of this monitor) that
a window lays itself out with. A window calls it once, before it makes any widget::

    root = tk.Tk(className="KysoAgent")
    theme = apply_theme(root)
    ttk.Label(root, text="…", style=HEADING).pack(padx=theme.spacing.window)

Used by the consent dialog (:mod:`agent.ui.dialog`) and the tray's small windows.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tkinter as tk
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from tkinter import font as tkfont
from tkinter import ttk
from types import MappingProxyType
from typing import Any, Final, Literal

from agent.ui.win32_dpi import scale_tk

log = logging.getLogger(__name__)

#: Fonts with Vietnamese glyphs, in order of preference.
FONT_FAMILIES: Final = ("Segoe UI", "Noto Sans", "DejaVu Sans", "Liberation Sans", "Arial")
#: Monospaced fonts with Vietnamese glyphs, in order of preference.
MONO_FAMILIES: Final = (
    "Consolas",
    "Cascadia Mono",
    "DejaVu Sans Mono",
    "Noto Sans Mono",
    "Liberation Mono",
)

#: The ttk theme preferred (sv-ttk's light theme).
SUN_VALLEY: Final = "sun-valley-light"

#: Style names (ttk): headings, emphasised text, muted and small notes, digests, errors.
HEADING: Final = "Heading.TLabel"
STRONG: Final = "Strong.TLabel"
MUTED: Final = "Muted.TLabel"
SMALL: Final = "Small.TLabel"
MONO: Final = "Mono.TLabel"
ERROR: Final = "Error.TLabel"
#: The default button (sv-ttk's accent button: white on blue).
ACCENT: Final = "Accent.TButton"
#: A radio button whose text is a name (a certificate's holder): bold.
STRONG_CHOICE: Final = "Strong.TRadiobutton"
#: A tick box that must not be ticked lightly (the final PIN attempt): red and bold.
DANGER_CHECK: Final = "Danger.TCheckbutton"
#: The band at the bottom of a dialog, behind its buttons (as Windows' own dialogs have).
FOOTER: Final = "Footer.TFrame"
FOOTER_TEXT: Final = "Footer.TLabel"

_REFERENCE_SCALING: Final = 96 / 72
"""Tk's pixels per point at 100 % (96 DPI): the spacing below is given for that."""


@dataclass(frozen=True)
class Fonts:
    """The fonts of a window, in points (so scaled to the monitor)."""

    body: tkfont.Font
    """Ordinary text (also Tk's and sv-ttk's default fonts)."""
    strong: tkfont.Font
    """Bold body text: section titles, names, field labels."""
    small: tkfont.Font
    """Notes in smaller type (a countdown, a key hint)."""
    heading: tkfont.Font
    """The first line of a window."""
    large: tkfont.Font
    """A name the user must read (the asking site's domain)."""
    medium: tkfont.Font
    """Between body and large (the rest of an address, a PIN field)."""
    mono: tkfont.Font
    """Digests, fingerprints."""


@dataclass(frozen=True)
class ToneColours:
    """A notice's colours: text, tint behind it, its border."""

    foreground: str
    """The text (and the stripe on the left)."""
    background: str
    """The tint behind the text."""
    border: str
    """The one-pixel frame around it."""


@dataclass(frozen=True)
class Colours:
    """The colours of a window."""

    window: str
    """Behind everything (the ttk theme's background)."""
    text: str
    """Ordinary text."""
    muted: str
    """Secondary text (labels of values, notes); still readable (contrast over 4.5:1)."""
    red: str
    """Errors and the final-try tick box."""
    accent: str
    """Focus and selection."""
    field: str
    """Inside an entry field or a text box."""
    border: str
    """Around a text box or a picture."""
    footer: str
    """The band behind the buttons."""
    tones: Mapping[str, ToneColours]
    """Notices by tone: ``"info"``, ``"warning"``, ``"danger"`` (the values of
    :class:`agent.ui.dialog_model.Tone`)."""

    def tone(self, tone: str) -> ToneColours:
        """The colours of a notice of ``tone`` (info for an unknown one)."""
        return self.tones.get(str(tone), self.tones["info"])


@dataclass(frozen=True)
class Spacing:
    """Distances in pixels of this monitor (already scaled)."""

    window: int
    """Around a window's content, left and right."""
    top: int
    """Above a window's content."""
    section: int
    """Between two sections (a heading and what came before)."""
    line: int
    """Between lines that belong together (a label and its value)."""
    inline: int
    """Between two widgets side by side (a label and its field, two buttons)."""
    indent: int
    """Lines that belong to the one above (a document's digest under its name)."""
    notice: int
    """Inside a notice, around its text."""
    footer: int
    """Inside the band of buttons, above and below them."""
    wrap: int
    """Width of a window's text column: labels wrap there."""


@dataclass(frozen=True)
class Theme:
    """What :func:`apply_theme` set up: the ttk theme and the look's parts."""

    name: str
    """The ttk theme in use (:data:`SUN_VALLEY`, or the platform's on fallback)."""
    scale: float
    """This monitor's size factor (1.0 at 96 DPI, 1.5 at 150 %)."""
    fonts: Fonts
    """The fonts."""
    colours: Colours
    """The colours."""
    spacing: Spacing
    """The distances."""
    indicator: int
    """How far the text of a tick box or radio button is from its left edge (pixels): lines
    that belong to one are indented by this much."""

    @property
    def sun_valley(self) -> bool:
        """The preferred theme loaded (not the fallback)."""
        return self.name == SUN_VALLEY

    def px(self, pixels: float) -> int:
        """``pixels`` at 96 DPI, in pixels of this monitor."""
        return round(pixels * self.scale)

    def text_box(self, widget: tk.Text, border: tk.Frame | None = None) -> None:
        """Dress a classic :class:`tkinter.Text` like the theme's fields: flat, the field's
        colours and font, a thin border that turns the accent colour while it has the keyboard.

        ``border``: a frame holding the text and its scroll bar, which then carries the border
        (so the bar is inside it); by default the text's own.
        """
        colours = self.colours
        widget.configure(
            background=colours.field,
            foreground=colours.text,
            font=self.fonts.body,
            relief="flat",
            borderwidth=0,
            selectbackground=colours.accent,
            selectforeground="#ffffff",
            inactiveselectbackground=colours.border,
            padx=self.px(8),
            pady=self.px(6),
        )
        edged: tk.Frame | tk.Text = widget if border is None else border
        edged.configure(
            highlightthickness=1,
            highlightbackground=colours.border,
            highlightcolor=colours.accent,
        )
        if border is None:
            return
        widget.configure(highlightthickness=0)
        border.configure(background=colours.field, borderwidth=0)
        # The frame never has the keyboard itself: it shows the text's.
        widget.bind("<FocusIn>", lambda _e: border.configure(highlightbackground=colours.accent))
        widget.bind("<FocusOut>", lambda _e: border.configure(highlightbackground=colours.border))


def first_family(root: tk.Misc, wanted: Sequence[str]) -> str | None:
    """The first of ``wanted`` this computer has, or ``None``."""
    available = set(tkfont.families(root))
    return next((name for name in wanted if name in available), None)


def _fonts(root: tk.Misc) -> Fonts:
    """Tk's named fonts in the chosen family and points, and the theme's own ones."""
    family = first_family(root, FONT_FAMILIES) or tkfont.nametofont("TkDefaultFont").actual(
        "family"
    )
    sizes = {
        "TkDefaultFont": 10,
        "TkTextFont": 10,
        "TkMenuFont": 10,
        "TkHeadingFont": 10,
        "TkCaptionFont": 10,
        "TkTooltipFont": 9,
        "TkSmallCaptionFont": 9,
    }
    for name, size in sizes.items():
        tkfont.nametofont(name, root).configure(family=family, size=size)

    def make(
        size: int, weight: Literal["normal", "bold"] = "normal", mono: str | None = None
    ) -> tkfont.Font:
        return tkfont.Font(root, family=mono or family, size=size, weight=weight)

    mono = first_family(root, MONO_FAMILIES)
    return Fonts(
        body=tkfont.nametofont("TkDefaultFont", root),
        strong=make(10, "bold"),
        small=make(9),
        heading=make(13, "bold"),
        large=make(14, "bold"),
        medium=make(12),
        mono=make(9, mono=mono) if mono else tkfont.nametofont("TkFixedFont", root),
    )


def _sun_valley_fonts(root: tk.Misc, fonts: Fonts) -> None:
    """sv-ttk's named fonts (pixels, Segoe UI Variable) in points and the chosen family."""
    family = fonts.body.actual("family")
    for name, size, bold in (
        ("SunValleyCaptionFont", 9, False),
        ("SunValleyBodyFont", 10, False),
        ("SunValleyBodyStrongFont", 10, True),
        ("SunValleyBodyLargeFont", 13, False),
        ("SunValleySubtitleFont", 15, True),
        ("SunValleyTitleFont", 20, True),
        ("SunValleyTitleLargeFont", 28, True),
        ("SunValleyDisplayFont", 48, True),
    ):
        with contextlib.suppress(tk.TclError):  # a newer sv-ttk without this one
            tkfont.nametofont(name, root).configure(
                family=family, size=size, weight="bold" if bold else "normal"
            )


def _use_sun_valley(root: tk.Tk) -> bool:
    """Load sv-ttk's light theme; ``False`` (and a line in the log) when it cannot."""
    try:
        import sv_ttk

        sv_ttk.set_theme("light", root)
    except (ImportError, tk.TclError, RuntimeError, TypeError, OSError) as exc:
        log.warning("the Sun Valley theme did not load, using the platform's: %s", exc)
        return False
    return ttk.Style(root).theme_use() == SUN_VALLEY


def _use_platform(root: tk.Tk) -> str:
    """The platform's ttk theme: Windows' own controls, macOS's, or clam (X11)."""
    style = ttk.Style(root)
    available = set(style.theme_names())
    if sys.platform == "win32":
        wanted: Sequence[str] = ("vista", "xpnative", "winnative")
    elif sys.platform == "darwin":
        wanted = ("aqua",)
    else:
        wanted = ("clam",)
    name = next((theme for theme in wanted if theme in available), style.theme_use())
    style.theme_use(name)
    background = str(style.lookup(".", "background")) or "#f0f0f0"
    root.tk_setPalette(background=background)
    return name


_TONES: Final = {
    "info": ToneColours("#174ea6", "#e8f0fe", "#bdd0f4"),
    "warning": ToneColours("#7a4100", "#fff4ce", "#f0d68a"),
    "danger": ToneColours("#b3261e", "#fde7e9", "#f2b8bd"),
}


def _colours(root: tk.Tk, sun_valley: bool) -> Colours:
    style = ttk.Style(root)
    window = str(style.lookup(".", "background")) or "#f0f0f0"
    text = str(style.lookup(".", "foreground")) or "#1c1c1c"
    return Colours(
        window=window,
        text=text,
        muted="#5c6067",
        red="#b3261e",
        accent="#005fb8" if sun_valley else "#2f60d8",
        field="#ffffff",
        border="#d9d9d9" if sun_valley else "#a8a8a8",
        footer="#f0f0f0" if sun_valley else window,
        tones=MappingProxyType(dict(_TONES)),
    )


def notice_style(tone: str) -> str:
    """The ttk label style of a notice of ``tone`` (``Danger.Notice.TLabel`` …)."""
    return f"{str(tone).capitalize()}.Notice.TLabel"


def _styles(root: tk.Tk, fonts: Fonts, colours: Colours, spacing: Spacing) -> int:
    """Configure the named styles; where the text of a radio button starts (pixels)."""
    style = ttk.Style(root)
    # Tick boxes and radio buttons with their box on the text column's left edge.
    for name in ("TCheckbutton", "TRadiobutton"):
        style.configure(name, padding=(0, spacing.line, spacing.line, spacing.line))
    indicator = _indicator(root, spacing.line)
    label: dict[str, dict[str, Any]] = {
        HEADING: {"font": fonts.heading},
        STRONG: {"font": fonts.strong},
        MUTED: {"foreground": colours.muted},
        SMALL: {"foreground": colours.muted, "font": fonts.small},
        MONO: {"foreground": colours.muted, "font": fonts.mono},
        ERROR: {"foreground": colours.red, "font": fonts.strong},
        FOOTER_TEXT: {
            "foreground": colours.muted,
            "background": colours.footer,
            "font": fonts.small,
        },
    }
    for name, options in label.items():
        style.configure(name, **options)
    for tone, tinted in colours.tones.items():
        style.configure(
            notice_style(tone),
            foreground=tinted.foreground,
            background=tinted.background,
            font=fonts.strong if tone == "danger" else fonts.body,
            padding=(spacing.notice, spacing.notice - 2),
        )
    style.configure(FOOTER, background=colours.footer)
    style.configure(
        DANGER_CHECK,
        foreground=colours.red,
        font=fonts.strong,
        wraplength=spacing.wrap - indicator,
        justify="left",
    )
    style.map(DANGER_CHECK, foreground=[("active", colours.red)])
    style.configure(
        STRONG_CHOICE, font=fonts.strong, wraplength=spacing.wrap - indicator, justify="left"
    )
    # Buttons of a comfortable size to hit (Windows 11's are 32 pixels high at 100 %).
    button = (round(spacing.inline * 1.5), round(spacing.line * 1.5))
    style.configure("TButton", padding=button)
    style.configure(ACCENT, padding=button)
    return indicator


def _indicator(root: tk.Tk, right: int) -> int:
    """Where a radio button's text starts: the width of one without text, less its padding
    on the right (``right``)."""
    probe = ttk.Radiobutton(root, text="")
    try:
        return max(0, probe.winfo_reqwidth() - right)
    finally:
        probe.destroy()


def apply_theme(root: tk.Tk) -> Theme:
    """Set the look of ``root``'s window (call it before making any widget) and return it.

    Scales Tk to the monitor first (:func:`~agent.ui.win32_dpi.scale_tk`: Tk turns points
    into pixels when a font is made), then the theme, the fonts and the styles.
    """
    scale_tk(root)
    scaling = float(root.tk.call("tk", "scaling"))
    scale = max(1.0, scaling / _REFERENCE_SCALING)
    sun_valley = _use_sun_valley(root)
    name = SUN_VALLEY if sun_valley else _use_platform(root)
    if sun_valley:
        # sv-ttk colours the theme's "." style and Tk's classic widgets (tk_setPalette) on
        # <<ThemeChanged>>, which Tk sends late. Done now, before the window has widgets: the
        # first time, tk_setPalette also gives every ttk label there is the default text
        # colour, over its style (later times leave them alone).
        with contextlib.suppress(tk.TclError):
            root.tk.call("configure_colors")
    fonts = _fonts(root)
    if sun_valley:
        _sun_valley_fonts(root, fonts)

    def px(pixels: float) -> int:
        return round(pixels * scale)

    spacing = Spacing(
        window=px(20),
        top=px(16),
        section=px(14),
        line=px(4),
        inline=px(8),
        indent=px(18),
        notice=px(10),
        footer=px(14),
        wrap=px(470),
    )
    colours = _colours(root, sun_valley)
    indicator = _styles(root, fonts, colours, spacing)
    root.configure(background=colours.window)
    return Theme(
        name=name,
        scale=scale,
        fonts=fonts,
        colours=colours,
        spacing=spacing,
        indicator=indicator,
    )
