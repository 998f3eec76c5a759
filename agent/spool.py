"""Documents on their way through the agent, kept on disk rather than in memory.

A 100 MB PDF held as ``bytes`` costs the agent its size several times over (the upload, the
copy pyHanko writes, the answer) and leaves the freed memory fragmented in a process that
lives all day. A document uploaded as a file (a multipart form, a raw ``application/pdf``
body) is therefore written to the spool as it arrives, its SHA-256 computed on the way; the PDF
work reads it from there and writes the signed file beside it, and the answer is sent from
that file (docs/api.md, "Large PDFs: forms and raw bodies").

The spool is one directory of this user's (``DATA_DIR/spool``, private: ``0700``, and on Windows
the user-only ACL of :func:`agent.private.private_dir`). Every file in it belongs to one request,
which removes it when it ends, also when the client went away mid-upload (the body's read
fails, or the handler is cancelled as the server stops, and :meth:`Spool.receive` removes what it
had written). What an agent killed mid-request left behind is removed by :meth:`Spool.sweep` when
the next agent starts, under the instance lock (one agent per data directory), so no running
request's file is ever swept.

A file that cannot be written or read back (a full disk) is
:class:`~agent.errors.StorageFailed`: a stable code the portal and the user can act on, never an
internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from agent.errors import PayloadTooLarge, StorageFailed
from agent.private import FILE_MODE, private_dir

log = logging.getLogger(__name__)

DIRECTORY_NAME: Final = "spool"
"""The spool's directory, inside the agent's data directory."""
_CHUNK: Final = 1024 * 1024
"""Bytes read or hashed at a time."""


@dataclass(frozen=True)
class SpooledFile:
    """A document in the spool: where, how large, and its SHA-256 (what the question shows)."""

    path: Path
    """The file, in the spool's directory."""
    size: int
    """Its length in bytes."""
    sha256: bytes | None
    """Its SHA-256, computed as it was written; ``None`` for a file the agent wrote itself (a
    signed document: nobody is shown its digest, so it is not read again to compute one)."""

    def read_bytes(self) -> bytes:
        """The whole file (for callers that need bytes: the plugin layers, the tray)."""
        return self.path.read_bytes()


