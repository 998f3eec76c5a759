"""What the VGCA layer is started with: where signed files wait, and the transfers' bounds.

Apart from the wire format and the transfers themselves (:mod:`agent.compat.vgca.protocol`,
:mod:`agent.compat.vgca.transfer`), which the layer's first message loads: an agent that no
portal calls through VGCA's plugin never holds them (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent.messages import Lang

CONNECT_TIMEOUT: Final = 15.0
READ_TIMEOUT: Final = 60.0
TOTAL_TIMEOUT: Final = 300.0
RETRY_DELAY: Final = 1.0


@dataclass(frozen=True)
class TransferLimits:
    """Sizes and times of downloads and uploads."""

    max_bytes: int
    """Largest file downloaded (``max_pdf_bytes``)."""
    connect_timeout: float = CONNECT_TIMEOUT
    """Longest wait for the portal's server to accept the connection."""
    read_timeout: float = READ_TIMEOUT
    """Longest silence while reading."""
    total_timeout: float = TOTAL_TIMEOUT
    """Longest whole transfer."""
    retry_delay: float = RETRY_DELAY
    """Wait before the one retry of an upload."""


def pending_dir(data_dir: Path) -> Path:
    """Where signed files wait for their upload, under the agent's data directory."""
    return data_dir / "vgca" / "pending"


@dataclass(frozen=True)
class VgcaSettings:
    """What the VGCA side needs besides the API's settings."""

    data_dir: Path
    """The agent's data directory, where signed files wait for their upload
    (:func:`pending_dir`)."""
    limits: TransferLimits
    """Download and upload bounds."""
    pick_local: Callable[[Lang], Awaitable[Path | None]] | None = None
    """The user's own file chooser, when there is a display (``FileName`` left empty)."""
