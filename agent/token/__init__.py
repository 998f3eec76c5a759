"""PKCS#11: module discovery, one worker per module, sessions, signing, PIN state.

Only this package imports ``pkcs11``.
"""

from agent.isolation import Isolation, WorkerLimits
from agent.token.models import (
    Inventory,
    ModuleReport,
    PinState,
    TokenCertificate,
    TokenId,
    TokenInfo,
)
from agent.token.service import TokenService

__all__ = [
    "Inventory",
    "Isolation",
    "ModuleReport",
    "PinState",
    "TokenCertificate",
    "TokenId",
    "TokenInfo",
    "TokenService",
    "WorkerLimits",
]
