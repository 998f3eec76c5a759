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
import io
import logging
import struct
import threading
import time
import zlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TypeVar
from xml.etree.ElementTree import ParseError

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus, StandardSecurityHandler
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import read_certification_data
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from agent.algorithms import HashAlgorithm, KeyType
from agent.errors import AgentError
from agent.messages import Phrase
from agent.pdf.models import (
    Appearance,
    PdfSignOptions,
    Placement,
    Profile,
    SignatureLevel,
    SignerIdentity,
)
from agent.pdf.placement import field_spec, resolve_placement
from agent.pdf.source import PdfSource, head, opened

if TYPE_CHECKING:
    from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper
    from pyhanko.stamp import BaseStampStyle

log = logging.getLogger(__name__)

IO_CHUNK: Final = 1024 * 1024
"""Bytes pyHanko copies and hashes at a time: its default of 4 KiB costs a 20 MB file on disk
ten thousand system calls (0.1 s) where one megabyte costs twenty."""

T = TypeVar("T")

SyncRawSigner = Callable[[bytes, HashAlgorithm], bytes]
"""Signs a digest; blocks the calling (worker) thread until the token answered."""

_PYHANKO_HASH: Final = {
    HashAlgorithm.SHA256: "sha256",
    HashAlgorithm.SHA384: "sha384",
    HashAlgorithm.SHA512: "sha512",
}


class BadPdf(ValueError):
    """The input is not a PDF the agent can sign (damaged, locked, encrypted, not a PDF).

    ``phrase`` tells the user what is wrong and what to do; the exception's own text (the
    reader's words: offsets, object numbers) is for the log.
    """

    def __init__(self, phrase: Phrase, detail: str = "") -> None:
        super().__init__(detail or str(phrase))
        self.phrase = phrase


class PdfSigningFailed(RuntimeError):
    """Signing failed for a reason outside the token (TSA, validation data for B-LT)."""


@dataclass(frozen=True)
class PdfFacts:
    """What the agent needs to know about a PDF before asking the user."""

    pages: int
    """Number of pages."""
    signatures: int
    """Signatures already in the document."""
    field_names: frozenset[str] = frozenset()
    """Every form field's name, partial (``/T``) and fully qualified (``a.b``), of any type."""
    encrypted: bool = False
    """Encrypted with an empty user password (an owner password only): it opens for anyone,
    and the signature is added encrypted the same way, as Acrobat does."""
    certified: bool = False
    """Certified by its author (DocMDP) in a way that allows signing (levels 2 and 3)."""


_READER_ERRORS: Final = (
    PdfError,
    zlib.error,
    struct.error,
    ParseError,
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    ArithmeticError,
    AssertionError,
    RecursionError,
    NotImplementedError,
)
"""What pyHanko's reader and writer raise on a damaged file: their own errors, and whatever
the Python underneath (zlib, struct, the XML parser of the metadata, dictionary and list
look-ups, pyHanko's own assertions) raises on bytes that are not what the file's structure
announced."""

_MAX_FIELD_DEPTH: Final = 32
"""Form field trees are a few levels deep; a cycle must not hang the agent."""

_NEW_FIELD_PERMISSIONS: Final = 8 | 32
"""Bits 4 and 6 of an encrypted file's ``/P`` (ISO 32000-1, table 22): together they allow
creating form fields, signature fields included. Bit 9 alone allows signing fields that
already exist; the agent adds its own field, so it needs both."""


def inspect_pdf(pdf: PdfSource) -> PdfFacts:
    """Read the PDF as signing will; raise :class:`BadPdf` with a reason if it cannot be signed.

    Reads the page tree and every page's content, the form fields, the document's
    certification and the metadata the incremental update rewrites, so that a damaged part
    is found here, before the user is asked, and not after the PIN.
    """
    # pyHanko finds the header anywhere in the first kilobyte; after whitespace is enough.
    if not head(pdf, 1024).lstrip()[:5] == b"%PDF-":
        raise BadPdf(Phrase.of("bad_pdf_not_pdf"), "the file does not start with %PDF-")
    with opened(pdf) as stream:
        return _inspect(stream)


def _inspect(stream: BinaryIO) -> PdfFacts:
    try:
        reader = PdfFileReader(stream, strict=False)
        encrypted = reader.encrypted
        handler = reader.security_handler if encrypted else None
    except _READER_ERRORS as exc:
        raise _damaged(exc) from exc
    if encrypted:
        _open_without_password(reader, handler)
    try:
        pages = _read_pages(reader)
        signatures = reader.embedded_signatures
        names = _field_names(reader)
        levels = _modification_levels(reader, signatures)
    except BadPdf:
        raise
    except _READER_ERRORS as exc:
        raise _damaged(exc) from exc
    if MDPPerm.NO_CHANGES in levels:
        raise BadPdf(Phrase.of("bad_pdf_locked"), "DocMDP /P 1: the author allows no changes")
    return PdfFacts(
        pages=pages,
        signatures=len(signatures),
        field_names=names,
        encrypted=encrypted,
        certified=bool(levels),
    )


