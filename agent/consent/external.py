"""Ask through an external program (``--prompter CMD``).

For each question the command is started, receives one JSON object on stdin
and must print one JSON object on stdout before the timeout. Whoever starts the
agent chooses the command; a web page never can.

For an activity (waiting for the token, progress through a batch:
:mod:`agent.consent.activity`) the same command is started with the activity as the first
line; standard input stays open for the updates and is closed when the agent is done; a
``{"stop": true}`` line on its standard output is the user's Stop (or Cancel).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import shlex
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Final

from agent.consent.activity import ActivityRequest, ActivityState, Step
from agent.consent.prompter import (
    InvalidAnswer,
    PromptAnswer,
    PromptRequest,
    parse_answer,
    take_pin,
)
from agent.errors import ConsentTimeout

log = logging.getLogger(__name__)

#: Generous for one JSON object; anything larger is a broken prompter.
MAX_ANSWER_BYTES = 64 * 1024
#: After standard input closes, how long an activity's window has to go (then it is killed).
ACTIVITY_EXIT_SECONDS: Final = 5.0
#: Updates not yet read by the window beyond this are skipped (it shows the next one).
_ACTIVITY_BACKLOG: Final = 64 * 1024


def split_command(command: str, *, windows: bool = os.name == "nt") -> list[str]:
    """Split a prompter command line the way the platform's shell would.

    Windows quotes a path with spaces (``"C:\\Program Files\\…\\python.exe"``); shlex's
    non-POSIX mode keeps those quotes in the word, and no program is named with them.
    """
    if not windows:
        return shlex.split(command)
    words = shlex.split(command, posix=False)
    return [w[1:-1] if len(w) >= 2 and w[0] == w[-1] == '"' else w for w in words]


class ExternalPrompter:
    """Runs a command per question."""

    shows_documents = True  # the question's JSON carries the page; the command decides

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        if not argv:
            raise ValueError("empty prompter command")
        self._argv = tuple(argv)
        self._timeout = timeout

    @asynccontextmanager
    async def activity(self, request: ActivityRequest) -> AsyncIterator[ActivityState]:
        """Run the command for the ``async with`` block, showing ``request`` and its steps."""
        shown = _ShownActivity(self._argv, request)
        try:
            yield shown
        finally:
            await shown.close()

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Run the command once and parse its answer."""
        payload = json.dumps(request.to_wire(), ensure_ascii=False).encode("utf-8")
        # The answer may hold the PIN: it is read from our own pipe into one buffer that is
        # wiped below, never into the immutable bytes asyncio's pipes would hand out.
        answer = bytearray(MAX_ANSWER_BYTES + 1)
        read_end, write_end = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=write_end,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            os.close(read_end)
            log.error("prompter %s could not start: %s", self._argv[0], exc.strerror)  # noqa: TRY400
            return PromptAnswer.cancelled()
        finally:
            os.close(write_end)
        log.info("prompter started (pid %s)", process.pid)
        try:
            reading = asyncio.create_task(asyncio.to_thread(_read_into, read_end, answer))
            try:
                await asyncio.wait_for(self._exchange(process, payload, reading), self._timeout)
            except TimeoutError:
                log.info("prompter did not answer within %.0f s", self._timeout)
                raise ConsentTimeout(f"no answer within {self._timeout:.0f} s") from None
            finally:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
                size = await reading  # the child is gone: its end of the pipe is closed
            return self._parse(process.returncode, answer, size)
        finally:
            os.close(read_end)
            answer[:] = bytes(len(answer))

    @staticmethod
    async def _exchange(
        process: asyncio.subprocess.Process, payload: bytes, reading: asyncio.Task[int]
    ) -> None:
        assert process.stdin is not None  # noqa: S101 - stdin=PIPE above
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            process.stdin.write(payload)
            await process.stdin.drain()
            process.stdin.close()
        await asyncio.shield(reading)
        await process.wait()

    @staticmethod
    def _parse(returncode: int | None, answer: bytearray, size: int) -> PromptAnswer:
        if returncode != 0:
            log.warning("prompter exited with status %s; treating as cancel", returncode)
            return PromptAnswer.cancelled()
        if size > MAX_ANSWER_BYTES:
            log.warning("prompter answer too large; treating as cancel")
            return PromptAnswer.cancelled()
        del answer[size:]
        pin = take_pin(answer)
        try:
            return parse_answer(json.loads(answer.decode("utf-8")), pin)
        except (UnicodeDecodeError, json.JSONDecodeError, InvalidAnswer) as exc:
            if pin is not None:
                pin.wipe()
            # Never log stdout: it may hold a PIN.
            log.warning("prompter answer is not valid (%s); treating as cancel", type(exc).__name__)
            return PromptAnswer.cancelled()


def _read_into(fd: int, buffer: bytearray) -> int:
    """Read ``fd`` to its end into ``buffer``; the number of bytes it sent (more than the
    buffer holds means too large, and the rest is read and dropped)."""
    size = 0
    with io.FileIO(fd, "rb", closefd=False) as pipe, memoryview(buffer) as view:
        while size < len(buffer):
            count = pipe.readinto(view[size:])
            if not count:
                return size
            size += count
        while chunk := pipe.read(65536):  # a broken prompter: drain it so that it can exit
            size += len(chunk)
    return size


class _ShownActivity(ActivityState):
    """An activity in an external command's window.

    The command starts at once, or after :attr:`ActivityRequest.appear_after` seconds of work
    (never, when the work ends sooner). Updates are written without waiting: a window that
    reads slowly skips steps rather than slowing the signing down. A command that cannot
    start, or exits without a word, leaves the work to go on unseen.
    """

    def __init__(self, argv: tuple[str, ...], request: ActivityRequest) -> None:
        super().__init__()
        self._argv = argv
        self._request = request
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._due = asyncio.get_running_loop().time() + request.appear_after
        self._starting = asyncio.create_task(self._start(request.appear_after))

    async def _start(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            log.warning("prompter %s could not start: %s", self._argv[0], exc.strerror)
            return
        self._process = process
        self._write(self._request.to_wire())
        if self.last is not None:
            self._write(self.last.to_wire())
        self._reader = asyncio.create_task(self._read_stop(process))

    def _write(self, wire: dict[str, object]) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        if process.stdin.transport.get_write_buffer_size() > _ACTIVITY_BACKLOG:
            return
        try:
            process.stdin.write(json.dumps(wire, ensure_ascii=False).encode("utf-8") + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            return

    async def _read_stop(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE above
        while True:
            try:
                line = await process.stdout.readline()
            except ValueError:  # a line past the reader's limit: a broken command
                log.warning("prompter wrote an over-long line during an activity; ignored")
                return
            if not line:
                return
            try:
                said = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(said, dict) and said.get("stop") is True and not self.stopped:
                log.info("the user stopped the %s", self._request.kind.value)
                self.stop()
                # Said back so that the window (and a test) knows the agent has it: from here
                # no further document begins.
                self._write({"stopping": True})

    def progress(self, step: Step) -> None:
        """Remember the step and send it to the window (when it shows)."""
        super().progress(step)
        self._write(step.to_wire())

    async def close(self) -> None:
        """Close standard input; the command ends (or is ended) before this returns."""
        starting = self._starting
        if not starting.done() and asyncio.get_running_loop().time() < self._due:
            starting.cancel()  # the work ended before the window was due: it never shows
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), ACTIVITY_EXIT_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
