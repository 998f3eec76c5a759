"""Downloads and uploads on behalf of a page, without becoming its proxy (no SSRF).

A URL is fetched only when it is ``http(s)``, carries no credentials, and its origin
is the requesting page's own or one the allow-list admits: a page cannot make the
agent reach the intranet, other loopback ports or ``file:``. Every URL of a request is
checked before the first byte is sent anywhere. Redirects are followed (downloads
only, at most :data:`MAX_REDIRECTS`) after checking each hop the same way. Sizes and
times are bounded; no cookies are kept; proxies from the environment are not used. The HTTP
client is made by the first transfer, with a TLS context of its own that trusts the system's
CAs (aiohttp's default trusts none in the agent: :mod:`agent.server.client_contexts`).

A signed file is written to ``DATA_DIR/vgca/pending`` before its upload and deleted
only once the upload handler accepted it; a failed upload is retried once (network
errors, timeouts and 5xx answers), and the kept file is reported. A file there is
whole: it is written under a hidden ``.….part`` name, synced to disk, then renamed, so
a crash (``kill -9``, power loss) leaves either a complete signed PDF or a ``.part``
file, which the next start of the agent removes (:mod:`agent.compat.vgca.server`). There is no
separate metadata file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
from yarl import URL

from agent.compat.vgca.protocol import Delivery, Status
from agent.compat.vgca.settings import TransferLimits, pending_dir
from agent.files import write_atomically
from agent.origin import Admitted, InvalidOrigin, OriginPolicy, parse_origin

log = logging.getLogger(__name__)

MAX_REDIRECTS: Final = 3
MAX_REPLY_BYTES: Final = 64 * 1024
"""Largest answer read from an upload handler."""
_CHUNK: Final = 256 * 1024
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


class TransferError(Exception):
    """A download or upload did not happen or failed. ``detail`` goes to the log and,
    being about the portal's own URLs, into the reply's message."""

    status: Status = Status.DOWNLOAD_FAILED

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UrlNotAllowed(TransferError):
    """The URL is not the page's origin nor allowed; nothing was sent to it."""

    status = Status.URL_NOT_ALLOWED

    def __init__(self, detail: str, origin: str) -> None:
        super().__init__(detail)
        self.origin = origin


class DownloadFailed(TransferError):
    """The source file could not be fetched."""

    status = Status.DOWNLOAD_FAILED


class FileTooLarge(TransferError):
    """The source file is larger than ``max_pdf_bytes``."""

    status = Status.FILE_TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class UploadFailed(TransferError):
    """The signed file could not be delivered; it is kept in ``kept``."""

    status = Status.UPLOAD_FAILED

    def __init__(self, detail: str, kept: Path, shown: str) -> None:
        super().__init__(detail)
        self.kept = kept
        self.shown = shown
        """``kept`` relative to the data directory (what the page is told)."""


@dataclass(frozen=True)
class UploadAnswer:
    """What the upload handler answered to a successful upload."""

    file_name: Any
    """Its ``FileName``, untouched."""
    file_server: Any
    """Its ``FileServer``, untouched."""
    message: str
    """Its ``Message``, if a string."""


def check_url(
    text: str,
    caller: Admitted,
    policy: OriginPolicy,
    allow_pairing: bool = True,
    *,
    own_origin_only: bool = False,
    is_paired: Callable[[str], bool] = lambda _origin: False,
) -> URL:
    """The parsed URL if the agent may fetch it for ``caller``; else :class:`UrlNotAllowed`.

    ``own_origin_only``: only the page's own origin (a fetch no question will follow, whose
    result the page sees: another origin's document would be read across origins).

    The URL object returned is the one to request, so that the origin checked is the
    origin reached (no second parser to disagree with this one).
    """
    try:
        url = URL(text)
    except (ValueError, TypeError) as exc:
        raise UrlNotAllowed(f"not a URL: {text[:100]!r}", "?") from exc
    if url.scheme not in ("http", "https") or not url.absolute or not url.raw_host:
        raise UrlNotAllowed(f"not an http(s) URL: {text[:100]!r}", url.scheme or "?")
    if url.user is not None or url.password is not None:
        raise UrlNotAllowed("URLs with credentials are refused", f"{url.scheme}://…")
    host = url.raw_host
    if ":" in host:
        host = f"[{host}]"
    shown = f"{url.scheme}://{host}:{url.port}"
    try:
        origin = parse_origin(shown)
    except InvalidOrigin as exc:
        raise UrlNotAllowed(f"{shown} is not a usable origin", shown) from exc
    if origin == caller.origin:
        return url
    if own_origin_only:
        raise UrlNotAllowed(f"{origin} is not the page's origin ({caller})", str(origin))
    decision = policy.check(str(origin))
    # Another origin is asked nothing: admitted through a wildcard entry, it must be one the
    # user paired already (a made-up subdomain could otherwise receive the signed file).
    if decision.allowed and (
        not decision.via_wildcard or (allow_pairing and is_paired(str(origin)))
    ):
        return url
    raise UrlNotAllowed(
        f"{origin} is neither the page's origin ({caller}) nor allowed and paired", str(origin)
    )


