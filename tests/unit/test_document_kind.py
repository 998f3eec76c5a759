"""Telling a PDF from XML by its first bytes (``kyso-agent verify``)."""

from __future__ import annotations

import codecs

import pytest

from agent.document_kind import DocumentKind, kind_of


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", DocumentKind.PDF),
        (b"junk from a mail gateway\r\n" * 10 + b"%PDF-1.4\n", DocumentKind.PDF),
        (b"x" * 1020 + b"%PDF-1.4", None),  # past the first kilobyte: not a PDF header
        (b'<?xml version="1.0"?><HDon/>', DocumentKind.XML),
        (b" \r\n\t<HDon/>", DocumentKind.XML),
        (codecs.BOM_UTF8 + b"\n<HDon/>", DocumentKind.XML),
        (codecs.BOM_UTF16_LE + "\n<HDon/>".encode("utf-16-le"), DocumentKind.XML),
        (codecs.BOM_UTF16_BE + "<HDon/>".encode("utf-16-be"), DocumentKind.XML),
        (b"HDon", None),
        (b"", None),
    ],
)
def test_the_content_decides(data: bytes, kind: DocumentKind | None) -> None:
    assert kind_of(data) is kind
