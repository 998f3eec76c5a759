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

Look. ttk widgets on the theme of :mod:`agent.ui.theme` (sv-ttk's Sun Valley light, or the
platform's ttk theme should it not load): the question on top, then the asking site, the
documents, the certificate and the PIN, each a section with the same spacing; notices in tinted
boxes; at the bottom a band with the countdown and the key hint on one line and the two buttons on
their own line below it (Ký, the accent button, then Hủy), so that no text ever runs into a button
(tests/desktop/test_dialog_layout.py measures every widget of every state).

Keyboard. Everything works without a mouse. Tab goes, in reading order: the document's open
button or the scrolled list of a batch, the chosen certificate (the arrow keys choose another,
as in Windows' radio groups), the PIN field, the final-try tick box, Ký, Hủy. Space presses the
focused button or ticks the box; Enter signs from anywhere but the Hủy button, which it presses;
Esc cancels. Alt with the underlined letter goes to the PIN field (P), ticks the box, or opens
the document.

Screen readers. Tk 8.6 implements no accessibility interface (neither UI Automation/MSAA on
Windows nor AT-SPI on Linux): a screen reader hears the window's title, which names the action
("Kyso Agent — Yêu cầu ký số"), and can read the text under the mouse or in its review cursor,
but Tk gives no widget a role, an accessible name or a description, and cannot tie the PIN
field to its label for the reader. What Tk allows is done: every field has its visible label
right before it in reading and Tab order (clicking the label or Alt+P focuses the field), the
controls are real focusable widgets with a visible focus ring, and no information is carried by
colour alone (the danger notices also say "CẢNH BÁO").
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
from functools import partial
from pathlib import Path
from tkinter import ttk
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
    build_answer,
    cancel_answer,
    countdown_text,
    describe,
    parse_question,
)
from agent.ui.theme import (
    ACCENT,
    DANGER_CHECK,
    ERROR,
    FOOTER,
    FOOTER_TEXT,
    HEADING,
    MONO,
    MUTED,
    STRONG,
    STRONG_CHOICE,
    Theme,
    apply_theme,
    notice_style,
)
from agent.ui.win32_dpi import make_dpi_aware
from agent.ui.win32_focus import Foreground, take_foreground

#: After the countdown, how long to wait for the agent to end this process (seconds).
GRACE_SECONDS: Final = 5.0

EXIT_BAD_QUESTION: Final = 2
EXIT_NO_WINDOW: Final = 2
EXIT_TIMED_OUT: Final = 3
EXIT_NO_AGENT: Final = 4


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
        self.theme: Theme = apply_theme(root)  # scales Tk to the monitor before the fonts
        root.title(view.window_title)
        root.resizable(False, False)
        self._certificate = tk.IntVar(root, value=0)
        self._tick = tk.BooleanVar(root, value=False)
        self._pin_entry: ttk.Entry | None = None
        self._mnemonics: set[str] = set()
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

    def _label(
        self, parent: tk.Misc, text: str, style: str = "TLabel", **options: Any
    ) -> ttk.Label:
        """A left-aligned label filling its parent's width, wrapping at the text column."""
        options.setdefault("wraplength", self.theme.spacing.wrap)
        label = ttk.Label(parent, text=text, style=style, anchor="w", justify="left", **options)
        label.pack(fill="x", anchor="w")
        return label

    def _notice(self, parent: tk.Misc, notice: Notice, before: int | None = None) -> None:
        """A sentence the user must not miss: a tinted box with a stripe of its tone.

        ``before``: the space above it; below it, the space between two lines that belong
        together, unless it is in the PIN's part (``before`` given), which ends with it.
        """
        theme = self.theme
        tone = theme.colours.tone(notice.tone)
        box = tk.Frame(
            parent,
            background=tone.background,
            highlightthickness=1,
            highlightbackground=tone.border,
            highlightcolor=tone.border,
            borderwidth=0,
        )
        box.pack(fill="x", pady=(0, theme.spacing.inline) if before is None else (before, 0))
        stripe = theme.px(3)
        tk.Frame(box, background=tone.foreground, width=stripe).pack(side="left", fill="y")
        ttk.Label(
            box,
            text=notice.text,
            style=notice_style(notice.tone),
            anchor="w",
            justify="left",
            wraplength=theme.spacing.wrap - stripe - 2 * theme.spacing.notice - 2,
        ).pack(side="left", fill="x", expand=True)

    def _section(self, parent: tk.Misc, title: str) -> ttk.Frame:
        """A section of the window under a bold title."""
        space = self.theme.spacing
        frame = ttk.Frame(parent)
        frame.pack(fill="x", pady=(space.section, 0))
        self._label(frame, title, STRONG).pack_configure(pady=(0, space.line))
        return frame

    def _mnemonic(self, text: str, action: Callable[[], object], start: int = 0) -> int:
        """Alt + the first free ASCII letter of ``text`` from ``start`` runs ``action``; the
        letter's index, for the widget's ``underline`` (-1: none left)."""
        for index in range(start, len(text)):
            key = text[index]
            if key.isascii() and key.isalpha() and key.lower() not in self._mnemonics:
                self._mnemonics.add(key.lower())
                for letter in {key.lower(), key.upper()}:  # with and without Caps Lock
                    self.root.bind(f"<Alt-KeyPress-{letter}>", lambda _e: action())
                return index
        return -1

    def _document_list(self, parent: tk.Misc) -> tk.Text:
        """Every document of a long batch in a read-only, scrolled box of fixed height.

        A Text widget: it wraps long names, scrolls by wheel, scroll bar and keyboard (Tab
        reaches it; arrows, Page Up/Down, Ctrl+Home/End), and holds a 500-invoice list
        without a widget per line. Disabled, so nothing can be typed into it.
        """
        theme = self.theme
        fonts = theme.fonts
        box = tk.Frame(parent)
        box.pack(fill="x", pady=(0, theme.spacing.line))
        bar = ttk.Scrollbar(box, orient="vertical")
        bar.update_idletasks()
        # As wide as the text column: the box's border, the list's margins and the bar in it.
        width = theme.spacing.wrap - bar.winfo_reqwidth() - 2 * theme.px(8) - theme.px(4) - 2
        listing = tk.Text(
            box,
            height=MAX_INLINE_DOCUMENT_LINES,
            width=max(20, width // max(1, fonts.body.measure("0"))),
            wrap="word",
            cursor="arrow",
            takefocus=1,
            yscrollcommand=bar.set,
        )
        theme.text_box(listing, border=box)
        bar.configure(command=listing.yview)
        bar.pack(side="right", fill="y", padx=(0, theme.px(2)), pady=theme.px(2))
        listing.pack(side="left", fill="both", expand=True)
        indent = theme.spacing.indent
        listing.tag_configure("name", font=fonts.strong, spacing1=theme.px(4))
        listing.tag_configure("line", lmargin1=indent, lmargin2=indent)
        listing.tag_configure("fingerprint", font=fonts.mono, foreground=theme.colours.muted)
        for document in self.view.documents:
            listing.insert("end", document.name + "\n", ("name",))
            for said in document.summary:
                listing.insert("end", said + "\n", ("line",))
            listing.insert("end", document.fingerprint + "\n", ("line", "fingerprint"))
            for route in document.route:
                listing.insert("end", route + "\n", ("line",))
        listing.delete("end-1c")  # the last newline: no empty line at the bottom
        listing.configure(state="disabled")
        # Tk measures the wrapped lines' heights in the background and scrolls on estimates
        # until then (a scroll bar too long, an end it does not quite reach): measure them all
        # whenever the box gets its size.
        listing.bind("<Configure>", lambda _e: listing.tk.call(str(listing), "sync"), add="+")
        return listing

    def _documents(self) -> None:
        view = self.view
        if not view.documents:
            return
        docs = self._section(self._body, view.documents_heading)
        if view.documents_scroll:
            self.document_list = self._document_list(docs)
            self._label(docs, view.documents_scroll, MUTED)
            return
        space = self.theme.spacing
        indented = partial(
            self._label, docs, padding=(space.indent, 0, 0, 0), wraplength=space.wrap - space.indent
        )
        for document in view.documents:
            self._label(docs, document.name)
            for said in document.summary:  # what an XML invoice says: number, parties, total
                indented(said)
            indented(document.fingerprint, MONO)
            for route in document.route:  # another origin than the page's: in plain sight
                indented(route)
            self._preview(docs, document)

    def _preview(self, parent: tk.Misc, document: DocumentLine) -> None:
        """The page the stamp goes on, its caption and "Mở tài liệu…", under the document.

        The picture stands on the left in a thin frame (a white page stands out little from
        the light window); the caption and the button to its right. The button is reached by
        Tab (Space presses it) or Alt with its underlined letter; Enter still signs.
        """
        copy = (
            document.file if document.file is not None and is_viewer_copy(document.file) else None
        )
        preview = document.preview
        if preview is None and copy is None:
            return
        theme = self.theme
        space = theme.spacing
        row = ttk.Frame(parent)
        row.pack(fill="x", anchor="w", padx=(space.indent, 0), pady=(space.inline, 0))
        wrap = space.wrap - space.indent
        if preview is not None:
            try:
                self.thumbnail = tk.PhotoImage(master=self.root, data=preview.png, format="png")
            except tk.TclError:
                self.thumbnail = None  # a picture Tk cannot read: the rest still shows
            if self.thumbnail is not None:
                tk.Label(
                    row,
                    image=self.thumbnail,
                    borderwidth=0,
                    highlightthickness=1,
                    highlightbackground=theme.colours.border,
                    highlightcolor=theme.colours.border,
                    background=theme.colours.field,
                    padx=0,
                    pady=0,
                ).pack(side="left", anchor="n")
                wrap = max(theme.px(160), wrap - self.thumbnail.width() - 2 - space.section)
        side = ttk.Frame(row)
        side.pack(side="left", fill="both", expand=True, anchor="n", padx=(space.section, 0))
        if preview is not None:
            self._label(side, preview.caption, MUTED, wraplength=wrap)
        if copy is not None:
            self._open_button(side, copy)

    def _open_button(self, parent: tk.Misc, copy: Path) -> None:
        label = self.view.open_label
        button = ttk.Button(parent, text=label, command=lambda: self.open_document(copy))
        button.configure(underline=self._mnemonic(label, lambda: self.open_document(copy)))
        button.pack(anchor="w", pady=(self.theme.spacing.inline, 0))

    def open_document(self, copy: Path) -> None:
        """The open button pressed: the document in the user's viewer, in front of this window."""
        if self._done:
            return
        if not open_in_viewer(copy):
            self._say(self.view.open_failed)
            return
        self._say("")
        # Always on top, the dialog would cover the viewer the user just asked for.
        self.root.attributes("-topmost", False)

    def _build(self) -> None:
        """The window, top to bottom: the question, notices, who asks, the documents, the
        certificate, the PIN, an error line when there is one; then the band of buttons."""
        view = self.view
        theme = self.theme
        space = theme.spacing
        body = self._body = ttk.Frame(
            self.root, padding=(space.window, space.top, space.window, space.section)
        )
        body.pack(fill="both", expand=True)
        self._label(body, view.heading, HEADING).pack_configure(pady=(0, space.section))
        for notice in view.notices:
            self._notice(body, notice)
        self._origin()
        self._documents()
        self._certificates()
        self._pin()
        # What is missing when Ký was pressed too early; shown only while it says something.
        self._error = ttk.Label(
            body, text="", style=ERROR, anchor="w", justify="left", wraplength=space.wrap
        )
        tk.Frame(self.root, height=1, background=theme.colours.border).pack(fill="x")
        self._footer()

    def _origin(self) -> None:
        """Who asks: the registrable domain large, the rest of the address muted."""
        view = self.view
        theme = self.theme
        origin = ttk.Frame(self._body)
        origin.pack(fill="x")
        self._label(origin, view.origin_label, MUTED)
        line = ttk.Frame(origin)
        line.pack(fill="x", anchor="w", pady=(theme.spacing.line, 0))
        for part, font, colour in (
            (view.origin.before, theme.fonts.medium, theme.colours.muted),
            (view.origin.domain, theme.fonts.large, theme.colours.text),
            (view.origin.after, theme.fonts.medium, theme.colours.muted),
        ):
            if part:
                ttk.Label(line, text=part, font=font, foreground=colour, padding=0).pack(
                    side="left", anchor="s"
                )

    def _certificates(self) -> None:
        """The certificate, or radio buttons to choose one: the holder in bold, the details
        muted beneath, in line with the holder's name."""
        view = self.view
        space = self.theme.spacing
        indent = self.theme.indicator
        certs = self._section(self._body, view.certificates_heading)
        radios: list[ttk.Radiobutton] = []
        for index, cert in enumerate(view.certificates):
            details = "\n".join(cert.lines)
            if not view.chooser:
                self._label(certs, cert.holder, STRONG)
                self._label(certs, details, MUTED).pack_configure(pady=(space.line, 0))
                continue
            radio = ttk.Radiobutton(
                certs,
                text=cert.holder,
                variable=self._certificate,
                value=index,
                style=STRONG_CHOICE,
            )
            radio.pack(fill="x", anchor="w", pady=(space.inline if index else 0, 0))
            radios.append(radio)
            label = self._label(
                certs, details, MUTED, padding=(indent, 0, 0, 0), wraplength=space.wrap - indent
            )
            label.bind("<Button-1>", partial(self._on_event, radio))
        if radios:
            self._radio_group(radios)

    def _choose(self, button: ttk.Radiobutton | ttk.Checkbutton) -> str:
        """Choose a radio button (or toggle a tick box) and give it the keyboard."""
        button.invoke()
        button.focus_set()
        return "break"

    def _on_event(self, button: ttk.Radiobutton, _event: object) -> str:
        return self._choose(button)

    def _radio_group(self, radios: list[ttk.Radiobutton]) -> None:
        """One Tab stop for the group, on the chosen one; the arrow keys choose another
        (wrapping round), as in Windows' radio groups. Space chooses the focused one."""

        for index, radio in enumerate(radios):
            for key, step in (("Up", -1), ("Left", -1), ("Down", 1), ("Right", 1)):
                after = radios[(index + step) % len(radios)]
                radio.bind(f"<KeyPress-{key}>", partial(self._on_event, after))

        def roving(*_args: object) -> None:
            chosen = self._certificate.get()
            for index, radio in enumerate(radios):
                radio.configure(takefocus=1 if index == chosen else 0)

        self._certificate.trace_add("write", roving)
        roving()

    def _pin(self) -> None:
        """The PIN field with its label before it, the notes on PIN pads and tries left, and
        the final-try tick box."""
        pin = self.view.pin
        if pin.field is PinField.NONE:
            return
        theme = self.theme
        space = theme.spacing
        box = ttk.Frame(self._body)
        box.pack(fill="x", pady=(space.section, 0))
        before = 0  # the space above the next part: none for the first
        if pin.field is PinField.ENTRY:
            row = ttk.Frame(box)
            row.pack(fill="x")
            before = space.inline
            label = ttk.Label(row, text=pin.label, style=STRONG)
            label.pack(side="left")
            entry = ttk.Entry(row, show="•", width=22, font=theme.fonts.medium)
            entry.pack(side="left", padx=(space.inline, 0))
            self._pin_entry = entry
            # The label is the field's: a click on it, or Alt + its underlined letter (the P
            # of PIN), puts the keyboard in the field.
            label.configure(
                underline=self._mnemonic(pin.label, entry.focus_set, max(0, pin.label.find("PIN")))
            )
            label.bind("<Button-1>", lambda _e: entry.focus_set())
        for note in pin.notes:
            self._notice(box, note, before)
            before = space.inline
        if pin.final_try:
            tick = ttk.Checkbutton(
                box, text=pin.tick_label, variable=self._tick, style=DANGER_CHECK
            )
            tick.configure(underline=self._mnemonic(pin.tick_label, partial(self._choose, tick)))
            tick.pack(fill="x", anchor="w", pady=(max(0, before - space.line), 0))

    def _footer(self) -> None:
        """The band at the bottom: the countdown and the key hint on one line, the buttons on
        their own line below it (never side by side with text that could run into them)."""
        view = self.view
        space = self.theme.spacing
        footer = ttk.Frame(
            self.root,
            style=FOOTER,
            padding=(space.window, space.footer - space.line, space.window, space.footer),
        )
        footer.pack(fill="x")
        status = ttk.Frame(footer, style=FOOTER)
        status.pack(fill="x", pady=(0, space.inline))
        self._countdown = ttk.Label(status, text="", style=FOOTER_TEXT)
        self._countdown.pack(side="left")
        ttk.Label(status, text=view.keys_hint, style=FOOTER_TEXT).pack(
            side="right", padx=(space.inline, 0)
        )
        buttons = ttk.Frame(footer, style=FOOTER)
        buttons.pack(fill="x")
        buttons.columnconfigure((0, 1), weight=1, uniform="buttons")
        approve = ttk.Button(
            buttons, text=view.approve_label, style=ACCENT, default="active", command=self.approve
        )
        approve.grid(row=0, column=0, sticky="ew", padx=(0, space.inline // 2))
        cancel = ttk.Button(buttons, text=view.cancel_label, command=self.cancel)
        cancel.grid(row=0, column=1, sticky="ew", padx=(space.inline // 2, 0))
        # Enter on the focused Hủy button presses it: it must never sign.
        for key in ("<Return>", "<KP_Enter>"):
            cancel.bind(key, lambda _e: self._cancel_key())

    def _cancel_key(self) -> str:
        self.cancel()
        return "break"

    def _say(self, text: str) -> None:
        """Show ``text`` in the error line above the buttons (or hide the line when empty)."""
        self._error.configure(text=text)
        if text and not self._error.winfo_manager():
            self._error.pack(fill="x", anchor="w", pady=(self.theme.spacing.section, 0))
        elif not text:
            self._error.pack_forget()

    def _place(self) -> None:
        """Centre the window, keep it above others and take the keyboard."""
        root = self.root
        # Every state as wide as the text column, whatever its own lines need.
        column = self.theme.spacing.wrap + 2 * self.theme.spacing.window
        root.minsize(column, 1)
        root.update_idletasks()
        width, height = max(column, root.winfo_reqwidth()), root.winfo_reqheight()
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
        # Where the keyboard already is, once the user has moved it (a Tab within the first
        # tenth of a second must not be undone by the retry); else the PIN field or the window.
        current = self.root.focus_get()
        target = current if current not in (None, self.root) else self._pin_entry or self.root
        target.focus_force()

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
            self._say(str(refused))
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


def read_question(stream: Any, first: bytes = b"") -> DialogView:
    """Read and parse the question from ``stream`` (bytes), after ``first``, its part already
    read (the first line, read to tell a question from an activity)."""
    raw = first + stream.read(MAX_QUESTION_BYTES + 1 - len(first))
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
    # The agent runs this same command for the wait for the token and a batch's progress:
    # their first line says so, and their window reads the rest.
    from agent.ui.activity_model import activity_kind

    first = sys.stdin.buffer.readline(MAX_QUESTION_BYTES + 1)
    if activity_kind(first) is not None:
        from agent.ui import activity

        return activity.serve(
            first, sys.stdin.buffer, sys.stdout.buffer, screenshot=args.screenshot
        )
    try:
        view = read_question(sys.stdin.buffer, first)
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
