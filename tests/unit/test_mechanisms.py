"""The DigestInfo the agent builds equals an independent ASN.1 encoding (RFC 8017)."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto.algos import DigestInfo
from asn1crypto.core import Null
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from agent.algorithms import HashAlgorithm
from agent.token.mechanisms import digest_info, ecdsa_der


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [
        (HashAlgorithm.SHA256, "sha256"),
        (HashAlgorithm.SHA384, "sha384"),
        (HashAlgorithm.SHA512, "sha512"),
        (HashAlgorithm.SHA1, "sha1"),
    ],
)
def test_digest_info_matches_asn1crypto(algorithm: HashAlgorithm, name: str) -> None:
    digest = hashlib.new(name, b"van ban").digest()
    expected = DigestInfo(
        {"digest_algorithm": {"algorithm": name, "parameters": Null()}, "digest": digest}
    ).dump()
    assert digest_info(algorithm, digest) == expected


def test_ecdsa_r_s_becomes_the_der_that_cryptography_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(b"ECDSA").digest()
    der = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # what C_Sign returns for P-256
    assert ecdsa_der(raw) == der
    key.public_key().verify(ecdsa_der(raw), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    with pytest.raises(ValueError, match="not r"):
        ecdsa_der(raw[:-1])
