"""SignFile with several files: one question and one PIN for the list.

The files are fetched and checked first (every one, before anyone is asked; together at most
``max_pdf_bytes``), then :meth:`~agent.service.SigningService.sign_pdf_batch` asks once,
listing every file, and signs them in order with their progress shown; each signed file is
then uploaded to ``FileUploadHandler`` as a single file is. Each file gets its own result in the
reply's ``Files``, with the statuses of :class:`~agent.compat.vgca.protocol.Status`:

* signed and uploaded: ``OK``; signed but not uploaded: ``UPLOAD_FAILED``, the file kept;
* refused before the question (it cannot be fetched, is too large, cannot be signed): that
  file's own status, and ``NOT_ATTEMPTED`` for the others, none of which is signed;
* the question refused (cancel, no token …): each file of the list gets that status;
* the user pressed Stop: the files not signed get ``USER_CANCELLED``;
* signing one file failed after others were signed: that file's status, ``NOT_ATTEMPTED``
  after it.

The question shows one origin the documents come from: files of several origins are signed in
runs of consecutive files of one origin, a question each; the first run that does not end
well ends the list.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from agent.compat.vgca.protocol import FileRef, FilesCall, Reply, Status, name_from_url, status_for
from agent.compat.vgca.transfer import FileTooLarge, TransferError, Transfers
from agent.errors import AgentError
from agent.messages import Lang, text
from agent.origin import Admitted
from agent.pdf.models import PdfSignOptions
from agent.protocol import PdfBatchSignRequest, PdfSignRequest
from agent.service import SigningService

log = logging.getLogger(__name__)


class FileList:
    """Signs the files of one SignFile call that names several."""

    def __init__(
        self,
        service: SigningService,
        transfers: Transfers,
        *,
        lang: Lang,
        max_pdf_bytes: int,
        options: PdfSignOptions,
        sign_alone: Callable[[FileRef], Awaitable[Reply]],
        transfer_failure: Callable[[TransferError], Reply],
    ) -> None:
        """``options``: how every file is signed. ``sign_alone``: a file alone in its run,
        signed as a single file (its question shows the page). ``transfer_failure``: the reply
        to a failed download or upload, as every VGCA call words it."""
        self._service = service
        self._transfers = transfers
        self._lang = lang
        self._max_pdf_bytes = max_pdf_bytes
        self._options = options
        self._sign_alone = sign_alone
        self._transfer_failure = transfer_failure

    async def sign(self, call: FilesCall, caller: Admitted) -> list[Reply]:
        """Each file's reply, in the list's order (every URL already checked)."""
        replies: list[Reply] = []
        ending: Reply | None = None
        runs = _runs(call.files, lambda ref: self._transfers.other_origin(ref.url, caller))
        for source, refs in runs:
            if ending is not None:
                replies += [ending] * len(refs)
                continue
            stopped = False
            if len(refs) == 1:
                done = [await self._sign_alone(refs[0])]
            else:
                done, stopped = await self._batch(refs, call, source, caller)
            replies += done
            if any(reply.status is not Status.OK for reply in done):
                ending = self._stopped() if stopped else self._not_attempted()
        return replies

    async def _batch(
        self, refs: Sequence[FileRef], call: FilesCall, source: str | None, caller: Admitted
    ) -> tuple[list[Reply], bool]:
        """One run: fetch and check, ask once, sign, upload; each file's reply, and whether the
        user pressed Stop."""
        names = [ref.name or name_from_url(ref.url) for ref in refs]
        requests: list[PdfSignRequest] = []
        room = self._max_pdf_bytes
        for index, ref in enumerate(refs):
            try:
                pdf = await self._transfers.download(
                    ref.url, caller, call.delivery.jwt_token, limit=room
                )
                request = PdfSignRequest(pdf, self._options, document_name=names[index])
                # What sign_pdf_batch would refuse, file by file: the refusal names the file.
                await self._service.check_pdf(request)
            except FileTooLarge as exc:
                if exc.limit < self._max_pdf_bytes:  # the room left by the files before it
                    message = text("vgca_files_too_large", self._lang, limit=self._max_pdf_bytes)
                    refusal = Reply(Status.FILE_TOO_LARGE, message)
                else:
                    refusal = self._transfer_failure(exc)
                return self._refused(index, refusal, refs, names), False
            except TransferError as exc:
                return self._refused(index, self._transfer_failure(exc), refs, names), False
            except AgentError as exc:
                log.info("vgca SignFile from %s: file %d refused: %s", caller, index, exc.detail)
                refusal = Reply(status_for(exc.code), exc.public_message(self._lang))
                return self._refused(index, refusal, refs, names), False
            room -= len(pdf)
            requests.append(request)
        try:
            done = await self._service.sign_pdf_batch(
                caller,
                PdfBatchSignRequest(tuple(requests)),
                source=source,
                destination=self._transfers.other_origin(call.delivery.upload_url, caller),
            )
        except AgentError as exc:
            # Nothing signed: the one question covered every file, so its answer is each one's.
            log.info("vgca SignFile from %s: %s %s", caller, exc.code.value, exc.detail)
            return [Reply(status_for(exc.code), exc.public_message(self._lang))] * len(refs), False
        replies = await self._deliver(done.signed_bytes(), names, call, caller)
        if done.stopped:
            replies += [self._stopped()] * (len(refs) - len(replies))
        elif done.error is not None:
            error = done.error
            replies.append(Reply(status_for(error.code), error.public_message(self._lang)))
            replies += [self._not_attempted()] * (len(refs) - len(replies))
        return replies, done.stopped

    async def _deliver(
        self,
        signed: Sequence[bytes],
        names: Sequence[str | None],
        call: FilesCall,
        caller: Admitted,
    ) -> list[Reply]:
        """Upload each signed file in order. After an upload that failed (retried once), the
        files after it are kept in the pending directory without trying: the handler that just
        failed would most likely fail again, and each try can take minutes."""
        replies: list[Reply] = []
        failed: str | None = None
        for pdf, name in zip(signed, names, strict=False):
            shown = name or "signed.pdf"
            if failed is not None:
                kept = await self._transfers.keep_unsent(pdf, shown)
                message = text("vgca_upload_skipped", self._lang, name=failed, kept=kept)
                replies.append(Reply(Status.UPLOAD_FAILED, message, extra={"SavedFile": kept}))
                continue
            try:
                answer = await self._transfers.deliver(pdf, shown, call.delivery, caller)
            except TransferError as exc:
                replies.append(self._transfer_failure(exc))
                failed = shown
                continue
            replies.append(
                Reply(
                    Status.OK,
                    answer.message,
                    file_name=answer.file_name,
                    file_server=answer.file_server,
                )
            )
        return replies

    def _refused(
        self, index: int, refusal: Reply, refs: Sequence[FileRef], names: Sequence[str | None]
    ) -> list[Reply]:
        """A run refused before its question because of file ``index``: that file says why,
        the others that none was signed because of it."""
        why = text("vgca_not_signed_with", self._lang, name=names[index] or refs[index].url)
        others = Reply(Status.NOT_ATTEMPTED, why)
        return [refusal if i == index else others for i in range(len(refs))]

    def _stopped(self) -> Reply:
        """A file not signed because the user pressed Stop: ``USER_CANCELLED``, the status of a
        cancel (the user's own decision, not a failure of this file or of another)."""
        return Reply(Status.USER_CANCELLED, text("vgca_file_stopped", self._lang))

    def _not_attempted(self) -> Reply:
        return Reply(Status.NOT_ATTEMPTED, text("vgca_not_attempted", self._lang))


def _runs(
    refs: Sequence[FileRef], origin: Callable[[FileRef], str | None]
) -> list[tuple[str | None, list[FileRef]]]:
    """``refs`` cut into runs of consecutive files of one origin (``None``: the page's)."""
    runs: list[tuple[str | None, list[FileRef]]] = []
    for ref in refs:
        where = origin(ref)
        if runs and runs[-1][0] == where:
            runs[-1][1].append(ref)
        else:
            runs.append((where, [ref]))
    return runs
