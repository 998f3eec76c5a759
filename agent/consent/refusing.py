"""The prompter of last resort: nobody can be asked, so nothing is approved."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

from agent.consent.activity import ActivityRequest, ActivityState, unseen_activity
from agent.consent.prompter import PromptAnswer, PromptRequest
from agent.messages import text

log = logging.getLogger(__name__)


class RefusingPrompter:
    """Refuses every question and says why in the log."""

    shows_documents = False

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Always a cancel."""
        log.warning("%s (request from %s)", text("no_prompter", "en"), request.origin)
        return PromptAnswer.cancelled()

    def activity(self, request: ActivityRequest) -> AbstractAsyncContextManager[ActivityState]:
        """Nothing is shown (nothing will be signed either: every question is refused)."""
        return unseen_activity(request)
