"""Choose where to save a file: the window behind the tray's "Xuất gói hỗ trợ…".

``python -m agent.ui.save_as --title TEXT --initial PATH [--filetype LABEL PATTERN] [--lang vi|en]``
shows the system's (Tk's) save dialog opened on ``PATH``'s folder with its name filled in. It
prints the choice as one JSON object on stdout (``{"path": "/…/bundle.zip"}``) and exits 0, or
exits 1 when cancelled. The dialog itself asks before replacing an existing file, so a path
printed may be overwritten. It writes nothing: the tray does, like every window of the agent a
process of its own, so the icon never waits on a toolkit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.pywarnings import route_to_log
from agent.ui.win32_dpi import make_dpi_aware


def ask_save_path(title: str, initial: Path, filetype: tuple[str, str] | None) -> Path | None:
    """Show the save dialog; the path chosen, or ``None`` when cancelled."""
    import tkinter
    from tkinter import filedialog

    from agent.ui.theme import apply_theme

    root = tkinter.Tk()
    root.withdraw()
    apply_theme(root)  # Tk's own file dialog (X11) is made of ttk widgets
    root.attributes("-topmost", True)
    types = [filetype, ("*", "*")] if filetype else [("*", "*")]
    chosen = filedialog.asksaveasfilename(
        parent=root,
        title=f"Kyso Agent — {title}",
        initialdir=str(initial.parent),
        initialfile=initial.name,
        defaultextension=initial.suffix,
        filetypes=types,
        confirmoverwrite=True,
    )
    root.destroy()
    return Path(chosen) if chosen else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints the choice as JSON, exit 1 when cancelled."""
    route_to_log()
    parser = argparse.ArgumentParser(prog="python -m agent.ui.save_as")
    # Taken as every window of the tray takes it; Tk's dialog speaks the system's language.
    parser.add_argument("--lang", choices=["vi", "en"], default="vi")
    parser.add_argument("--title", required=True, help="what the dialog asks for")
    parser.add_argument("--initial", type=Path, required=True, help="folder and name proposed")
    parser.add_argument("--filetype", nargs=2, metavar=("LABEL", "PATTERN"), help="e.g. ZIP *.zip")
    args = parser.parse_args(argv)
    make_dpi_aware()  # before Tk makes the first window of this process
    filetype = (args.filetype[0], args.filetype[1]) if args.filetype else None
    chosen = ask_save_path(args.title, args.initial, filetype)
    if chosen is None:
        return 1
    json.dump({"path": str(chosen)}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
