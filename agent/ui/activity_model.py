"""What the activity window shows and reads — pure logic, no Tk.

The window (:mod:`agent.ui.activity`) speaks the activity half of the prompter protocol
(:mod:`agent.consent.activity`): the agent's first line is an
:class:`~agent.consent.activity.ActivityRequest` (:func:`parse_request`), the further lines
progress steps (:func:`parse_step`, read by :func:`feed` on a thread into a :class:`Latest`,
where a burst of them collapses into the newest), and the window answers :data:`STOP_LINE`
once when the user stops. :func:`describe_wait` and :func:`describe_progress` put every text
in the user's language; the window only lays them out.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from cryptography.x509.oid import NameOID

from agent.consent.activity import MAX_ACTIVITY_NAME, ActivityKind, ActivityRequest, Step
from agent.messages import DEFAULT_LANG, Lang, text
from agent.origin import LOCAL_CALLER
from agent.ui.dialog_model import OriginView, countdown_text, name_attribute, split_origin

MAX_LINE_BYTES: Final = 64 * 1024
"""Longest line read, its newline included; a longer one is skipped whole."""

STOP_LINE: Final = (json.dumps({"stop": True}) + "\n").encode()
"""What the window writes, once, when the user presses Stop or Cancel."""

MAX_HOLDER_CHARS: Final = 200
"""Longest certificate holder shown (a common name is at most 64 characters)."""

ELLIPSIS: Final = "…"


class InvalidActivity(ValueError):
    """A first line that is not an activity the window knows."""


# --- the lines on the wire -----------------------------------------------------------------


def _object(line: bytes) -> dict[str, Any] | None:
    """``line`` as a JSON object, or ``None``."""
    try:
        wire = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return wire if isinstance(wire, dict) else None


def _whole(value: Any) -> int | None:
    """A non-negative JSON integer (``true`` is not one), or ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def activity_kind(line: bytes) -> ActivityKind | None:
    """The activity a first line asks for, or ``None`` when it is something else (a question).

    The consent dialog's entry point asks this of the first line it reads, to hand an activity
    over to the activity window; a line longer than :data:`MAX_LINE_BYTES` is never one.
    """
    if len(line) > MAX_LINE_BYTES:
        return None
    wire = _object(line)
    return _kind(wire) if wire is not None else None


def _kind(wire: dict[str, Any]) -> ActivityKind | None:
    action = wire.get("action")
    try:
        return ActivityKind(action) if isinstance(action, str) else None
    except ValueError:
        return None


