"""The PDF layer's face to :class:`~agent.service.SigningService`: a coroutine per PDF step.

The service decides who is asked and with which key; this module does the PDF work that
follows. Each coroutine runs the blocking work (pyHanko) on a worker thread and translates the
PDF layer's refusals into the error tree: a document that cannot be signed or read is the
caller's :class:`~agent.errors.BadRequest`, said in the reader's language; a signature that
cannot be made is :class:`~agent.errors.SigningFailed`.

The token is reached through a :data:`~agent.pdf.models.RawSigner`, a coroutine of the
service's event loop; pyHanko's worker thread calls it through that loop and waits.

The PDF stack (pyHanko, fontTools, Pillow, and cryptography) is imported by the first call,
on the worker thread: an agent that only signs hashes never loads it, which keeps its start-up
short and its memory small (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from agent.algorithms import HashAlgorithm, KeyType
from agent.errors import BadRequest, SigningFailed
from agent.pdf.models import (
    Appearance,
    AppearanceError,
    PageThumbnail,
    PdfSignOptions,
    RawSigner,
    SignerIdentity,
)
from agent.pdf.viewer import make_viewer_copy, remove_viewer_copy

if TYPE_CHECKING:
    from agent.pdf.signer import PreparedPdf, SyncRawSigner
    from agent.pdf.verify.model import VerificationReport

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class SigningKey:
    """The token key a signature is made with, as the PDF layer sees it."""

    certificate: bytes
    """The signer's certificate, DER."""
    chain: tuple[bytes, ...]
    """Its issuers (DER), nearest first, as far as they are known."""
    key_type: KeyType
    """RSA or EC: how the signature value is formed."""
    raw: RawSigner
    """Signs a digest with the key, through the token (consent given, PIN at hand)."""


async def prepare(pdf: bytes, appearance: Appearance) -> PreparedPdf:
    """Everything about ``pdf`` that can be refused without the token: called before anyone
    is asked, so that no refusal follows the question (:func:`agent.pdf.signer.prepare_pdf`).
    """

    def job() -> PreparedPdf:
        from agent.pdf.signer import prepare_pdf

        return prepare_pdf(pdf, appearance)

    return await _work(job)


async def thumbnail(
    pdf: bytes, prepared: PreparedPdf, *, side: int, max_bytes: int
) -> PageThumbnail | None:
    """The page the stamp goes on, the stamp's box drawn, at most ``side`` pixels and
    ``max_bytes`` of PNG (:func:`agent.pdf.preview.page_thumbnail`); ``None`` when it cannot be
    shown. Never a reason to refuse: the question is then asked without it."""

    def job() -> PageThumbnail | None:
        from agent.pdf.preview import page_thumbnail

        try:
            return page_thumbnail(pdf, prepared, side=side, max_bytes=max_bytes)
        except Exception:
            log.warning("the page preview failed", exc_info=True)
            return None

    return await asyncio.to_thread(job)


@contextlib.asynccontextmanager
async def viewer_copy(pdf: bytes, name: str | None) -> AsyncIterator[Path | None]:
    """A private, read-only copy of ``pdf`` for the user's own viewer, removed when the block
    ends (:mod:`agent.pdf.viewer`); ``None`` when the temporary directory cannot take it."""
    try:
        path = await asyncio.to_thread(make_viewer_copy, pdf, name)
    except OSError as exc:
        log.warning("no copy of the document for the viewer: %s", exc.strerror)
        path = None
    try:
        yield path
    finally:
        if path is not None:
            remove_viewer_copy(path)  # a file and a directory: quick, and sure to run


async def sign(
    pdf: bytes,
    prepared: PreparedPdf,
    key: SigningKey,
    *,
    options: PdfSignOptions,
    trust_roots: Sequence[bytes],
    font_dir: Path | None,
) -> bytes:
    """``pdf`` signed with ``key`` (:func:`agent.pdf.signer.sign_pdf`); ``prepared`` is what
    :func:`prepare` returned for it."""
    blocking = _blocking(key.raw)

    def job() -> bytes:
        from agent.pdf.signer import sign_pdf

        return sign_pdf(
            pdf,
            certificate=key.certificate,
            chain=key.chain,
            key_type=key.key_type,
            options=options,
            identity=signer_identity(key.certificate),
            raw=blocking,
            trust_roots=trust_roots,
            font_dir=font_dir,
            prepared=prepared,
        )

    return await _work(job)


async def sign_cms(
    digest: bytes, hash_algorithm: HashAlgorithm, key: SigningKey, *, tsa_url: str | None
) -> bytes:
    """A detached CMS over a document digest, made with ``key``, timestamped by ``tsa_url``
    if given (:func:`agent.pdf.signer.sign_cms_digest`)."""
    blocking = _blocking(key.raw)

    def job() -> bytes:
        from agent.pdf.signer import sign_cms_digest

        return sign_cms_digest(
            digest,
            hash_algorithm=hash_algorithm,
            certificate=key.certificate,
            chain=key.chain,
            key_type=key.key_type,
            raw=blocking,
            tsa_url=tsa_url,
        )

    return await _work(job)


async def verify(pdf: bytes, trust_roots: Sequence[bytes]) -> VerificationReport:
    """Every signature of ``pdf``, checked against ``trust_roots``
    (:func:`agent.pdf.verify.check.verify_pdf`)."""

    def job() -> VerificationReport:
        from agent.pdf.verify.check import verify_pdf
        from agent.pdf.verify.model import NotAPdf

        try:
            return verify_pdf(pdf, trust_roots)
        except NotAPdf as exc:
            log.info("PDF not verified: %s", exc)
            raise BadRequest(exc.phrase) from exc

    return await asyncio.to_thread(job)


def signer_identity(certificate: bytes) -> SignerIdentity:
    """What the stamp says about the holder of ``certificate`` (DER): common name (the whole
    subject if none) and organisation."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    parsed = x509.load_der_x509_certificate(certificate)

    def first(oid: x509.ObjectIdentifier) -> str | None:
        values = parsed.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else None

    return SignerIdentity(
        name=first(NameOID.COMMON_NAME) or parsed.subject.rfc4514_string(),
        organization=first(NameOID.ORGANIZATION_NAME),
    )


def _blocking(raw: RawSigner) -> SyncRawSigner:
    """``raw`` for pyHanko's worker thread: run on this (the caller's) event loop, awaited
    by the thread."""
    loop = asyncio.get_running_loop()

    def call(digest: bytes, algorithm: HashAlgorithm) -> bytes:
        return asyncio.run_coroutine_threadsafe(raw(digest, algorithm), loop).result()

    return call


async def _work(job: Callable[[], T]) -> T:
    """Run blocking PDF work on a thread, mapping its failures to the error tree."""

    def run() -> T:
        from agent.pdf.signer import BadPdf, PdfSigningFailed

        try:
            return job()
        except (AppearanceError, BadPdf) as exc:
            # The reader's own words (offsets, object numbers) help a developer, not a user.
            log.info("PDF refused: %s", exc)
            raise BadRequest(exc.phrase) from exc
        except PdfSigningFailed as exc:
            raise SigningFailed(str(exc)) from exc

    return await asyncio.to_thread(run)
