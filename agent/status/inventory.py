"""The token listing of ``kyso-agent tokens``: every module, its tokens and all their
certificates (CA ones too), in more detail than the report's summary of the same inventory.

JSON form (:meth:`TokenListing.to_json`): the dataclass field names in camelCase, nested
module → token → certificate, as ``kyso-agent tokens --json`` has always printed them; times
ISO-8601 UTC. Text form: :func:`agent.status.render.listing_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.algorithms import KeyType
from agent.pin import TriesLeft
from agent.status.codec import camel_case, dump
from agent.token import Inventory
from agent.token.models import ModuleReport, TokenCertificate, TokenInfo


@dataclass(frozen=True)
class ListedPin:
    """A token's PIN state."""

    tries_left: TriesLeft
    """ok, low, final, locked."""
    pinpad: bool
    """The PIN is typed on the reader."""
    initialized: bool
    """A user PIN has been set."""
    to_be_changed: bool
    """The token asks for a PIN change."""


@dataclass(frozen=True)
class ListedCertificate:
    """One certificate on a token (end-entity or CA)."""

    label: str
    """Its PKCS#11 label."""
    id: str
    """Its PKCS#11 id (that of its key), lower-case hex."""
    subject: str
    """Subject, RFC 4514."""
    issuer: str
    """Issuer, RFC 4514."""
    not_before: datetime
    """Start of validity."""
    not_after: datetime
    """End of validity."""
    key_type: KeyType | None
    """RSA or EC; ``None`` for a key the agent cannot sign with."""
    ca: bool
    """A CA certificate."""
    sha256: str
    """SHA-256 of the certificate, lower-case hex."""


@dataclass(frozen=True)
class ListedToken:
    """One token and its certificates."""

    slot: int
    """Its slot."""
    slot_description: str
    """The slot's description (the reader)."""
    label: str
    """Token label."""
    serial: str
    """Token serial number."""
    manufacturer: str
    """Token manufacturer."""
    model: str
    """Token model."""
    pin: ListedPin
    """PIN state."""
    certificates: tuple[ListedCertificate, ...]
    """Its certificates."""


@dataclass(frozen=True)
class ListedModule:
    """One PKCS#11 module and its tokens."""

    path: str
    """The module file."""
    loaded: bool
    """It loaded and initialised."""
    error: str | None
    """Why it did not load, or why reading it failed."""
    description: str | None
    """Library description and manufacturer."""
    empty_slots: int
    """Slots without a token."""
    tokens: tuple[ListedToken, ...]
    """Tokens present in its slots."""


@dataclass(frozen=True)
class TokenListing:
    """What ``kyso-agent tokens`` lists."""

    modules: tuple[ListedModule, ...]
    """Every configured or discovered module, loaded or failed."""

    def to_json(self) -> dict[str, Any]:
        """The ``tokens --json`` document (camelCase keys, see the module docstring)."""
        data = dump(self, camel_case)
        assert isinstance(data, dict)  # noqa: S101 - a dataclass dumps to a dict
        return data


def _certificate(cert: TokenCertificate) -> ListedCertificate:
    return ListedCertificate(
        label=cert.label,
        id=cert.key_id.hex(),
        subject=cert.subject,
        issuer=cert.issuer,
        not_before=cert.not_before,
        not_after=cert.not_after,
        key_type=cert.key_type,
        ca=cert.is_ca,
        sha256=cert.fingerprint,
    )


def _token(token: TokenInfo, module: ModuleReport) -> ListedToken:
    pin = token.pin
    return ListedToken(
        slot=token.id.slot_id,
        slot_description=token.slot_description,
        label=token.id.label,
        serial=token.id.serial,
        manufacturer=token.manufacturer,
        model=token.model,
        pin=ListedPin(pin.tries_left, pin.pinpad, pin.initialized, pin.to_be_changed),
        certificates=tuple(_certificate(c) for c in module.certificates if c.token == token.id),
    )


def token_listing(inventory: Inventory) -> TokenListing:
    """The listing of an inventory."""
    return TokenListing(
        tuple(
            ListedModule(
                path=str(m.path),
                loaded=m.loaded,
                error=m.error or None,
                description=m.description or None,
                empty_slots=m.empty_slots,
                tokens=tuple(_token(t, m) for t in m.tokens),
            )
            for m in inventory.modules
        )
    )
