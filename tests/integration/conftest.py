"""Fixtures shared by the integration tests: a portal to play, the session CA for the verifiers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import SessionToken
from tests.pdftools import NssDb
from tests.vgca_portal import Site, serving


@pytest.fixture(scope="module")
def portal() -> Iterator[Site]:
    """A portal on loopback, with download and upload handlers as .NET and PHP portals have."""
    yield from serving()


@pytest.fixture(scope="module")
def nss(token: SessionToken, tmp_path_factory: pytest.TempPathFactory) -> NssDb:
    """An NSS database trusting the session's test CA, for poppler's pdfsig."""
    return NssDb.create(tmp_path_factory.mktemp("nss"), token.ca.cert)


@pytest.fixture(scope="module")
def ca_pem(token: SessionToken, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test CA as a PEM file: a trust root for the agent and openssl's CAfile."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(token.ca.cert.public_bytes(serialization.Encoding.PEM))
    return path
