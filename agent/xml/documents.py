"""The blocking work on XML documents behind :mod:`agent.xml.commands`: parse, locate and
summarize before the question, prepare and finish after it, verify.

:mod:`agent.xml.commands` runs each of these on a worker thread and imports this module there,
at the first XML request: lxml, cryptography and the rest of the XML layer are not loaded by an
agent that signs no XML (docs/performance.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from cryptography import x509
from lxml import etree

from agent.algorithms import HashAlgorithm
from agent.errors import BadRequest
from agent.messages import Lang, Phrase
from agent.protocol import SignedXml, XmlDocumentRequest
from agent.xml import profiles
from agent.xml.models import DSIG_NS, PlacementSpec, XmlDigest
from agent.xml.parse import id_of, parse_xml
from agent.xml.profiles import Placement, locate
from agent.xml.sign import PreparedXml, finish, prepare
from agent.xml.summary import summarize_xml, summary_lines
from agent.xml.verify.check import verify_xml
from agent.xml.verify.model import XmlVerificationReport
from agent.xml.verify.render import report_to_text

# The token signs precomputed digests of the algorithms it knows (agent.token.mechanisms).
# SHA-1 is here, and only here, because an XML caller asked for it by name (older e-invoice
# receivers accept nothing else); /v1/sign and VGCA SignMsg keep their own lists without it.
# A digest missing from this table is refused before the question, not after the PIN.
_TOKEN_HASH: Final = {
    XmlDigest.SHA256: HashAlgorithm.SHA256,
    XmlDigest.SHA1: HashAlgorithm.SHA1,
}


class Parsed:
    """The tree and placement the check made, handed once to the signing that follows.

    Signing writes into the tree; a second attempt (a wrong PIN typed) parses the document
    again from the bytes received, so it never signs a tree an earlier attempt changed.
    """

    def __init__(self, tree: Any, placement: Placement) -> None:
        self._kept: tuple[Any, Placement] | None = (tree, placement)

    def take(self) -> tuple[Any, Placement] | None:
        """The tree and placement, the first time only."""
        kept, self._kept = self._kept, None
        return kept


@dataclass(frozen=True)
class CheckedXml:
    """A document that passed every check that needs no token, as the question shows it."""

    fingerprint: bytes
    """SHA-256 of the document as received (the question shows it, the audit keeps it)."""
    summary: tuple[str, ...]
    """What the signed element says (invoice number, seller, buyer, total …), in the
    question's language (:func:`agent.xml.summary.summary_lines`)."""
    parsed: Parsed = field(repr=False, compare=False)
    """The check's own parse, for the first signing attempt (a batch of invoices is parsed
    once, not twice, in the common case)."""


def check_all(documents: Sequence[XmlDocumentRequest], lang: Lang) -> tuple[CheckedXml, ...]:
    """Parse, locate and summarize every document; the first refusal is raised (in a batch it
    names the document: ``documents.3``)."""
    if len(documents) == 1:
        return (_check_one(documents[0], lang),)
    return tuple(_in_batch(i, d, lang) for i, d in enumerate(documents))


def prepare_all(
    documents: Sequence[XmlDocumentRequest],
    checked: Sequence[CheckedXml],
    certificate: bytes,
    signing_time: datetime,
) -> tuple[list[PreparedXml], list[tuple[bytes, HashAlgorithm]]]:
    """Every document's ``Signature`` prepared with ``certificate`` (DER), and what the token
    signs for each: the digest of its ``SignedInfo`` and the hash algorithm."""
    # check_all() has refused whatever could be refused: nothing here depends on the caller.
    cert = x509.load_der_x509_certificate(certificate)
    prepared = [
        _prepare_one(d, c, cert, signing_time) for d, c in zip(documents, checked, strict=True)
    ]
    return prepared, [(p.to_be_signed_digest, _token_hash(p.digest_algorithm)) for p in prepared]


def finish_all(
    documents: Sequence[XmlDocumentRequest],
    prepared: Sequence[PreparedXml],
    values: Sequence[bytes],
) -> tuple[SignedXml, ...]:
    """Every prepared document with the token's signature value written in, serialised."""
    return tuple(
        SignedXml(finish(p, value), p.signature_method, d.document_name)
        for p, value, d in zip(prepared, values, documents, strict=True)
    )


def verify(
    data: bytes, trust_roots: Sequence[bytes], lang: Lang
) -> tuple[XmlVerificationReport, str]:
    """Every signature of ``data`` against ``trust_roots``, and the report for people."""
    report = verify_xml(data, trust_roots)
    return report, report_to_text(report, lang)


def infer_spec(data: bytes) -> PlacementSpec:
    """:func:`agent.xml.profiles.infer_spec` of the document ``data``."""
    return profiles.infer_spec(parse_xml(data))


def signature_only(signed: bytes, before: bytes) -> bytes:
    """The ``Signature`` element that signing added to ``before``, serialised on its own (its
    namespace declared on it), for callers that insert it into their copy themselves."""
    old = {id_of(e) for e in _signatures(parse_xml(before))}
    new = [e for e in _signatures(parse_xml(signed)) if id_of(e) not in old]
    if len(new) != 1:
        raise RuntimeError(f"{len(new)} new Signature elements in the signed document")
    return bytes(etree.tostring(new[0], encoding="UTF-8", with_tail=False))


def _signatures(tree: Any) -> list[Any]:
    return list(tree.iter(f"{{{DSIG_NS}}}Signature"))


def _check_one(document: XmlDocumentRequest, lang: Lang) -> CheckedXml:
    _token_hash(document.digest)
    tree = parse_xml(document.xml)
    placement = locate(tree, document.spec)
    return CheckedXml(
        hashlib.sha256(document.xml).digest(),
        _summary(placement, lang),
        Parsed(tree, placement),
    )


def _summary(placement: Placement, lang: Lang) -> tuple[str, ...]:
    # The signed element alone, as a tree of its own: the summary then describes what the
    # signature covers, never another invoice elsewhere in the file.
    signed_only = etree.ElementTree(placement.signed)
    return summary_lines(summarize_xml(signed_only, placement.signed_id), lang)


def _prepare_one(
    document: XmlDocumentRequest,
    checked: CheckedXml,
    certificate: x509.Certificate,
    signing_time: datetime,
) -> PreparedXml:
    kept = checked.parsed.take()
    if kept is None:  # a later attempt: the first one may have written into its tree
        tree = parse_xml(document.xml)
        kept = tree, locate(tree, document.spec)
    tree, placement = kept
    return prepare(
        tree, placement, certificate, digest=document.digest.value, signing_time=signing_time
    )


def _in_batch(index: int, document: XmlDocumentRequest, lang: Lang) -> CheckedXml:
    """:func:`_check_one`; a refusal says which document of the batch it is about."""
    try:
        return _check_one(document, lang)
    except BadRequest as exc:
        if exc.phrase is None:
            raise
        raise BadRequest(
            Phrase.of("bad_xml_batch_document", index=index, reason=exc.phrase)
        ) from exc


def _token_hash(digest: XmlDigest) -> HashAlgorithm:
    algorithm = _TOKEN_HASH.get(digest)
    if algorithm is None:
        raise BadRequest(Phrase.of("bad_xml_digest_token", digest=digest.value))
    return algorithm
