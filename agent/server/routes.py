"""Thin handlers: read and parse the body, call the service, write JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any, Final, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from agent.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from agent.messages import Phrase, pick_lang
from agent.protocol import (
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
from agent.server.connections import ConnectionLimits
from agent.server.keys import BODY_SECONDS, CALLER, SERVICE, SETTINGS
from agent.server.middlewares import json_response

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
    (:attr:`~agent.server.connections.ConnectionLimits.body_seconds`), then it is refused."""
    seconds = request.app.get(BODY_SECONDS, ConnectionLimits.body_seconds)
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise BadRequest(Phrase.of("bad_body_timeout", seconds=f"{seconds:g}")) from None


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


async def _read_pdf_form(request: web.Request) -> tuple[dict[str, Any], bytes]:
    """``multipart/form-data`` with a ``file`` part (the PDF) and an ``options`` JSON part."""
    try:
        async with body_deadline(request):
            return await _read_form_parts(request, request.app[SETTINGS].max_pdf_bytes)
    except (ValueError, BadHttpMessage) as exc:  # aiohttp's multipart parser on a broken body
        # What the parser said is for the developer reading the log, in English.
        log.info("malformed multipart/form-data body on %s: %s", request.path, exc)
        raise BadRequest(Phrase.of("bad_multipart")) from exc


async def _read_form_parts(request: web.Request, pdf_limit: int) -> tuple[dict[str, Any], bytes]:
    reader = await request.multipart()
    options: dict[str, Any] | None = None
    pdf: bytes | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadRequest(Phrase.of("bad_multipart_nested"))
        if part.name == "file" and pdf is None:
            pdf = await read_limited(part, pdf_limit, pdf_limit)
        elif part.name == "options" and options is None:
            options = decode_json_object(await read_limited(part, _MAX_OPTIONS, _MAX_OPTIONS))
        else:
            raise BadRequest(Phrase.of("bad_form_part", part=repr(part.name)))
    if pdf is None:
        raise BadRequest(Phrase.of("bad_form_no_file"))
    return options or {}, pdf


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
async def pdf_sign(request: web.Request) -> web.Response:
    """Sign a whole PDF (PAdES); JSON with base64, or a browser form."""
    default_tsa = request.app[SETTINGS].tsa_url
    if request.content_type == "multipart/form-data":
        options, pdf = await _read_pdf_form(request)
        parsed = parse_pdf_sign_request(options, pdf, default_tsa)
    else:
        body = await _json_body(request, *_pdf_json_limit(request))
        # Decoding tens of megabytes of JSON and base64 would stall every other request.
        parsed = await asyncio.to_thread(
            lambda: parse_pdf_sign_request(decode_json_object(body), None, default_tsa)
        )
    if len(parsed.pdf) > request.app[SETTINGS].max_pdf_bytes:
        raise PayloadTooLarge(request.app[SETTINGS].max_pdf_bytes)
    result = await request.app[SERVICE].sign_pdf(request[CALLER], parsed)
    # Tens of megabytes of base64: on a worker thread, so the event loop keeps serving.
    body = await asyncio.to_thread(result.to_json_bytes)
    return web.Response(body=body, content_type="application/json", charset="utf-8")


@routes.post("/v1/pdf/sign/batch")
async def pdf_sign_batch(request: web.Request) -> web.Response:
    """Sign up to 50 PDFs after one consent and one login, with progress and Stop."""
    default_tsa = request.app[SETTINGS].tsa_url
    body = await _json_body(request, *_pdf_json_limit(request))
    parsed = await asyncio.to_thread(
        lambda: parse_pdf_batch_sign_request(decode_json_object(body), default_tsa)
    )
    _within_document_limit(request, parsed.size)
    result = await request.app[SERVICE].sign_pdf_batch(request[CALLER], parsed)
    lang = pick_lang(request.headers.get("Accept-Language"), request.app[SETTINGS].lang)
    # Up to max_pdf_bytes of base64: written on a worker thread, so the event loop keeps serving.
    answer = await asyncio.to_thread(
        lambda: json.dumps(result.to_wire(lang), ensure_ascii=False).encode("utf-8")
    )
    return web.Response(body=answer, content_type="application/json", charset="utf-8")


@routes.post("/v1/cms/sign")
async def cms_sign(request: web.Request) -> web.Response:
    """A CMS signature over a digest the portal computed (server-side PDF preparation)."""
    parsed = parse_cms_sign_request(await read_json(request))
    result = await request.app[SERVICE].sign_cms(request[CALLER], parsed)
    return json_response(result.to_wire())


@routes.post("/v1/pdf/verify")
async def pdf_verify(request: web.Request) -> web.Response:
    """Check every signature of a PDF; no consent needed, nothing is signed."""
    body = await _json_body(request, *_pdf_json_limit(request))
    parsed = await asyncio.to_thread(lambda: parse_pdf_verify_request(decode_json_object(body)))
    if len(parsed.pdf) > request.app[SETTINGS].max_pdf_bytes:
        raise PayloadTooLarge(request.app[SETTINGS].max_pdf_bytes)
    lang = pick_lang(request.headers.get("Accept-Language"), request.app[SETTINGS].lang)
    result = await request.app[SERVICE].verify_pdf(parsed, lang)
    return json_response(result.to_wire())


async def _xml_request(request: web.Request, parse: Callable[[dict[str, Any]], T]) -> T:
    """The parsed body of an XML route, bounded like a PDF's (a batch of invoices in all)."""
    body = await _json_body(request, *_pdf_json_limit(request))
    # Megabytes of JSON and base64: decoded off the event loop.
    return await asyncio.to_thread(lambda: parse(decode_json_object(body)))


def _within_document_limit(request: web.Request, size: int) -> None:
    limit = request.app[SETTINGS].max_pdf_bytes
    if size > limit:
        raise PayloadTooLarge(limit)


@routes.post("/v1/xml/sign")
async def xml_sign(request: web.Request) -> web.Response:
    """Sign an XML document (e-invoice, tax filing, any enveloped XMLDSig)."""
    parsed = await _xml_request(request, parse_xml_sign_request)
    _within_document_limit(request, parsed.size)
    result = await request.app[SERVICE].sign_xml(request[CALLER], parsed)
    return json_response(await asyncio.to_thread(result.to_wire))


@routes.post("/v1/xml/sign/batch")
async def xml_sign_batch(request: web.Request) -> web.Response:
    """Sign up to 500 XML documents after one consent and one login."""
    parsed = await _xml_request(request, parse_xml_batch_sign_request)
    _within_document_limit(request, parsed.size)
    result = await request.app[SERVICE].sign_xml_batch(request[CALLER], parsed)
    return json_response(await asyncio.to_thread(result.to_wire))


@routes.post("/v1/xml/verify")
async def xml_verify(request: web.Request) -> web.Response:
    """Check every signature of an XML document; no consent needed, nothing is signed."""
    parsed = await _xml_request(request, parse_xml_verify_request)
    _within_document_limit(request, len(parsed.xml))
    lang = pick_lang(request.headers.get("Accept-Language"), request.app[SETTINGS].lang)
    result = await request.app[SERVICE].verify_xml(parsed, lang)
    return json_response(result.to_wire())
