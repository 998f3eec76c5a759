"""Server side of portal-prepared PDF signing with Kyso Agent, using pyHanko.

The portal keeps the document; only a digest travels to the user's workstation:

1. the browser asks the agent for the signer's certificate (``POST /v1/certificates``)
   and sends it to the portal;
2. :func:`prepare` adds an empty signature field to the PDF and returns the digest of
   the bytes the signature will cover; the portal stores the :class:`Prepared` state;
3. the browser asks the agent to sign that digest (``POST /v1/cms/sign``) and sends the
   CMS back;
4. :func:`finish` checks that the CMS is for this digest and this certificate, and
   embeds it.

Tested by ``tests/integration/test_portal_recipe.py`` against the real agent.
Requires ``pyHanko>=0.38``.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko_certvalidator.registry import SimpleCertificateStore

RESERVED = 32 * 1024
"""Bytes reserved in the PDF for the CMS (hex-encoded, so half of it for the DER):
room for an RSA-4096 signature, a certificate chain of a few levels and a timestamp."""


@dataclass(frozen=True)
class Prepared:
    """What the portal keeps between :func:`prepare` and :func:`finish` (store it server-side)."""

    pdf: bytes
    """The document with the empty signature, exactly as it will be signed."""
    digest: bytes
    """SHA-256 of the signed byte ranges: send it to ``/v1/cms/sign`` as ``digest``."""
    start: int
    end: int
    certificate: bytes
    """The signer's certificate (DER), as returned by ``/v1/certificates``."""


def prepare(
    pdf: bytes, certificate: bytes, *, reason: str | None = None, location: str | None = None
) -> Prepared:
    """Add a PAdES signature field to ``pdf`` (incremental update) and compute its digest."""
    cert = asn1_x509.Certificate.load(certificate)
    existing = len(PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures)
    meta = signers.PdfSignatureMetadata(
        field_name=f"Signature{existing + 1}",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    # ExternalSigner only lays the document out; the real signature comes from the agent.
    placeholder = signers.ExternalSigner(
        signing_cert=cert,
        cert_registry=SimpleCertificateStore.from_certs([cert]),  # type: ignore[no-untyped-call]
        signature_value=bytes(512),
    )
    pdf_signer = signers.PdfSigner(meta, signer=placeholder)
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    # In an async web framework, await async_digest_doc_for_signing instead.
    output = BytesIO()
    digest, _, _ = asyncio.run(
        pdf_signer.async_digest_doc_for_signing(writer, bytes_reserved=RESERVED, output=output)
    )
    return Prepared(
        pdf=output.getvalue(),
        digest=digest.document_digest,
        start=digest.reserved_region_start,
        end=digest.reserved_region_end,
        certificate=certificate,
    )


def finish(prepared: Prepared, cms_der: bytes) -> bytes:
    """Embed the agent's CMS in the prepared document; return the signed PDF.

    :raises ValueError: the CMS is not over this document's digest or not by the
        certificate the document was prepared for (a stale or swapped answer).
    """
    signed_data = cms.ContentInfo.load(cms_der)["content"]
    [signer_info] = signed_data["signer_infos"]
    attributes = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    if not hmac.compare_digest(attributes["message_digest"].native, prepared.digest):
        raise ValueError("the CMS signs another document")
    signer_serial = signer_info["sid"].chosen["serial_number"].native
    if signer_serial != asn1_x509.Certificate.load(prepared.certificate).serial_number:
        raise ValueError("the CMS is signed with another certificate")
    output = BytesIO(prepared.pdf)
    PdfTBSDocument.finish_signing(
        output,
        PreparedByteRangeDigest(prepared.digest, prepared.start, prepared.end),
        cms_der,
    )
    return output.getvalue()
