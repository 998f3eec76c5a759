"""The settings tables of the documentation say what the declarations in agent/config.py say."""

from __future__ import annotations

import enum
import re
from pathlib import Path

import pytest

from agent.config import BY_NAME, SETTINGS
from agent.settings import RegType, Setting

ROOT = Path(__file__).resolve().parents[2]
IT_POLICY = ROOT / "docs" / "it-policy.md"
COMMANDS = ROOT / "docs" / "commands.md"


def table(path: Path, header: str) -> list[list[str]]:
    """The rows (cells stripped) of the Markdown table of ``path`` whose header starts so."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        # "\|" is a pipe inside a cell (`run\|serve`), not a column.
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        rows.append([cell.strip() for cell in cells])
    return rows


def documented_policy() -> dict[str, list[str]]:
    """docs/it-policy.md's key table: each key's row."""
    rows = {}
    for row in table(IT_POLICY, "| TOML key |"):
        for key in re.findall(r"`([a-z0-9_]+)`", row[0]):
            assert key not in rows, f"{key} is documented twice"
            rows[key] = row
    return rows


def registry_types(cell: str) -> set[RegType]:
    """The registry types a cell names (REG_EXPAND_SZ goes wherever REG_SZ does)."""
    return {RegType[name] for name in re.findall(r"REG_[A-Z_]+", cell)} - {RegType.REG_EXPAND_SZ}


def test_every_setting_is_in_it_policy_and_nothing_else() -> None:
    assert sorted(documented_policy()) == sorted(BY_NAME)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_it_policy_row_says_what_the_declaration_says(setting: Setting) -> None:
    key, types, _msi, meaning, default = documented_policy()[setting.name]
    assert ("*(policy only)*" in key) == setting.policy_only
    assert registry_types(types) == set(setting.registry_types) - {RegType.REG_EXPAND_SZ}
    assert default == setting.default_doc or default.startswith(setting.default_doc + " ")
    assert ("pinned" in meaning) == setting.pinned


def toml_literal(value: object) -> str | None:
    """How a user's config.toml writes a plain default (``None``: not a plain value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value) if isinstance(value, int | float | str) else None


def flag_table_drift() -> list[str]:
    """Where the flag table of docs/commands.md disagrees with the declarations."""
    drift = []
    rows = [row for row in table(COMMANDS, "| flag | config key |") if row[1] != "—"]
    documented = {row[1].strip("`"): row for row in rows}
    users = {s.name for s in SETTINGS if not s.policy_only}
    drift += [f"{k}: not declared, or policy only" for k in sorted(set(documented) - users)]
    drift += [f"{k}: missing" for k in sorted(users - set(documented))]
    for key, (flag, _key, default) in documented.items():
        setting = BY_NAME.get(key)
        if setting is None:
            continue
        shown = None if flag == "—" else flag.strip("`").split()[0]
        declared = setting.flag.name if setting.flag is not None else None
        if shown != declared:
            drift.append(f"{key}: flag {shown} documented, {declared} declared")
        literal = toml_literal(setting.default)
        first = re.match(r"`([^`]*)`", default)
        if literal is not None and (first is None or first.group(1) != literal):
            drift.append(f"{key}: default {default!r} documented, {literal} declared")
    return drift


def test_the_flag_table_says_what_the_declarations_say() -> None:
    assert flag_table_drift() == []
