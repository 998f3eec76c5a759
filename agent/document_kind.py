"""Which kind of signed document some bytes are: PDF or XML, told by content, not by name.

``kyso-agent verify`` takes either; a file name says nothing certain (invoices arrive as
``.txt``, ``.dat`` or without an extension), so the first bytes decide.
"""

from __future__ import annotations

import codecs
from enum import StrEnum
from typing import Final

PDF_HEADER_WINDOW: Final = 1024
"""Readers (and :func:`agent.pdf.verify.check.verify_pdf`) accept ``%PDF-`` anywhere in the
first kilobyte: some generators put junk or a mail header before it."""

_XML_WINDOW: Final = 4096
"""Leading whitespace looked through for the first ``<``."""

_UTF16_BOMS: Final = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}


class DocumentKind(StrEnum):
    """What a file holds, as far as signatures go."""

    PDF = "pdf"
    """A PDF: ``%PDF-`` within its first kilobyte."""
    XML = "xml"
    """XML: its first character, after an optional byte-order mark and whitespace, is ``<``."""


def kind_of(data: bytes) -> DocumentKind | None:
    """The kind of ``data``; ``None`` when it is neither a PDF nor XML."""
    if b"%PDF-" in data[:PDF_HEADER_WINDOW]:
        return DocumentKind.PDF
    head = data[:_XML_WINDOW]
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    for bom, encoding in _UTF16_BOMS.items():
        if head.startswith(bom):
            # A window of even length cut at the end may split a character: ignore it.
            head = head[len(bom) :].decode(encoding, errors="ignore").encode()
            break
    return DocumentKind.XML if head.lstrip().startswith(b"<") else None
