"""A document as the PDF work reads it: bytes in memory, or a file in the spool.

Small documents and those that came as base64 are bytes; an upload is a file the PDF work
reads as it goes (:mod:`agent.spool`), so that a 100 MB document is never held whole. pyHanko
and PDFium both read from a stream, so a file costs them no more memory than its structure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, TypeAlias

PdfSource: TypeAlias = bytes | Path
"""The document: its bytes, or the path of a file holding them."""


@contextlib.contextmanager
def opened(source: PdfSource) -> Iterator[BinaryIO]:
    """``source`` as a binary stream, positioned at its start, closed when the block ends."""
    if isinstance(source, Path):
        with source.open("rb") as stream:
            yield stream
    else:
        yield BytesIO(source)


def head(source: PdfSource, size: int) -> bytes:
    """The first ``size`` bytes."""
    if isinstance(source, Path):
        with source.open("rb") as stream:
            return stream.read(size)
    return source[:size]