def _damaged(exc: BaseException) -> BadPdf:
    return BadPdf(Phrase.of("bad_pdf_damaged"), f"the PDF cannot be read: {exc!r}")


def _open_without_password(reader: PdfFileReader, handler: object) -> None:
    """Open a file encrypted with an owner password only (the empty user password), or refuse.

    Such a file opens in any reader without a question; its owner password only sets
    permissions, which are honoured here (pyHanko itself does not enforce them).
    """
    if not isinstance(handler, StandardSecurityHandler):
        raise BadPdf(Phrase.of("bad_pdf_encryption"), f"security handler {type(handler).__name__}")
    try:
        result = reader.decrypt("")
    except _READER_ERRORS as exc:
        raise _damaged(exc) from exc
    if result.status is AuthStatus.FAILED:
        raise BadPdf(Phrase.of("bad_pdf_password"), "the PDF needs a user password")
    flags = result.permission_flags
    allowed = flags.as_uint32() if flags is not None else 0
    if allowed & _NEW_FIELD_PERMISSIONS != _NEW_FIELD_PERMISSIONS:
        raise BadPdf(
            Phrase.of("bad_pdf_no_signing"), f"permissions {allowed:#x} forbid new form fields"
        )


def _read_pages(reader: PdfFileReader) -> int:
    """Walk the page tree and decode every page's content; return the number of pages.

    A page whose content cannot be decompressed is a page nobody can see: the user would
    sign what no reader shows.
    """
    count = int(reader.root["/Pages"]["/Count"])
    for index in range(count):
        page_ref, _ = reader.find_page_for_modification(index)  # type: ignore[no-untyped-call]
        page = page_ref.get_object()
        contents = page.get("/Contents")
        streams = contents.get_object() if contents is not None else generic.ArrayObject()
        if isinstance(streams, generic.StreamObject):
            streams = generic.ArrayObject([streams])
        try:
            for stream in streams:
                _ = stream.get_object().data
        except _READER_ERRORS as exc:
            raise BadPdf(
                Phrase.of("bad_pdf_damaged_page", page=index + 1),
                f"page {index + 1}: {exc!r}",
            ) from exc
    return count


def _field_names(reader: PdfFileReader) -> frozenset[str]:
    """Every field's partial and fully qualified name, through nested ``/Kids``."""
    try:
        form = reader.root["/AcroForm"]
    except KeyError:
        return frozenset()
    names: set[str] = set()
    seen: set[int] = set()

    def walk(items: generic.PdfObject, prefix: str, depth: int) -> None:
        if depth > _MAX_FIELD_DEPTH:
            return
        for item in items.get_object():  # type: ignore[no-untyped-call]
            field = item.get_object()
            if id(field) in seen or not isinstance(field, generic.DictionaryObject):
                continue
            seen.add(id(field))
            partial = field.get("/T")
            name = prefix
            if partial is not None:
                names.add(str(partial))
                name = f"{prefix}.{partial}" if prefix else str(partial)
                names.add(name)
            kids = field.get("/Kids")
            if kids is not None:
                walk(kids, name, depth + 1)

    walk(form.get("/Fields", generic.ArrayObject()), "", 0)
    return frozenset(names)


def _modification_levels(
    reader: PdfFileReader, signatures: Sequence[EmbeddedPdfSignature]
) -> set[MDPPerm]:
    """The DocMDP levels in force: the author's certification and any signature's lock.

    Level 1 allows no change at all; levels 2 (form filling and signing) and 3 (also
    annotations) allow another signature.
    """
    levels = {level for s in signatures if (level := s.docmdp_level) is not None}
    certification = read_certification_data(reader)
    if certification is not None:
        levels.add(certification.permission)
    return levels


def free_field_name(taken: frozenset[str], signatures: int) -> str:
    """``Signature{n}`` for the smallest ``n`` after the existing signatures that names no
    existing field (of any type, at any depth): another field's name would make pyHanko fill
    or refuse that field instead of adding one."""
    number = signatures + 1
    while f"Signature{number}" in taken:
        number += 1
    return f"Signature{number}"


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
    field_name: str
    """The field signed: a new one's name, free in this document, or the existing empty field
    the placement names."""


