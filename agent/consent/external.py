"""Ask through an external program (``--prompter CMD``).

For each question the command is started, receives one JSON object on stdin
and must print one JSON object on stdout before the timeout. Whoever starts the
agent chooses the command; a web page never can.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import shlex
from collections.abc import Sequence

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

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        if not argv:
            raise ValueError("empty prompter command")
        self._argv = tuple(argv)
        self._timeout = timeout

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