def _bearer(jwt_token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt_token}"} if jwt_token else {}


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^\w.-]+", "_", name, flags=re.UNICODE).strip("._")[:100] or "signed"
    return stem if stem.lower().endswith(".pdf") else f"{stem}.pdf"


MAX_UPLOAD_NAME: Final = 150
_NOT_IN_UPLOAD_NAME: Final = re.compile(r'[\x00-\x1f\x7f"\\/<>:|?*]')
"""Characters the upload's filename does without: ``"`` ends ASP.NET's value and ``\\``
escapes in PHP's; PHP keeps what follows the last ``/`` or ``\\``; control characters break
the header line; ``<>:|?*`` cannot be in a Windows file name, where the portal saves it."""


def upload_name(name: str) -> str:
    """The filename sent to the upload handler: the document's own name, Vietnamese letters and
    spaces as they are (``Quyết định 123.pdf``), ending in ``.pdf``.

    Sent as raw UTF-8 in ``filename="…"``, as browsers send it: ASP.NET's
    ``HttpPostedFile.FileName`` and PHP's ``$_FILES[…]['name']`` both read it back unchanged
    (``docs/vgca-compat.md``, *The upload*), so only what either would misread is replaced.
    """
    cleaned = _NOT_IN_UPLOAD_NAME.sub("_", name)
    stem, dot, suffix = cleaned.rpartition(".")
    if not (dot and suffix.strip().lower() == "pdf"):
        stem = cleaned
    stem = stem.strip(" .")[: MAX_UPLOAD_NAME - 4].rstrip(" .") or "signed"
    return f"{stem}.pdf"


