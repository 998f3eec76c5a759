"""Thin handlers: read and parse the body, call the service, write JSON.

``POST /v1/pdf/sign`` also takes the PDF as a file (a form's ``file`` part, or the whole body as
``application/pdf``): it is written to the spool as it arrives and the signed file is answered
from the spool, so that a 100 MB document is never held in memory (:mod:`agent.spool`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from importlib import resources
from typing import Any, Final, TypeAlias, TypeVar

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import BadHttpMessage

from agent.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from agent.messages import Phrase, pick_lang
from agent.protocol import (
    PdfBatchSignRequest,
    PdfBatchSignResponse,
    PdfSignRequest,
    PdfSignResponse,
    PdfVerifyRequest,
    check_pdf_sign_options,
    check_pdf_verify_options,
    decode_json_object,
    parse_batch_sign_request,
    parse_certificates_request,
    parse_cms_sign_request,
    parse_pdf_batch_sign_request,
    parse_pdf_sign_request,
    parse_pdf_verify_request,
    parse_sign_request,
    parse_xml_batch_sign_request,
    parse_xml_sign_request,
    parse_xml_verify_request,
)
from agent.quality import quality_values
from agent.server import pieces
from agent.server.connections import ConnectionLimits
from agent.server.keys import BODY_SECONDS, CALLER, SERVICE, SETTINGS, SPOOL
from agent.server.middlewares import CERTIFICATE_HEADER, headers_before_sending, json_response
from agent.spool import Spool, SpooledFile, discard, read_chunks, size_of, spooled

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
T = TypeVar("T")
_CHUNK = 256 * 1024


async def read_limited(stream: web.Request | BodyPartReader, limit: int, shown_limit: int) -> bytes:
    """Read a body or a multipart part, refusing it as soon as it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = (
            await stream.content.read(_CHUNK)
            if isinstance(stream, web.Request)
            else await stream.read_chunk(_CHUNK)
        )
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(shown_limit)
        chunks.append(chunk)


async def _json_body(request: web.Request, limit: int, shown: int) -> bytes:
    """The raw JSON body, after media-type and size checks."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType(f"Content-Type {request.content_type!r}")
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(shown)
    async with body_deadline(request):
        return await read_limited(request, limit, shown)


@contextlib.asynccontextmanager
async def body_deadline(request: web.Request) -> AsyncIterator[None]:
    """A body that trickles in holds a connection and its buffers: it gets a deadline
    (:attr:`~agent.server.connections.ConnectionLimits.body_seconds`), then it is refused.

    A body cut off by the client going away is refused too, as the caller's doing (aiohttp
    fails the read with the connection's error): nobody reads the answer, and the log says what
    happened without a traceback.
    """
    seconds = request.app.get(BODY_SECONDS, ConnectionLimits.body_seconds)
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise BadRequest(Phrase.of("bad_body_timeout", seconds=f"{seconds:g}")) from None
    except ConnectionError as exc:
        raise BadRequest(Phrase.of("bad_body_incomplete")) from exc


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, within the ordinary body limit."""
    limit = request.app[SETTINGS].max_body_bytes
    return decode_json_object(await _json_body(request, limit, limit))


def _pdf_json_limit(request: web.Request) -> tuple[int, int]:
    """The body limit of the PDF and XML routes, and the document limit the caller is told."""
    settings = request.app[SETTINGS]
    return settings.largest_request, settings.max_pdf_bytes


_MAX_OPTIONS: Final = 4 * 1024 * 1024
"""Largest ``options`` part of a form (room for a stamp image in base64)."""
_FORM_OVERHEAD: Final = 64 * 1024
"""Room in a form's ``Content-Length`` for its boundaries and part headers."""
MAX_QUERY_OPTIONS: Final = 4096
"""Longest ``options`` query parameter of a raw PDF body, decoded (the request line as a whole
stays within aiohttp's 8 KiB; a stamp image goes in a form)."""
PDF_MEDIA_TYPE: Final = "application/pdf"
"""A raw PDF body, and the answer to one: the signed PDF itself."""
_FORM_MEDIA_TYPE: Final = "multipart/form-data"
_BASE64_PIECE: Final = pieces.PIECE * 3 // 4
"""Bytes of a spooled PDF base64-encoded at a time (a piece once encoded): a multiple of 3, so
the pieces join."""


