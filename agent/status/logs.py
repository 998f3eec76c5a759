"""The log lines the helpdesk report shows: the last warnings and errors, made safe to show."""

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
_SECRET_WORD = re.compile(r"(?i)\b(?:pin|user_?pin|so_?pin|password|passphrase|passwd|mật khẩu)\b")
_SECRET_VALUE = re.compile(
    r"(?i)\b(pin|user_?pin|so_?pin|password|passphrase|passwd)\b(\s*[\"']?\s*[:=]\s*)"
    r"[\"']?[^\s,;\"'}]*[\"']?"
)
_DIGITS = re.compile(r"\d{4,}")


def scrub_log_line(line: str) -> str | None:
    """A WARNING/ERROR/CRITICAL log line, made safe to show; ``None`` for any other line.

    The agent never logs a PIN. Should a line ever carry one (a library's message, a
    future bug), ``pin=…``-like values are masked and, in a line that mentions a PIN or
    password, so is every run of four or more digits.
    """
    match = _LOG_HEAD.match(line.rstrip("\r\n"))
    if match is None:
        return None
    rest = _SECRET_VALUE.sub(r"\1\2***", match["rest"])
    if _SECRET_WORD.search(rest):
        rest = _DIGITS.sub("***", rest)
    shown = match["head"] + rest
    return shown if len(shown) <= _MAX_LOG_LINE else shown[: _MAX_LOG_LINE - 1] + "…"


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


def recent_log_errors(log_dir: Path, limit: int = LOG_LINES) -> tuple[str, ...]:
    """The last ``limit`` WARNING/ERROR lines of ``agent.log`` (and its last rotation)."""
    lines = _tail(log_dir / "agent.log.1") + _tail(log_dir / "agent.log")
    kept = [s for s in (scrub_log_line(line) for line in lines) if s is not None]
    return tuple(kept[-limit:]) if limit > 0 else ()
