"""Sign PDFs of this computer and save each signed copy beside its original: the work behind
the tray's "Ký tệp PDF…".

The files go through the running agent's own signing service as the local caller
(``local://kyso-agent``): one file through ``sign_pdf`` (its question shows the page), several
through ``sign_pdf_batch``, one question and one PIN for them all, with the progress window and
its Stop. Every file is read and checked before the question; one that cannot be signed is
named and nothing is asked. A selection larger than one question may hold
(:data:`~agent.protocol.MAX_PDF_BATCH` files, ``max_pdf_bytes`` together) is signed in
consecutive parts, a question each; a part that does not end well (Stop, a refusal, a failure,
a copy that cannot be written) ends the selection.

Each signed copy is ``NAME-signed.pdf`` beside ``NAME.pdf`` (``NAME-signed-2.pdf`` … when
taken), written whole or not at all and never over an existing file
(:func:`agent.files.create_atomically`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from agent.errors import AgentError
from agent.files import create_atomically
from agent.messages import Lang, text
from agent.origin import LOCAL_CALLER
from agent.protocol import (
    MAX_PDF_BATCH,
    PdfBatchSignRequest,
    PdfSignRequest,
    parse_pdf_sign_request,
)
from agent.ui.sign_file import listed, signed_path

if TYPE_CHECKING:
    from agent.service import SigningService

log = logging.getLogger(__name__)

Run = Callable[[Callable[["SigningService"], Awaitable[Any]]], Any]
"""Runs a coroutine of the running agent's signing service and returns its result, from the
calling thread (:class:`~agent.errors.AgentError` when the agent is not running)."""

FILE_MODE: Final = 0o666
"""A signed copy is the user's document like its original: the umask decides who reads it."""
MAX_TRIES: Final = 100
"""Names tried for one signed copy when others take them first."""
LISTED: Final = 5
"""Names a notification lists; more are counted."""


@dataclass(frozen=True)
class Signing:
    """What became of the files chosen."""

    saved: tuple[Path, ...] = ()
    """The signed copies written, in the originals' order."""
    not_signed: tuple[Path, ...] = ()
    """Originals that got no signed copy."""
    reason: str | None = None
    """Why those have none, for the user (``None`` when every file was signed)."""

    def then(self, later: Signing) -> Signing:
        """This part followed by ``later``'s."""
        return Signing(
            self.saved + later.saved,
            self.not_signed + later.not_signed,
            self.reason or later.reason,
        )


def save_signed(original: Path, data: bytes) -> Path:
    """Write ``data`` beside ``original`` under the first free ``-signed`` name, whole or not
    at all, never over an existing file; the path written."""
    for _ in range(MAX_TRIES):
        target = signed_path(original)
        try:
            create_atomically(target, data, mode=FILE_MODE)
        except FileExistsError:
            continue  # taken since signed_path looked: the next free name
        return target
    raise FileExistsError(f"no free name for the signed copy of {original.name}")


def parts(sources: Sequence[Path], max_bytes: int) -> list[list[Path]]:
    """``sources`` in consecutive parts of at most :data:`MAX_PDF_BATCH` files and
    ``max_bytes`` together (by their size now; a larger file is a part alone)."""
    cut: list[list[Path]] = []
    size = 0
    for source in sources:
        try:
            length = source.stat().st_size
        except OSError:
            length = 0  # reading it will say why
        if not cut or len(cut[-1]) >= MAX_PDF_BATCH or size + length > max_bytes:
            cut.append([])
            size = 0
        cut[-1].append(source)
        size += length
    return cut


