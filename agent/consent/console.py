"""Ask in the terminal the agent was started from (developers, servers with a console).

The desktop dialog replaces this for officials. Questions run on one dedicated
thread so that the event loop keeps serving; the PIN is read with echo off.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import IO, Final

from agent.consent.activity import ActivityKind, ActivityRequest, ActivityState, Step
from agent.consent.prompter import PromptAction, PromptAnswer, PromptRequest, RetryReason
from agent.errors import ConsentTimeout
from agent.messages import format_date, text
from agent.pin import Pin, TriesLeft

#: A batch's progress is printed at most this often (seconds), and at its end.
PROGRESS_EVERY: Final = 1.0


class _TimedOut(Exception):
    pass


class _PrintedActivity(ActivityState):
    """Progress as lines in the terminal; Ctrl+C (ending the command) is the way out. Nothing
    is printed before :attr:`ActivityRequest.appear_after` seconds (a batch done sooner prints
    nothing), as a window would not appear."""

    def __init__(self, say: Callable[[str], None], request: ActivityRequest) -> None:
        super().__init__()
        self._say = say
        self._request = request
        self._printed = 0.0
        self._due = time.monotonic() + request.appear_after

    def progress(self, step: Step) -> None:
        super().progress(step)
        now = time.monotonic()
        if now < self._due:
            return
        if step.done < self._request.total and now - self._printed < PROGRESS_EVERY:
            return
        self._printed = now
        line = text(
            "console_progress", self._request.lang, done=step.done, total=self._request.total
        )
        if step.current is not None and step.done < self._request.total:
            line += f"  {step.current}"
        self._say(line)


def _terminal_of(stream: IO[str]) -> IO[str] | None:
    """The terminal behind ``stream``, opened for writing: questions go where answers come from."""
    if os.name == "nt":  # pragma: no cover - Windows uses the console streams
        return None
    try:
        return open(os.ttyname(stream.fileno()), "w", encoding="utf-8")
    except (OSError, ValueError):
        return None


class ConsolePrompter:
    """Asks on the controlling terminal."""

    shows_documents = False  # a terminal prints the name and digest, not the page

    def __init__(self, timeout: float, stdin: IO[str] | None = None, out: IO[str] | None = None):
        self._timeout = timeout
        self._in = stdin or sys.stdin
        self._out = out or _terminal_of(self._in) or sys.stderr
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-prompt")

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Show the question and read the answer, within the timeout."""
        deadline = time.monotonic() + self._timeout
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._interact, request, deadline)
        except _TimedOut:
            self._say("")
            raise ConsentTimeout(f"no answer within {self._timeout:.0f} s") from None

    @asynccontextmanager
    async def activity(self, request: ActivityRequest) -> AsyncIterator[ActivityState]:
        """Say what the agent waits for, or print the batch's progress."""
        lang = request.lang
        if request.kind is ActivityKind.WAIT_TOKEN:
            self._say("")
            self._say(
                text(
                    "console_wait_token",
                    lang,
                    origin=request.origin,
                    seconds=f"{request.seconds:.0f}",
                )
            )
            if request.certificate is not None:
                self._say(text("console_wait_certificate", lang, subject=request.certificate))
        yield _PrintedActivity(self._say, request)

    def _say(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()

    def _read(self, prompt: str, deadline: float, *, secret: bool = False) -> str:
        if os.name == "nt":  # pragma: no cover - Windows consoles have no select()
            import getpass

            self._out.write(prompt)
            self._out.flush()
            return getpass.getpass("") if secret else self._in.readline().rstrip("\r\n")
        import select
        import termios

        fd = self._in.fileno()
        if os.isatty(fd):
            # Whatever was typed before this question (an answer to an earlier, timed-out
            # one) must never answer it.
            termios.tcflush(fd, termios.TCIFLUSH)
        saved = None
        if secret and os.isatty(fd):
            # Echo goes off before the prompt appears, so a fast typist never shows the PIN.
            saved = termios.tcgetattr(fd)
            quiet = termios.tcgetattr(fd)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        self._out.write(prompt)
        self._out.flush()
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _TimedOut
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise _TimedOut
            return self._in.readline().rstrip("\r\n")
        finally:
            if saved is not None:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
                self._out.write("\n")

    def _interact(self, request: PromptRequest, deadline: float) -> PromptAnswer:
        lang = request.lang
        self._say("")
        self._say("=" * 60)
        key = (
            "console_title_sign" if request.action is PromptAction.SIGN else "console_title_select"
        )
        self._say(text(key, lang, origin=request.origin))
        if request.first_use:
            self._say(text("console_first_use", lang, origin=request.origin))
        if request.retry is RetryReason.PIN_INCORRECT:
            self._say(text("console_pin_incorrect", lang))
        if request.documents:
            self._say(text("console_documents", lang, count=len(request.documents)))
            # Every one: the user consents to these documents, and a terminal scrolls.
            for doc in request.documents:
                name = doc.name or text("console_unnamed", lang)
                self._say(f"  - {name}  [{doc.algorithm.value} {doc.digest.hex()[:16]}…]")
                for line in doc.summary:
                    self._say(f"    {line}")
                if doc.source is not None:
                    self._say("    " + text("dialog_document_from", lang, origin=doc.source))
                if doc.destination is not None:
                    self._say("    " + text("dialog_document_to", lang, origin=doc.destination))
        self._say(text("console_certificates", lang))
        for index, cert in enumerate(request.certificates, 1):
            expires = format_date(cert.not_after, lang)
            self._say(f"  {index}. {cert.subject}  ({text('console_expires', lang)} {expires})")
        chosen = request.certificates[0]
        if len(request.certificates) > 1:
            answer = self._read(
                text("console_choose", lang, count=len(request.certificates)), deadline
            ).strip()
            if answer.lower() in ("h", "c"):
                return PromptAnswer.cancelled()
            if answer:
                if not answer.isdigit() or not 1 <= int(answer) <= len(request.certificates):
                    return PromptAnswer.cancelled()
                chosen = request.certificates[int(answer) - 1]
        if request.pin is None or not request.pin.required:
            if request.pin is not None and request.pin.cached:
                self._say(text("console_pin_cached", lang))
            answer = self._read(text("console_confirm", lang), deadline).strip().lower()
            if answer != text("console_yes", lang):
                return PromptAnswer.cancelled()
            return PromptAnswer(True, chosen.id)
        confirmed = False
        if request.pin.tries_left is TriesLeft.FINAL:
            self._say(text("console_pin_final", lang))
            answer = self._read(text("console_final_confirm", lang), deadline).strip().lower()
            if answer != text("console_final_word", lang):
                return PromptAnswer.cancelled()
            confirmed = True
        elif request.pin.tries_left is TriesLeft.LOW:
            self._say(text("console_pin_low", lang))
        if request.pin.pinpad:
            answer = self._read(text("console_confirm", lang), deadline).strip().lower()
            if answer != text("console_yes", lang):
                return PromptAnswer.cancelled()
            self._say(text("console_pinpad", lang))
            return PromptAnswer(True, chosen.id, final_try_confirmed=confirmed)
        typed = self._read(text("console_pin", lang), deadline, secret=True)
        if not typed:
            return PromptAnswer.cancelled()
        return PromptAnswer(True, chosen.id, Pin(typed), confirmed)
