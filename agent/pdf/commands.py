"""The PDF layer's face to :class:`~agent.service.SigningService`: a job per request.

The service decides who is asked and with which key; this module does the PDF work that
follows, as :mod:`agent.pdf.calls` requests on a worker of :mod:`agent.pdf.process` (a child
process in the agent, a thread in tests), and translates the PDF layer's refusals into the
error tree: a document that cannot be signed or read is the caller's
:class:`~agent.errors.BadRequest`, said in the reader's language; a signature that cannot be
made is :class:`~agent.errors.SigningFailed`.

The token is reached through a :data:`~agent.pdf.models.RawSigner`, a coroutine of the
service's event loop, which the worker asks for the one signature a request needs.

The PDF stack (pyHanko, fontTools, Pillow, PDFium) is imported by the worker only: the agent
itself never loads it, which keeps its start-up short and its memory small
(docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.algorithms import HashAlgorithm, KeyType
from agent.errors import BadRequest, SigningFailed
from agent.pdf.calls import (
    Failed,
    Prepare,
    PreparedSummary,
    Refused,
    SignDigest,
    SignDocument,
    Thumbnail,
    Verify,
)
from agent.pdf.calls import SigningKey as CallKey
from agent.pdf.models import (
    Appearance,
    PageThumbnail,
    PdfSignOptions,
    RawSigner,
    SignerIdentity,
)
from agent.pdf.process import PdfSession, PdfWork
from agent.pdf.source import PdfSource
from agent.pdf.viewer import make_viewer_copy, remove_viewer_copy

if TYPE_CHECKING:
    from agent.pdf.verify.model import VerificationReport

log = logging.getLogger(__name__)


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


class PdfJob:
    """One request's PDF work, on its own worker (:mod:`agent.pdf.process`): the documents it
    prepared stay with that worker until the job ends. Documents are named by ``key``."""

    def __init__(self, session: PdfSession) -> None:
        self._session = session

    async def prepare(self, key: int, pdf: PdfSource, appearance: Appearance) -> int:
        """Everything about ``pdf`` that can be refused without the token: called before anyone
        is asked, so that no refusal follows the question (:func:`agent.pdf.signer.prepare_pdf`).
        The number of pages."""
        summary = _outcome(await self._session.call(Prepare(key, pdf, appearance)))
        assert isinstance(summary, PreparedSummary)  # noqa: S101 - Prepare's value
        return summary.pages

    async def thumbnail(self, key: int, *, side: int, max_bytes: int) -> PageThumbnail | None:
        """The page the stamp goes on, the stamp's box drawn, at most ``side`` pixels and
        ``max_bytes`` of PNG (:func:`agent.pdf.preview.page_thumbnail`); ``None`` when it cannot
        be shown. Never a reason to refuse: the question is then asked without it."""
        try:
            shown = _outcome(await self._session.call(Thumbnail(key, side, max_bytes)))
        except SigningFailed:
            log.warning("no page preview: the PDF work failed")
            return None
        return shown if isinstance(shown, PageThumbnail) else None

    async def sign(
        self,
        key: int,
        signer: SigningKey,
        *,
        options: PdfSignOptions,
        trust_roots: Sequence[bytes],
        font_dir: Path | None,
        output: Path | None = None,
    ) -> bytes | None:
        """Document ``key`` signed with ``signer`` (:func:`agent.pdf.signer.write_signed_pdf`):
        written to ``output`` (``None`` returned), or given back as bytes."""
        request = SignDocument(
            key,
            output,
            _key(signer),
            options,
            signer_identity(signer.certificate),
            tuple(trust_roots),
            font_dir,
        )
        signed = _outcome(await self._session.call(request, signer.raw))
        return signed if isinstance(signed, bytes) else None

    async def sign_cms(
        self,
        digest: bytes,
        hash_algorithm: HashAlgorithm,
        signer: SigningKey,
        *,
        tsa_url: str | None,
    ) -> bytes:
        """A detached CMS over a document digest, made with ``signer``, timestamped by
        ``tsa_url`` if given (:func:`agent.pdf.signer.sign_cms_digest`)."""
        request = SignDigest(digest, hash_algorithm, _key(signer), tsa_url)
        cms = _outcome(await self._session.call(request, signer.raw))
        assert isinstance(cms, bytes)  # noqa: S101 - SignDigest's value
        return cms

    async def verify(self, pdf: PdfSource, trust_roots: Sequence[bytes]) -> VerificationReport:
        """Every signature of ``pdf`` (its bytes, or a file the worker reads as it needs),
        checked against ``trust_roots`` (:func:`agent.pdf.verify.check.verify_pdf`)."""
        return _outcome(await self._session.call(Verify(pdf, tuple(trust_roots))))  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def job(work: PdfWork) -> AsyncIterator[PdfJob]:
    """A :class:`PdfJob` on a worker of ``work``, for the block's length."""
    async with work.session() as session:
        yield PdfJob(session)


def _key(signer: SigningKey) -> CallKey:
    return CallKey(signer.certificate, signer.chain, signer.key_type)


def _outcome(value: object) -> Any:
    """A request's value; its refusal or failure raised into the error tree."""
    if isinstance(value, Refused):
        raise BadRequest(value.phrase)
    if isinstance(value, Failed):
        raise SigningFailed(value.message)
    return value


@contextlib.asynccontextmanager
async def viewer_copy(
    pdf: PdfSource, name: str | None, wanted: bool = True
) -> AsyncIterator[Path | None]:
    """A private, read-only copy of ``pdf`` for the user's own viewer, removed when the block
    ends (:mod:`agent.pdf.viewer`); ``None`` when the temporary directory cannot take it, or
    nobody could open it (not ``wanted``)."""
    if not wanted:
        yield None
        return
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
