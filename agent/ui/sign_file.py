"""Choose a PDF (and, to sign it, an appearance): the window behind the tray's
"Ký tệp PDF…" and "Kiểm tra chữ ký PDF…".

``python -m agent.ui.sign_file [--verify] [--lang vi|en]`` shows a small window: a
file chooser button, the appearance profiles (signing only) and Ký/Kiểm tra and
Hủy. It prints the choice as one JSON object on stdout and exits 0, or exits 1 when
cancelled: to sign, one file or several chosen together
(``{"paths": ["/…/a.pdf", "/…/b.pdf"], "profile": "personal"}``); to check, one file
(``{"path": "/…/a.pdf"}``). It signs nothing itself: the tray sends the files through the
running agent's own signing service, so the question and the PIN come from the agent's
dialog, as for a portal. ``--pick`` shows only the file chooser (a VGCA portal that asks
for a local file): ``{"path": …}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agent.messages import Lang, text
from agent.pywarnings import route_to_log
from agent.ui.win32_dpi import make_dpi_aware
from agent.ui.win32_focus import focus_in_front

if TYPE_CHECKING:
    import tkinter

#: Appearance profiles offered, in order (Nghị định 30/2020/NĐ-CP).
PROFILES: Final = ("invisible", "personal", "organization")
"""The attachment stamp is not offered: it needs the main document's "số và ký hiệu", which
portals give and this window does not ask for."""
SUFFIX: Final = "-signed"
SHOWN_NAMES: Final = 3
"""Names of the files chosen the window shows; more are counted."""


def signed_path(original: Path) -> Path:
    """``NAME-signed.pdf`` next to ``original``; ``NAME-signed-2.pdf`` … when taken."""
    base = original.with_suffix("").name + SUFFIX
    candidate = original.with_name(base + ".pdf")
    number = 2
    while candidate.exists():
        candidate = original.with_name(f"{base}-{number}.pdf")
        number += 1
    return candidate


def listed(names: Sequence[str], lang: Lang, limit: int) -> str:
    """The first ``limit`` names, and how many more (the window, the tray's notifications)."""
    shown = ", ".join(names[:limit])
    if len(names) <= limit:
        return shown
    return text("tray_names_more", lang, names=shown, more=len(names) - limit)


def shown_choice(paths: Sequence[str], lang: Lang) -> str:
    """What the window says was chosen: the path of one file; the count and names of
    several."""
    if len(paths) == 1:
        return paths[0]
    names = listed([Path(p).name for p in paths], lang, SHOWN_NAMES)
    return text("tray_files_chosen", lang, count=len(paths), names=names)


def ask_paths(root: tkinter.Misc, verify: bool, lang: Lang) -> list[str]:
    """Tk's file dialog: several PDFs to sign (one question, one PIN), or one to check; the
    paths chosen (none when cancelled)."""
    from tkinter import filedialog

    title = text("tray_choose_pdf", lang)
    types = [(text("tray_pdf_files", lang), "*.pdf *.PDF")]
    if verify:
        return [
            p for p in [filedialog.askopenfilename(parent=root, title=title, filetypes=types)] if p
        ]
    return [p for p in filedialog.askopenfilenames(parent=root, title=title, filetypes=types) if p]


def choose(verify: bool, lang: Lang, initial: Path | None = None) -> dict[str, object] | None:
    """Show the window; the choice, or ``None`` when cancelled."""
    import tkinter
    from tkinter import ttk

    from agent.ui.theme import ACCENT, FOOTER, MUTED, STRONG, apply_theme

    root = tkinter.Tk()
    theme = apply_theme(root)  # scales Tk to the monitor first
    space = theme.spacing
    root.title(text("tray_verify_title" if verify else "tray_sign_title", lang))
    root.attributes("-topmost", True)
    frame = ttk.Frame(root, padding=(space.window, space.top, space.window, space.section))
    frame.pack(fill="both", expand=True)
    chosen: list[str] = [str(initial)] if initial else []
    shown = tkinter.StringVar(value=str(initial) if initial else text("tray_no_file", lang))
    profile = tkinter.StringVar(value=PROFILES[0])
    result: dict[str, object] = {}

    def pick() -> None:
        paths = ask_paths(root, verify, lang)
        if paths:
            chosen[:] = paths
            shown.set(shown_choice(paths, lang))
            ok.state(["!disabled"])

    def accept(_event: object = None) -> None:
        if chosen:
            signing = {"paths": list(chosen), "profile": profile.get()}
            result.update({"path": chosen[0]} if verify else signing)
            root.destroy()

    ttk.Button(frame, text=text("tray_choose_pdf", lang), command=pick).grid(
        row=0, column=0, sticky="w"
    )
    ttk.Label(frame, textvariable=shown, width=60).grid(
        row=0, column=1, sticky="w", padx=(space.inline, 0)
    )
    row = 1
    if not verify:
        ttk.Label(frame, text=text("tray_sign_profile", lang), style=STRONG).grid(
            row=row, column=0, columnspan=2, sticky="w", pady=(space.section, space.line)
        )
        for name in PROFILES:
            row += 1
            ttk.Radiobutton(
                frame, text=text(f"tray_profile_{name}", lang), value=name, variable=profile
            ).grid(row=row, column=0, columnspan=2, sticky="w")
        row += 1
        ttk.Label(
            frame, text=text("tray_sign_note", lang), style=MUTED, wraplength=theme.px(520)
        ).grid(row=row, column=0, columnspan=2, sticky="w", pady=(space.section, 0))
        row += 1
        ttk.Label(
            frame, text=text("tray_sign_several", lang), style=MUTED, wraplength=theme.px(520)
        ).grid(row=row, column=0, columnspan=2, sticky="w")
    tkinter.Frame(root, height=1, background=theme.colours.border).pack(fill="x")
    buttons = ttk.Frame(root, style=FOOTER, padding=(space.window, space.footer))
    buttons.pack(fill="x")
    ok = ttk.Button(
        buttons,
        text=text("tray_check_button" if verify else "tray_sign_button", lang),
        style=ACCENT,
        width=10,
        command=accept,
    )
    # The order of the consent dialog and of Windows' own: the action first, then Hủy.
    ttk.Button(buttons, text=text("tray_cancel", lang), width=10, command=root.destroy).pack(
        side="right"
    )
    ok.pack(side="right", padx=space.inline)
    if not chosen:
        ok.state(["disabled"])
    root.bind("<Return>", accept)
    root.bind("<Escape>", lambda _e: root.destroy())
    root.after(100, lambda: focus_in_front(root))
    root.mainloop()
    return result or None


def pick_pdf(lang: Lang) -> Path | None:
    """Only the file chooser (a portal asked for a local file): the PDF, or ``None``."""
    import tkinter
    from tkinter import filedialog

    from agent.ui.theme import apply_theme

    root = tkinter.Tk()
    root.withdraw()
    apply_theme(root)  # Tk's own file dialog (X11) is made of ttk widgets
    root.attributes("-topmost", True)
    chosen = filedialog.askopenfilename(
        parent=root,
        title=f"Kyso Agent — {text('ui_pick_pdf_title', lang)}",
        filetypes=[("PDF", "*.pdf"), ("*", "*")],
    )
    root.destroy()
    return Path(chosen) if chosen else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints the choice as JSON, exit 1 when cancelled."""
    route_to_log()
    parser = argparse.ArgumentParser(prog="python -m agent.ui.sign_file")
    parser.add_argument("--verify", action="store_true", help="choose a PDF to check")
    parser.add_argument("--lang", choices=["vi", "en"], default="vi")
    parser.add_argument("--initial", type=Path, help="preselected file")
    parser.add_argument("--pick", action="store_true", help="only choose a PDF (no profile)")
    args = parser.parse_args(argv)
    make_dpi_aware()  # before Tk makes the first window of this process
    if args.pick:
        picked = pick_pdf(Lang(args.lang))
        choice: dict[str, object] | None = None if picked is None else {"path": str(picked)}
    else:
        choice = choose(args.verify, Lang(args.lang), args.initial)
    if choice is None:
        return 1
    json.dump(choice, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
