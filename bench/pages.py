"""A portal page that keeps a plugin's WebSocket open, as the vendors' libraries do, for the
benchmarks' synchronous code.

``vnpt-plugin.js`` opens one socket and keeps it for every call of the page; ``BkavCAPlugin.js``
too, sending a long call in pieces of 114,271 characters. What the agent keeps after an answer
is kept for as long as that socket is open, which is why :mod:`bench_memory` measures on one
held open. The socket lives on an event loop of its own thread; each call blocks until its
answer has arrived.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

import aiohttp
from harness import BenchError

T = TypeVar("T")

BKAV_PIECE: Final = 114_271
"""Characters in each frame of a long BKAV call (``BkavCAPlugin.js``)."""
BKAV_CALLBACK: Final = "BkavExtensionCallback"
CALL_SECONDS: Final = 300.0


class Page:
    """One socket to a plugin layer at ``url``, opened from ``origin``."""

    def __init__(self, url: str, tls: ssl.SSLContext, origin: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="page", daemon=True)
        self._thread.start()
        self._session: aiohttp.ClientSession | None = None
        try:
            self._socket = self._run(self._open(url, tls, origin))
        except BaseException:
            self._stop()
            raise

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(CALL_SECONDS)

    async def _open(
        self, url: str, tls: ssl.SSLContext, origin: str
    ) -> aiohttp.ClientWebSocketResponse:
        self._session = aiohttp.ClientSession()
        return await self._session.ws_connect(url, ssl=tls, origin=origin, max_msg_size=0)

    async def _exchange(self, pieces: list[str], last: str) -> str:
        """Send ``pieces``, then read messages until one ends with ``last``."""
        for piece in pieces:
            await self._socket.send_str(piece)
        while True:
            message = await self._socket.receive(timeout=CALL_SECONDS)
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise BenchError(f"the plugin socket answered {message.type.name}")
            text = str(message.data)
            if text.endswith(last):
                return text

    def vnpt(self, function: int, *args: str) -> dict[str, Any]:
        """A VNPT call (``{functionID, funcCallback, args, domain}``) whose result is an object."""
        call = {"functionID": function, "funcCallback": "cb", "args": list(args), "domain": "x"}
        answer = self._run(self._exchange([json.dumps(call)], "*cb"))
        result: dict[str, Any] = json.loads(answer.rpartition("*")[0])
        return result

    def vnpt_sign_pdf(self, pdf: bytes) -> bytes:
        """VNPT's ``signPdf`` (function 2), invisible, with the certificate the user gives for
        ``getCertInfo`` (function 0); the signed PDF."""
        serial = self.vnpt(0, "1")["serial"]
        options = json.dumps({"SigVisible": False, "CertificateSerial": serial})
        result = self.vnpt(2, base64.b64encode(pdf).decode(), options)
        if result.get("code") != 0:
            raise BenchError(f"VNPT signPdf answered {str(result)[:300]}")
        return base64.b64decode(result["data"])

    def bkav_sign_pdf(self, pdf: bytes) -> bytes:
        """BKAV's ``SignPDFBase64`` (function 3: ``Base64String*SigningTime*Serial*Signer``,
        which the agent signs with its ``personal`` stamp), sent in pieces; the signed PDF."""
        text = "*".join(("3", base64.b64encode(pdf).decode(), "", "", ""))
        text += f"*{BKAV_CALLBACK}*end"
        pieces = [text[at : at + BKAV_PIECE] for at in range(0, len(text), BKAV_PIECE)]
        answer = self._run(self._exchange(pieces, f"*{BKAV_CALLBACK}*end"))
        result = answer[: -len(BKAV_CALLBACK) - 5]
        try:
            return base64.b64decode(result, validate=True)
        except ValueError:
            raise BenchError(f"BKAV answered {result[:300]!r}") from None

    def close(self) -> None:
        """Close the socket, as the page does when it goes away."""

        async def close() -> None:
            await self._socket.close()
            if self._session is not None:
                await self._session.close()

        try:
            self._run(close())
        finally:
            self._stop()

    def _stop(self) -> None:
        """End the session (when the socket could not be opened, or did not close) and the
        loop's thread."""
        if self._session is not None and not self._session.closed:
            self._run(self._session.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()
