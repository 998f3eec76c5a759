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

The work itself is :mod:`agent.xml.documents`'s, imported by the first call on the worker
thread: lxml and cryptography are not loaded by an agent that signs no XML, which keeps its
start-up short and its memory small (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from agent.algorithms import HashAlgorithm
from agent.messages import Lang
from agent.protocol import SignedXml, XmlDocumentRequest

if TYPE_CHECKING:
    from agent.xml.documents import CheckedXml
    from agent.xml.models import PlacementSpec
    from agent.xml.verify.model import XmlVerificationReport

DigestSigner = Callable[[Sequence[tuple[bytes, HashAlgorithm]]], Awaitable[Sequence[bytes]]]
"""Signs digests with the chosen token key after one login (consent given, PIN at hand):
RSA PKCS#1 v1.5 values, ECDSA values as DER or ``r||s``."""


async def check(documents: Sequence[XmlDocumentRequest], lang: Lang) -> tuple[CheckedXml, ...]:
    """Parse, locate and summarize every document; the first refusal is raised.

    In a batch the refusal names the document (``documents.3``).
    """

    def job() -> tuple[CheckedXml, ...]:
        from agent.xml.documents import check_all

        return check_all(documents, lang)

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
    from agent.xml.documents import finish_all, prepare_all

    prepared, to_sign = await asyncio.to_thread(
        prepare_all, documents, checked, certificate, signing_time
    )
    values = await signer(to_sign)
    return await asyncio.to_thread(finish_all, documents, prepared, values)


async def verify(
    data: bytes, trust_roots: Sequence[bytes], lang: Lang
) -> tuple[XmlVerificationReport, str]:
    """Every signature of ``data`` against ``trust_roots``, and the report for people."""

    def job() -> tuple[XmlVerificationReport, str]:
        from agent.xml.documents import verify

        return verify(data, trust_roots, lang)

    return await asyncio.to_thread(job)


async def infer_spec(data: bytes) -> PlacementSpec:
    """Where a document's signature goes when the caller did not say
    (:func:`agent.xml.profiles.infer_spec`); a document that cannot be parsed is refused."""

    def job() -> PlacementSpec:
        from agent.xml.documents import infer_spec

        return infer_spec(data)

    return await asyncio.to_thread(job)


async def signature_only(signed: bytes, before: bytes) -> bytes:
    """The ``Signature`` element that signing added to ``before``, serialised on its own (its
    namespace declared on it), for callers that insert it into their copy themselves."""

    def job() -> bytes:
        from agent.xml.documents import signature_only

        return signature_only(signed, before)

    return await asyncio.to_thread(job)
