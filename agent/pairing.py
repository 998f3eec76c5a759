"""Origins the user paired on first use (admitted by a wildcard entry, then approved).

Kept as a small JSON file in the data directory and re-read on every check, so that
``kyso-agent origins revoke`` takes effect at once, even while the agent runs.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.files import write_atomically
from agent.origin import InvalidOrigin, parse_origin


@dataclass(frozen=True)
class PairedOrigin:
    """One paired origin."""

    origin: str
    """Normalised origin."""
    paired_at: datetime
    """When the user approved it."""


class PairingStore:
    """The paired origins of this user."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A damaged file pairs nothing: the user is simply asked again.
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(data, ensure_ascii=False, indent=2).encode())

    def is_paired(self, origin: str) -> bool:
        """Whether ``origin`` (normalised) was paired."""
        return origin in self._read()

    def pair(self, origin: str) -> None:
        """Record the user's approval of ``origin``."""
        with self._lock:
            data = self._read()
            data.setdefault(origin, datetime.now(UTC).isoformat())
            self._write(data)

    def revoke(self, origin: str) -> bool:
        """Forget ``origin``; returns whether it was paired."""
        try:
            normal = str(parse_origin(origin))
        except InvalidOrigin:
            normal = origin
        with self._lock:
            data = self._read()
            if normal not in data:
                return False
            del data[normal]
            self._write(data)
            return True

    def list(self) -> list[PairedOrigin]:
        """Every paired origin, oldest first."""
        entries = [
            PairedOrigin(origin, datetime.fromisoformat(when))
            for origin, when in self._read().items()
        ]
        return sorted(entries, key=lambda e: e.paired_at)
