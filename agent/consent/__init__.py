"""Asking the user: the prompter protocol and its implementations.

The consent layer owns every question to the user; the token layer never prompts.
"""

from agent.consent.prompter import (
    CertificateChoice,
    DocumentView,
    PinRequest,
    PromptAction,
    PromptAnswer,
    Prompter,
    PromptRequest,
    RetryReason,
)

__all__ = [
    "CertificateChoice",
    "DocumentView",
    "PinRequest",
    "PromptAction",
    "PromptAnswer",
    "PromptRequest",
    "Prompter",
    "RetryReason",
]
