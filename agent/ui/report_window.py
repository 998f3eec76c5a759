"""A read-only text window: the verification report, the status report, About.

``python -m agent.ui.report_window --title TITLE [--lang vi|en]`` reads the text
(UTF-8) on stdin and shows it with Copy and Close buttons; Esc closes. It runs
in its own process so that the tray never waits for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent.messages import Lang, text
from agent.pywarnings import route_to_log
from agent.ui.win32_dpi import make_dpi_aware
from agent.ui.win32_focus import focus_in_front


def show(title: str, body: str, lang: Lang) -> None:
    """Open the window and wait until it is closed."""
    import tkinter
    from tkinter import font as tkfont
    from tkinter import ttk

    from agent.ui.theme import ACCENT, FOOTER, apply_theme

    root = tkinter.Tk()
    theme = apply_theme(root)  # scales Tk to the monitor first
    space = theme.spacing
    root.title(title)
    root.geometry(f"{theme.px(720)}x{theme.px(520)}")
    root.attributes("-topmost", True)
    frame = tkinter.Frame(root)
    area = tkinter.Text(frame, wrap="word")
    theme.text_box(area, border=frame)
    # The reports line up their values in columns: a monospaced face, at the body's size.
    mono = theme.fonts.mono.actual("family")
    area.configure(font=tkfont.Font(root, family=mono, size=theme.fonts.body.actual("size")))
    scroll = ttk.Scrollbar(frame, orient="vertical", command=area.yview)
    area.configure(yscrollcommand=scroll.set)
    area.insert("1.0", body)
    area.configure(state="disabled")
    buttons = ttk.Frame(root, style=FOOTER, padding=(space.window, space.footer))

    def copy() -> None:
        root.clipboard_clear()
        root.clipboard_append(body)

    ttk.Button(buttons, text=text("tray_copy", lang), command=copy).pack(side="left")
    close = ttk.Button(buttons, text=text("tray_close", lang), style=ACCENT, command=root.destroy)
    close.pack(side="right")
    buttons.pack(side="bottom", fill="x")
    tkinter.Frame(root, height=1, background=theme.colours.border).pack(side="bottom", fill="x")
    frame.pack(fill="both", expand=True, padx=space.window, pady=(space.top, space.section))
    scroll.pack(side="right", fill="y", padx=(0, theme.px(2)), pady=theme.px(2))
    area.pack(side="left", fill="both", expand=True)
    root.bind("<Escape>", lambda _e: root.destroy())
    close.focus_set()
    root.after(100, lambda: focus_in_front(root))
    root.mainloop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    route_to_log()
    parser = argparse.ArgumentParser(prog="python -m agent.ui.report_window")
    parser.add_argument("--title", default="Kyso Agent")
    parser.add_argument("--lang", choices=["vi", "en"], default="vi")
    args = parser.parse_args(argv)
    make_dpi_aware()  # before Tk makes the first window of this process
    body = sys.stdin.buffer.read().decode("utf-8", "replace")
    show(args.title, body, Lang(args.lang))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
