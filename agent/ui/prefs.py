"""The tray's own preferences: a small JSON file in the data directory.

Only what the user chooses from the tray menu lives here (today: the language).
Precedence of the language: ``--lang`` on the command line > the tray's choice
(this file) > ``lang`` in the configuration files > Vietnamese.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent.files import write_atomically
from agent.messages import Lang

log = logging.getLogger(__name__)

PREFS_FILE: Final = "tray-prefs.json"


@dataclass(frozen=True)
class TrayPrefs:
    """What the user chose in the tray."""

    lang: Lang | None = None
    """Language picked in the menu; ``None`` = follow the configuration."""


def prefs_path(data_dir: Path) -> Path:
    """Where the preferences of the agent with ``data_dir`` live."""
    return data_dir / PREFS_FILE


def load_prefs(path: Path) -> TrayPrefs:
    """Read the file; a missing or damaged file means no preference."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return TrayPrefs()
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return TrayPrefs()
    lang = data.get("lang") if isinstance(data, dict) else None
    try:
        return TrayPrefs(lang=Lang(lang) if lang is not None else None)
    except ValueError:
        return TrayPrefs()


def save_prefs(path: Path, prefs: TrayPrefs) -> None:
    """Write the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"lang": prefs.lang.value if prefs.lang else None})
    write_atomically(path, data.encode("utf-8"))
