"""A portal's side of the VGCA protocol for tests: download and upload handlers (and,
for the browser test, the portal page) on ``http://127.0.0.1:PORT`` in a thread of its
own, recording every request that reaches it."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
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

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
        form: dict[str, Any] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            if part.name == "uploadfile":
                form["uploadfile"] = await part.read()
                form["filename"] = part.filename
            else:
                form[str(part.name)] = await part.text()
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
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
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
