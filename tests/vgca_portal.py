"""A portal's side of the VGCA protocol for tests: download and upload handlers (and,
for the browser test, the portal page) on ``http://127.0.0.1:PORT`` (``https`` with a TLS
context) in a thread of its own, recording every request that reaches it."""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.pdftools import sample_pdf


@dataclass
class Site:
    """A small web server in a thread of its own, recording what reached it."""

    documents: dict[str, bytes] = field(default_factory=dict)
    hits: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    upload_answer: dict[str, Any] = field(
        default_factory=lambda: {"Status": True, "Message": "", "FileServer": "fs-01"}
    )
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    static: Path | None = None
    """A directory served under ``/static/`` (the browser test's page and client)."""
    tls: ssl.SSLContext | None = None
    """Served over HTTPS with this server context, when given."""

    @property
    def origin(self) -> str:
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    async def _document(self, request: web.Request) -> web.Response:
        self._hit(request)
        name = request.match_info["name"]
        if name not in self.documents:
            raise web.HTTPNotFound
        return web.Response(body=self.documents[name], content_type="application/pdf")

    async def _upload(self, request: web.Request) -> web.Response:
        self._hit(request)
        form = parse_multipart(await request.read(), request.headers["Content-Type"])
        self.uploads.append(form)
        name = f"signed-{len(self.uploads)}.pdf"
        self.documents[name] = form["uploadfile"]
        return web.json_response({**self.upload_answer, "FileName": name})

    async def _broken(self, request: web.Request) -> web.Response:
        self._hit(request)
        await request.read()
        return web.Response(status=503, text="maintenance")

    async def _redirect(self, request: web.Request) -> web.Response:
        self._hit(request)
        raise web.HTTPFound(request.query["to"])

    async def _anything(self, request: web.Request) -> web.Response:
        self._hit(request)
        return web.Response(body=sample_pdf(), content_type="application/pdf")

    def _hit(self, request: web.Request) -> None:
        self.hits.append((request.method, request.path, dict(request.headers)))

    def start(self) -> Site:
        ready = threading.Event()

        async def main() -> None:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_get("/docs/{name}", self._document)
            app.router.add_post("/upload", self._upload)
            app.router.add_post("/broken-upload", self._broken)
            app.router.add_get("/redirect", self._redirect)
            if self.static is not None:
                app.router.add_static("/static/", self.static)
            app.router.add_route("*", "/{tail:.*}", self._anything)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
            await site.start()
            server = site._server  # noqa: SLF001 - the test needs the bound port
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(main(), self._loop)
        assert ready.wait(10)
        return self

    def stop(self) -> None:
        assert self._loop is not None and self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()


def serving(static: Path | None = None) -> Iterator[Site]:
    """A started :class:`Site` for a fixture to ``yield from``, stopped at its teardown."""
    site = Site(static=static).start()
    yield site
    site.stop()


# --- what an upload handler reads ------------------------------------------------------------
#
# Portals' FileUploadHandler is an ASP.NET handler (HttpPostedFile) or a PHP script ($_FILES);
# the test reads the raw multipart body both ways, from these facts of their public sources:
#
# ASP.NET (System.Web HttpMultipartContentTemplateParser): each part header line is decoded
#   with the request's encoding (Request.ContentEncoding: UTF-8 unless configured otherwise),
#   and HttpPostedFile.FileName is the text between `filename="` and the next `"`, as is: no
#   percent-decoding, no backslash escapes, no `filename*=`.
# PHP (main/rfc1867.c): Content-Disposition is split at `;` (outside quotes), each `key=value`
#   compared case-insensitively with "filename", so `filename*=` (RFC 5987) is ignored; a quoted
#   value drops the backslash before `\` or `"` (substring_conf), the bytes are kept as they
#   are (no percent-decoding), and $_FILES[…]['name'] is what follows the last `/` or `\`
#   (php_ap_basename). An empty filename means "no file" (UPLOAD_ERR_NO_FILE).


def parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """The form as the test asserts on it: text fields, ``uploadfile`` (bytes), and for the file
    part ``disposition`` (the raw header bytes), ``aspnet_filename`` and ``php_filename``."""
    match = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
    assert match, content_type
    delimiter = b"--" + match.group(1).encode("ascii")
    form: dict[str, Any] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        [disposition] = [
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-disposition:")
        ]
        line = disposition.decode("utf-8")
        name = aspnet_value(line, "name")
        assert name is not None and name.encode() == php_value(disposition, "name"), disposition
        if name == "uploadfile":
            form["uploadfile"] = data
            form["disposition"] = disposition
            form["aspnet_filename"] = aspnet_value(line, "filename")
            php = php_value(disposition, "filename")
            form["php_filename"] = None if php is None else php_basename(php).decode("utf-8")
        else:
            form[name] = data.decode("utf-8")
    return form


def aspnet_value(line: str, key: str) -> str | None:
    """``HttpPostedFile``'s reading of ``key`` in a Content-Disposition line (after the colon)."""
    start = line.index(":") + 1
    found = -1
    for pattern in (f" {key}=", f";{key}=", f"{key}="):
        found = line.lower().find(pattern.lower(), start)
        if found >= 0:
            found += len(pattern)
            break
    if found < 0 or found >= len(line):
        return None
    if line[found] != '"':
        end = line.find(";", found)
        return line[found : end if end >= 0 else len(line)].strip()
    end = line.find('"', found + 1)
    return None if end < 0 else line[found + 1 : end]


def php_value(disposition: bytes, key: str) -> bytes | None:
    """PHP's reading of ``key`` (bytes, before the basename), from rfc1867.c's getword rules."""
    text = disposition.split(b":", 1)[1].lstrip()
    pairs: list[bytes] = []
    current, quote, index = b"", 0, 0
    while index < len(text):
        byte = text[index]
        if quote:
            if byte == ord("\\") and index + 1 < len(text) and text[index + 1] == quote:
                current += text[index : index + 2]
                index += 2
                continue
            if byte == quote:
                quote = 0
        elif byte in b"\"'":
            quote = byte
        elif byte == ord(";"):
            pairs.append(current)
            current = b""
            index += 1
            continue
        current += bytes([byte])
        index += 1
    pairs.append(current)
    value = None
    for pair in pairs:
        name, equals, raw = pair.strip().partition(b"=")
        if equals and name.lower() == key.encode():
            value = _php_word(raw.strip())
    return value


def _php_word(raw: bytes) -> bytes:
    quote = raw[:1] if raw[:1] in (b'"', b"'") else b""
    body = raw[1:] if quote else raw
    out, index = b"", 0
    while index < len(body) and body[index : index + 1] != quote:
        if body[index : index + 1] == b"\\" and body[index + 1 : index + 2] in (b"\\", quote):
            index += 1
        out += body[index : index + 1]
        index += 1
    return out


def php_basename(value: bytes) -> bytes:
    """``php_ap_basename``: what follows the last ``/`` or ``\\``."""
    cut = max(value.rfind(b"/"), value.rfind(b"\\"))
    return value[cut + 1 :]
