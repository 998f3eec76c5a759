"""Typed application keys: everything a handler may take from the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from agent.messages import Lang
from agent.origin import Admitted, OriginPolicy
from agent.server.budget import MemoryBudget
from agent.server.peer import CallerCheck
from agent.service import SigningService
from agent.spool import Spool
from agent.status import StatusSource

if TYPE_CHECKING:
    from agent.server.connections import ConnectionGate
    from agent.server.middlewares import MemoryRelease


@dataclass(frozen=True)
class ServerSettings:
    """What the HTTP layer needs from the configuration."""

    origin_policy: OriginPolicy
    """Which origins may call the API."""
    max_body_bytes: int
    """Largest JSON body accepted."""
    lang: Lang
    """Language of error messages when the caller states no preference."""
    allow_user_pairing: bool = True
    """Origins admitted only by a wildcard entry may be used (and paired on first use)."""
    check_caller: bool = True
    """Refuse TCP connections owned by another OS user."""
    max_pdf_bytes: int = 100 * 1024 * 1024
    """Largest PDF accepted by the PDF endpoints (before base64)."""
    tsa_url: str | None = None
    """Default time-stamping authority for B-T and B-LT."""

    @property
    def largest_request(self) -> int:
        """The largest body any route accepts: a PDF in base64 with its options."""
        return pdf_json_limit(self.max_pdf_bytes)


def pdf_json_limit(max_pdf_bytes: int) -> int:
    """Base64 makes a PDF a third larger; options and a stamp image get room of their own."""
    return max_pdf_bytes * 4 // 3 + 4 * 1024 * 1024


SERVICE = web.AppKey("service", SigningService)
SETTINGS = web.AppKey("settings", ServerSettings)
CALLER_CHECK = web.AppKey("caller_check", CallerCheck)
STATUS = web.AppKey("status", StatusSource)
"""What the helpdesk report of the running agent is made from (status page only)."""
GATE: web.AppKey[Callable[[], ConnectionGate | None]] = web.AppKey("gate")
"""The gate of the port this app listens on, once it listens (:func:`agent.server.start_server`)."""
BUDGET = web.AppKey("budget", MemoryBudget)
"""Bytes of documents held at once, shared by the HTTPS API and the VGCA port."""
MEMORY: web.AppKey[MemoryRelease] = web.AppKey("memory")
"""Hands the memory of large requests back to the OS (set up by the app's cleanup context)."""
SPOOL = web.AppKey("spool", Spool)
"""Where uploaded documents are written as they arrive (``POST /v1/pdf/sign`` forms and raw PDF
bodies), and the signed ones answered from."""
BODY_SECONDS = web.AppKey("body_seconds", float)
"""Time allowed to read one request body."""
CALLER = web.RequestKey("caller", Admitted)
"""Request key: the admitted origin (set by the origin middleware)."""
