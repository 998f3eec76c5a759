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

Activities (:mod:`agent.consent.activity`: the wait for the token, a batch's progress) take
their script from a queue of their own (``activities=`` in process; ``DIR/activities.json``
for the command): ``{"stopAt": n}`` presses Stop once ``n`` documents are done,
``{"cancel": true}`` presses it at once, and with no script left the user only watches.
The command appends the activity's first line to ``requests.jsonl`` and every update to
``DIR/activity.jsonl``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

from agent.consent.activity import ActivityKind, ActivityRequest, ActivityState, Step
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

    shows_documents = True  # the questions it records carry what a dialog would show

    def __init__(
        self,
        answers: Iterable[dict[str, Any]] = (),
        *,
        repeat: dict[str, Any] | None = None,
        activities: Iterable[dict[str, Any]] = (),
    ):
        self.answers: deque[dict[str, Any]] = deque(answers)
        self.repeat = repeat
        self.requests: list[PromptRequest] = []
        self.activity_scripts: deque[dict[str, Any]] = deque(activities)
        self.activities: list[ScriptedActivity] = []
        """Every activity shown, with the steps it was given."""

    @asynccontextmanager
    async def activity(self, request: ActivityRequest) -> AsyncIterator[ScriptedActivity]:
        """Record the activity and its steps; press Stop where the script says."""
        script = self.activity_scripts.popleft() if self.activity_scripts else {}
        shown = ScriptedActivity(request, script)
        self.activities.append(shown)
        yield shown

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


class ScriptedActivity(ActivityState):
    """An activity the script watches, and stops where it says."""

    def __init__(self, request: ActivityRequest, script: dict[str, Any]) -> None:
        super().__init__()
        self.request = request
        self.steps: list[Step] = []
        self._stop_at = script.get("stopAt")
        if script.get("cancel"):
            self.stop()

    def progress(self, step: Step) -> None:
        super().progress(step)
        self.steps.append(step)
        if self._stop_at is not None and step.done >= self._stop_at:
            self.stop()


def _pop(path: Path) -> dict[str, Any]:
    queue = json.loads(path.read_text("utf-8")) if path.exists() else []
    script = queue.pop(0) if queue else {}
    path.write_text(json.dumps(queue), "utf-8")
    return dict(script)


def _watch(directory: Path, stdin: IO[str]) -> int:
    """An activity: record its updates until the agent closes standard input."""
    script = _pop(directory / "activities.json")
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            sys.stdout.write(json.dumps({"stop": True}) + "\n")
            sys.stdout.flush()

    if script.get("cancel"):
        stop()
    with (directory / "activity.jsonl").open("a", encoding="utf-8") as log:
        for line in stdin:
            log.write(line if line.endswith("\n") else line + "\n")
            log.flush()
            step = json.loads(line)
            if "stopAt" in script and step.get("done", 0) >= script["stopAt"]:
                stop()
    return 0


def main(directory: Path) -> int:
    """The external prompter command."""
    first = sys.stdin.readline()
    request = json.loads(first)
    if request.get("action") in {k.value for k in ActivityKind}:
        with (directory / "requests.jsonl").open("a", encoding="utf-8") as log:
            log.write(json.dumps(request, ensure_ascii=False) + "\n")
        return _watch(directory, sys.stdin)
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
