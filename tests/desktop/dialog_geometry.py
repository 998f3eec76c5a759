"""Where every widget of the consent dialog is on the screen, for the layout tests.

    python -m tests.desktop.dialog_geometry < questions.json

reads a JSON list of ``{"question": …, "approve": false}`` (a question of the prompter
protocol; ``approve``: press Ký first, with nothing typed, so that the dialog says what is
missing), opens the real :class:`~agent.ui.dialog.ConsentDialog` for each on ``$DISPLAY`` (one
after the other, in this process) and prints, per question, the window's rectangle, the
screen's size and every widget: its Tk class, text, rectangle on the screen, requested size,
whether it is mapped and whether it has children. Nothing is answered: each dialog is cancelled
once measured.
"""

from __future__ import annotations

import json
import sys
import tkinter as tk
from dataclasses import dataclass
from typing import Any

from agent.ui.dialog import ConsentDialog
from agent.ui.dialog_model import describe, parse_question


@dataclass(frozen=True)
class Rect:
    """A rectangle on the screen, in pixels; ``right`` and ``bottom`` are past its edge."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    def overlaps(self, other: Rect) -> bool:
        """The two share some area (touching edges do not count)."""
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )

    def gap(self, other: Rect) -> int:
        """Free pixels between the two (the larger of the horizontal and vertical gaps;
        negative when they overlap)."""
        horizontal = max(other.x - self.right, self.x - other.right)
        vertical = max(other.y - self.bottom, self.y - other.bottom)
        return max(horizontal, vertical)

    def contains(self, other: Rect) -> bool:
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.right <= self.right
            and other.bottom <= self.bottom
        )


@dataclass(frozen=True)
class Widget:
    """One widget as laid out."""

    path: str
    """Tk's name, e.g. ``.!frame3.!frame2.!button``."""
    cls: str
    """Tk class: ``TLabel``, ``TButton``, ``Text`` …"""
    text: str
    """Its ``-text``, or empty."""
    rect: Rect
    """On the screen."""
    req_width: int
    req_height: int
    mapped: bool
    leaf: bool
    """No children of its own."""

    def within(self, other: Widget) -> bool:
        """This widget is ``other`` or inside it."""
        return self.path == other.path or self.path.startswith(other.path + ".")


@dataclass(frozen=True)
class Layout:
    """One dialog as laid out."""

    window: Rect
    screen_width: int
    screen_height: int
    widgets: list[Widget]

    def shown(self) -> list[Widget]:
        """The mapped widgets without children (what the user sees)."""
        return [w for w in self.widgets if w.mapped and w.leaf]

    def find(self, text: str) -> Widget:
        """The one mapped widget showing ``text``."""
        [found] = [w for w in self.widgets if w.mapped and w.text == text]
        return found


def _widgets(widget: tk.Misc) -> list[dict[str, Any]]:
    found = []
    for child in widget.winfo_children():
        try:
            text = str(child.cget("text"))
        except tk.TclError:
            text = ""
        found.append(
            {
                "path": str(child),
                "cls": child.winfo_class(),
                "text": text,
                "rect": {
                    "x": child.winfo_rootx(),
                    "y": child.winfo_rooty(),
                    "width": child.winfo_width(),
                    "height": child.winfo_height(),
                },
                "req_width": child.winfo_reqwidth(),
                "req_height": child.winfo_reqheight(),
                "mapped": bool(child.winfo_ismapped()),
                "leaf": not child.winfo_children(),
            }
        )
        found += _widgets(child)
    return found


def measure(question: dict[str, Any], approve: bool = False) -> dict[str, Any]:
    """The layout of the dialog for ``question`` (as JSON-ready data), after Ký was pressed
    with nothing typed if ``approve``."""
    dialog = ConsentDialog(describe(parse_question(question)), timeout=120)
    root = dialog.root
    try:
        if approve:
            dialog.approve()
        for _ in range(5):
            root.update()
        return {
            "window": {
                "x": root.winfo_rootx(),
                "y": root.winfo_rooty(),
                "width": root.winfo_width(),
                "height": root.winfo_height(),
            },
            "screen_width": root.winfo_screenwidth(),
            "screen_height": root.winfo_screenheight(),
            "widgets": _widgets(root),
        }
    finally:
        dialog.cancel()
        root.destroy()


def parse(data: dict[str, Any]) -> Layout:
    """A layout printed by :func:`main`."""
    return Layout(
        window=Rect(**data["window"]),
        screen_width=data["screen_width"],
        screen_height=data["screen_height"],
        widgets=[Widget(**{**w, "rect": Rect(**w["rect"])}) for w in data["widgets"]],
    )


def main() -> int:
    """Questions on stdin, layouts on stdout."""
    cases = json.load(sys.stdin)
    layouts = [measure(case["question"], case.get("approve", False)) for case in cases]
    json.dump(layouts, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
