"""Ask through an external program (``--prompter CMD``).

For each question the command is started, receives one JSON object on stdin
and must print one JSON object on stdout before the timeout. Whoever starts the
agent chooses the command; a web page never can.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
from collections.abc import Sequence

from agent.consent.prompter import InvalidAnswer, PromptAnswer, PromptRequest, parse_answer
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
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            log.error("prompter %s could not start: %s", self._argv[0], exc.strerror)  # noqa: TRY400
            return PromptAnswer.cancelled()
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(payload), self._timeout)
        except TimeoutError:
            log.info("prompter did not answer within %.0f s", self._timeout)
            raise ConsentTimeout(f"no answer within {self._timeout:.0f} s") from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process.returncode != 0:
            log.warning("prompter exited with status %s; treating as cancel", process.returncode)
            return PromptAnswer.cancelled()
        if len(stdout) > MAX_ANSWER_BYTES:
            log.warning("prompter answer too large; treating as cancel")
            return PromptAnswer.cancelled()
        try:
            return parse_answer(json.loads(stdout))
        except (UnicodeDecodeError, json.JSONDecodeError, InvalidAnswer) as exc:
            # Never log stdout: it may hold a PIN.
            log.warning("prompter answer is not valid (%s); treating as cancel", type(exc).__name__)
            return PromptAnswer.cancelled()
