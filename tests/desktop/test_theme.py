"""agent/ui/theme.py on a real Tk under Xvfb: the Sun Valley theme with the agent's fonts and
styles, and the platform's ttk theme when sv-ttk cannot be loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.desktop

#: Applies the theme (argv[1] == "without": as if sv-ttk were not installed), makes a muted
#: label, lets every pending event run and changes a style afterwards, as a window may; prints
#: what came out.
_PROBE = """
import json, sys, tkinter as tk
from tkinter import font as tkfont, ttk
if sys.argv[1] == "without":
    sys.modules["sv_ttk"] = None  # import sv_ttk: ImportError
from agent.ui.theme import FONT_FAMILIES, MUTED, apply_theme
root = tk.Tk(className="KysoAgent")
root.withdraw()
theme = apply_theme(root)
label = ttk.Label(root, text="Trang web yêu cầu:", style=MUTED)
label.pack()
root.update()
ttk.Style(root).configure("Later.TLabel", foreground="#123456")
root.update()
print(json.dumps({
    "theme": theme.name,
    "in_use": ttk.Style(root).theme_use(),
    "label_foreground": str(label.cget("foreground")),
    "muted": str(ttk.Style(root).lookup(MUTED, "foreground")),
    "theme_muted": theme.colours.muted,
    "body": tkfont.nametofont("TkDefaultFont", root).actual(),
    "sun_valley_body": tkfont.nametofont("SunValleyBodyFont", root).actual()
    if theme.sun_valley else None,
    "families": [f for f in FONT_FAMILIES if f in tkfont.families(root)],
    "indicator": theme.indicator,
    "wrap": theme.spacing.wrap,
}))
root.destroy()
"""


def probe(display: str, variant: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, variant],
        env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_sun_valley_with_the_agents_fonts_and_styles_that_hold(xvfb: str) -> None:
    shown = probe(xvfb, "with")
    assert shown["theme"] == shown["in_use"] == "sun-valley-light"
    # The style decides the label's colour: sv-ttk's palette did not paint over it.
    assert shown["label_foreground"] == ""
    assert shown["muted"] == shown["theme_muted"]
    # Fonts with Vietnamese glyphs, in points (so Tk's scaling to the monitor applies),
    # sv-ttk's own (pixels, Segoe UI Variable) made the same.
    assert shown["families"], "no font with Vietnamese glyphs here"
    assert shown["body"]["family"] == shown["families"][0]
    assert shown["body"]["size"] == 10
    assert shown["sun_valley_body"]["family"] == shown["body"]["family"]
    assert shown["sun_valley_body"]["size"] == 10
    assert shown["indicator"] > 10 and shown["wrap"] >= 470


def test_without_sv_ttk_the_platform_theme_takes_its_place(xvfb: str) -> None:
    shown = probe(xvfb, "without")
    assert shown["theme"] == shown["in_use"] == "clam"
    assert shown["label_foreground"] == ""
    assert shown["muted"] == shown["theme_muted"]
    assert shown["body"]["family"] == shown["families"][0]
