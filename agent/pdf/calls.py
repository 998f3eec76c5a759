"""The PDF work as requests, the same whether it runs on a thread of the agent or in a child.

A request names a document by a key the session chose (:class:`Prepare` reads it and keeps
what signing needs; :class:`Thumbnail` and :class:`SignDocument` use it; :class:`Forget`
drops it). :func:`execute` runs one request against a :class:`Documents` (a session's
prepared documents), asking ``raw`` for the one signature a signing request needs: in a
child that question crosses the pipe back to the agent's token worker
(:mod:`agent.pdf.process`), on a thread it is the agent's own coroutine.

Outcomes travel as values: :class:`Refused` (the document cannot be signed or read: the
caller's :class:`~agent.errors.BadRequest`, in the reader's language) and :class:`Failed`
(the signature could not be made: :class:`~agent.errors.SigningFailed`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

from agent.algorithms import HashAlgorithm, KeyType
from agent.messages import Phrase
from agent.pdf.models import Appearance, AppearanceError, PdfSignOptions, SignerIdentity
from agent.pdf.source import PdfSource

if TYPE_CHECKING:
    from agent.pdf.signer import PreparedPdf, SyncRawSigner

log = logging.getLogger(__name__)

# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepare:
    """Read ``source`` and rehearse its signing (:func:`agent.pdf.signer.prepare_pdf`)."""

    key: int
    source: PdfSource
    appearance: Appearance


@dataclass(frozen=True)
class Thumbnail:
    """The page the stamp of document ``key`` goes on (:func:`agent.pdf.preview.page_thumbnail`)."""

    key: int
    side: int
    max_bytes: int


@dataclass(frozen=True)
class SigningKey:
    """The token key a signature is made with, as the PDF work sees it (no way to the token:
    that is the ``raw`` of :func:`execute`)."""

    certificate: bytes
    """The signer's certificate, DER."""
    chain: tuple[bytes, ...]
    """Its issuers (DER), nearest first, as far as they are known."""
    key_type: KeyType
    """RSA or EC: how the signature value is formed."""


@dataclass(frozen=True)
class SignDocument:
    """Sign document ``key``; the signed file written to ``output``, or given back as bytes."""

    key: int
    output: Path | None
    signer: SigningKey
    options: PdfSignOptions
    identity: SignerIdentity
    trust_roots: tuple[bytes, ...]
    font_dir: Path | None


@dataclass(frozen=True)
class SignDigest:
    """A detached CMS over a document digest (:func:`agent.pdf.signer.sign_cms_digest`)."""

    digest: bytes
    hash_algorithm: HashAlgorithm
    signer: SigningKey
    tsa_url: str | None


@dataclass(frozen=True)
class Verify:
    """Every signature of ``pdf`` (:func:`agent.pdf.verify.check.verify_pdf`): a file is read as
    the checks need it, never whole."""

    pdf: PdfSource
    trust_roots: tuple[bytes, ...]


@dataclass(frozen=True)
class Forget:
    """Drop what :class:`Prepare` kept of document ``key`` (of every document: ``None``)."""

    key: int | None


Request: TypeAlias = Prepare | Thumbnail | SignDocument | SignDigest | Verify | Forget
REQUEST_TYPES = (Prepare, Thumbnail, SignDocument, SignDigest, Verify, Forget)


# --- outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """The document cannot be signed or read; ``phrase`` says why to a person."""

    phrase: Phrase


@dataclass(frozen=True)
class Failed:
    """The signature could not be made (a TSA that did not answer, a part pyHanko refused)."""

    message: str


@dataclass(frozen=True)
class NeedSignature:
    """Child to agent, during a signing request: sign ``digest`` with the session's key."""

    digest: bytes
    algorithm: HashAlgorithm


@dataclass(frozen=True)
class Signature:
    """Agent to child: the signature, or ``None`` when the token could not make it (the agent
    keeps the token's error and reports it)."""

    value: bytes | None