def prepare_pdf(pdf: PdfSource, appearance: Appearance) -> PreparedPdf:
    """Everything that can be refused without the token, so refusals never follow a prompt.

    Besides reading the document (:func:`inspect_pdf`) and placing the stamp, this rehearses
    the incremental update that signing writes (the new field on its page, the form, the
    document's metadata, its encryption) without a signature in it: what would fail after
    the PIN fails here.

    :raises BadPdf: the PDF cannot be signed.
    :raises AppearanceError: the appearance cannot be drawn on this document.
    """
    facts = inspect_pdf(pdf)
    placement = resolve_placement(pdf, appearance)
    if placement is not None and placement.field is not None:
        name = placement.field  # an existing empty field, signed as it is
    else:
        name = free_field_name(facts.field_names, facts.signatures)
        if facts.certified and placement is not None:
            # DocMDP level 2 allows signing, not new annotations: a new visible field breaks
            # the author's certification for pyHanko and the letter of ISO 32000 (Acrobat
            # is laxer). An invisible signature, or the author's own empty field, keeps it.
            raise BadPdf(
                Phrase.of("bad_pdf_certified_visible"),
                "a new visible signature field would break the author's certification",
            )
    try:
        with opened(pdf) as stream:
            writer = _writer(stream, facts)
            spec = field_spec(name, placement)
            if spec is not None:
                fields.append_signature_field(writer, spec)
            # Marked changed, so that the metadata is rewritten even without a new field.
            writer.update_root()  # type: ignore[no-untyped-call]
            writer.write(_Discard())  # type: ignore[no-untyped-call]
    except _READER_ERRORS as exc:
        raise _damaged(exc) from exc
    return PreparedPdf(facts, placement, name)


class _Discard(io.RawIOBase):
    """Where the rehearsal writes: it counts (pyHanko asks ``tell()`` for offsets) and keeps
    nothing, so rehearsing a 100 MB document does not hold another copy of it."""

    def __init__(self) -> None:
        super().__init__()
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        self._position += size
        return size

    def tell(self) -> int:
        return self._position


def _writer(stream: BinaryIO, facts: PdfFacts) -> IncrementalPdfFileWriter:
    """pyHanko's incremental writer on ``stream``; an owner-password file keeps its encryption
    (an incremental update cannot remove it), opened with the empty user password."""
    writer = IncrementalPdfFileWriter(stream, strict=False)
    writer.IO_CHUNK_SIZE = IO_CHUNK
    if facts.encrypted:
        writer.encrypt("")  # type: ignore[no-untyped-call]
    return writer


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


def sign_pdf(pdf: PdfSource, **arguments: Any) -> bytes:
    """:func:`write_signed_pdf` into memory: the signed file's bytes."""
    output = BytesIO()
    write_signed_pdf(pdf, output, **arguments)
    return output.getvalue()


def write_signed_pdf(
    pdf: PdfSource,
    output: BinaryIO,
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
) -> None:
    """Sign ``pdf`` as an incremental update, writing the signed file to ``output`` (readable
    and seekable: pyHanko hashes what it wrote, then fills the signature in).

    Blocking: call it from a worker thread. ``raw`` is called exactly once. ``prepared``
    is the result of :func:`prepare_pdf` on the same document and appearance, if known.
    """
    cert, issuers = _load_certs(certificate, chain)
    prepared = prepared or prepare_pdf(pdf, options.appearance)
    name = prepared.field_name
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
        stamp_style=_stamp(options.appearance, identity, moment, font_dir, placement),
        new_field_spec=field_spec(name, placement),
    )
    try:
        with opened(pdf) as stream:
            writer = _writer(stream, prepared.facts)
            _run(
                pdf_signer.async_sign_pdf(writer, output=output, chunk_size=IO_CHUNK),
                options.tsa_url,
            )
    except (AgentError, BadPdf, PdfSigningFailed):
        raise
    except _READER_ERRORS as exc:
        # prepare_pdf read and rehearsed all of this; a part it missed must still not be a 500.
        raise _damaged(exc) from exc


_TSA_TIMEOUT: Final = 15
"""Seconds to wait for a time-stamping authority."""


def _stamp(
    appearance: Appearance,
    identity: SignerIdentity,
    moment: datetime,
    font_dir: Path | None,
    placement: Placement | None,
) -> BaseStampStyle | None:
    """:func:`agent.pdf.appearance.stamp_style`, loaded only for a signature that has one.

    The stamp code brings fontTools, HarfBuzz and Pillow: 12 MB and 0.15 s of a PDF worker's
    start, which an invisible signature in a new field (the API's default) never uses.
    """
    if appearance.profile is Profile.INVISIBLE and placement is None:
        return None
    from agent.pdf.appearance import stamp_style

    return stamp_style(appearance, identity, moment, font_dir, placement)


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
            # requests (5 MB in the PDF worker) only for a signature that is timestamped.
            from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper

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
