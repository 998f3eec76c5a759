"""The XML layer's face to :class:`~agent.service.SigningService`: check, sign, verify.

The service decides who is asked and with which key; this module does the XML work around
the question, on a worker thread (lxml holds the GIL for a large document, and a batch has
hundreds):

* :func:`check`, before the question: every document is parsed, its placement located and
  its summary read, so that a document that cannot be signed is refused before anyone is
  asked, and the question shows what is actually signed;
* :func:`sign`, after it: the ``Signature`` of every document prepared with the chosen
  certificate and the agent's clock, all the ``SignedInfo`` digests signed by the token in
  one call (one login), every document finished;
* :func:`verify`: the signatures of a document, checked against the agent's trust roots.

:func:`sign` starts again from the bytes the caller sent (parse and locate run again): a
wrong PIN repeats the operation, and a tree that already holds a half-built ``Signature``
must not be signed twice. Both runs are the same code over the same bytes, so the element
signed is the one the question described.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
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
from agent.xml.parse import id_of, parse_xml
from agent.xml.profiles import Placement, PlacementSpec, locate
from agent.xml.sign import PreparedXml, XmlDigest, finish, prepare
from agent.xml.summary import summarize_xml, summary_lines
from agent.xml.verify import XmlVerificationReport, report_to_text, verify_xml

DigestSigner = Callable[[Sequence[tuple[bytes, HashAlgorithm]]], Awaitable[Sequence[bytes]]]
"""Signs digests with the chosen token key after one login (consent given, PIN at hand):
RSA PKCS#1 v1.5 values, ECDSA values as DER or ``r||s``."""

# The token signs precomputed digests of the algorithms it knows (agent.token.mechanisms).
# SHA-1 is here, and only here, because an XML caller asked for it by name (older e-invoice
# receivers accept nothing else); /v1/sign and VGCA SignMsg keep their own lists without it.
# A digest missing from this table is refused before the question, not after the PIN.
_TOKEN_HASH: Final = {
    XmlDigest.SHA256: HashAlgorithm.SHA256,
    XmlDigest.SHA1: HashAlgorithm.SHA1,
}


class _Parsed:
    """The tree and placement the check made, handed once to the signing that follows.

    Signing writes into the tree; a second attempt (a wrong PIN typed) parses the document
    again from the bytes received, so it never signs a tree an earlier attempt changed.
    """

    def __init__(self, tree: Any, placement: Placement) -> None:
        self._kept: tuple[Any, Placement] | None = (tree, placement)

    def take(self) -> tuple[Any, Placement] | None:
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
    parsed: _Parsed = field(repr=False, compare=False)
    """The check's own parse, for the first signing attempt (a batch of invoices is parsed
    once, not twice, in the common case)."""


async def check(documents: Sequence[XmlDocumentRequest], lang: Lang) -> tuple[CheckedXml, ...]:
    """Parse, locate and summarize every document; the first refusal is raised.

    In a batch the refusal names the document (``documents.3``).
    """

    def job() -> tuple[CheckedXml, ...]:
        if len(documents) == 1:
            return (_check_one(documents[0], lang),)
        return tuple(_in_batch(i, d, lang) for i, d in enumerate(documents))

    return await asyncio.to_thread(job)


async def sign(
    documents: Sequence[XmlDocumentRequest],
    checked: Sequence[CheckedXml],
    certificate: bytes,
    signer: DigestSigner,
    signing_time: datetime,
) -> tuple[SignedXml, ...]:
    """Every document signed with the key of ``certificate`` (DER) through ``signer``.

    ``checked`` is :func:`check`'s answer for ``documents``. ``signing_time`` is written as its
    wall-clock time: the caller passes local time.
    """
    cert = x509.load_der_x509_certificate(certificate)

    def prepare_all() -> list[PreparedXml]:
        # check() has refused whatever could be refused: nothing here depends on the caller.
        return [
            _prepare_one(d, c, cert, signing_time) for d, c in zip(documents, checked, strict=True)
        ]

    prepared = await asyncio.to_thread(prepare_all)
    values = await signer(
        [(p.to_be_signed_digest, _token_hash(p.digest_algorithm)) for p in prepared]
    )

    def finish_all() -> tuple[SignedXml, ...]:
        return tuple(
            SignedXml(finish(p, value), p.signature_method, d.document_name)
            for p, value, d in zip(prepared, values, documents, strict=True)
        )

    return await asyncio.to_thread(finish_all)


async def verify(
    data: bytes, trust_roots: Sequence[bytes], lang: Lang
) -> tuple[XmlVerificationReport, str]:
    """Every signature of ``data`` against ``trust_roots``, and the report for people."""

    def job() -> tuple[XmlVerificationReport, str]:
        report = verify_xml(data, trust_roots)
        return report, report_to_text(report, lang)

    return await asyncio.to_thread(job)


async def infer_spec(data: bytes) -> PlacementSpec:
    """Where a document's signature goes when the caller did not say
    (:func:`agent.xml.profiles.infer_spec`); a document that cannot be parsed is refused."""
    return await asyncio.to_thread(lambda: profiles.infer_spec(parse_xml(data)))


def signature_only(signed: bytes, before: bytes) -> bytes:
    """The ``Signature`` element that signing added to ``before``, serialised on its own (its
    namespace declared on it), for callers that insert it into their copy themselves."""
    old = {id_of(e) for e in _signatures(parse_xml(before))}
    new = [e for e in _signatures(parse_xml(signed)) if id_of(e) not in old]
    if len(new) != 1:
        raise RuntimeError(f"{len(new)} new Signature elements in the signed document")
    return bytes(etree.tostring(new[0], encoding="UTF-8", with_tail=False))


def _signatures(tree: Any) -> list[Any]:
    return list(tree.iter(f"{{{profiles.DSIG_NS}}}Signature"))


def _check_one(document: XmlDocumentRequest, lang: Lang) -> CheckedXml:
    _token_hash(document.digest)
    tree = parse_xml(document.xml)
    placement = locate(tree, document.spec)
    return CheckedXml(
        hashlib.sha256(document.xml).digest(),
        _summary(placement, lang),
        _Parsed(tree, placement),
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