def parse_request(line: bytes) -> ActivityRequest:
    """Read the first line the agent wrote (the inverse of ``ActivityRequest.to_wire``).

    ``action``, ``origin`` and the count (``total``) or the wait (``seconds``) must be right;
    an unknown ``lang`` is spoken as Vietnamese and a ``certificate`` that is not a string is
    left out (the window is more use shown than refused over those).
    """
    if len(line) > MAX_LINE_BYTES:
        raise InvalidActivity("the first line is too long")
    wire = _object(line)
    if wire is None:
        raise InvalidActivity("the first line is not a JSON object")
    kind = _kind(wire)
    if kind is None:
        raise InvalidActivity("unknown action")
    origin = wire.get("origin")
    if not isinstance(origin, str) or not origin:
        raise InvalidActivity("'origin' must be a string")
    try:
        lang = Lang(wire.get("lang", DEFAULT_LANG.value))
    except ValueError:
        lang = DEFAULT_LANG
    if kind is ActivityKind.PROGRESS:
        total = _whole(wire.get("total"))
        if total is None:
            raise InvalidActivity("'total' must be a whole number")
        return ActivityRequest(kind, origin, lang, total=total)
    seconds = wire.get("seconds")
    if (
        not isinstance(seconds, int | float)
        or isinstance(seconds, bool)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise InvalidActivity("'seconds' must be a number of seconds")
    certificate = wire.get("certificate")
    return ActivityRequest(
        kind,
        origin,
        lang,
        seconds=float(seconds),
        certificate=certificate if isinstance(certificate, str) else None,
    )


def parse_step(line: bytes) -> Step | None:
    """A progress line, or ``None`` for anything else (ignored: the window never fails on one)."""
    wire = _object(line)
    if wire is None:
        return None
    done = _whole(wire.get("done"))
    current = wire.get("current")
    if done is None or not (current is None or isinstance(current, str)):
        return None
    return Step(done, current[:MAX_ACTIVITY_NAME] if current is not None else None)


def lines(stream: BinaryIO) -> Iterator[bytes]:
    """Each line of ``stream`` up to its end; one longer than :data:`MAX_LINE_BYTES` is skipped
    whole (read in bounded pieces, never held)."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) <= MAX_LINE_BYTES:
            yield line
            continue
        while not line.endswith(b"\n"):
            line = stream.readline(MAX_LINE_BYTES + 1)
            if not line:
                return


class Latest:
    """The newest step and whether the input ended, handed from the reading thread to Tk.

    The reader :meth:`put`s every step; the window :meth:`take`s a few times a second and sees
    only the newest one, so hundreds of lines a second cost Tk one update per look.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._step: Step | None = None
        self._ended = False
        self.lines = 0
        """Lines read so far, steps or not (for tests)."""

    def put(self, step: Step | None) -> None:
        """One line read: its step, or ``None`` for a line that was not one."""
        with self._lock:
            self.lines += 1
            if step is not None:
                self._step = step

    def end(self) -> None:
        """The agent closed the input."""
        with self._lock:
            self._ended = True

    def take(self) -> tuple[Step | None, bool]:
        """The step put since the last take (``None``: none), and whether the input ended."""
        with self._lock:
            step, self._step = self._step, None
            return step, self._ended


def feed(stream: BinaryIO, latest: Latest) -> None:
    """Read ``stream`` to its end into ``latest`` (the reading thread's whole work).

    A read that fails counts as the end: the agent is gone either way.
    """
    try:
        for line in lines(stream):
            latest.put(parse_step(line))
    except (OSError, ValueError):
        pass
    finally:
        latest.end()


# --- what the windows say --------------------------------------------------------------------


@dataclass(frozen=True)
class WaitView:
    """The window while the agent waits for the token."""

    lang: Lang
    """Language of every text below."""
    window_title: str
    """"Kyso Agent — Đang chờ USB token"."""
    heading: str
    """"Hãy cắm USB token"."""
    origin_label: str
    """Label in front of the origin (as in the consent dialog)."""
    origin: OriginView
    """Whose request waits."""
    explanation: str
    """That the request goes on by itself once the token is in."""
    holder: str
    """"Token chứa chứng thư số của: Nguyễn Văn An", or empty when the portal named none."""
    seconds: float
    """How long the agent waits (the countdown's start)."""
    cancel_label: str
    """Hủy / Cancel."""
    keys_hint: str
    """"Esc = Hủy"."""


@dataclass(frozen=True)
class ProgressView:
    """The window while the agent signs a batch, as of one step."""

    lang: Lang
    """Language of every text below."""
    window_title: str
    """"Kyso Agent — Đang ký tài liệu"."""
    heading: str
    """"Đang ký tài liệu"."""
    origin_label: str
    """Label in front of the origin."""
    origin: OriginView
    """Whose batch it is."""
    counter: str
    """"Đã ký 3/20 tài liệu"."""
    done: int
    """Documents signed (never above ``total``): the bar's value."""
    total: int
    """Documents in the batch: the bar's end."""
    current: str
    """"Đang ký: QĐ-123.pdf" (the name shortened to fit), or "Đã ký xong."."""
    status: str
    """"Esc = Dừng", or "Đang dừng sau tài liệu đang ký…" once the user stopped."""
    stop_label: str
    """Dừng / Stop."""
    stopping: bool
    """The user pressed Stop: the button is disabled."""


def _origin_parts(request: ActivityRequest) -> tuple[str, OriginView]:
    return text("dialog_origin", request.lang), split_origin(request.origin)


def holder_of(certificate: str) -> str:
    """Who a certificate belongs to: its subject's common name, else the whole subject."""
    holder = name_attribute(certificate, NameOID.COMMON_NAME) or certificate.strip()
    return ellipsize(holder, lambda shown: len(shown) <= MAX_HOLDER_CHARS)


def describe_wait(request: ActivityRequest) -> WaitView:
    """Everything the waiting window shows for ``request``."""
    lang = request.lang
    label, origin = _origin_parts(request)
    local = request.origin == str(LOCAL_CALLER)
    certificate = request.certificate
    holder = holder_of(certificate) if certificate and certificate.strip() else ""
    cancel = text("dialog_cancel", lang)
    return WaitView(
        lang=lang,
        window_title=text("activity_wait_title", lang),
        heading=text("activity_wait_heading", lang),
        origin_label=label,
        origin=origin,
        explanation=text("activity_wait_explain_local" if local else "activity_wait_explain", lang),
        holder=text("activity_wait_holder", lang, holder=holder) if holder else "",
        seconds=request.seconds,
        cancel_label=cancel,
        keys_hint=text("activity_keys", lang, button=cancel),
    )


def wait_countdown(view: WaitView, remaining: float) -> str:
    """ "Tự động hủy sau 1:05": the waiting window's countdown."""
    return countdown_text(remaining, view.lang)


def ellipsize(name: str, fits: Callable[[str], bool]) -> str:
    """``name``, or as much of it as ``fits`` with "…" in the middle (the end, where the
    number and extension are, is kept: ``Quyết định số 12…UBND-2025.pdf``)."""
    if fits(name):
        return name

    def cut(keep: int) -> str:
        tail = keep // 3
        end = name[len(name) - tail :] if tail else ""
        return name[: keep - tail].rstrip() + ELLIPSIS + end.lstrip()

    low, high = 0, len(name) - 1  # keep `low` characters fits (or is the least we show)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(cut(middle)):
            low = middle
        else:
            high = middle - 1
    return cut(low)


def describe_progress(
    request: ActivityRequest,
    step: Step | None,
    *,
    stopping: bool = False,
    fits: Callable[[str], bool] = lambda _line: True,
) -> ProgressView:
    """Everything the progress window shows for ``request`` after ``step`` (``None``: none yet).

    ``fits`` says whether a line fits the window; the current document's name is shortened
    until its line does. ``stopping``: the user pressed Stop.
    """
    lang = request.lang
    label, origin = _origin_parts(request)
    total = request.total
    done = min(step.done, total) if step is not None else 0
    # One line whatever the name holds (a newline or tab would break the window's layout).
    name = " ".join(step.current.split()) if step is not None and step.current else ""
    if step is None:
        current = text("activity_progress_starting", lang)
    elif name:

        def line_fits(shown: str) -> bool:
            return fits(text("activity_progress_current", lang, name=shown))

        current = text("activity_progress_current", lang, name=ellipsize(name, line_fits))
    elif done >= total:
        current = text("activity_progress_finished", lang)
    else:
        current = text("activity_progress_unnamed", lang, number=done + 1)
    stop = text("activity_stop", lang)
    return ProgressView(
        lang=lang,
        window_title=text("activity_progress_title", lang),
        heading=text("activity_progress_heading", lang),
        origin_label=label,
        origin=origin,
        counter=text("activity_progress_count", lang, done=done, total=total),
        done=done,
        total=total,
        current=current,
        status=(
            text("activity_progress_stopping", lang)
            if stopping
            else text("activity_keys", lang, button=stop)
        ),
        stop_label=stop,
        stopping=stopping,
    )
