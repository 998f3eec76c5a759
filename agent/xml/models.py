"""What an XML signing request names, as plain values: the profile, the e-invoice role, the
placement the caller asked for, the digest algorithm.

Parsing a request (:mod:`agent.protocol`, the compatibility layers) needs these and nothing
else of the XML layer: this module loads without lxml or cryptography, so the server's
start-up does not pay for them (docs/performance.md). The work on documents is in
:mod:`.profiles` (where a signature goes), :mod:`.sign` and :mod:`.verify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from agent.algorithms import HashAlgorithm
from agent.errors import BadRequest
from agent.messages import Phrase

#: The XMLDSig namespace, in which every ``Signature`` lives.
DSIG_NS: Final = "http://www.w3.org/2000/09/xmldsig#"


class Profile(StrEnum):
    """The kinds of XML document the agent signs."""

    EINVOICE = "einvoice"
    """An e-invoice (``HDon``): ``DLHDon`` is signed, the signature goes in ``HDon/DSCKS``."""
    TAX_DECLARATION = "tax-declaration"
    """A tax declaration (``HSoThueDTu``): ``HSoKhaiThue`` is signed, into ``CKyDTu``."""
    TAX_MESSAGE = "tax-message"
    """A message to the tax authority (``TDiep/DLieu/TKhai``), signed into ``TKhai/DSCKS/NNT``."""
    ENVELOPED = "enveloped"
    """Any document: the element with the given Id, into the given parent (or itself)."""


class EinvoiceRole(StrEnum):
    """Who signs an e-invoice; each has its own element under ``DSCKS``."""

    SELLER = "seller"
    BUYER = "buyer"
    TAX_AUTHORITY = "tax-authority"
    OTHER = "other"

    @property
    def element(self) -> str:
        """The element under ``DSCKS`` that holds this role's signature."""
        return _ROLE_ELEMENTS[self]


_ROLE_ELEMENTS: Final = {
    EinvoiceRole.SELLER: "NBan",
    EinvoiceRole.BUYER: "NMua",
    EinvoiceRole.TAX_AUTHORITY: "CQT",
    EinvoiceRole.OTHER: "CCKSKhac",
}


@dataclass(frozen=True)
class PlacementSpec:
    """What the caller asked for: a profile and the values it needs."""

    profile: Profile
    """The kind of document."""
    role: EinvoiceRole = EinvoiceRole.SELLER
    """Who signs an e-invoice (``einvoice`` only)."""
    sign_id: str | None = None
    """The Id of the element to sign (``enveloped`` only, required there)."""
    parent_id: str | None = None
    """The Id of the element that receives the signature (``enveloped`` only)."""
    parent_xpath: str | None = None
    """A path such as ``/Doc/Signatures`` to that element instead (``enveloped`` only)."""


class XmlDigest(StrEnum):
    """Digest algorithms of XML signatures: SHA-256 by default, SHA-1 for old receivers."""

    SHA256 = "SHA-256"
    SHA1 = "SHA-1"

    @classmethod
    def parse(cls, name: str) -> XmlDigest:
        """``SHA-256``/``sha256``/``SHA-1``/``sha1`` …; anything else is a :class:`BadRequest`."""
        normalised = name.strip().upper().replace("_", "-")
        for member in cls:
            if normalised in (member.value, member.value.replace("-", "")):
                return member
        raise BadRequest(Phrase.of("bad_xml_digest", digest=name))

    @property
    def uri(self) -> str:
        """The ``DigestMethod`` algorithm."""
        return _DIGEST_URIS[self]

    def hash(self, data: bytes) -> bytes:
        """The digest of ``data``."""
        return HashAlgorithm(self.value).digest(data)


_DIGEST_URIS: Final = {
    XmlDigest.SHA256: "http://www.w3.org/2001/04/xmlenc#sha256",
    XmlDigest.SHA1: "http://www.w3.org/2000/09/xmldsig#sha1",
}