OptionsCheck: TypeAlias = Callable[[dict[str, Any]], None]
"""What a route refuses in a form's or a raw body's options, run before the document is read
(:func:`agent.protocol.check_pdf_sign_options`, ``check_pdf_verify_options``)."""


async def _read_pdf_form(
    request: web.Request, spool: Spool, check: OptionsCheck
) -> tuple[dict[str, Any], SpooledFile]:
    """``multipart/form-data`` with a ``file`` part (the PDF, spooled as it arrives) and an
    ``options`` JSON part, ``check``-ed as soon as it is read (before the file, when it comes
    first, as browsers send a form's parts in the order they were appended); on any failure,
    nothing is left in the spool."""
    limit = request.app[SETTINGS].max_pdf_bytes
    if (request.content_length or 0) > limit + _MAX_OPTIONS + _FORM_OVERHEAD:
        raise PayloadTooLarge(limit)
    try:
        async with body_deadline(request):
            return await _read_form_parts(request, spool, limit, check)
    except (ValueError, BadHttpMessage) as exc:  # aiohttp's multipart parser on a broken body
        # What the parser said is for the developer reading the log, in English.
        log.info("malformed multipart/form-data body on %s: %s", request.path, exc)
        raise BadRequest(Phrase.of("bad_multipart")) from exc


async def _read_form_parts(
    request: web.Request, spool: Spool, pdf_limit: int, check: OptionsCheck
) -> tuple[dict[str, Any], SpooledFile]:
    reader = await request.multipart()
    options: dict[str, Any] | None = None
    pdf: SpooledFile | None = None
    with contextlib.ExitStack() as on_failure:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadRequest(Phrase.of("bad_multipart_nested"))
            if part.name == "file" and pdf is None:
                pdf = await spool.receive(_part_chunks(part), pdf_limit, pdf_limit)
                # Until it is handed over: a part after it refused, the client gone.
                on_failure.callback(discard, pdf)
            elif part.name == "options" and options is None:
                options = decode_json_object(await read_limited(part, _MAX_OPTIONS, _MAX_OPTIONS))
                check(options)
            else:
                raise BadRequest(Phrase.of("bad_form_part", part=repr(part.name)))
        if pdf is None:
            raise BadRequest(Phrase.of("bad_form_no_file"))
        on_failure.pop_all()  # the caller's now
    return options or {}, pdf


_FORM_PIECE: Final = 128 * 1024
"""Bytes of a form's file part read at a time. aiohttp's parser joins each piece with the one
before to find the boundary; pieces this size keep that copy in the CPU's cache (a 20 MB form:
77-87 ms of the agent's CPU against 88-93 ms with 256 KiB, three runs each)."""


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(_FORM_PIECE):
        yield chunk


async def _read_raw_pdf(
    request: web.Request, spool: Spool, check: OptionsCheck
) -> tuple[dict[str, Any], SpooledFile]:
    """An ``application/pdf`` body, spooled as it arrives, with its options from the query,
    ``check``-ed before the body is read."""
    options = _query_options(request)
    check(options)
    limit = request.app[SETTINGS].max_pdf_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)
    async with body_deadline(request):
        pdf = await spool.receive(request.content.iter_chunked(_CHUNK), limit, limit)
    return options, pdf