class Spool:
    """The directory of documents in flight."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        """Where the files are (``DATA_DIR/spool``)."""

    def sweep(self) -> int:
        """Create the directory (private) and remove what a previous agent left in it; the
        number of files removed. Call once at start, holding the instance lock."""
        private_dir(self.directory)
        removed = 0
        for leftover in self.directory.iterdir():
            try:
                leftover.unlink()
                removed += 1
            except OSError as exc:  # a directory someone made there, a file still open
                log.warning("spool: %s not removed: %s", leftover.name, exc.strerror)
        if removed:
            log.info("spool: removed %d file(s) left by an agent that did not end cleanly", removed)
        return removed

    def new_path(self, suffix: str = ".pdf") -> Path:
        """A fresh name in the spool (nothing created yet)."""
        return self.directory / f"{secrets.token_hex(12)}{suffix}"

    async def receive(
        self, chunks: AsyncIterator[bytes], limit: int, shown_limit: int
    ) -> SpooledFile:
        """Write ``chunks`` to a new file as they come, hashing them on the way.

        :raises PayloadTooLarge: more than ``limit`` bytes came (``shown_limit`` is the limit
            the caller is told); the file is removed, as on any other failure or cancellation
            (a client that went away mid-upload).
        :raises StorageFailed: the file could not be written (a full disk).
        """
        path = self.new_path()
        digest = hashlib.sha256()
        size = 0
        try:
            with _storing(path):
                descriptor = _create(path)
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(shown_limit)
                    digest.update(chunk)
                    # On the event loop: a chunk goes to the page cache in microseconds, and a
                    # write left running on a thread past a cancellation could outlive the
                    # descriptor it writes to.
                    with _storing(path):
                        _write_all(descriptor, chunk)
            finally:
                with _storing(path):
                    os.close(descriptor)
        except BaseException:
            discard(path)
            raise
        return SpooledFile(path, size, digest.digest())

    async def from_bytes(self, data: bytes) -> SpooledFile:
        """``data`` (a document that came as base64 in JSON, or from a plugin layer) as a
        spooled file, for the PDF work that reads files. A caller cancelled meanwhile leaves
        nothing: the file is removed once the thread writing it is done.

        :raises StorageFailed: the file could not be written (a full disk).
        """
        path = self.new_path()

        def write() -> SpooledFile:
            try:
                with _storing(path):
                    descriptor = _create(path)
                    try:
                        _write_all(descriptor, data)
                    finally:
                        os.close(descriptor)
            except BaseException:
                discard(path)
                raise
            return SpooledFile(path, len(data), hashlib.sha256(data).digest())

        # The thread cannot be stopped: a cancelled caller leaves it to finish, and its file
        # to be removed then (a page closed while a 100 MB batch was being written).
        writing = asyncio.ensure_future(asyncio.to_thread(write))
        try:
            return await asyncio.shield(writing)
        except asyncio.CancelledError:
            writing.add_done_callback(_remove_unclaimed(path))
            raise


def _remove_unclaimed(path: Path) -> Callable[[asyncio.Future[SpooledFile]], None]:
    def remove(done: asyncio.Future[SpooledFile]) -> None:
        if not done.cancelled():
            done.exception()  # retrieved: a write that failed has removed its file already
        discard(path)

    return remove


async def finished(path: Path) -> SpooledFile:
    """A file the PDF work wrote into the spool, with its size.

    :raises StorageFailed: it is not there.
    """

    def measure() -> SpooledFile:
        with _storing(path):
            return SpooledFile(path, path.stat().st_size, None)

    return await asyncio.to_thread(measure)


async def read_chunks(
    file: SpooledFile, size: int = _CHUNK, encode: Callable[[bytes], bytes] | None = None
) -> AsyncGenerator[bytes, None]:
    """The file's ``file.size`` bytes, ``size`` at a time, each piece read (and passed through
    ``encode``, base64 say) on a worker thread: an answer sent from the spool is never held
    whole, and a slow disk never stalls the event loop. Use it in ``contextlib.aclosing``:
    the file stays open until the iteration ends.

    :raises StorageFailed: the file cannot be read, or ends before ``file.size`` bytes.
    """

    def read(stream: BinaryIO, wanted: int) -> bytes:
        with _storing(file.path):
            piece = stream.read(wanted)
        if len(piece) != wanted:
            raise StorageFailed(f"spool: {file.path.name} ended at {len(piece)} of {wanted} bytes")
        return encode(piece) if encode is not None else piece

    def open_file() -> BinaryIO:
        with _storing(file.path):
            return file.path.open("rb")

    stream = await asyncio.to_thread(open_file)
    try:
        left = file.size
        while left:
            wanted = min(size, left)
            yield await asyncio.to_thread(read, stream, wanted)
            left -= wanted
    finally:
        # Buffered, the stream's close waits for a read still running on its thread (a
        # cancelled iteration leaves one), so the descriptor is never closed under it.
        stream.close()


def size_of(document: bytes | SpooledFile) -> int:
    """Bytes in ``document``, in memory or in the spool."""
    return document.size if isinstance(document, SpooledFile) else len(document)


def spooled(documents: Iterable[bytes | SpooledFile]) -> list[SpooledFile]:
    """Those of ``documents`` that are files in the spool (the others are bytes)."""
    return [d for d in documents if isinstance(d, SpooledFile)]


def discard(*files: SpooledFile | Path | None) -> None:
    """Remove spooled files (those already gone, or never made, are skipped)."""
    for file in files:
        if file is None:
            continue
        path = file.path if isinstance(file, SpooledFile) else file
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # Windows: a viewer or scanner holding it open
            log.warning("spool: %s not removed: %s", path.name, exc.strerror)


@contextlib.contextmanager
def _storing(path: Path) -> Iterator[None]:
    """An OS error on a spooled file as :class:`~agent.errors.StorageFailed`: a full disk, a
    data directory that cannot be written, told to the caller by a stable code rather than
    as an internal error (the log has the OS's words)."""
    try:
        yield
    except OSError as exc:
        raise StorageFailed(f"spool: {path.name}: {exc.strerror or exc!r}") from exc


def _write_all(descriptor: int, data: bytes) -> None:
    """All of ``data``: a regular file takes it whole, a full disk raises."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _create(path: Path) -> int:
    """A new private file, opened for writing (never one that exists)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, FILE_MODE)
