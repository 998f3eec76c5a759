"""An activity through an external prompter command (agent/consent/external.py): the first
line, the updates, the user's Stop, and the command's end — with real child processes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from agent.consent import external
from agent.consent.activity import ActivityKind, ActivityRequest, Step
from agent.consent.external import ExternalPrompter
from agent.messages import Lang

WATCHER = """
import json, sys
out = open(sys.argv[1], "a", encoding="utf-8")
stop_at = int(sys.argv[2])
for line in sys.stdin:
    out.write(line); out.flush()
    said = json.loads(line)
    if said.get("done") == stop_at:
        sys.stdout.write('{"stop": true}\\n'); sys.stdout.flush()
out.write("EOF\\n")
"""


def watcher(tmp_path: Path, stop_at: int = -1) -> tuple[ExternalPrompter, Path]:
    record = tmp_path / "seen.jsonl"
    script = tmp_path / "watch.py"
    script.write_text(WATCHER)
    argv = [sys.executable, str(script), str(record), str(stop_at)]
    return ExternalPrompter(argv, timeout=30), record


def seen(record: Path) -> list[object]:
    lines = record.read_text("utf-8").splitlines() if record.exists() else []
    return [line if line == "EOF" else json.loads(line) for line in lines]


async def shown_up(record: Path) -> None:
    """Until the command has read its first line (it is up and reading)."""
    for _ in range(200):
        if record.exists() and record.read_text("utf-8"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the command never read its first line")


PROGRESS = ActivityRequest(ActivityKind.PROGRESS, "https://portal.example.gov.vn", total=3)


async def test_the_first_line_and_every_step_reach_the_command_which_ends_at_eof(
    tmp_path: Path,
) -> None:
    prompter, record = watcher(tmp_path)
    async with prompter.activity(PROGRESS) as shown:
        await shown_up(record)
        for done, name in enumerate(["QĐ-1.pdf", "QĐ-2.pdf", None]):
            shown.progress(Step(done, name))
    # Leaving the block closed standard input and waited for the command to end.
    assert seen(record) == [
        {"action": "progress", "origin": "https://portal.example.gov.vn", "lang": "vi", "total": 3},
        {"done": 0, "current": "QĐ-1.pdf"},
        {"done": 1, "current": "QĐ-2.pdf"},
        {"done": 2},
        "EOF",
    ]
    assert not shown.stopped


async def test_steps_given_before_the_window_is_up_come_as_the_last_one(
    tmp_path: Path,
) -> None:
    prompter, record = watcher(tmp_path)
    async with prompter.activity(PROGRESS) as shown:
        for done in range(3):
            shown.progress(Step(done, f"{done}.pdf"))
    assert seen(record)[1:] == [{"done": 2, "current": "2.pdf"}, "EOF"]


async def test_a_stop_line_is_the_users_stop_and_the_agent_says_it_has_it(
    tmp_path: Path,
) -> None:
    prompter, record = watcher(tmp_path, stop_at=1)
    async with prompter.activity(PROGRESS) as shown:
        shown.progress(Step(0, "a"))
        shown.progress(Step(1, "b"))
        await shown.wait_stopped()
        assert shown.stopped
    # Acknowledged once, after the step that made the command stop; then standard input closed.
    assert seen(record)[-3:] == [{"done": 1, "current": "b"}, {"stopping": True}, "EOF"]


async def test_work_that_ends_before_appear_after_never_starts_the_command(
    tmp_path: Path,
) -> None:
    prompter, record = watcher(tmp_path)
    later = ActivityRequest(ActivityKind.PROGRESS, "https://a.gov.vn", total=9, appear_after=30)
    async with prompter.activity(later) as shown:
        shown.progress(Step(0, "x"))
    assert not record.exists()


async def test_a_command_that_cannot_start_leaves_the_work_unseen(tmp_path: Path) -> None:
    prompter = ExternalPrompter([str(tmp_path / "no-such-prompter")], timeout=5)
    async with prompter.activity(PROGRESS) as shown:
        shown.progress(Step(0, "x"))
    assert not shown.stopped


async def test_a_command_that_ignores_eof_is_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(external, "ACTIVITY_EXIT_SECONDS", 0.5)
    script = tmp_path / "stubborn.py"
    script.write_text("import sys, time\nsys.stdin.readline()\ntime.sleep(60)\n")
    prompter = ExternalPrompter([sys.executable, str(script)], timeout=5)
    wait = ActivityRequest(ActivityKind.WAIT_TOKEN, "https://a.gov.vn", Lang.EN, seconds=5)
    async with prompter.activity(wait) as shown:
        pass
    assert not shown.stopped  # and the block returned: the command was killed
