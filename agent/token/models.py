"""What the token layer reports: plain frozen dataclasses, no PKCS#11 objects.

A certificate is parsed (by cryptography, imported then) when something first asks about it:
an agent that has read no certificate yet, such as one that has just started, has not loaded
cryptography (docs/performance.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from agent.algorithms import KeyType
from agent.pin import TriesLeft

if TYPE_CHECKING:
    from cryptography import x509


@dataclass(frozen=True)
class PinState:
    """The user PIN's state, read from the token flags."""

    tries_left: TriesLeft
    """ok, low, final or locked."""
    pinpad: bool
    """The token has a protected authentication path (PIN pad)."""
    initialized: bool = True
    """A user PIN has been set."""
    to_be_changed: bool = False
    """The token asks for a PIN change before use."""


@dataclass(frozen=True)
class TokenId:
    """Which token, on which slot of which module."""

    module: Path
    """Path of the PKCS#11 module."""
    slot_id: int
    """Slot the token was in when last seen."""
    serial: str
    """Token serial number."""
    label: str
    """Token label."""


@dataclass(frozen=True)
class TokenInfo:
    """One token, for listings."""

    id: TokenId
    manufacturer: str
    model: str
    pin: PinState
    slot_description: str


@lru_cache(maxsize=128)
def _parse(der: bytes) -> x509.Certificate:
    """Certificates are read anew by every inventory; each distinct one is parsed once."""
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


@dataclass(frozen=True)
class TokenCertificate:
    """An X.509 certificate object found on a token."""

    der: bytes
    """The certificate, DER-encoded."""
    token: TokenId
    """Where it is."""
    key_id: bytes
    """CKA_ID that pairs it with its private key."""
    label: str
    """CKA_LABEL."""
    pin: PinState = field(compare=False)
    """PIN state of its token when read."""
    supports_pss: bool = field(default=True, compare=False)
    """Its token offers CKM_RSA_PKCS_PSS."""

    def __getstate__(self) -> dict[str, object]:
        # Only the fields cross to and from a module's worker process: the parsed
        # certificate cannot be pickled, and the other cached values follow from the DER.
        return {f.name: self.__dict__[f.name] for f in fields(self)}

    @property
    def x509(self) -> x509.Certificate:
        """Parsed certificate."""
        return _parse(self.der)

    @cached_property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the DER: the opaque id used in prompts."""
        return hashlib.sha256(self.der).hexdigest()

    @cached_property
    def subject(self) -> str:
        """The subject as an RFC 4514 string (what prompts, lists and the audit trail show)."""
        return self.x509.subject.rfc4514_string()

    @cached_property
    def issuer(self) -> str:
        """The issuer as an RFC 4514 string."""
        return self.x509.issuer.rfc4514_string()

    @cached_property
    def key_type(self) -> KeyType | None:
        """RSA or EC; ``None`` for keys the agent cannot sign with."""
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        key = self.x509.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            return KeyType.RSA
        if isinstance(key, ec.EllipticCurvePublicKey):
            return KeyType.EC
        return None

    @cached_property
    def is_ca(self) -> bool:
        """A CA certificate (chain material, not a signing certificate)."""
        from cryptography import x509

        try:
            constraints = self.x509.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            return False
        return constraints.value.ca

    @property
    def not_before(self) -> datetime:
        """Start of validity (aware, UTC)."""
        return self.x509.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        """End of validity (aware, UTC)."""
        return self.x509.not_valid_after_utc

    def valid_at(self, moment: datetime) -> bool:
        """Whether ``moment`` lies within the validity period."""
        return self.not_before <= moment <= self.not_after


@dataclass(frozen=True)
class ModuleReport:
    """The outcome of loading and reading one module."""

    path: Path
    """The module file."""
    loaded: bool
    """Whether it loaded and initialised."""
    error: str = ""
    """Why it did not load or could not be read."""
    description: str = ""
    """Library description and manufacturer, when loaded."""
    tokens: tuple[TokenInfo, ...] = ()
    """Initialised tokens present in its slots."""
    certificates: tuple[TokenCertificate, ...] = ()
    """Certificates on those tokens."""
    empty_slots: int = 0
    """Slots with no (initialised) token."""
    worker_failed: bool = False
    """Its worker process crashed, hung or is waiting to restart (``error`` says which)."""


@dataclass(frozen=True)
class Inventory:
    """Every module, token and certificate the agent can see now."""

    modules: tuple[ModuleReport, ...]

    @property
    def tokens(self) -> tuple[TokenInfo, ...]:
        """Every present token."""
        return tuple(t for m in self.modules for t in m.tokens)

    @property
    def certificates(self) -> tuple[TokenCertificate, ...]:
        """Every certificate on every present token."""
        return tuple(c for m in self.modules for c in m.certificates)

    @property
    def signing_certificates(self) -> tuple[TokenCertificate, ...]:
        """Certificates that can sign: end-entity, with a key id and a usable key type."""
        return tuple(
            c for c in self.certificates if not c.is_ca and c.key_id and c.key_type is not None
        )
