"""The window shown while the agent waits for the token or signs a batch:
``python -m agent.ui.activity`` (or ``python -m agent.ui.dialog``, which hands activities over).

A separate process speaking the activity half of the prompter protocol
(:mod:`agent.consent.activity`, docs/prompter-protocol.md). The agent writes the activity as
the first line and keeps standard input open:

* **wait-token**: "Hãy cắm USB token", whose request waits, whose certificate the token must
  hold, a countdown and Hủy / Cancel. The agent closes standard input once the token is in
  (or it gives up); the window closes with it.
* **progress**: "Đã ký 3/20 tài liệu", a bar, the current document and Dừng / Stop, updated
  from the further lines (``{"done": 3, "current": "QĐ-123.pdf"}``). They are read on a thread
  and shown a few times a second, the newest only: hundreds a second cost nothing.

Stop or Cancel (the button, Esc, or closing the window) writes ``{"stop": true}`` once on
standard output; the window then says it stops after the current document (progress) or
goes away (wait), and the process lives on until the agent closes standard input, when it
exits 0. Malformed and over-long lines are ignored; a first line that is not an activity
ends the process with 2, before any window.

``--screenshot OUT.png [--step '{"done": 3, "current": "QĐ-123.pdf"}']`` renders the first
line (read on stdin), saves a picture of the window and exits (docs/dialog/,
``python -m tests.desktop.screenshots``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path
from tkinter import ttk
from typing import Any, BinaryIO, Final

from agent.consent.activity import ActivityKind, ActivityRequest, Step
from agent.pywarnings import route_to_log
from agent.ui.activity_model import (
    MAX_LINE_BYTES,
    STOP_LINE,
    InvalidActivity,
    Latest,
    ProgressView,
    WaitView,
    describe_progress,
    describe_wait,
    feed,
    parse_request,
    parse_step,
    wait_countdown,
)
from agent.ui.dialog_model import OriginView
from agent.ui.theme import FOOTER, FOOTER_TEXT, HEADING, MUTED, STRONG, apply_theme
from agent.ui.win32_dpi import make_dpi_aware
from agent.ui.win32_focus import Foreground, take_foreground

EXIT_BAD_REQUEST: Final = 2
EXIT_NO_WINDOW: Final = 2
EXIT_TIMED_OUT: Final = 3

#: How often the window looks for new steps and the end of its input (milliseconds).
POLL_MS: Final = 50
#: After the wait's countdown, how long to wait for the agent to close standard input (seconds).
GRACE_SECONDS: Final = 5.0
#: Width of the window's content, in pixels at 96 DPI (the theme scales it to the monitor).
CONTENT_WIDTH: Final = 440


# --- the window ------------------------------------------------------------------------------


class ActivityWindow:
    """The Tk window for one activity; :meth:`run` until the agent closes standard input.

    Its look is the agent's theme (:func:`agent.ui.theme.apply_theme`: fonts, colours, spacing
    and named styles), as the consent dialog's: heading, the asking origin with its domain in
    large bold type, then the activity, and a band at the bottom with the keys and the button.
    """

    def __init__(
        self,
        request: ActivityRequest,
        out: BinaryIO,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.request = request
        self.stopped = False
        """The user pressed Stop or Cancel (the line is written)."""
        self.exit_code = 0
        self._out = out
        self._clock = clock
        self._deadline = clock() + request.seconds
        self._done = False
        self._latest: Latest | None = None
        self._step: Step | None = None
        self._foreground: Foreground | None = None
        root = self.root = tk.Tk(className="KysoAgent")
        root.withdraw()
        theme = self.theme = apply_theme(root)  # scales Tk to the monitor first
        self._width = theme.px(CONTENT_WIDTH)
        root.resizable(False, False)
        spacing = theme.spacing
        body = ttk.Frame(root, padding=(spacing.window, spacing.top, spacing.window, 0))
        body.pack(fill="both", expand=True)
        self._body = body
        ttk.Frame(root, height=spacing.section + spacing.line).pack(fill="x")
        footer = ttk.Frame(root, style=FOOTER, padding=(spacing.window, spacing.footer))
        footer.pack(fill="x")
        self._footer = footer
        if request.kind is ActivityKind.WAIT_TOKEN:
            self.wait_view: WaitView | None = describe_wait(request)
            self._build_wait(self.wait_view)
        else:
            self.wait_view = None
            self._build_progress()
        root.protocol("WM_DELETE_WINDOW", self.stop)
        root.bind("<Escape>", lambda _e: self.stop())
        self._place()

    # --- look ---------------------------------------------------------------------------------

    def _label(self, parent: tk.Misc, text: str, **options: Any) -> ttk.Label:
        label = ttk.Label(parent, text=text, anchor="w", justify="left", **options)
        label.pack(fill="x", anchor="w")
        return label

    def _head(self, title: str, heading: str, origin_label: str, origin: OriginView) -> None:
        """Title, heading and the origin with its domain in large bold type, as the consent
        dialog shows them."""
        self.root.title(title)
        fonts, colours = self.theme.fonts, self.theme.colours
        self._label(self._body, heading, style=HEADING).pack_configure(
            pady=(0, self.theme.spacing.section)
        )
        self._label(self._body, origin_label, style=MUTED)
        line = ttk.Frame(self._body)
        line.pack(fill="x", anchor="w")
        for part, font, colour in (
            (origin.before, fonts.medium, colours.muted),
            (origin.domain, fonts.large, colours.text),
            (origin.after, fonts.medium, colours.muted),
        ):
            if part:
                ttk.Label(line, text=part, font=font, foreground=colour, padding=0).pack(
                    side="left", anchor="s"
                )

    def _button(self, text: str) -> tuple[ttk.Frame, ttk.Button]:
        """The footer's button (on the right) and the column of notes left of it."""
        left = ttk.Frame(self._footer, style=FOOTER)
        left.pack(side="left", fill="x", expand=True)
        button = ttk.Button(self._footer, text=text, width=9, command=self.stop)
        button.pack(side="right")
        return left, button

    def _build_wait(self, view: WaitView) -> None:
        spacing = self.theme.spacing
        self._head(view.window_title, view.heading, view.origin_label, view.origin)
        self._label(self._body, view.explanation, wraplength=self._width).pack_configure(
            pady=(spacing.section, 0)
        )
        if view.holder:
            self._label(
                self._body, view.holder, style=STRONG, wraplength=self._width
            ).pack_configure(pady=(spacing.line * 2, 0))
        self.bar = ttk.Progressbar(self._body, mode="indeterminate", length=self._width)
        self.bar.pack(fill="x", pady=(spacing.section, 0))
        self.bar.start(15)
        left, self.button = self._button(view.cancel_label)
        self._countdown = self._label(left, "", style=FOOTER_TEXT)
        self._label(left, view.keys_hint, style=FOOTER_TEXT)
        self._tick_countdown()

    def _build_progress(self) -> None:
        spacing = self.theme.spacing
        view = self._progress_view()
        self._head(view.window_title, view.heading, view.origin_label, view.origin)
        self._counter = self._label(self._body, view.counter, style=STRONG)
        self._counter.pack_configure(pady=(spacing.section, spacing.line * 2))
        self.bar = ttk.Progressbar(
            self._body, mode="determinate", length=self._width, maximum=max(1, view.total)
        )
        self.bar.pack(fill="x")
        self._current = self._label(self._body, view.current)
        self._current.pack_configure(pady=(spacing.line * 2, 0))
        left, self.button = self._button(view.stop_label)
        self._status = self._label(left, view.status, style=FOOTER_TEXT)
        self._show(view)

    def _progress_view(self) -> ProgressView:
        font = self.theme.fonts.body
        return describe_progress(
            self.request,
            self._step,
            stopping=self.stopped,
            fits=lambda line: font.measure(line) <= self._width,
        )

    def _show(self, view: ProgressView) -> None:
        self._counter.configure(text=view.counter)
        self.bar.configure(value=view.done)
        self._current.configure(text=view.current)
        self._status.configure(text=view.status)
        if view.stopping:
            self.button.state(["disabled"])

    def _place(self) -> None:
        """Centre the window, keep it above others and take the keyboard (as the dialog does)."""
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
        """To the front with the keyboard, so that Esc reaches it
        (:func:`~agent.ui.win32_focus.take_foreground` on Windows)."""
        if self._done or self.stopped:
            return
        self.root.lift()
        if self._foreground is None or (retry and not self._foreground.foreground):
            self._foreground = take_foreground(self.root)
        self.root.focus_force()

    # --- behaviour ----------------------------------------------------------------------------

    def step(self, step: Step) -> None:
        """Show ``step`` (progress only)."""
        self._step = step
        if self.request.kind is ActivityKind.PROGRESS:
            self._show(self._progress_view())

    def stop(self) -> None:
        """Stop / Cancel pressed (or Esc, or the window closed): say so once, and wait."""
        if self.stopped or self._done:
            return
        self.stopped = True
        try:
            self._out.write(STOP_LINE)
            self._out.flush()
        except (OSError, ValueError):
            pass  # the agent is gone: its end of standard input follows
        if self.request.kind is ActivityKind.WAIT_TOKEN:
            self.bar.stop()
            self.root.withdraw()  # nothing left to wait for on screen
        else:
            self._show(self._progress_view())

    def _tick_countdown(self) -> None:
        if self._done or self.wait_view is None:
            return
        remaining = self._deadline - self._clock()
        self._countdown.configure(text=wait_countdown(self.wait_view, remaining))
        if remaining <= -GRACE_SECONDS:
            # The agent stopped waiting long ago and should have closed standard input.
            self._finish(EXIT_TIMED_OUT)
            return
        if remaining <= 0:
            self.root.withdraw()
        self.root.after(250, self._tick_countdown)

    def _poll(self) -> None:
        if self._done or self._latest is None:
            return
        step, ended = self._latest.take()
        if step is not None:
            self.step(step)
        if ended:
            self._finish(0)
            return
        self.root.after(POLL_MS, self._poll)

    def _finish(self, code: int) -> None:
        self._done = True
        self.exit_code = code
        self.root.withdraw()
        self.root.quit()

    def run(self, stream: BinaryIO) -> int:
        """Read the updates from ``stream`` until it ends; the exit code."""
        self._latest = Latest()
        reader = threading.Thread(
            target=feed, args=(stream, self._latest), name="activity-input", daemon=True
        )
        reader.start()
        self.root.after(POLL_MS, self._poll)
        try:
            self.root.mainloop()
        finally:
            self._done = True
            self.root.destroy()
        if reader.is_alive():
            # Still blocked on standard input (the countdown ran out): a normal exit would wait
            # for its lock at shutdown.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(self.exit_code)
        return self.exit_code

    def screenshot(self, path: Path) -> None:
        """Save a picture of the window (needs an X display or Windows/macOS)."""
        from PIL import ImageGrab

        root = self.root
        self._done = True  # the countdown stops where it is
        root.event_generate("<Motion>", warp=True, x=-20, y=-20)  # no hover highlight
        for _ in range(10):
            root.update()
            time.sleep(0.05)
        x, y = root.winfo_rootx(), root.winfo_rooty()
        box = (x, y, x + root.winfo_width(), y + root.winfo_height())
        xdisplay = os.environ.get("DISPLAY") if sys.platform.startswith("linux") else None
        picture = ImageGrab.grab(bbox=box, xdisplay=xdisplay)
        picture.quantize(colors=64).save(path, optimize=True)
        root.destroy()


