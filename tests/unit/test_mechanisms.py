"""The DigestInfo the agent builds equals an independent ASN.1 encoding (RFC 8017)."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto.algos import DigestInfo
from asn1crypto.core import Null

from agent.algorithms import HashAlgorithm
from agent.token.mechanisms import digest_info


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [
        (HashAlgorithm.SHA256, "sha256"),
        (HashAlgorithm.SHA384, "sha384"),
        (HashAlgorithm.SHA512, "sha512"),
    ],
)
def test_digest_info_matches_asn1crypto(algorithm: HashAlgorithm, name: str) -> None:
    digest = hashlib.new(name, b"van ban").digest()
    expected = DigestInfo(
        {"digest_algorithm": {"algorithm": name, "parameters": Null()}, "digest": digest}
    ).dump()
    assert digest_info(algorithm, digest) == expected
