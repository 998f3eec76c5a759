"""The consent and PIN dialog: ``python -m agent.ui.dialog [--timeout S]``.

A separate process speaking the external prompter protocol
(docs/prompter-protocol.md): it reads one JSON question on stdin, shows it (always
on top and focused), and writes one JSON answer on stdout. Enter signs, Esc cancels,
closing the window cancels.

Timeout. The agent waits ``--timeout`` seconds from the moment it starts this
process and then kills it and answers the portal ``CONSENT_TIMEOUT``. The protocol
has no "timed out" answer (``{"approved": false}`` is a cancel), so when the
countdown reaches zero the dialog closes its window and writes *nothing*: the agent's
own timer, which started earlier, has fired or is about to. Should nobody kill it,
the process exits without an answer after a short grace period.

``--screenshot OUT.png`` renders the question, saves a picture of the window and
exits without answering (docs/dialog/, ``python -m tests.desktop.screenshots``).

The PIN exists only in the entry field and in the one answer written to stdout; it is
never printed anywhere else or logged.

A single PDF comes with a picture of the page its stamp goes on and a private copy of the
document: "Mở tài liệu…" opens that copy in the computer's default viewer (:func:`open_in_viewer`),
and only a path :func:`agent.pdf.viewer.is_viewer_copy` recognises as the agent's own copy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path
from tkinter import font as tkfont
from typing import Any, Final

from agent.pdf.viewer import is_viewer_copy
from agent.pywarnings import route_to_log
from agent.ui.dialog_model import (
    MAX_INLINE_DOCUMENT_LINES,
    MAX_QUESTION_BYTES,
    AnswerRefused,
    DialogView,
    DocumentLine,
    InvalidQuestion,
    Notice,
    PinField,
    Tone,
    build_answer,
    cancel_answer,
    countdown_text,
    describe,
    parse_question,
)
from agent.ui.win32_dpi import make_dpi_aware, scale_tk
from agent.ui.win32_focus import Foreground, take_foreground

#: After the countdown, how long to wait for the agent to end this process (seconds).
GRACE_SECONDS: Final = 5.0
#: Fonts with Vietnamese glyphs, in order of preference.
FONT_FAMILIES: Final = ("Segoe UI", "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial")
MONO_FAMILIES: Final = ("Consolas", "DejaVu Sans Mono", "Liberation Mono", "Noto Sans Mono")

EXIT_BAD_QUESTION: Final = 2
EXIT_NO_WINDOW: Final = 2
EXIT_TIMED_OUT: Final = 3
EXIT_NO_AGENT: Final = 4

_WRAP = 470
_TONES: Final = {
    Tone.INFO: ("#174ea6", "#e8f0fe"),
    Tone.WARNING: ("#7a4100", "#fff4e0"),
    Tone.DANGER: ("#b3261e", "#fdecea"),
}
_MUTED = "#5f6368"
_RED = "#b3261e"
_PREVIEW_GAP = 12


def open_in_viewer(path: Path) -> bool:
    """Open the agent's copy of a document in the computer's default viewer; ``False`` when
    ``path`` is not such a copy or no viewer could be started.

    Only :func:`~agent.pdf.viewer.is_viewer_copy` paths (a ``.pdf`` in the agent's private
    temporary directory) are opened, by the platform's own opener: ``os.startfile`` on Windows,
    ``open`` on macOS, ``xdg-open`` elsewhere. The opener gets none of this process's streams:
    standard output is the answer to the agent.
    """
    if not is_viewer_copy(path):
        return False
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined,unused-ignore]  # noqa: S606
            return True
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        subprocess.Popen(
            [opener, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return False
    return True


def _first_family(root: tk.Tk, wanted: Sequence[str]) -> str | None:
    available = set(tkfont.families(root))
    return next((name for name in wanted if name in available), None)


class ConsentDialog:
    """The Tk window for one :class:`DialogView`."""

    def __init__(
        self, view: DialogView, timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.view = view
        self.answer: dict[str, Any] | None = None
        self._clock = clock
        self._deadline = clock() + timeout
        self._done = False
        root = self.root = tk.Tk(className="KysoAgent")
        root.withdraw()
        scale_tk(root)  # before the fonts: Tk turns their points into pixels once
        root.title(view.window_title)
        root.resizable(False, False)
        root.configure(padx=18, pady=14)
        self._fonts()
        self._certificate = tk.IntVar(root, value=0)
        self._tick = tk.BooleanVar(root, value=False)
        self._pin_entry: tk.Entry | None = None
        self.document_list: tk.Text | None = None
        """The scrolled list of a long batch (None when the documents are listed as labels)."""
        self.thumbnail: tk.PhotoImage | None = None
        """The picture of the page a single PDF's stamp goes on (kept: Tk shows it while the
        Python object lives)."""
        self._foreground: Foreground | None = None
        self._build()
        root.protocol("WM_DELETE_WINDOW", self.cancel)
        root.bind("<Return>", lambda _e: self.approve())
        root.bind("<KP_Enter>", lambda _e: self.approve())
        root.bind("<Escape>", lambda _e: self.cancel())
        self._place()
        self._tick_countdown()

    # --- look ---------------------------------------------------------------------------------

    def _fonts(self) -> None:
        family = _first_family(self.root, FONT_FAMILIES)
        for name in ("TkDefaultFont", "TkTextFont", "TkCaptionFont", "TkMenuFont"):
            named = tkfont.nametofont(name, self.root)
            if family:
                named.configure(family=family, size=10)
            else:
                named.configure(size=10)
        base = tkfont.nametofont("TkDefaultFont", self.root).actual()
        self.font_bold = tkfont.Font(self.root, family=base["family"], size=10, weight="bold")
        self.font_heading = tkfont.Font(self.root, family=base["family"], size=13, weight="bold")
        self.font_domain = tkfont.Font(self.root, family=base["family"], size=14, weight="bold")
        self.font_origin = tkfont.Font(self.root, family=base["family"], size=12)
        self.font_small = tkfont.Font(self.root, family=base["family"], size=9)
        mono = _first_family(self.root, MONO_FAMILIES)
        self.font_mono = (
            tkfont.Font(self.root, family=mono, size=9)
            if mono
            else tkfont.nametofont("TkFixedFont", self.root)
        )

    def _label(self, parent: tk.Misc, text: str, **options: Any) -> tk.Label:
        label = tk.Label(parent, text=text, anchor="w", justify="left", **options)
        label.pack(fill="x", anchor="w")
        return label

    def _notice(self, parent: tk.Misc, notice: Notice) -> None:
        fg, bg = _TONES[notice.tone]
        font = self.font_bold if notice.tone is Tone.DANGER else None
        self._label(
            parent, notice.text, fg=fg, bg=bg, wraplength=_WRAP, padx=8, pady=5, font=font
        ).pack_configure(pady=(0, 6))

    def _section(self, title: str) -> tk.Frame:
        frame = tk.Frame(self.root)
        frame.pack(fill="x", pady=(8, 0))
        self._label(frame, title, font=self.font_bold)
        return frame

    def _document_list(self, parent: tk.Misc) -> tk.Text:
        """Every document of a long batch in a read-only, scrolled box of fixed height.

        A Text widget: it wraps long names, scrolls by wheel, scroll bar and keyboard (Tab
        reaches it; arrows, Page Up/Down, Ctrl+Home/End), and holds a 500-invoice list
        without a widget per line. Disabled, so nothing can be typed into it.
        """
        box = tk.Frame(parent, bd=1, relief="solid")
        box.pack(fill="x", pady=(2, 2))
        bar = tk.Scrollbar(box, orient="vertical")
        base = tkfont.nametofont("TkDefaultFont", self.root)
        listing = tk.Text(
            box,
            height=MAX_INLINE_DOCUMENT_LINES,
            width=max(20, (_WRAP - 30) // max(1, base.measure("0"))),
            wrap="word",
            font=base,
            bd=0,
            padx=6,
            pady=4,
            cursor="arrow",
            takefocus=1,
            yscrollcommand=bar.set,
        )
        bar.configure(command=listing.yview)
        bar.pack(side="right", fill="y")
        listing.pack(side="left", fill="both", expand=True)
        indent = base.measure("   ")
        listing.tag_configure("name", font=self.font_bold, spacing1=3)
        listing.tag_configure("line", lmargin1=indent, lmargin2=indent)
        listing.tag_configure("fingerprint", font=self.font_mono, foreground=_MUTED)
        for document in self.view.documents:
            listing.insert("end", document.name + "\n", ("name",))
            for said in document.summary:
                listing.insert("end", said + "\n", ("line",))
            listing.insert("end", document.fingerprint + "\n", ("line", "fingerprint"))
            for route in document.route:
                listing.insert("end", route + "\n", ("line",))
        listing.delete("end-1c")  # the last newline: no empty line at the bottom
        listing.configure(state="disabled")
        return listing

    def _documents(self) -> None:
        view = self.view
        if not view.documents:
            return
        docs = self._section(view.documents_heading)
        if view.documents_scroll:
            self.document_list = self._document_list(docs)
            self._label(docs, view.documents_scroll, fg=_MUTED, font=self.font_small)
            return
        for document in view.documents:
            self._label(docs, document.name, wraplength=_WRAP)
            for said in document.summary:  # what an XML invoice says: number, parties, total
                self._label(docs, "   " + said, wraplength=_WRAP)
            self._label(docs, "   " + document.fingerprint, font=self.font_mono, fg=_MUTED)
            for route in document.route:  # another origin than the page's: in plain sight
                self._label(docs, "   " + route, wraplength=_WRAP)
            self._preview(docs, document)

    def _preview(self, parent: tk.Misc, document: DocumentLine) -> None:
        """The page the stamp goes on, its caption and "Mở tài liệu…", under the document.

        The picture stands on the left with a thin frame (a white page on the window's grey);
        the caption and the button to its right. The button is reached by Tab (Space presses
        it) or Alt with its underlined letter; Enter still signs.
        """
        copy = (
            document.file if document.file is not None and is_viewer_copy(document.file) else None
        )
        preview = document.preview
        if preview is None and copy is None:
            return
        row = tk.Frame(parent)
        indent = self.font_mono.measure("   ")  # under the fingerprint, as the document's own
        row.pack(fill="x", anchor="w", padx=(indent, 0), pady=(6, 0))
        wrap = _WRAP - indent
        if preview is not None:
            try:
                self.thumbnail = tk.PhotoImage(master=self.root, data=preview.png, format="png")
            except tk.TclError:
                self.thumbnail = None  # a picture Tk cannot read: the rest still shows
            if self.thumbnail is not None:
                tk.Label(
                    row, image=self.thumbnail, bd=1, relief="solid", bg="#ffffff", padx=0, pady=0
                ).pack(side="left", anchor="n")
                wrap = max(160, wrap - self.thumbnail.width() - _PREVIEW_GAP)
        side = tk.Frame(row)
        side.pack(side="left", fill="both", expand=True, anchor="n", padx=(_PREVIEW_GAP, 0))
        if preview is not None:
            self._label(side, preview.caption, fg=_MUTED, wraplength=wrap)
        if copy is not None:
            self._open_button(side, copy)

    def _open_button(self, parent: tk.Misc, copy: Path) -> None:
        label = self.view.open_label
        button = tk.Button(
            parent, text=label, underline=0, command=lambda: self.open_document(copy)
        )
        button.pack(anchor="w", pady=(8, 0))
        key = label[:1]
        if key.isascii() and key.isalpha():
            for letter in {key.lower(), key.upper()}:  # with and without Caps Lock
                self.root.bind(f"<Alt-KeyPress-{letter}>", lambda _e: self.open_document(copy))

    def open_document(self, copy: Path) -> None:
        """The open button pressed: the document in the user's viewer, in front of this window."""
        if self._done:
            return
        if not open_in_viewer(copy):
            self._error.configure(text=self.view.open_failed)
            return
        self._error.configure(text="")
        # Always on top, the dialog would cover the viewer the user just asked for.
        self.root.attributes("-topmost", False)

    def _build(self) -> None:
        view = self.view
        self._label(self.root, view.heading, font=self.font_heading).pack_configure(pady=(0, 8))
        for notice in view.notices:
            self._notice(self.root, notice)

        origin = tk.Frame(self.root)
        origin.pack(fill="x")
        self._label(origin, view.origin_label, fg=_MUTED)
        line = tk.Frame(origin)
        line.pack(fill="x", anchor="w")
        for part, font, colour in (
            (view.origin.before, self.font_origin, _MUTED),
            (view.origin.domain, self.font_domain, "#000000"),
            (view.origin.after, self.font_origin, _MUTED),
        ):
            if part:
                tk.Label(line, text=part, font=font, fg=colour, padx=0, bd=0).pack(
                    side="left", anchor="s"
                )

        self._documents()

        certs = self._section(view.certificates_heading)
        for index, cert in enumerate(view.certificates):
            details = "\n".join(cert.lines)
            if view.chooser:
                tk.Radiobutton(
                    certs,
                    text=f"{cert.holder}\n{details}",
                    variable=self._certificate,
                    value=index,
                    anchor="w",
                    justify="left",
                    wraplength=_WRAP - 30,
                ).pack(fill="x", anchor="w", pady=(2, 2))
            else:
                self._label(certs, cert.holder, font=self.font_bold)
                self._label(certs, details, fg=_MUTED, wraplength=_WRAP)

        pin = view.pin
        if pin.field is not PinField.NONE:
            box = tk.Frame(self.root)
            box.pack(fill="x", pady=(10, 0))
            if pin.field is PinField.ENTRY:
                row = tk.Frame(box)
                row.pack(fill="x", pady=(0, 6))
                tk.Label(row, text=pin.label, font=self.font_bold).pack(side="left")
                entry = tk.Entry(row, show="•", width=22, font=self.font_origin)
                entry.pack(side="left", padx=(8, 0))
                self._pin_entry = entry
            for note in pin.notes:
                self._notice(box, note)
            if pin.final_try:
                tk.Checkbutton(
                    box,
                    text=pin.tick_label,
                    variable=self._tick,
                    fg=_RED,
                    activeforeground=_RED,
                    font=self.font_bold,
                    anchor="w",
                ).pack(fill="x", anchor="w")

        self._error = self._label(self.root, "", fg=_RED, wraplength=_WRAP)
        self._error.pack_configure(pady=(6, 0))

        bottom = tk.Frame(self.root)
        bottom.pack(fill="x", pady=(8, 0))
        left = tk.Frame(bottom)
        left.pack(side="left", fill="x", expand=True)
        self._countdown = self._label(left, "", fg=_MUTED, font=self.font_small)
        self._label(left, view.keys_hint, fg=_MUTED, font=self.font_small)
        approve = tk.Button(
            bottom,
            text=view.approve_label,
            width=9,
            default="active",
            font=self.font_bold,
            command=self.approve,
        )
        approve.pack(side="right")
        tk.Button(bottom, text=view.cancel_label, width=9, command=self.cancel).pack(
            side="right", padx=(0, 8)
        )

    def _place(self) -> None:
        """Centre the window, keep it above others and take the keyboard."""
        root = self.root
        root.update_idletasks()
        width, height = root.winfo_reqwidth(), root.winfo_reqheight()
        x = max(0, (root.winfo_screenwidth() - width) // 2)
        y = max(0, (root.winfo_screenheight() - height) // 3)
        root.geometry(f"+{x}+{y}")
        root.attributes("-topmost", True)
        root.deiconify()
        root.lift()
        root.bind("<Map>", lambda _e: self._take_focus(), add="+")
        root.after(100, lambda: self._take_focus(retry=True))

    def _take_focus(self, *, retry: bool = False) -> None:
        """Come to the front and give the PIN field (or the window) the keyboard.

        Windows refuses a plain ``focus -force`` to a process in the background, which the
        dialog always is: :func:`~agent.ui.win32_focus.take_foreground` gets past that (at
        the first Map, a child's: the toplevel's own does not always come; once more later
        if it failed), then Tk hands the keys to the PIN field. Elsewhere it does nothing.
        """
        if self._done:
            return
        self.root.lift()
        if self._foreground is None or (retry and not self._foreground.foreground):
            self._foreground = take_foreground(self.root)
        (self._pin_entry or self.root).focus_force()

    # --- behaviour ----------------------------------------------------------------------------

    def _tick_countdown(self) -> None:
        if self._done:
            return
        remaining = self._deadline - self._clock()
        self._countdown.configure(text=countdown_text(remaining, self.view.lang))
        if remaining <= 0:
            # No answer: the agent's own timer turns this into CONSENT_TIMEOUT.
            self._finish(None)
            return
        self.root.after(250, self._tick_countdown)

    def approve(self) -> None:
        """Ký / Sign pressed (or Enter)."""
        if self._done:
            return
        pin = self._pin_entry.get() if self._pin_entry is not None else ""
        try:
            answer = build_answer(self.view, self._certificate.get(), pin, self._tick.get())
        except AnswerRefused as refused:
            self._error.configure(text=str(refused))
            if self._pin_entry is not None and not pin:
                self._pin_entry.focus_set()
            return
        self._finish(answer)

    def cancel(self) -> None:
        """Hủy / Cancel pressed (or Esc, or the window closed)."""
        if not self._done:
            self._finish(cancel_answer())

    def _finish(self, answer: dict[str, Any] | None) -> None:
        self._done = True
        self.answer = answer
        if self._pin_entry is not None:
            self._pin_entry.delete(0, "end")
        self.root.withdraw()
        self.root.quit()

    def run(self) -> dict[str, Any] | None:
        """Show the dialog until the user answers; ``None`` when the countdown ran out."""
        try:
            self.root.mainloop()
        finally:
            self._done = True
            self.root.destroy()
        return self.answer

    def screenshot(self, path: Path) -> None:
        """Save a picture of the window (needs an X display or Windows/macOS)."""
        from PIL import ImageGrab

        root = self.root
        self._done = True  # the countdown stops where it is
        # Keep the pointer off the window: hover highlights would show in the picture.
        root.event_generate("<Motion>", warp=True, x=-20, y=-20)
        for _ in range(10):
            root.update()
            time.sleep(0.05)
        x, y = root.winfo_rootx(), root.winfo_rooty()
        box = (x, y, x + root.winfo_width(), y + root.winfo_height())
        xdisplay = os.environ.get("DISPLAY") if sys.platform.startswith("linux") else None
        picture = ImageGrab.grab(bbox=box, xdisplay=xdisplay)
        picture.quantize(colors=64).save(path, optimize=True)
        root.destroy()


def read_question(stream: Any) -> DialogView:
    """Read and parse the question from ``stream`` (bytes)."""
    raw = stream.read(MAX_QUESTION_BYTES + 1)
    if len(raw) > MAX_QUESTION_BYTES:
        raise InvalidQuestion("the question is too large")
    try:
        wire = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidQuestion("the question is not JSON") from None
    return describe(parse_question(wire))


def main(argv: Sequence[str] | None = None) -> int:
    """Read the question, show the dialog, write the answer."""
    route_to_log()
    parser = argparse.ArgumentParser(
        prog="python -m agent.ui.dialog", description="Kyso Agent consent and PIN dialog"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before it cancels")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="save a picture and exit")
    args = parser.parse_args(argv)
    make_dpi_aware()  # before Tk makes the first window of this process
    try:
        view = read_question(sys.stdin.buffer)
    except InvalidQuestion as exc:
        # Only what was wrong, never the question's content.
        print(f"kyso-agent dialog: {exc}", file=sys.stderr)
        return EXIT_BAD_QUESTION
    try:
        dialog = ConsentDialog(view, args.timeout)
    except tk.TclError as exc:
        print(f"kyso-agent dialog: cannot open a window: {exc}", file=sys.stderr)
        return EXIT_NO_WINDOW
    if args.screenshot is not None:
        dialog.screenshot(args.screenshot)
        return 0
    answer = dialog.run()
    if answer is None:
        time.sleep(GRACE_SECONDS)
        return EXIT_TIMED_OUT
    try:
        sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        return EXIT_NO_AGENT  # the agent gave up on this question (or stopped)
    finally:
        answer.clear()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