# --- the process -----------------------------------------------------------------------------


def serve(
    first: bytes,
    stream: BinaryIO,
    out: BinaryIO,
    *,
    screenshot: Path | None = None,
    step: Step | None = None,
) -> int:
    """Show the activity of the ``first`` line, read the rest of ``stream``, answer on ``out``.

    The exit code: 0 once the agent closed ``stream``, :data:`EXIT_BAD_REQUEST` for a first
    line that is not an activity. ``screenshot``: save a picture (after ``step``) and return.
    """
    try:
        request = parse_request(first)
    except InvalidActivity as exc:
        # Only what was wrong, never the line's content.
        print(f"kyso-agent activity: {exc}", file=sys.stderr)
        return EXIT_BAD_REQUEST
    try:
        window = ActivityWindow(request, out)
    except tk.TclError as exc:
        print(f"kyso-agent activity: cannot open a window: {exc}", file=sys.stderr)
        return EXIT_NO_WINDOW
    if screenshot is not None:
        if step is not None:
            window.step(step)
        window.screenshot(screenshot)
        return 0
    return window.run(stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Read the activity's first line, show the window until standard input ends."""
    route_to_log()
    parser = argparse.ArgumentParser(
        prog="python -m agent.ui.activity", description="Kyso Agent wait and progress window"
    )
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="save a picture and exit")
    parser.add_argument("--step", metavar="JSON", help="with --screenshot: a progress line")
    args = parser.parse_args(argv)
    step = parse_step(args.step.encode()) if args.step is not None else None
    if args.step is not None and step is None:
        parser.error('--step must be a progress line such as {"done": 3}')
    make_dpi_aware()  # before Tk makes the first window of this process
    first = sys.stdin.buffer.readline(MAX_LINE_BYTES + 1)
    return serve(first, sys.stdin.buffer, sys.stdout.buffer, screenshot=args.screenshot, step=step)


if __name__ == "__main__":
    raise SystemExit(main())
