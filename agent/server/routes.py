"""Thin handlers: read and parse the body, call the service, write JSON."""

from __future__ import annotations

from importlib import resources
from typing import Any

from aiohttp import web

from agent.errors import PayloadTooLarge, UnsupportedMediaType
from agent.protocol import (
    decode_json_object,
    parse_batch_sign_request,
    parse_certificates_request,
    parse_sign_request,
)
from agent.server.keys import CALLER, SERVICE, SETTINGS
from agent.server.middlewares import json_response

routes = web.RouteTableDef()


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, after media-type and size checks."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType(f"Content-Type {request.content_type!r}")
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)
    return decode_json_object(await request.read())


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