@dataclass(frozen=True)
class Done:
    """Child to agent: a request's outcome and the log records it produced."""

    value: object
    records: tuple[tuple[int, str, str], ...] = ()


class TokenGaveUp(Exception):
    """``raw`` could not sign: the agent has the token's own error and reports that one."""


@dataclass
class Documents:
    """A session's prepared documents, by key."""

    prepared: dict[int, tuple[PdfSource, PreparedPdf]] = field(default_factory=dict)

    def get(self, key: int) -> tuple[PdfSource, PreparedPdf]:
        return self.prepared[key]


@dataclass(frozen=True)
class PreparedSummary:
    """What the agent learns from :class:`Prepare` (the rest stays with the document)."""

    pages: int


def execute(documents: Documents, request: Request, raw: SyncRawSigner) -> object:
    """Run ``request``; its value, :class:`Refused` or :class:`Failed`.

    :raises TokenGaveUp: ``raw`` could not sign (the caller has the reason).
    """
    from agent.pdf.signer import BadPdf, PdfSigningFailed

    try:
        return _run(documents, request, raw)
    except (AppearanceError, BadPdf) as exc:
        # The reader's own words (offsets, object numbers) help a developer, not a user.
        log.info("PDF refused: %s", exc)
        return Refused(exc.phrase)
    except PdfSigningFailed as exc:
        return Failed(str(exc))


def _run(documents: Documents, request: Request, raw: SyncRawSigner) -> object:
    if isinstance(request, Prepare):
        from agent.pdf.signer import prepare_pdf

        prepared = prepare_pdf(request.source, request.appearance)
        documents.prepared[request.key] = (request.source, prepared)
        return PreparedSummary(prepared.facts.pages)
    if isinstance(request, Thumbnail):
        from agent.pdf.preview import page_thumbnail

        source, prepared = documents.get(request.key)
        try:
            return page_thumbnail(source, prepared, side=request.side, max_bytes=request.max_bytes)
        except Exception:  # never a reason to refuse: the question is asked without it
            log.warning("the page preview failed", exc_info=True)
            return None
    if isinstance(request, SignDocument):
        return _sign_document(documents, request, raw)
    if isinstance(request, SignDigest):
        from agent.pdf.signer import sign_cms_digest

        return sign_cms_digest(
            request.digest,
            hash_algorithm=request.hash_algorithm,
            certificate=request.signer.certificate,
            chain=request.signer.chain,
            key_type=request.signer.key_type,
            raw=raw,
            tsa_url=request.tsa_url,
        )
    if isinstance(request, Verify):
        from agent.pdf.verify.check import verify_pdf
        from agent.pdf.verify.model import NotAPdf

        try:
            return verify_pdf(request.pdf, request.trust_roots)
        except NotAPdf as exc:
            log.info("PDF not verified: %s", exc)
            return Refused(exc.phrase)
        except OSError as exc:  # its file gone (moved, deleted, taken by an antivirus)
            # The path is for the log: the caller is told what to do, not where the agent keeps
            # its files.
            log.info("PDF not verified: its file could not be read: %s", exc)
            return Refused(Phrase.of("verify_unreadable"))
    if request.key is None:
        documents.prepared.clear()
    else:
        documents.prepared.pop(request.key, None)
    return None


def _sign_document(documents: Documents, request: SignDocument, raw: SyncRawSigner) -> object:
    from agent.pdf.signer import write_signed_pdf

    source, prepared = documents.get(request.key)

    def write(output: BinaryIO) -> None:
        write_signed_pdf(
            source,
            output,
            certificate=request.signer.certificate,
            chain=request.signer.chain,
            key_type=request.signer.key_type,
            options=request.options,
            identity=request.identity,
            raw=raw,
            trust_roots=request.trust_roots,
            font_dir=request.font_dir,
            prepared=prepared,
        )

    if request.output is None:
        memory = BytesIO()
        write(memory)
        return memory.getvalue()
    try:
        with request.output.open("w+b") as output:
            write(output)
    except BaseException:
        request.output.unlink(missing_ok=True)  # never half a signed file in the spool
        raise
    return None
