"""The question the agent asks the user, the answer it expects, and who asks.

Every certificate read and every signature goes through a :class:`Prompter`.
The wire form of :class:`PromptRequest` and :class:`PromptAnswer` is the
external prompter protocol (``--prompter CMD``), documented in
``docs/prompter-protocol.md``; the built-in prompters speak the same dataclasses.
"""

from __future__ import annotations

import base64
import re
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from agent.algorithms import HashAlgorithm
from agent.consent.activity import Activity, ActivityRequest
from agent.messages import Lang
from agent.pin import Pin, TriesLeft


class PromptAction(StrEnum):
    """What the user is asked to approve."""

    SELECT_CERTIFICATE = "select-certificate"
    SIGN = "sign"


class RetryReason(StrEnum):
    """Why the same question is asked again."""

    PIN_INCORRECT = "PIN_INCORRECT"


PREVIEW_SIDE: Final = 260
"""Longest side of a page preview, pixels: the agent draws it so, the dialog refuses larger."""
MAX_PREVIEW_BYTES: Final = 200 * 1024
"""Largest page preview (PNG bytes): the agent keeps under it, the dialog refuses larger."""


@dataclass(frozen=True)
class PagePreview:
    """A picture of the page a PDF signature goes on (``preview`` on the wire)."""

    png: bytes = field(repr=False)
    """PNG, its longer side at most :data:`PREVIEW_SIDE` pixels, at most
    :data:`MAX_PREVIEW_BYTES`; the stamp's box is already drawn on it (red)."""
    page: int
    """1-based number of the page shown."""
    pages: int
    """Pages in the document."""
    stamp: bool
    """The stamp's box is drawn; ``False``: an invisible signature, the first page shown."""


@dataclass(frozen=True)
class DocumentView:
    """One document as the user sees it."""

    name: str | None
    """Name given by the portal, or ``None``."""
    digest: bytes
    """The digest that will be signed (shown as a fingerprint)."""
    algorithm: HashAlgorithm
    """Its hash algorithm."""
    source: str | None = None
    """Origin the agent fetched the document from, when it is not the asking page's."""
    destination: str | None = None
    """Origin the agent sends the signed document to, when it is not the asking page's."""
    summary: tuple[str, ...] = ()
    """What the document says it is, in the question's language (an XML e-invoice: number,
    seller, buyer, total); empty for a PDF or a hash."""
    preview: PagePreview | None = None
    """The page the signature goes on (a PDF), or ``None``."""
    file: Path | None = None
    """A private, read-only copy of the document the user may open in their own viewer before
    answering (a PDF, :mod:`agent.pdf.viewer`); removed when the request ends."""


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
            wire["documents"] = [_document_wire(d) for d in self.documents]
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


def _document_wire(document: DocumentView) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "name": document.name,
        "digest": document.digest.hex(),
        "algorithm": document.algorithm.value,
    }
    if document.source is not None:
        wire["from"] = document.source
    if document.destination is not None:
        wire["to"] = document.destination
    if document.summary:
        wire["summary"] = list(document.summary)
    if document.preview is not None:
        wire["preview"] = {
            "png": base64.b64encode(document.preview.png).decode("ascii"),
            "page": document.preview.page,
            "pages": document.preview.pages,
            "stamp": document.preview.stamp,
        }
    if document.file is not None:
        wire["file"] = str(document.file)
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


def take_pin(raw: bytearray) -> Pin | None:
    """Move the ``"pin"`` string of a JSON answer out of ``raw`` into a :class:`Pin`.

    The value's bytes are decoded into a fresh buffer the PIN owns, and overwritten in
    ``raw`` with ``*``: what is then parsed as JSON (and so copied into Python strings that
    cannot be wiped) no longer holds the PIN. The escapes a PIN may need (``\\"``,
    ``\\\\``, ``\\/``, ``\\uXXXX`` below U+0080) are decoded; a PIN written with any other
    leaves ``raw`` as it was, for the JSON parser to read as before.
    """
    match = _PIN_FIELD.search(raw)
    if match is None:
        return None
    start, end = match.span(1)
    secret = bytearray()
    index = start
    while index < end:
        byte = raw[index]
        if byte == 0x5C:  # backslash
            following = raw[index + 1]
            if following in b'"\\/':
                secret.append(following)
                index += 2
                continue
            if following == 0x75 and index + 6 <= end:  # \uXXXX
                code = int(raw[index + 2 : index + 6], 16)
                if code >= 0x80:
                    secret[:] = bytes(len(secret))
                    return None
                secret.append(code)
                index += 6
                continue
            secret[:] = bytes(len(secret))
            return None
        secret.append(byte)
        index += 1
    raw[start:end] = b"*" * (end - start)
    return Pin(secret) if secret else None


_PIN_FIELD: Final = re.compile(rb'"pin"\s*:\s*"((?:[^"\\]|\\.)*)"')
"""The ``"pin"`` member and its string (escaped quotes included)."""


def parse_answer(value: Any, pin: Pin | None = None) -> PromptAnswer:
    """Validate an external prompter's JSON answer; ``pin``: taken out of the raw answer
    beforehand (:func:`take_pin`), in place of the redacted ``"pin"`` member."""
    if not isinstance(value, dict) or not isinstance(value.get("approved"), bool):
        raise InvalidAnswer("answer must be an object with a boolean 'approved'")
    if not value["approved"]:
        return PromptAnswer.cancelled()
    certificate_id = value.get("certificateId")
    if certificate_id is not None and not isinstance(certificate_id, str):
        raise InvalidAnswer("'certificateId' must be a string")
    typed = value.get("pin")
    if typed is not None and not isinstance(typed, str):
        raise InvalidAnswer("'pin' must be a string")
    confirmed = value.get("confirmFinalTry", False)
    if not isinstance(confirmed, bool):
        raise InvalidAnswer("'confirmFinalTry' must be a boolean")
    if pin is None and typed:
        pin = Pin(typed)
    return PromptAnswer(True, certificate_id, pin, confirmed)


class Prompter(Protocol):
    """Anything that can ask the user one question at a time."""

    shows_documents: bool
    """Whether a question can show the document it is about (a PDF's page, a copy to open in
    a viewer). The agent draws the page and writes the copy only for a prompter that does:
    a terminal, or a prompter that refuses, would be given them for nothing."""

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Ask and wait for the answer.

        Returns a cancelled answer when the user says no or cannot be asked;
        raises :class:`~agent.errors.ConsentTimeout` when the user does not answer
        in time.
        """
        ...

    def activity(self, request: ActivityRequest) -> AbstractAsyncContextManager[Activity]:
        """Show a wait or progress (:mod:`agent.consent.activity`) for the ``async with`` block.

        A prompter that cannot show one yields an activity nobody stops.
        """
        ...
