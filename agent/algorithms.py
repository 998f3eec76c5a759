"""Algorithm names shared by the wire protocol, the consent layer and the token layer."""

from __future__ import annotations

import hashlib
from enum import StrEnum


class HashAlgorithm(StrEnum):
    """Digest algorithms the token layer signs.

    Which of them a caller may name is each request parser's decision:
    :data:`agent.protocol.DIGEST_ALGORITHMS` for precomputed hashes (no SHA-1), SHA-1 only
    for an XML signature whose caller asked for it (:mod:`agent.xml.commands`).
    """

    SHA256 = "SHA-256"
    SHA384 = "SHA-384"
    SHA512 = "SHA-512"
    SHA1 = "SHA-1"
    """Only for XML signatures that older e-invoice receivers require, on request."""

    @property
    def digest_size(self) -> int:
        """Length in bytes of a digest of this algorithm."""
        return {"SHA-256": 32, "SHA-384": 48, "SHA-512": 64, "SHA-1": 20}[self.value]

    def digest(self, data: bytes) -> bytes:
        """The digest of ``data`` with this algorithm."""
        return hashlib.new(self.value.replace("-", "").lower(), data).digest()

    @property
    def jose_suffix(self) -> str:
        """``256``, ``384`` or ``512``, as in JOSE algorithm names."""
        return self.value[4:]


class RsaScheme(StrEnum):
    """RSA signature padding."""

    PKCS1V15 = "PKCS1v15"
    PSS = "PSS"


class KeyType(StrEnum):
    """Key types the agent signs with."""

    RSA = "RSA"
    EC = "EC"


def signature_algorithm_name(key_type: KeyType, scheme: RsaScheme, hash_alg: HashAlgorithm) -> str:
    """JOSE-style name of what was produced: ``RS256``, ``PS384``, ``ES512`` …"""
    if key_type is KeyType.EC:
        prefix = "ES"
    else:
        prefix = "PS" if scheme is RsaScheme.PSS else "RS"
    return prefix + hash_alg.jose_suffix
