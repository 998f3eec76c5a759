"""The terminal prompter (agent.consent.console) lists what it asks about in full."""

from __future__ import annotations

import asyncio
import io
import os

from agent.algorithms import HashAlgorithm
from agent.consent.activity import ActivityKind, ActivityRequest, Step
from agent.consent.console import ConsolePrompter
from agent.consent.prompter import DocumentView
from tests.unit.test_dialog_model import sign


def test_a_long_batch_is_listed_in_full_in_the_terminal() -> None:
    documents = tuple(
        DocumentView(f"QĐ-{n}.pdf", bytes([n]) * 32, HashAlgorithm.SHA256, summary=(f"Số: {n}",))
        for n in range(45)
    )
    read, write = os.pipe()
    os.write(write, b"\n")  # an empty PIN: the user cancels
    os.close(write)
    out = io.StringIO()
    with os.fdopen(read) as stdin:
        prompter = ConsolePrompter(timeout=10, stdin=stdin, out=out)
        answer = asyncio.run(prompter.ask(sign(documents=documents)))
    assert not answer.approved
    shown = out.getvalue().splitlines()
    assert [line.split()[1] for line in shown if line.startswith("  - ")] == [
        f"QĐ-{n}.pdf" for n in range(45)
    ]
    assert "    Số: 44" in shown


def printed_progress(appear_after: float) -> list[str]:
    """The lines a batch of three prints in the terminal, each step at once."""
    out = io.StringIO()
    request = ActivityRequest(
        ActivityKind.PROGRESS, "https://dichvucong.gov.vn", total=3, appear_after=appear_after
    )

    async def batch() -> None:
        async with ConsolePrompter(timeout=10, stdin=io.StringIO(), out=out).activity(
            request
        ) as shown:
            for done in range(4):
                shown.progress(Step(done, f"HĐ {done}" if done < 3 else None))

    asyncio.run(batch())
    return out.getvalue().splitlines()


def test_a_batch_done_before_its_progress_would_appear_prints_nothing() -> None:
    """As no window appears for it: a short batch on a fast token leaves the terminal alone."""
    assert printed_progress(appear_after=30) == []
    shown = printed_progress(appear_after=0)
    assert shown[0].endswith("HĐ 0") and "3" in shown[-1], shown