class LocalSigner:
    """Signs the files the user chose, as the local caller."""

    def __init__(self, run: Run, *, lang: Lang, tsa_url: str | None, max_pdf_bytes: int) -> None:
        """``tsa_url``: the time-stamping authority configured (a request's default);
        ``max_pdf_bytes``: the most one question signs together."""
        self._run = run
        self._lang = lang
        self._tsa_url = tsa_url
        self._max_pdf_bytes = max_pdf_bytes

    def sign(self, sources: Sequence[Path], profile: str) -> Signing:
        """Sign ``sources`` with the appearance ``profile``; what became of each."""
        done = Signing()
        for part in parts(sources, self._max_pdf_bytes):
            if done.reason is not None:
                done = done.then(Signing(not_signed=tuple(part)))
                continue
            done = done.then(self._part(part, profile, several=len(sources) > 1))
        return done

    def _part(self, sources: Sequence[Path], profile: str, *, several: bool) -> Signing:
        """One question for ``sources``."""
        requests: list[PdfSignRequest] = []
        for source in sources:
            try:
                request = self._request(source, profile)
                if len(sources) > 1:
                    # What sign_pdf_batch would refuse, file by file: the refusal names the file.
                    self._run(partial(_check, request=request))
            except AgentError as exc:
                reason = self._named(source, exc.public_message(self._lang), several)
                return Signing(not_signed=tuple(sources), reason=reason)
            except OSError as exc:
                reason = self._named(source, exc.strerror or str(exc), several)
                return Signing(not_signed=tuple(sources), reason=reason)
            requests.append(request)
        try:
            if len(requests) == 1:
                [request] = requests
                single = self._run(lambda service: service.sign_pdf(LOCAL_CALLER, request))
                signed, stopped, error = (single.pdf,), False, None
            else:
                batch = PdfBatchSignRequest(tuple(requests))
                done = self._run(lambda service: service.sign_pdf_batch(LOCAL_CALLER, batch))
                signed, stopped, error = done.signed_bytes(), done.stopped, done.error
        except AgentError as exc:
            return Signing(not_signed=tuple(sources), reason=exc.public_message(self._lang))
        saved: list[Path] = []
        for index, (source, pdf) in enumerate(zip(sources, signed, strict=False)):
            try:
                saved.append(save_signed(source, pdf))
            except OSError as exc:
                log.warning("the signed copy of %s was not saved: %s", source, exc)
                reason = self._named(source, exc.strerror or str(exc), several)
                lost = tuple(sources[index:])
                return Signing(tuple(saved), lost, reason)
        rest = tuple(sources[len(signed) :])
        if stopped:
            return Signing(tuple(saved), rest, text("tray_stopped", self._lang))
        if error is not None:
            return Signing(tuple(saved), rest, error.public_message(self._lang))
        return Signing(tuple(saved))

    def _request(self, source: Path, profile: str) -> PdfSignRequest:
        pdf = source.read_bytes()
        options = {"documentName": source.name, "appearance": {"profile": profile}}
        return parse_pdf_sign_request(options, pdf, self._tsa_url)

    def _named(self, source: Path, reason: str, several: bool) -> str:
        """``reason`` about ``source``, named when the user chose several files."""
        return (
            text("tray_file_refused", self._lang, name=source.name, reason=reason)
            if several
            else reason
        )


async def _check(service: SigningService, *, request: PdfSignRequest) -> None:
    await service.check_pdf(request)


def summary(done: Signing, chosen: int, lang: Lang) -> str:
    """The notification saying what was signed and saved, and what was not."""
    if chosen == 1:
        if done.saved:
            return text("tray_notify_signed", lang, path=str(done.saved[0]))
        return text("tray_notify_sign_failed", lang, reason=done.reason or "")
    if not done.saved:
        return text("tray_notify_signed_none", lang, reason=done.reason or "")
    names = listed([p.name for p in done.saved], lang, LISTED)
    if not done.not_signed:
        return text("tray_notify_signed_files", lang, count=len(done.saved), names=names)
    return text(
        "tray_notify_signed_some",
        lang,
        count=len(done.saved),
        total=chosen,
        names=names,
        missing=listed([p.name for p in done.not_signed], lang, LISTED),
        reason=done.reason or "",
    )
