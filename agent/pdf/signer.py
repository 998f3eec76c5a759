"""PAdES signing with pyHanko, the private key staying on the token.

pyHanko builds the signed attributes and asks a :class:`pyhanko.sign.signers.Signer`
for a raw signature; :class:`_TokenSigner` hashes what it is given and hands the
digest to a :data:`~agent.pdf.models.RawSigner` supplied by the caller (the signing
service, which has the user's consent and PIN). The work runs on a worker thread
with its own event loop: hashing a 100 MB PDF must not stall the agent's server.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Final, TypeVar

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from agent.algorithms import HashAlgorithm, KeyType
from agent.errors import AgentError
from agent.pdf.appearance import Placement, field_spec, resolve_placement, stamp_style
from agent.pdf.models import Appearance, PdfSignOptions, SignatureLevel, SignerIdentity

log = logging.getLogger(__name__)

T = TypeVar("T")

SyncRawSigner = Callable[[bytes, HashAlgorithm], bytes]
"""Signs a digest; blocks the calling (worker) thread until the token answered."""

_PYHANKO_HASH: Final = {
    HashAlgorithm.SHA256: "sha256",
    HashAlgorithm.SHA384: "sha384",
    HashAlgorithm.SHA512: "sha512",
}


class BadPdf(ValueError):
    """The input is not a PDF the agent can sign (damaged, encrypted, not a PDF)."""


class PdfSigningFailed(RuntimeError):
    """Signing failed for a reason outside the token (TSA, validation data for B-LT)."""


@dataclass(frozen=True)
class PdfFacts:
    """What the agent needs to know about a PDF before asking the user."""

    pages: int
    """Number of pages."""
    signatures: int
    """Signatures already in the document."""


def inspect_pdf(pdf: bytes) -> PdfFacts:
    """Open the PDF as pyHanko will; raise :class:`BadPdf` with a reason if it cannot be signed."""
    if not pdf.lstrip()[:5] == b"%PDF-":
        raise BadPdf("the file does not start with %PDF-")
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        encrypted = reader.encrypted
        pages = int(reader.root["/Pages"]["/Count"])
        signatures = len(reader.embedded_signatures)
    except (PdfError, KeyError, TypeError, ValueError, IndexError, RecursionError) as exc:
        raise BadPdf(f"the PDF cannot be read: {exc}") from exc
    if encrypted:
        raise BadPdf("the PDF is encrypted")
    return PdfFacts(pages=pages, signatures=signatures)


def _mechanism(key_type: KeyType, hash_algorithm: HashAlgorithm) -> algos.SignedDigestAlgorithm:
    name = _PYHANKO_HASH[hash_algorithm]
    suffix = "ecdsa" if key_type is KeyType.EC else "rsa"
    return algos.SignedDigestAlgorithm({"algorithm": f"{name}_{suffix}"})


class _TokenSigner(signers.Signer):
    """A pyHanko signer whose private key operation is a callback."""

    def __init__(
        self,
        certificate: asn1_x509.Certificate,
        chain: Sequence[asn1_x509.Certificate],
        key_type: KeyType,
        hash_algorithm: HashAlgorithm,
        raw: SyncRawSigner,
    ) -> None:
        super().__init__(
            signing_cert=certificate,
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [certificate, *chain]
            ),
            signature_mechanism=_mechanism(key_type, hash_algorithm),
        )
        self._key_type = key_type
        self._raw = raw
        self.signatures_made = 0

    def _placeholder_size(self) -> int:
        cert = self.signing_cert
        assert cert is not None  # noqa: S101 - set in __init__
        bits = int(cert.public_key.bit_size)
        if self._key_type is KeyType.EC:
            # DER ECDSA-Sig-Value: two INTEGERs of up to (bits/8 + 1) bytes plus headers.
            return 2 * ((bits + 7) // 8 + 1) + 8
        return (bits + 7) // 8

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return bytes(self._placeholder_size())
        algorithm = {v: k for k, v in _PYHANKO_HASH.items()}[digest_algorithm.lower()]
        digest = hashlib.new(digest_algorithm, data).digest()
        self.signatures_made += 1
        return self._raw(digest, algorithm)


def _load_certs(
    certificate: bytes, chain: Sequence[bytes]
) -> tuple[asn1_x509.Certificate, list[asn1_x509.Certificate]]:
    return asn1_x509.Certificate.load(certificate), [asn1_x509.Certificate.load(c) for c in chain]


@dataclass(frozen=True)
class PreparedPdf:
    """A PDF checked before anyone is asked: readable, and the stamp fits where requested."""

    facts: PdfFacts
    placement: Placement | None
    """Where the visible signature goes; ``None`` for an invisible one."""


def prepare_pdf(pdf: bytes, appearance: Appearance) -> PreparedPdf:
    """Everything that can be refused without the token, so refusals never follow a prompt.

    :raises BadPdf: the PDF cannot be signed.
    :raises AppearanceError: the appearance cannot be drawn on this document.
    """
    facts = inspect_pdf(pdf)
    return PreparedPdf(facts, resolve_placement(pdf, appearance))


class _AtTime(signers.PdfSigner):
    """A PdfSigner whose signing time (``/M``, the CMS signing-time attribute) is the moment
    already written in the visible stamp, so the two can never differ by a second."""

    def __init__(self, moment: datetime, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._moment = moment

    def init_signing_session(
        self, pdf_out: Any, existing_fields_only: bool = False
    ) -> signers.pdf_signer.PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._moment
        return session


def sign_pdf(
    pdf: bytes,
    *,
    certificate: bytes,
    chain: Sequence[bytes],
    key_type: KeyType,
    options: PdfSignOptions,
    identity: SignerIdentity,
    raw: SyncRawSigner,
    trust_roots: Sequence[bytes] = (),
    font_dir: Path | None = None,
    signing_time: datetime | None = None,
    prepared: PreparedPdf | None = None,
) -> bytes:
    """Sign ``pdf`` as an incremental update; return the signed file.

    Blocking: call it from a worker thread. ``raw`` is called exactly once. ``prepared``
    is the result of :func:`prepare_pdf` on the same bytes and appearance, if already known.
    """
    cert, issuers = _load_certs(certificate, chain)
    prepared = prepared or prepare_pdf(pdf, options.appearance)
    name = f"Signature{prepared.facts.signatures + 1}"
    placement = prepared.placement
    signer = _TokenSigner(cert, issuers, key_type, options.hash_algorithm, raw)
    timestamper = None
    if options.level in (SignatureLevel.B_T, SignatureLevel.B_LT):
        if not options.tsa_url:
            raise PdfSigningFailed(f"level {options.level.value} needs a time-stamping authority")
        timestamper = _timestamper(options.tsa_url)
    validation_context = None
    if options.level is SignatureLevel.B_LT:
        validation_context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(r) for r in trust_roots] or None,
            other_certs=issuers,
            allow_fetching=True,
        )
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        md_algorithm=_PYHANKO_HASH[options.hash_algorithm],
        reason=options.reason,
        location=options.location,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=options.level is SignatureLevel.B_LT,
        validation_context=validation_context,
        # Vietnamese CAs issue signing certificates with either bit.
        signer_key_usage={"digital_signature", "non_repudiation"},
    )
    moment = signing_time or datetime.now().astimezone()
    pdf_signer = _AtTime(
        moment,
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=stamp_style(options.appearance, identity, moment, font_dir),
        new_field_spec=field_spec(name, placement),
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    output = BytesIO()
    _run(pdf_signer.async_sign_pdf(writer, output=output), options.tsa_url)
    return output.getvalue()


_TSA_TIMEOUT: Final = 15
"""Seconds to wait for a time-stamping authority."""
_TSA_REUSE: Final = 600.0
"""Seconds a timestamper (and the sample token pyHanko sizes the signature with) is reused."""
_timestampers: dict[str, tuple[float, HTTPTimeStamper]] = {}
_timestampers_lock = threading.Lock()


def _timestamper(url: str) -> HTTPTimeStamper:
    """One timestamper per TSA URL, reused for a while.

    pyHanko sizes a timestamped signature with a sample token fetched from the TSA; a
    fresh timestamper would ask the (remote, often rate-limited) TSA twice per signature.
    The sample is renewed every ten minutes so that a TSA certificate change is followed.
    """
    now = time.monotonic()
    with _timestampers_lock:
        cached = _timestampers.get(url)
        if cached is None or now - cached[0] > _TSA_REUSE:
            stamper = HTTPTimeStamper(url, timeout=_TSA_TIMEOUT)  # type: ignore[no-untyped-call]
            cached = (now, stamper)
            _timestampers[url] = cached
        return cached[1]


def _run(work: Coroutine[Any, Any, T], tsa_url: str | None = None) -> T:
    """Run pyHanko's coroutine on this worker thread; token errors pass through unchanged."""
    try:
        return asyncio.run(work)
    except AgentError:
        raise
    except SigningError as exc:
        if isinstance(exc.__cause__, AgentError):
            raise exc.__cause__ from None
        raise PdfSigningFailed(str(exc)) from exc
    except TimestampRequestError as exc:
        # What the server answered stays in the log: told to a page, a status code or an
        # error text would make the agent a probe of whatever that address is.
        log.warning("time-stamping authority %s: %s (%r)", tsa_url, exc, exc.__cause__)
        raise PdfSigningFailed(
            f"the time-stamping authority {tsa_url} did not give a timestamp"
        ) from exc
    except OSError as exc:
        raise PdfSigningFailed(f"network error: {exc}") from exc


def sign_cms_digest(
    digest: bytes,
    *,
    hash_algorithm: HashAlgorithm,
    certificate: bytes,
    chain: Sequence[bytes],
    key_type: KeyType,
    raw: SyncRawSigner,
    tsa_url: str | None = None,
) -> bytes:
    """A detached CMS SignedData over a document digest, with PAdES/CAdES signed attributes.

    The signed attributes are content-type, message-digest and signing-certificate-v2
    (no signing-time: PAdES puts the time in the PDF). With ``tsa_url`` the signature
    also gets a signature timestamp. Blocking: call it from a worker thread.
    """
    cert, issuers = _load_certs(certificate, chain)
    signer = _TokenSigner(cert, issuers, key_type, hash_algorithm, raw)
    timestamper = _timestamper(tsa_url) if tsa_url else None
    content_info = _run(
        signer.async_sign(
            digest,
            _PYHANKO_HASH[hash_algorithm],
            use_pades=True,
            timestamper=timestamper,
        ),
        tsa_url,
    )
    return bytes(content_info.dump())