def _query_options(request: web.Request) -> dict[str, Any]:
    """The ``options`` query parameter: one URL-encoded JSON object, the form's ``options``."""
    unknown = sorted(request.query.keys() - {"options"})
    if unknown:
        raise BadRequest(Phrase.of("bad_query_parameter", name=repr(unknown[0])))
    given = request.query.getall("options", [])
    if not given:
        return {}
    if len(given) > 1:
        raise BadRequest(Phrase.of("bad_query_parameter", name="'options'"))
    [text] = given
    if len(text) > MAX_QUERY_OPTIONS:
        raise BadRequest(Phrase.of("bad_query_options_size", limit=MAX_QUERY_OPTIONS))
    try:
        options = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(Phrase.of("bad_query_options")) from exc
    if not isinstance(options, dict):
        raise BadRequest(Phrase.of("bad_query_options"))
    return options


@routes.get("/v1/info")
async def info(_request: web.Request) -> web.Response:
    """Product and API version; nothing about the token or the user."""
    return json_response(_request.app[SERVICE].info())


@routes.get("/v1/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    """The API description."""
    spec = resources.files("agent.server").joinpath("openapi.json").read_text("utf-8")
    return web.Response(text=spec, content_type="application/json")


@routes.post("/v1/certificates")
async def certificates(request: web.Request) -> web.Response:
    """The user picks a certificate to give the portal."""
    parsed = parse_certificates_request(await read_json(request))
    result = await request.app[SERVICE].select_certificate(request[CALLER], parsed)
    return json_response(result.to_wire())


@routes.post("/v1/sign")
async def sign(request: web.Request) -> web.Response:
    """Sign one precomputed hash."""
    parsed = parse_sign_request(await read_json(request))
    result = await request.app[SERVICE].sign(request[CALLER], parsed)
    return json_response(result.to_wire())


@routes.post("/v1/sign/batch")
async def sign_batch(request: web.Request) -> web.Response:
    """Sign many hashes after one consent and one login."""
    parsed = parse_batch_sign_request(await read_json(request))
    result = await request.app[SERVICE].sign_batch(request[CALLER], parsed)
    return json_response(result.to_wire())


@routes.post("/v1/pdf/sign")
async def pdf_sign(request: web.Request) -> web.StreamResponse:
    """Sign a whole PDF (PAdES): JSON with base64; or, through the spool, a browser form or
    the PDF itself as the body (answered as itself, the certificate in a header, as is any
    request whose ``Accept`` asks for ``application/pdf``)."""
    if request.content_type not in {_FORM_MEDIA_TYPE, PDF_MEDIA_TYPE}:
        return await _pdf_sign_json(request)
    raw = request.content_type == PDF_MEDIA_TYPE
    spool = request.app[SPOOL]
    upload: SpooledFile | None = None
    result: PdfSignResponse | None = None
    try:
        read = _read_raw_pdf if raw else _read_pdf_form
        check = functools.partial(check_pdf_sign_options, default_tsa=request.app[SETTINGS].tsa_url)
        options, upload = await read(request, spool, check)
        parsed = parse_pdf_sign_request(options, upload, request.app[SETTINGS].tsa_url)
        result = await request.app[SERVICE].sign_pdf(request[CALLER], parsed)
        return await _send_signed(request, result, as_pdf=raw or wants_pdf(request))
    finally:
        # The request's files go with it, however it ends: answered, refused, or the client
        # gone (the answer's write failed, or the handler was cancelled as the server stopped).
        signed = result.pdf if result is not None else None
        discard(upload, signed if isinstance(signed, SpooledFile) else None)


async def _pdf_sign_json(request: web.Request) -> web.StreamResponse:
    # The document goes to the spool too, and the answer is streamed from there: aiohttp keeps
    # a connection's last request and answer until its next one, which would hold tens of
    # megabytes of base64 for as long as the portal keeps the connection open.
    parsed = await _spooled_json(request)
    upload = parsed.pdf if isinstance(parsed.pdf, SpooledFile) else None
    result: PdfSignResponse | None = None
    try:
        result = await request.app[SERVICE].sign_pdf(request[CALLER], parsed)
        return await _send_signed(request, result, as_pdf=wants_pdf(request))
    finally:
        signed = result.pdf if result is not None else None
        discard(upload, signed if isinstance(signed, SpooledFile) else None)


async def _spooled_json(request: web.Request) -> PdfSignRequest:
    """The JSON form of ``/v1/pdf/sign``, its document written to the spool (the body and its
    base64 are freed when this returns, before anyone is asked)."""
    default_tsa = request.app[SETTINGS].tsa_url
    parsed = await _parsed_json(request, lambda obj: parse_pdf_sign_request(obj, None, default_tsa))
    pdf = parsed.pdf
    if isinstance(pdf, SpooledFile):  # pragma: no cover - JSON carries bytes
        return parsed
    _within_document_limit(request, len(pdf))
    return dataclasses.replace(parsed, pdf=await request.app[SPOOL].from_bytes(pdf))


def wants_pdf(request: web.Request) -> bool:
    """Whether the request's ``Accept`` asks for the signed PDF itself rather than JSON.

    It does when it names ``application/pdf`` with a weight above zero and ``application/json``
    with none higher. ``*/*`` (a browser's default) and no header keep the documented JSON, so
    only a page that asks gets the other shape; a raw PDF body is always answered as a PDF.
    """
    weights: dict[str, float] = {}
    for media_type, quality in quality_values(",".join(request.headers.getall(hdrs.ACCEPT, ()))):
        weights[media_type] = max(quality, weights.get(media_type, 0.0))
    pdf = weights.get(PDF_MEDIA_TYPE, 0.0)
    return pdf > 0 and pdf >= weights.get("application/json", 0.0)


async def _send_signed(
    request: web.Request, result: PdfSignResponse, *, as_pdf: bool
) -> web.StreamResponse:
    """The signed PDF: as itself (the certificate in
    :data:`~agent.server.middlewares.CERTIFICATE_HEADER`) to a raw body or an ``Accept`` that
    asks for it (:func:`wants_pdf`), else the JSON of
    :meth:`~agent.protocol.PdfSignResponse.to_wire`; from the spool a piece at a time."""
    certificate = base64.b64encode(result.certificate).decode("ascii")
    if not isinstance(result.pdf, SpooledFile):  # a service without a spool answers in memory
        if as_pdf:
            return web.Response(
                body=result.pdf,
                content_type=PDF_MEDIA_TYPE,
                headers={CERTIFICATE_HEADER: certificate},
            )
        answer = await asyncio.to_thread(result.to_json_bytes)
        return web.Response(body=answer, content_type="application/json", charset="utf-8")
    signed = result.pdf
    if as_pdf:
        return await send_file(request, signed, PDF_MEDIA_TYPE, {CERTIFICATE_HEADER: certificate})
    response = web.StreamResponse()
    response.content_type = "application/json"
    response.charset = "utf-8"
    # The bytes of PdfSignResponse.to_json_bytes, with the PDF's base64 written in pieces.
    head = b'{"pdf": "'
    tail = b'", "certificate": "' + certificate.encode("ascii") + b'"}'
    response.content_length = len(head) + _base64_size(signed.size) + len(tail)
    async with contextlib.aclosing(read_chunks(signed, _BASE64_PIECE, base64.b64encode)) as body:
        return await _stream(request, response, head, body, tail)


def _base64_size(size: int) -> int:
    """Characters of the base64 of ``size`` bytes."""
    return 4 * -(-size // 3)


async def send_file(
    request: web.Request,
    file: SpooledFile,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """``file`` as the whole answer, sent from the spool a piece at a time (its ``Content-Length``
    known), with ``headers`` and those the middlewares would add."""
    response = web.StreamResponse(headers=headers)
    response.content_type = content_type
    response.content_length = file.size
    async with contextlib.aclosing(read_chunks(file, pieces.PIECE)) as body:
        return await _stream(request, response, b"", body, b"")


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    head: bytes,
    body: AsyncIterator[bytes],
    tail: bytes,
) -> web.StreamResponse:
    """:func:`agent.server.pieces.send`, with the headers the middlewares would have added."""
    headers_before_sending(request, response)
    return await pieces.send(request, response, head, body, tail)


@routes.post("/v1/pdf/sign/batch")
async def pdf_sign_batch(request: web.Request) -> web.StreamResponse:
    """Sign up to 50 PDFs after one consent and one login, with progress and Stop."""
    parsed = await _spooled_batch(request)
    result: PdfBatchSignResponse | None = None
    try:
        result = await request.app[SERVICE].sign_pdf_batch(request[CALLER], parsed)
        lang = pick_lang(request.headers.get("Accept-Language"), request.app[SETTINGS].lang)
        return await _send_batch(request, result, lang)
    finally:
        # As for one PDF: the request's files go with it, however it ends.
        signed = result.signed if result is not None else ()
        discard(*spooled(d.pdf for d in parsed.documents), *spooled(signed))


async def _spooled_batch(request: web.Request) -> PdfBatchSignRequest:
    """The batch, each document written to the spool (the body and its base64 are freed
    when this returns, before anyone is asked): up to ``max_pdf_bytes`` of documents must not
    stay in the agent's memory while the user reads the question, nor after the answer."""
    default_tsa = request.app[SETTINGS].tsa_url
    body = await _json_body(request, *_pdf_json_limit(request))
    parsed = await asyncio.to_thread(_parse_batch, body, default_tsa)
    del body
    _within_document_limit(request, parsed.size)
    spool = request.app.get(SPOOL)
    if spool is None:  # an app built without one (tests of the routes alone): bytes, as sent
        return parsed
    documents: list[PdfSignRequest] = []
    try:
        for document in parsed.documents:
            pdf = document.pdf
            if not isinstance(pdf, SpooledFile):
                pdf = await spool.from_bytes(pdf)
            documents.append(dataclasses.replace(document, pdf=pdf))
    except BaseException:
        discard(*spooled(d.pdf for d in documents))
        raise
    return dataclasses.replace(parsed, documents=tuple(documents))


def _parse_batch(body: bytes, default_tsa: str | None) -> PdfBatchSignRequest:
    return parse_pdf_batch_sign_request(decode_json_object(body), default_tsa)


async def _send_batch(
    request: web.Request, result: PdfBatchSignResponse, lang: str
) -> web.StreamResponse:
    """The JSON of :meth:`~agent.protocol.PdfBatchSignResponse.to_wire`, each signed document's
    base64 sent from the spool a piece at a time."""
    around = await asyncio.to_thread(result.json_around_documents, lang)
    response = web.StreamResponse()
    response.content_type = "application/json"
    response.charset = "utf-8"
    response.content_length = sum(map(len, around)) + sum(
        _base64_size(size_of(d)) for d in result.signed
    )

    async def documents() -> AsyncGenerator[bytes, None]:
        for document, after in zip(result.signed, around[1:], strict=True):
            if isinstance(document, SpooledFile):
                chunks = read_chunks(document, _BASE64_PIECE, base64.b64encode)
                async with contextlib.aclosing(chunks):
                    async for chunk in chunks:
                        yield chunk
            else:  # no spool: the document came back as bytes
                async for piece in pieces.of(await asyncio.to_thread(base64.b64encode, document)):
                    yield piece
            yield after

    async with contextlib.aclosing(documents()) as body:
        return await _stream(request, response, around[0], body, b"")


@routes.post("/v1/cms/sign")
async def cms_sign(request: web.Request) -> web.Response:
    """A CMS signature over a digest the portal computed (server-side PDF preparation)."""
    parsed = parse_cms_sign_request(await read_json(request))
    result = await request.app[SERVICE].sign_cms(request[CALLER], parsed)
    return json_response(result.to_wire())


@routes.post("/v1/pdf/verify")
async def pdf_verify(request: web.Request) -> web.Response:
    """Check every signature of a PDF; no consent needed, nothing is signed. The document comes
    as to ``/v1/pdf/sign`` (JSON with base64, a browser form, the PDF itself) and waits in the
    spool, where the PDF worker reads what the checks need: never the whole file in memory, nor
    its bytes through the pipe to the worker."""
    upload: SpooledFile | None = None
    try:
        if request.content_type in {_FORM_MEDIA_TYPE, PDF_MEDIA_TYPE}:
            read = _read_raw_pdf if request.content_type == PDF_MEDIA_TYPE else _read_pdf_form
            options, upload = await read(request, request.app[SPOOL], check_pdf_verify_options)
            parsed = parse_pdf_verify_request(options, upload)
        else:
            upload = await _spooled_verify_json(request)
            parsed = PdfVerifyRequest(upload)
        lang = pick_lang(request.headers.get("Accept-Language"), request.app[SETTINGS].lang)
        result = await request.app[SERVICE].verify_pdf(parsed, lang)
        return json_response(result.to_wire())
    finally:
        discard(upload)


async def _spooled_verify_json(request: web.Request) -> SpooledFile:
    """The document of ``/v1/pdf/verify``'s JSON, written to the spool (the body and its base64
    are freed when this returns)."""
    parsed = await _parsed_json(request, parse_pdf_verify_request)
    pdf = parsed.pdf
    if not isinstance(pdf, bytes):  # pragma: no cover - JSON carries bytes
        raise TypeError(type(pdf).__name__)
    _within_document_limit(request, len(pdf))
    return await request.app[SPOOL].from_bytes(pdf)


async def _parsed_json(request: web.Request, parse: Callable[[dict[str, Any]], T]) -> T:
    """The parsed JSON body of a PDF or XML route, bounded like a PDF (a batch's documents in
    all); the body and its base64 are freed when this returns."""
    body = await _json_body(request, *_pdf_json_limit(request))
    # Megabytes of JSON and base64: decoded off the event loop, which would stall every request.
    return await asyncio.to_thread(lambda: parse(decode_json_object(body)))


def _within_document_limit(request: web.Request, size: int) -> None:
    limit = request.app[SETTINGS].max_pdf_bytes
    if size > limit:
        raise PayloadTooLarge(limit)


@routes.post("/v1/xml/sign")
async def xml_sign(request: web.Request) -> web.StreamResponse:
    """Sign an XML document (e-invoice, tax filing, any enveloped XMLDSig)."""
    parsed = await _parsed_json(request, parse_xml_sign_request)
    _within_document_limit(request, parsed.size)
    result = await request.app[SERVICE].sign_xml(request[CALLER], parsed)
    return await send_json(request, result.to_wire)


@routes.post("/v1/xml/sign/batch")
async def xml_sign_batch(request: web.Request) -> web.StreamResponse:
    """Sign up to 500 XML documents after one consent and one login."""
    parsed = await _parsed_json(request, parse_xml_batch_sign_request)
    _within_document_limit(request, parsed.size)
    result = await request.app[SERVICE].sign_xml_batch(request[CALLER], parsed)
    return await send_json(request, result.to_wire)


async def send_json(request: web.Request, wire: Callable[[], dict[str, Any]]) -> web.StreamResponse:
    """The JSON of ``wire()`` (built off the event loop: megabytes of base64), sent now rather
    than returned as a body: aiohttp keeps a connection's last answer until its next request,
    and an answer holding documents of up to ``max_pdf_bytes`` would stay in the agent for as
    long as the portal keeps its connection open."""
    answer = await asyncio.to_thread(lambda: json.dumps(wire(), ensure_ascii=False).encode("utf-8"))
    response = web.StreamResponse()
    response.content_type = "application/json"
    response.charset = "utf-8"
    headers_before_sending(request, response)
    return await pieces.send_bytes(request, response, answer)


@routes.post("/v1/xml/verify")
async def xml_verify(request: web.Request) -> web.Response:
    """Check every signature of an XML document; no consent needed, nothing is signed."""
    parsed = await _parsed_json(request, parse_xml_verify_request)
    _within_document_limit(request, len(parsed.xml))
    lang = pick_lang(request.headers.get("Accept-Language"), request.app[SETTINGS].lang)
    result = await request.app[SERVICE].verify_xml(parsed, lang)
    return json_response(result.to_wire())