def keep_signed(directory: Path, data: bytes, name: str) -> Path:
    """Write a signed file to ``directory`` (private to the user), whole or not at all.

    The name is unique (time and a random part) and ends with the page's file name.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{stamp}-{secrets.token_hex(3)}-{_safe_name(name)}"
    write_atomically(path, data)
    return path


class Transfers:
    """Downloads and uploads for one page, under the rules above.

    Made by the layer's first message (:mod:`agent.compat.vgca.server`, which removes what a
    crash left half-written when the agent starts). Its HTTP client comes with the first
    transfer and goes with :meth:`close`.
    """

    def __init__(
        self,
        policy: OriginPolicy,
        limits: TransferLimits,
        data_dir: Path,
        *,
        allow_pairing: bool = True,
        is_paired: Callable[[str], bool] = lambda _origin: False,
    ) -> None:
        """``is_paired``: whether the user has paired an origin (another origin a file comes
        from or goes to, admitted only by a wildcard entry, must have been)."""
        self._session: aiohttp.ClientSession | None = None
        self._opening = asyncio.Lock()
        self._policy = policy
        self._limits = limits
        self._data_dir = data_dir
        self._allow_pairing = allow_pairing
        self._is_paired = is_paired

    async def _client(self) -> aiohttp.ClientSession:
        """The HTTP client, made on the first call: no cookie jar, no proxies from the
        environment, and its own TLS context with the system's CAs (read from disk, hence on a
        thread; made here rather than at start, since most agents never transfer a file)."""
        async with self._opening:
            if self._session is None:
                context = await asyncio.to_thread(ssl.create_default_context)
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=context),
                    cookie_jar=aiohttp.DummyCookieJar(),
                    trust_env=False,
                )
            return self._session

    async def close(self) -> None:
        """Close the HTTP client, if a transfer made one."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def pending_dir(self) -> Path:
        """Where signed files wait for their upload."""
        return pending_dir(self._data_dir)

    def check(self, url: str, caller: Admitted, *, own_origin_only: bool = False) -> URL:
        """:func:`check_url` with this agent's allow-list."""
        return check_url(
            url,
            caller,
            self._policy,
            self._allow_pairing,
            own_origin_only=own_origin_only,
            is_paired=self._is_paired,
        )

    def other_origin(self, url: str, caller: Admitted) -> str | None:
        """The origin of ``url`` when it is not the page's own (``url`` checked as above)."""
        target = str(self.check(url, caller).origin())
        return None if target == str(caller.origin) else target

    def _timeout(self) -> aiohttp.ClientTimeout:
        limits = self._limits
        return aiohttp.ClientTimeout(
            total=limits.total_timeout,
            connect=limits.connect_timeout,
            sock_read=limits.read_timeout,
        )

    async def download(
        self,
        url: str,
        caller: Admitted,
        jwt_token: str | None = None,
        *,
        own_origin_only: bool = False,
        limit: int | None = None,
    ) -> bytes:
        """The file at ``url``, at most ``max_bytes`` (or ``limit``, when smaller: what is left
        of a list's room); each redirect hop is checked (``own_origin_only``: see
        :func:`check_url`)."""
        target = self.check(url, caller, own_origin_only=own_origin_only)
        limit = self._limits.max_bytes if limit is None else min(limit, self._limits.max_bytes)
        # The page's credential is for the origin it named: a redirect elsewhere (even to
        # another admitted origin) gets no Authorization header, on that hop or any later one.
        credential_origin = target.origin()
        session = await self._client()
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                if target.origin() != credential_origin:
                    jwt_token = None
                async with session.get(
                    target,
                    headers=_bearer(jwt_token),
                    allow_redirects=False,
                    timeout=self._timeout(),
                ) as response:
                    if response.status in _REDIRECTS:
                        location = response.headers.get("Location")
                        if not location:
                            raise DownloadFailed(f"HTTP {response.status} without Location")
                        target = self.check(
                            str(target.join(URL(location))),
                            caller,
                            own_origin_only=own_origin_only,
                        )
                        continue
                    if response.status != 200:
                        raise DownloadFailed(f"HTTP {response.status} from {target.origin()}")
                    if response.content_length is not None and response.content_length > limit:
                        raise FileTooLarge(limit)
                    return await self._read(response, limit)
            raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DownloadFailed(f"{type(exc).__name__} from {target.origin()}") from exc

    @staticmethod
    async def _read(response: aiohttp.ClientResponse, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise FileTooLarge(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def keep(self, data: bytes, name: str) -> Path:
        """Write a signed file to the pending directory (:func:`keep_signed`)."""
        return keep_signed(self.pending_dir, data, name)

    async def keep_unsent(self, data: bytes, name: str) -> str:
        """Keep a signed file that will not be uploaded now (an earlier upload of its list
        failed); the kept file relative to the data directory, as the page is told."""
        kept = await asyncio.to_thread(self.keep, data, name)
        log.error("signed file kept at %s: not uploaded after an earlier upload failed", kept)
        return kept.relative_to(self._data_dir).as_posix()

    async def deliver(
        self, data: bytes, name: str, delivery: Delivery, caller: Admitted
    ) -> UploadAnswer:
        """Keep the signed file, upload it (one retry), and forget it once accepted.

        :raises UploadFailed: after the retry; the file stays in :attr:`pending_dir`.
        """
        target = self.check(delivery.upload_url, caller)
        kept = await asyncio.to_thread(self.keep, data, name)
        shown = kept.relative_to(self._data_dir).as_posix()
        failure = ""
        for attempt in (1, 2):
            try:
                answer = await self._upload(target, data, upload_name(name), delivery)
            except _Retryable as exc:
                failure = exc.detail
                log.warning(
                    "upload to %s failed (attempt %d): %s", target.origin(), attempt, failure
                )
                if attempt == 1:
                    await asyncio.sleep(self._limits.retry_delay)
                continue
            except TransferError as exc:
                failure = exc.detail
                log.warning("upload to %s refused: %s", target.origin(), failure)
                break
            kept.unlink(missing_ok=True)
            return answer
        log.error("signed file kept at %s: its upload failed (%s)", kept, failure)
        raise UploadFailed(failure, kept, shown)

    async def _upload(
        self, target: URL, data: bytes, filename: str, delivery: Delivery
    ) -> UploadAnswer:
        # Raw UTF-8 names, as browsers send them: aiohttp's default would percent-encode the
        # filename, and no upload handler decodes that (upload_name removed what needs quoting).
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("uploadfile", data, filename=filename, content_type="application/pdf")
        if delivery.session_id is not None:  # "" included: the handler reads the field
            form.add_field("SessionId", delivery.session_id)
        for item in delivery.metadata:
            form.add_field(item.key, item.value)
        session = await self._client()
        try:
            async with session.post(
                target,
                data=form,
                headers=_bearer(delivery.jwt_token),
                allow_redirects=False,
                timeout=self._timeout(),
            ) as response:
                if response.status >= 500:
                    raise _Retryable(f"HTTP {response.status}")
                if response.status != 200:
                    raise TransferError(f"HTTP {response.status}")
                body = await response.content.read(MAX_REPLY_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}"[:200]) from exc
        return _answer(body)


class _Retryable(TransferError):
    """A failure worth one more try: the network, a timeout, a 5xx."""


def _answer(body: bytes) -> UploadAnswer:
    """The handler's ``{Status, Message, FileName, FileServer}``; success is ``Status: true``
    or ``Status: 0``."""
    if len(body) > MAX_REPLY_BYTES:
        raise TransferError("the upload handler's answer is too large")
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise TransferError("the upload handler did not answer JSON") from exc
    if not isinstance(answer, dict):
        raise TransferError("the upload handler did not answer a JSON object")
    status = answer.get("Status")
    ok = status is True or (isinstance(status, int) and not isinstance(status, bool) and not status)
    message = answer.get("Message")
    message = message if isinstance(message, str) else ""
    if not ok:
        raise TransferError(f"the upload handler refused the file: {message[:200]}".rstrip(": "))
    return UploadAnswer(answer.get("FileName", ""), answer.get("FileServer", ""), message)
