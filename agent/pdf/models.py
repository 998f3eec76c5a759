"""What a PDF signature should look like and contain: frozen specs, no pyHanko types."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agent.algorithms import HashAlgorithm
from agent.messages import Phrase


class SignatureLevel(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1)."""

    B_B = "B-B"
    """Signature only."""
    B_T = "B-T"
    """Plus a signature timestamp from a TSA."""
    B_LT = "B-LT"
    """Plus the certificates and revocation data needed to validate it later (DSS)."""


class Profile(StrEnum):
    """Appearance profiles of Nghị định 30/2020/NĐ-CP, Phụ lục I."""

    INVISIBLE = "invisible"
    PERSONAL = "personal"
    """A leader's signature: signature image, or "Ký bởi / Thời gian ký" text."""
    ORGANIZATION = "organization"
    """The issuing organisation: red seal image over the left third, organisation and time."""
    ATTACHMENT = "attachment"
    """Attachments: top-right of page 1, "số và ký hiệu" and time, Liberation Serif 10 pt."""


@dataclass(frozen=True)
class Appearance:
    """Where and how the signature shows on the page."""

    profile: Profile = Profile.INVISIBLE
    """Which profile."""
    page: int | None = None
    """1-based page; negative counts from the end (-1 = last page). ``None``: the first page
    for an attachment stamp, the last page (where the signature block is) otherwise."""
    rect: tuple[float, float, float, float] | None = None
    """[x1, y1, x2, y2] in PDF points (the page's user space, origin bottom-left, before any
    ``/Rotate``); ``None`` = the profile's place, clear of content and signatures."""
    anchor: str | None = None
    """Text on the page to place the stamp on (e.g. a placeholder); overrides ``rect``."""
    image: bytes | None = None
    """PNG: the signature image (personal) or the seal (organization)."""
    text: str | None = None
    """Extra text: the "số và ký hiệu" for attachments, or a line replacing the default."""
    details: tuple[str, ...] = ()
    """Lines written between the organisation and the time of an ``organization`` stamp
    (the number and issue date a clerk gives the document on issuing it); other profiles
    ignore them."""
    field: str | None = None
    """Name of an existing empty signature field to sign (e.g. ``SigLanhDao``, fully qualified
    for nested fields); the stamp is drawn in its widget, and ``page``/``rect``/``anchor`` are
    not used (as ``anchor`` overrides the position of ``rect``, ``field`` overrides both).
    ``None``: the document's only empty field when it has exactly one and no position is
    given (not for ``attachment``), else a new field."""


@dataclass(frozen=True)
class PdfSignOptions:
    """Everything about one PDF signature except the key."""

    level: SignatureLevel = SignatureLevel.B_B
    reason: str | None = None
    location: str | None = None
    tsa_url: str | None = None
    """Time-stamping authority for B-T and B-LT."""
    appearance: Appearance = Appearance()
    hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256


@dataclass(frozen=True)
class SignerIdentity:
    """What the appearance writes about the signer (from the certificate)."""

    name: str
    """Common name of the holder."""
    organization: str | None
    """Organisation of the holder."""


RawSigner = Callable[[bytes, HashAlgorithm], Coroutine[Any, Any, bytes]]
"""Signs a *digest* with the token key: returns a PKCS#1 v1.5 signature (RSA) or a DER
ECDSA signature (EC). The PDF layer never sees the PIN or the token."""


class AppearanceError(ValueError):
    """The requested appearance cannot be drawn: page or box outside the document, anchor
    not found, a box over a signature, unusable image or text. ``phrase`` says which, and what
    to do, in the reader's language; ``str()`` is the English sentence (for the log)."""

    def __init__(self, phrase: Phrase) -> None:
        super().__init__(str(phrase))
        self.phrase = phrase


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Placement:
    """Where a visible signature goes, resolved against the document."""

    page_index: int
    """0-based index of the page."""
    box: Box
    """``(x1, y1, x2, y2)`` in PDF points (default user space, origin bottom-left)."""
    field: str | None = None
    """An existing empty signature field to sign into (``box`` is its widget); ``None``: a new
    field is made."""
    rotation: int = 0
    """The page's ``/Rotate`` (0, 90, 180, 270): the stamp is drawn turned by it, so that it is
    upright as the page is viewed."""


@dataclass(frozen=True)
class PageThumbnail:
    """A small picture of the page a signature goes on, for the question to the user."""

    png: bytes = dataclasses.field(repr=False)
    """The page as viewed (``/Rotate`` and CropBox honoured), the stamp's box drawn on it."""
    page_index: int
    """0-based index of the page shown."""
    pages: int
    """Pages in the document."""
    stamp: bool
    """The stamp's box is drawn; ``False`` for an invisible signature (the first page shown)."""
