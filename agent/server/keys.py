"""Typed application keys: everything a handler may take from the app."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from agent.messages import Lang
from agent.origin import Admitted, OriginPolicy
from agent.server.peer import CallerCheck
from agent.service import SigningService
from agent.status import StatusSource


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


SERVICE = web.AppKey("service", SigningService)
SETTINGS = web.AppKey("settings", ServerSettings)
CALLER_CHECK = web.AppKey("caller_check", CallerCheck)
STATUS = web.AppKey("status", StatusSource)
"""What the helpdesk report of the running agent is made from (status page only)."""
CALLER = web.RequestKey("caller", Admitted)
"""Request key: the admitted origin (set by the origin middleware)."""
