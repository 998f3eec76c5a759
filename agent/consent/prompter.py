"""The question the agent asks the user, the answer it expects, and who asks.

Every certificate read and every signature goes through a :class:`Prompter`.
The wire form of :class:`PromptRequest` and :class:`PromptAnswer` is the
external prompter protocol (``--prompter CMD``), documented in
``docs/prompter-protocol.md``; the built-in prompters speak the same dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from agent.algorithms import HashAlgorithm
from agent.messages import Lang
from agent.pin import Pin, TriesLeft


class PromptAction(StrEnum):
    """What the user is asked to approve."""

    SELECT_CERTIFICATE = "select-certificate"
    SIGN = "sign"


class RetryReason(StrEnum):
    """Why the same question is asked again."""

    PIN_INCORRECT = "PIN_INCORRECT"


@dataclass(frozen=True)
class DocumentView:
    """One document as the user sees it."""

    name: str | None
    """Name given by the portal, or ``None``."""
    digest: bytes
    """The digest that will be signed (shown as a fingerprint)."""
    algorithm: HashAlgorithm
    """Its hash algorithm."""


@dataclass(frozen=True)
class CertificateChoice:
    """One certificate the user may pick."""

    id: str
    """Opaque id (hex SHA-256 of the certificate)."""
    subject: str
    """Subject distinguished name, RFC 4514."""
    issuer: str
    """Issuer distinguished name, RFC 4514."""
    not_after: datetime
    """End of validity."""
    token: str
    """Label of the token holding it."""


@dataclass(frozen=True)
class PinRequest:
    """What the prompt must collect to log in."""

    required: bool
    """A PIN is needed."""
    pinpad: bool
    """The PIN is typed on the reader, not in the prompt."""
    tries_left: TriesLeft
    """ok, low or final (locked tokens are never prompted for)."""
    cached: bool = False
    """A PIN cached under machine policy will be used; ``required`` is then false."""


@dataclass(frozen=True)
class PromptRequest:
    """One question to the user."""

    action: PromptAction
    """select-certificate or sign."""
    origin: str
    """The web origin asking, normalised."""
    certificates: tuple[CertificateChoice, ...]
    """Certificates to choose from (one when the portal named it)."""
    documents: tuple[DocumentView, ...] = ()
    """What will be signed (sign only)."""
    pin: PinRequest | None = None
    """PIN to collect (sign only)."""
    retry: RetryReason | None = None
    """Set when the question is asked again."""
    lang: Lang = Lang.VI
    """Language to speak."""
    first_use: bool = False
    """The origin was admitted by a wildcard entry and is not paired yet: approving
    this question also allows the portal from now on."""

    def to_wire(self) -> dict[str, Any]:
        """The JSON object written to an external prompter."""
        wire: dict[str, Any] = {
            "action": self.action.value,
            "origin": self.origin,
            "certificates": [
                {
                    "id": c.id,
                    "subject": c.subject,
                    "issuer": c.issuer,
                    "notAfter": c.not_after.isoformat(),
                    "token": c.token,
                }
                for c in self.certificates
            ],
            "lang": self.lang.value,
            "firstUse": self.first_use,
        }
        if self.action is PromptAction.SIGN:
            wire["documents"] = [
                {"name": d.name, "digest": d.digest.hex(), "algorithm": d.algorithm.value}
                for d in self.documents
            ]
        if self.pin is not None:
            wire["pin"] = {
                "required": self.pin.required,
                "pinpad": self.pin.pinpad,
                "triesLeft": self.pin.tries_left.value,
                "cached": self.pin.cached,
            }
        if self.retry is not None:
            wire["retry"] = {"reason": self.retry.value}
        return wire


@dataclass(frozen=True)
class PromptAnswer:
    """The user's answer."""

    approved: bool
    """The user approved."""
    certificate_id: str | None = None
    """The certificate picked (an id from the request)."""
    pin: Pin | None = field(default=None, repr=False, compare=False)
    """The PIN typed, when one was asked for."""
    final_try_confirmed: bool = False
    """The user explicitly confirmed a final PIN attempt (required when ``triesLeft`` is final)."""

    @classmethod
    def cancelled(cls) -> PromptAnswer:
        """The user said no (or could not be asked)."""
        return cls(approved=False)


class InvalidAnswer(ValueError):
    """A prompter answer that does not follow the protocol."""


def parse_answer(value: Any) -> PromptAnswer:
    """Validate an external prompter's JSON answer."""
    if not isinstance(value, dict) or not isinstance(value.get("approved"), bool):
        raise InvalidAnswer("answer must be an object with a boolean 'approved'")
    if not value["approved"]:
        return PromptAnswer.cancelled()
    certificate_id = value.get("certificateId")
    if certificate_id is not None and not isinstance(certificate_id, str):
        raise InvalidAnswer("'certificateId' must be a string")
    pin = value.get("pin")
    if pin is not None and not isinstance(pin, str):
        raise InvalidAnswer("'pin' must be a string")
    confirmed = value.get("confirmFinalTry", False)
    if not isinstance(confirmed, bool):
        raise InvalidAnswer("'confirmFinalTry' must be a boolean")
    return PromptAnswer(True, certificate_id, Pin(pin) if pin else None, confirmed)


class Prompter(Protocol):
    """Anything that can ask the user one question at a time."""

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Ask and wait for the answer.

        Returns a cancelled answer when the user says no or cannot be asked;
        raises :class:`~agent.errors.ConsentTimeout` when the user does not answer
        in time.
        """
        ...
