"""The helpdesk report on the running agent: ``GET /`` (HTML) and ``GET /status.json``.

Not part of API v1 (its own route table, absent from the OpenAPI description). The
report names the user's certificates and portals, so no web page may read it:

* any request carrying ``Origin`` is refused before the CORS middleware sees it, so the
  answer never has ``Access-Control-Allow-Origin``, whatever the allow-list says;
* ``/`` answers top-level navigation only (``Sec-Fetch-Dest: document`` and
  ``Sec-Fetch-Mode: navigate`` when a browser sends them): no frame, object or fetch;
* ``/status.json`` answers the command line and the tray (no ``Sec-Fetch-*`` headers) and
  the user typing the address (``Sec-Fetch-Site: none``), never another site;
* the page has no script, an inline style only, and may not be framed (CSP, X-Frame-Options).

Host and caller (same OS user) checks apply as to every request. Refusals are the API's
``ORIGIN_NOT_ALLOWED`` (403).
"""

from __future__ import annotations

import html
import json
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from agent.errors import OriginNotAllowed
from agent.messages import Lang, pick_lang, text
from agent.server.keys import SETTINGS, STATUS
from agent.status import STATUS_PATH, StatusReport, collect

PAGE_PATH: Final = "/"
STATUS_PATHS: Final = frozenset({PAGE_PATH, STATUS_PATH})
#: The page's own policy: nothing may load but its inline style; nobody may frame it.
PAGE_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

status_routes = web.RouteTableDef()


def refusal(path: str, headers: dict[str, str], *, bridge: bool = False) -> str | None:
    """Why a request for a status path must be refused, or ``None`` (header names lower-case).

    ``bridge``: the Origin is a trusted Kyso extension. Its popup may read ``/status.json``
    (token status for the user) as long as it relays no page.
    """
    if bridge and path != PAGE_PATH and "kyso-page-origin" not in headers:
        return None
    if "origin" in headers:
        return "a web page asked for the status report (Origin present)"
    dest = headers.get("sec-fetch-dest")
    mode = headers.get("sec-fetch-mode")
    site = headers.get("sec-fetch-site")
    if path == PAGE_PATH:
        if dest is not None and dest != "document":
            return f"status page requested as {dest!r}, not a top-level document"
        if mode is not None and mode != "navigate":
            return f"status page requested in mode {mode!r}, not by navigation"
        return None
    if site is not None and site not in ("none", "same-origin"):
        return f"status.json requested from a {site} context"
    if dest is not None and dest not in ("document", "empty"):
        return f"status.json requested as {dest!r}"
    return None


@web.middleware
async def navigation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse status requests from web pages before the origin/CORS middleware runs."""
    if request.path in STATUS_PATHS:
        origin = request.headers.get("Origin")
        bridge = origin is not None and request.app[SETTINGS].origin_policy.is_bridge(origin)
        headers = {k.lower(): v for k, v in request.headers.items()}
        reason = refusal(request.path, headers, bridge=bridge)
        if reason is not None:
            raise OriginNotAllowed(reason)
    return await handler(request)


def _lang(request: web.Request) -> Lang:
    return pick_lang(request.headers.get("Accept-Language"), request.app[SETTINGS].lang)


_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#1b1b1b}"
    "h1{font-size:1.4em}p.ok{color:#155724;background:#d4edda;padding:.6em;border-radius:4px}"
    "pre{background:#f4f4f4;padding:1em;white-space:pre-wrap;border:1px solid #ccc}"
    "ul.attention{color:#8a1c1c;font-weight:bold}"
)


def render_html(report: StatusReport, lang: Lang) -> str:
    """The report as a self-contained page: everything escaped, no script."""
    attention = "".join(
        f"<li>{html.escape(text(key, lang, **values))}</li>" for key, values in report.attention()
    )
    return (
        "<!doctype html>\n"
        f'<html lang="{lang.value}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(text('status_page_title', lang))}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(text('status_page_title', lang))}</h1>"
        f'<p class="ok">{html.escape(text("status_page_trusted", lang))}</p>'
        + (f'<ul class="attention">{attention}</ul>' if attention else "")
        + f"<p>{html.escape(text('status_page_copy', lang))}</p>"
        f"<pre>{html.escape(report.to_text(lang))}</pre>"
        "</body></html>\n"
    )


@status_routes.get(PAGE_PATH)
async def status_page(request: web.Request) -> web.Response:
    """The report for a person, in the browser."""
    report = await collect(request.app[STATUS])
    return web.Response(
        text=render_html(report, _lang(request)),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY"},
    )


@status_routes.get(STATUS_PATH)
async def status_json(request: web.Request) -> web.Response:
    """The report for the command line and the tray."""
    report = await collect(request.app[STATUS])
    return web.Response(
        text=json.dumps(report.to_json(), ensure_ascii=False),
        content_type="application/json",
        charset="utf-8",
    )
