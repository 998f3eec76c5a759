"""What a PDF signature should look like and contain: frozen specs, no pyHanko types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from agent.algorithms import HashAlgorithm


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
    """[x1, y1, x2, y2] in PDF points (origin bottom-left); ``None`` = the profile's default."""
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


RawSigner = Callable[[bytes, HashAlgorithm], Awaitable[bytes]]
"""Signs a *digest* with the token key: returns a PKCS#1 v1.5 signature (RSA) or a DER
ECDSA signature (EC). The PDF layer never sees the PIN or the token."""
