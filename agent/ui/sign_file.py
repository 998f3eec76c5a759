"""Choose a PDF (and, to sign it, an appearance): the window behind the tray's
"Ký tệp PDF…" and "Kiểm tra chữ ký PDF…".

``python -m agent.ui.sign_file [--verify] [--lang vi|en]`` shows a small window: a
file chooser button, the appearance profiles (signing only) and Ký/Kiểm tra and
Hủy. It prints the choice as one JSON object on stdout
(``{"path": "/…/a.pdf", "profile": "personal"}``) and exits 0, or exits 1 when
cancelled. It signs nothing itself: the tray sends the file through the running
agent's own signing service, so the question and the PIN come from the agent's
dialog, as for a portal. ``--pick`` shows only the file chooser (a VGCA portal that asks
for a local file): ``{"path": …}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from agent.messages import Lang, text
from agent.pywarnings import route_to_log
from agent.ui.win32_dpi import make_dpi_aware, scale_tk
from agent.ui.win32_focus import focus_in_front

#: Appearance profiles offered, in order (Nghị định 30/2020/NĐ-CP).
PROFILES: Final = ("invisible", "personal", "organization")
"""The attachment stamp is not offered: it needs the main document's "số và ký hiệu", which
portals give and this window does not ask for."""
SUFFIX: Final = "-signed"


def signed_path(original: Path) -> Path:
    """``NAME-signed.pdf`` next to ``original``; ``NAME-signed-2.pdf`` … when taken."""
    base = original.with_suffix("").name + SUFFIX
    candidate = original.with_name(base + ".pdf")
    number = 2
    while candidate.exists():
        candidate = original.with_name(f"{base}-{number}.pdf")
        number += 1
    return candidate


def choose(verify: bool, lang: Lang, initial: Path | None = None) -> dict[str, str] | None:
    """Show the window; the choice, or ``None`` when cancelled."""
    import tkinter
    from tkinter import filedialog, ttk

    root = tkinter.Tk()
    scale_tk(root)
    root.title(text("tray_verify_title" if verify else "tray_sign_title", lang))
    root.attributes("-topmost", True)
    frame = ttk.Frame(root, padding=12)
    frame.pack(fill="both", expand=True)
    chosen = tkinter.StringVar(value=str(initial) if initial else "")
    shown = tkinter.StringVar(value=str(initial) if initial else text("tray_no_file", lang))
    profile = tkinter.StringVar(value=PROFILES[0])
    result: dict[str, str] = {}

    def pick() -> None:
        path = filedialog.askopenfilename(
            parent=root,
            title=text("tray_choose_pdf", lang),
            filetypes=[(text("tray_pdf_files", lang), "*.pdf *.PDF")],
        )
        if path:
            chosen.set(path)
            shown.set(path)
            ok.state(["!disabled"])

    def accept(_event: object = None) -> None:
        if not chosen.get():
            return
        result["path"] = chosen.get()
        if not verify:
            result["profile"] = profile.get()
        root.destroy()

    ttk.Button(frame, text=text("tray_choose_pdf", lang), command=pick).grid(
        row=0, column=0, sticky="w"
    )
    ttk.Label(frame, textvariable=shown, width=60).grid(row=0, column=1, sticky="w", padx=8)
    row = 1
    if not verify:
        ttk.Label(frame, text=text("tray_sign_profile", lang)).grid(
            row=row, column=0, columnspan=2, sticky="w", pady=(12, 2)
        )
        for name in PROFILES:
            row += 1
            ttk.Radiobutton(
                frame, text=text(f"tray_profile_{name}", lang), value=name, variable=profile
            ).grid(row=row, column=0, columnspan=2, sticky="w")
        row += 1
        ttk.Label(frame, text=text("tray_sign_note", lang), wraplength=520).grid(
            row=row, column=0, columnspan=2, sticky="w", pady=(12, 0)
        )
    buttons = ttk.Frame(frame)
    buttons.grid(row=row + 1, column=0, columnspan=2, sticky="e", pady=(12, 0))
    ok = ttk.Button(
        buttons,
        text=text("tray_check_button" if verify else "tray_sign_button", lang),
        command=accept,
    )
    ok.pack(side="right")
    ttk.Button(buttons, text=text("tray_cancel", lang), command=root.destroy).pack(
        side="right", padx=8
    )
    if not chosen.get():
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

    root = tkinter.Tk()
    root.withdraw()
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
        choice = None if picked is None else {"path": str(picked)}
    else:
        choice = choose(args.verify, Lang(args.lang), args.initial)
    if choice is None:
        return 1
    json.dump(choice, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
