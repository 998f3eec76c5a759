"""The transfer floors of the benches: a document's way in and out of the agent, without the
signing in between.

``python bench/transfer_host.py --data-dir DIR`` serves over HTTPS on a free port of 127.0.0.1,
with the agent's local TLS (``agent.localtls``, the certificate in ``DIR/tls`` as the agent
keeps it) and its allocator settings (:func:`agent.malloc.tune`):

- ``POST /echo`` (``bench/bench_memory.py``) moves a raw ``application/pdf`` body as the agent
  does: into its spool (:meth:`agent.spool.Spool.receive`: written to disk with its SHA-256 as
  it arrives), and back out of the spooled file a piece at a time
  (:func:`agent.server.routes.send_file`). The answer is the body as it came.
- ``POST /answer?size=N`` (``bench/bench_sign.py``) reads a JSON request whole, as the agent
  reads one, and answers ``N`` bytes of JSON: a batch's way in and out, with neither its
  decoding nor its answer's making.

It prints ``listening on https://127.0.0.1:PORT`` like the agent and runs until SIGTERM.

What the agent adds to this, for the same bytes, is its own: the middlewares, the question, the
token, the PDF worker and pyHanko.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from agent import malloc
from agent.localtls import ca
from agent.server.routes import PDF_MEDIA_TYPE, send_file
from agent.spool import Spool, discard

_CHUNK = 256 * 1024


async def echo(request: web.Request) -> web.StreamResponse:
    """The body into the spool, and back out of it."""
    spool: Spool = request.app["spool"]
    upload = await spool.receive(request.content.iter_chunked(_CHUNK), 1 << 40, 1 << 40)
    try:
        return await send_file(request, upload, PDF_MEDIA_TYPE)
    finally:
        discard(upload)


async def answer(request: web.Request) -> web.Response:
    """The body read whole; ``size`` bytes back, a JSON string of spaces."""
    await request.read()
    size = int(request.query["size"])
    return web.Response(body=b'"' + b" " * (size - 2) + b'"', content_type="application/json")


async def serve(data_dir: Path) -> None:
    """Listen until SIGTERM."""
    malloc.tune()
    tls = ca.server_context(ca.ensure(data_dir / "tls"))
    spool = Spool(data_dir / "spool")
    spool.sweep()
    app = web.Application()
    app["spool"] = spool
    app.router.add_post("/echo", echo)
    app.router.add_post("/answer", answer)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    listening = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, listening, ssl_context=tls).start()
    print(f"listening on https://127.0.0.1:{listening.getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until told to stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    asyncio.run(serve(parser.parse_args(argv).data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
