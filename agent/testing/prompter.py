"""Scripted prompters: the user's answers written down in advance.

* :class:`ScriptedPrompter` plugs into :class:`~agent.service.SigningService`
  in the same process (benchmarks, service tests).
* ``python -m agent.testing.prompter DIR`` is an external prompter command
  (``--prompter``) for tests that run the real ``kyso-agent serve``. It pops the
  next answer from ``DIR/answers.json`` and appends the question it received to
  ``DIR/requests.jsonl``.

An answer is a JSON object: ``{"approved": bool, "pin": str, "certificate": N}``
(``N`` = index into the offered certificates, default 0, or a text that the
chosen certificate's subject contains) or one of the
misbehaviours ``{"sleep": seconds}``, ``{"exit": status}``, ``{"raw": text}``.
With no answer left, the user cancels.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.consent.prompter import PromptAnswer, PromptRequest
from agent.pin import Pin


def answer_for(offered: list[tuple[str, str]], script: dict[str, Any]) -> dict[str, Any]:
    """The protocol answer for one scripted step; ``offered`` is (id, subject) pairs."""
    if not script.get("approved", False):
        return {"approved": False}
    answer: dict[str, Any] = {"approved": True}
    wanted = script.get("certificate", 0)
    if offered:
        if isinstance(wanted, str):
            answer["certificateId"] = next(i for i, subject in offered if wanted in subject)
        else:
            answer["certificateId"] = offered[int(wanted)][0]
    if "pin" in script:
        answer["pin"] = script["pin"]
    if script.get("confirmFinalTry"):
        answer["confirmFinalTry"] = True
    return answer


class ScriptedPrompter:
    """In-process prompter that answers from a queue and records every question."""

    def __init__(
        self, answers: Iterable[dict[str, Any]] = (), *, repeat: dict[str, Any] | None = None
    ):
        self.answers: deque[dict[str, Any]] = deque(answers)
        self.repeat = repeat
        self.requests: list[PromptRequest] = []

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Answer with the next scripted step."""
        self.requests.append(request)
        script = self.answers.popleft() if self.answers else self.repeat or {"approved": False}
        wire = answer_for([(c.id, c.subject) for c in request.certificates], script)
        pin = wire.get("pin")
        return PromptAnswer(
            wire["approved"],
            wire.get("certificateId"),
            Pin(pin) if pin else None,
            bool(wire.get("confirmFinalTry")),
        )


def main(directory: Path) -> int:
    """The external prompter command."""
    request = json.loads(sys.stdin.read())
    with (directory / "requests.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(request, ensure_ascii=False) + "\n")
    answers_file = directory / "answers.json"
    answers = json.loads(answers_file.read_text("utf-8")) if answers_file.exists() else []
    script = answers.pop(0) if answers else {"approved": False}
    answers_file.write_text(json.dumps(answers), "utf-8")
    if "sleep" in script:
        time.sleep(float(script["sleep"]))
    if "exit" in script:
        return int(script["exit"])
    if "raw" in script:
        sys.stdout.write(str(script["raw"]))
        return 0
    offered = [(c["id"], c["subject"]) for c in request.get("certificates", [])]
    sys.stdout.write(json.dumps(answer_for(offered, script)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
