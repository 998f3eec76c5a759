"""The log lines the helpdesk report shows (the last warnings and errors) and the support bundle
carries (the last lines), made safe to show."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

LOG_LINES: Final = 20
"""How many WARNING/ERROR lines of the log the report shows."""
_LOG_TAIL_BYTES: Final = 512 * 1024
_MAX_LOG_LINE: Final = 400

_LOG_HEAD = re.compile(
    r"^(?P<head>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)? (?:WARNING|ERROR|CRITICAL) )(?P<rest>.*)$"
)
#: The time and level of any log line: never masked (the digits of the time are not a PIN).
_ANY_HEAD = re.compile(r"^(?P<head>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)? [A-Z]+ )(?P<rest>.*)$")
_SECRET_WORD = re.compile(r"(?i)\b(?:pin|user_?pin|so_?pin|password|passphrase|passwd|mật khẩu)\b")
_SECRET_VALUE = re.compile(
    r"(?i)\b(pin|user_?pin|so_?pin|password|passphrase|passwd)\b(\s*[\"']?\s*[:=]\s*)"
    r"[\"']?[^\s,;\"'}]*[\"']?"
)
_DIGITS = re.compile(r"\d{4,}")


def mask_secrets(text: str) -> str:
    """``text`` with ``pin=…``-like values masked and, when it mentions a PIN or password,
    every run of four or more digits too (``***``)."""
    masked = _SECRET_VALUE.sub(r"\1\2***", text)
    return _DIGITS.sub("***", masked) if _SECRET_WORD.search(masked) else masked


def _cut(line: str, limit: int) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def scrub_log_line(line: str) -> str | None:
    """A WARNING/ERROR/CRITICAL log line, made safe to show; ``None`` for any other line.

    The agent never logs a PIN. Should a line ever carry one (a library's message, a
    future bug), it is masked (:func:`mask_secrets`).
    """
    match = _LOG_HEAD.match(line.rstrip("\r\n"))
    if match is None:
        return None
    return _cut(match["head"] + mask_secrets(match["rest"]), _MAX_LOG_LINE)


def _tail(path: Path, size: int = _LOG_TAIL_BYTES) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            handle.seek(max(0, end - size))
            data = handle.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if end > size else lines  # the first line may be cut


def _log_tail(log_dir: Path) -> list[str]:
    return _tail(log_dir / "agent.log.1") + _tail(log_dir / "agent.log")


def recent_log_errors(log_dir: Path, limit: int = LOG_LINES) -> tuple[str, ...]:
    """The last ``limit`` WARNING/ERROR lines of ``agent.log`` (and its last rotation)."""
    kept = [s for s in (scrub_log_line(line) for line in _log_tail(log_dir)) if s is not None]
    return tuple(kept[-limit:]) if limit > 0 else ()


def recent_log_lines(log_dir: Path, limit: int, max_line: int = 2000) -> tuple[str, ...]:
    """The last ``limit`` lines of ``agent.log`` (and its last rotation), every level and the
    tracebacks too, each masked (:func:`mask_secrets`) and cut at ``max_line`` characters:
    the log the support bundle carries."""
    lines = _log_tail(log_dir)[-limit:] if limit > 0 else []
    return tuple(_cut(_mask_line(line.rstrip("\r\n")), max_line) for line in lines)


def _mask_line(line: str) -> str:
    match = _ANY_HEAD.match(line)
    if match is None:  # a traceback's line, or a message's second line
        return mask_secrets(line)
    return match["head"] + mask_secrets(match["rest"])
