"""Reading a document for verification: the file, its signature fields, its DSS.

Hostile input is expected here: a file that cannot be read at all raises
:class:`~agent.pdf.verify.model.NotAPdf`, a signature that cannot be read becomes a
:class:`Found` with its :class:`~agent.pdf.verify.model.Problem`. A strict reading that
fails on a syntax rule raises :class:`StrictSyntaxError`, so that :mod:`.check` starts
again with the lenient reader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus
from pyhanko.pdf_utils.misc import PdfStrictReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import EmbeddedPdfSignature
from pyhanko.sign.validation.dss import DocumentSecurityStore

from agent.messages import Phrase
from agent.pdf.verify import legacy
from agent.pdf.verify.model import NotAPdf, Problem, SignatureKind

log = logging.getLogger(__name__)

_SIGNATURE_SUBFILTERS: Final = frozenset(
    {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", *legacy.SUBFILTERS}
)
_TIMESTAMP_SUBFILTERS: Final = frozenset({"/ETSI.RFC3161"})


class StrictSyntaxError(Exception):
    """The strict reading failed somewhere: start again with a lenient reader."""


class HybridReferences(Exception):
    """The file has hybrid cross-references, which pyHanko's strict reader refuses."""


def strictness_failure(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by the strict reader (pyHanko sometimes wraps it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PdfStrictReadError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def load_roots(trust_roots: Sequence[bytes]) -> list[asn1_x509.Certificate]:
    roots = []
    for index, der in enumerate(trust_roots):
        try:
            root = asn1_x509.Certificate.load(der)
            root.native  # noqa: B018 — asn1crypto parses lazily; fail here, not mid-validation
        except ValueError as exc:
            raise ValueError(f"trust root #{index + 1} is not a DER certificate") from exc
        roots.append(root)
    return roots


def open_pdf(stream: BinaryIO, *, strict: bool) -> PdfFileReader:
    """A reader over the document in ``stream`` (read as needed, never whole), its catalogue
    read."""
    try:
        reader = PdfFileReader(stream, strict=strict)
        # Encrypted with an owner password only (printing or copying restricted), a file
        # opens without a password, in any reader and here.
        opened = not reader.encrypted or reader.decrypt("").status is not AuthStatus.FAILED
        if opened:
            reader.root  # noqa: B018 — resolve the catalogue now
    except Exception as exc:  # hostile input: any parser failure means unreadable
        if strict and strictness_failure(exc):
            raise StrictSyntaxError from exc
        log.debug("unreadable PDF", exc_info=True)
        raise NotAPdf(Phrase.of("verify_damaged"), _describe(exc)) from exc
    if not opened:
        raise NotAPdf(Phrase.of("verify_password"))
    if strict and reader.xrefs.hybrid_xrefs_present:
        raise HybridReferences
    return reader


_UNKNOWN_REVISION: Final = 1 << 30
"""Sorts a signature whose revision cannot be told after all the others."""


@dataclass(frozen=True)
class Found:
    """A filled signature field, read as far as possible."""

    field_name: str
    kind: SignatureKind
    revision: int
    embedded: EmbeddedPdfSignature | None
    problem: Problem | None = None
    """Why ``embedded`` is ``None``."""


def find_signatures(reader: PdfFileReader) -> list[Found]:
    """Every filled signature field, in signing order (pyHanko's order: by revision)."""
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # hostile input: a broken form is an unreadable file
        if reader.strict and strictness_failure(exc):
            raise StrictSyntaxError from exc
        log.debug("unreadable form fields", exc_info=True)
        raise NotAPdf(Phrase.of("verify_damaged"), f"form fields: {_describe(exc)}") from exc
    found = []
    for field_name, value, field in fields:
        kind = SignatureKind.SIGNATURE
        revision = _UNKNOWN_REVISION
        try:
            value_obj = value.get_object()
            if value_obj.get("/Type") == "/DocTimeStamp":
                kind = SignatureKind.DOCUMENT_TIMESTAMP
            if isinstance(value, generic.IndirectObject):
                revision = reader.xrefs.get_last_change(value.reference)
            subfilter = str(value_obj.get("/SubFilter", ""))
            allowed = (
                _TIMESTAMP_SUBFILTERS
                if kind is SignatureKind.DOCUMENT_TIMESTAMP
                else _SIGNATURE_SUBFILTERS
            )
            if subfilter not in allowed:
                found.append(Found(str(field_name), kind, revision, None, Problem.UNSUPPORTED))
                continue
            if subfilter in legacy.SUBFILTERS:
                embedded = legacy.embedded_signature(reader, field, str(field_name), subfilter)
            else:
                embedded = EmbeddedPdfSignature(reader, field, str(field_name))
        except Exception as exc:  # hostile input: report this signature as unreadable
            if reader.strict and strictness_failure(exc):
                raise StrictSyntaxError from exc
            log.debug("unreadable signature in field %r", field_name, exc_info=True)
            found.append(Found(str(field_name), kind, revision, None, Problem.MALFORMED))
            continue
        found.append(Found(str(field_name), kind, embedded.signed_revision, embedded))
    found.sort(key=lambda f: f.revision)
    return found


@dataclass(frozen=True)
class Document:
    """What the document holds beyond the signatures: validation data, timestamps."""

    dss_certs: tuple[asn1_x509.Certificate, ...]
    dss_ocsps: tuple[asn1_ocsp.OCSPResponse, ...]
    dss_crls: tuple[asn1_crl.CertificateList, ...]
    dss_cert_ids: frozenset[bytes]
    """``issuer_serial`` of every DSS certificate."""
    dss_vri: frozenset[str]
    """VRI keys (upper-case hex SHA-1 of a signature's /Contents)."""
    last_document_timestamp: int | None
    """Revision of the last document timestamp."""
    lenient: bool

    @classmethod
    def read(cls, reader: PdfFileReader, found: Iterable[Found], *, lenient: bool) -> Document:
        certs: list[asn1_x509.Certificate] = []
        ocsps: list[asn1_ocsp.OCSPResponse] = []
        crls: list[asn1_crl.CertificateList] = []
        vri: set[str] = set()
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except Exception as exc:  # no DSS, or a broken one: no validation data
            if not lenient and strictness_failure(exc):
                raise StrictSyntaxError from exc
            dss = None
        if dss is not None:
            certs = parse_each(dss.load_certs(), "DSS certificate")
            ocsps = parse_each(
                (asn1_ocsp.OCSPResponse.load(_stream(r)) for r in dss.ocsps), "DSS OCSP"
            )
            crls = parse_each(
                (asn1_crl.CertificateList.load(_stream(r)) for r in dss.crls), "DSS CRL"
            )
            vri = {str(key).lstrip("/").upper() for key in dss.vri_entries}
        timestamps = [f.revision for f in found if f.kind is SignatureKind.DOCUMENT_TIMESTAMP]
        return cls(
            dss_certs=tuple(certs),
            dss_ocsps=tuple(ocsps),
            dss_crls=tuple(crls),
            dss_cert_ids=frozenset(issuer_serial(c) for c in certs),
            dss_vri=frozenset(vri),
            last_document_timestamp=max(timestamps) if timestamps else None,
            lenient=lenient,
        )


def _stream(ref: Any) -> bytes:
    data: bytes = ref.get_object().data
    return data


def parse_each(items: Iterable[Any], what: str) -> list[Any]:
    """Parse lazily produced items, skipping (and logging) broken ones."""
    result = []
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
            item.native  # noqa: B018 — force asn1crypto's lazy parse
        except StopIteration:
            break
        except Exception:  # hostile input: skip what cannot be parsed
            log.debug("skipping a broken %s", what, exc_info=True)
            continue
        result.append(item)
    return result


def issuer_serial(cert: asn1_x509.Certificate) -> bytes:
    value: bytes = cert.issuer_serial
    return value


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
