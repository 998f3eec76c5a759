"""Typed application keys: everything a handler may take from the app."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from agent.messages import Lang
from agent.origin import OriginPolicy
from agent.service import SigningService


@dataclass(frozen=True)
class ServerSettings:
    """What the HTTP layer needs from the configuration."""

    origin_policy: OriginPolicy
    """Which origins may call the API."""
    max_body_bytes: int
    """Largest JSON body accepted."""
    lang: Lang
    """Language of error messages when the caller states no preference."""


SERVICE = web.AppKey("service", SigningService)
SETTINGS = web.AppKey("settings", ServerSettings)
