"""The server-side recipe of docs/portal-integration.md, run against the real agent.

``docs/examples/portal_pyhanko.py`` prepares the PDF as a portal's server would, the
agent signs the digest through ``/v1/cms/sign`` after the user's consent, and the recipe
embeds the CMS. pdfsig and pyHanko's validator judge the result.
"""

from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import PIN, AgentProcess, SessionToken
from tests.pdftools import NssDb, pyhanko_bottom_line, sample_pdf, tamper
from tests.verify import b64

pytestmark = pytest.mark.integration

RECIPE = Path(__file__).parents[2] / "docs" / "examples" / "portal_pyhanko.py"


@pytest.fixture(scope="module")
def recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("portal_pyhanko", RECIPE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def choose_certificate(agent: AgentProcess, subject: str) -> bytes:
    agent.script({"approved": True, "certificate": subject})
    response = agent.post("/v1/certificates", {})
    assert response.status == 200, response.body[:300]
    return base64.b64decode(response.json["certificate"])


def cms_sign(agent: AgentProcess, digest: bytes, certificate: bytes, name: str) -> bytes:
    agent.script({"approved": True, "pin": PIN})
    response = agent.post(
        "/v1/cms/sign",
        {
            "digest": b64(digest),
            "digestAlgorithm": "SHA-256",
            "certificate": b64(certificate),
            "documentName": name,
        },
    )
    assert response.status == 200, response.body[:300]
    return base64.b64decode(response.json["cms"])


@pytest.mark.parametrize("subject", ["Nguyễn Văn An", "Trần Thị Bình"], ids=["rsa", "ec"])
def test_portal_prepared_pdf_signed_through_the_agent_is_valid_and_trusted(  # noqa: PLR0917 - fixtures
    fresh: AgentProcess,
    token: SessionToken,
    recipe: ModuleType,
    nss: NssDb,
    tmp_path: Path,
    subject: str,
) -> None:
    original = sample_pdf()
    certificate = choose_certificate(fresh, subject)
    prepared = recipe.prepare(original, certificate, reason="Phê duyệt", location="Huế")
    cms = cms_sign(fresh, prepared.digest, certificate, "QĐ-45.pdf")
    [prompt] = fresh.prompts()
    assert prompt["documents"][0]["name"] == "QĐ-45.pdf"
    assert prompt["documents"][0]["digest"] == prepared.digest.hex()

    signed = recipe.finish(prepared, cms)

    assert signed.startswith(original)
    [block] = nss.pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block and "Certificate is Trusted" in block
    assert subject in block
    assert pyhanko_bottom_line(signed, token.ca.cert) == [True]
    assert pyhanko_bottom_line(tamper(signed), token.ca.cert) == [False]


def test_a_cms_for_another_document_or_signer_is_refused(
    fresh: AgentProcess, token: SessionToken, recipe: ModuleType
) -> None:
    an = token.rsa.public_bytes(serialization.Encoding.DER)
    binh = token.ec.public_bytes(serialization.Encoding.DER)
    first = recipe.prepare(sample_pdf(text="Van ban thu nhat"), an)
    second = recipe.prepare(sample_pdf(text="Van ban thu hai"), an)
    assert first.digest != second.digest
    cms_first = cms_sign(fresh, first.digest, an, "1.pdf")
    with pytest.raises(ValueError, match="another document"):
        recipe.finish(second, cms_first)
    by_binh = recipe.prepare(sample_pdf(text="Van ban thu nhat"), an)
    cms_binh = cms_sign(fresh, by_binh.digest, binh, "1.pdf")
    with pytest.raises(ValueError, match="another certificate"):
        recipe.finish(by_binh, cms_binh)
