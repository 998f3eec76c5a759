"""How one setting is declared, and everything derived from that one declaration.

Each field of :class:`agent.config.AgentConfig` is declared with :func:`setting`: its type and
default are the field's, the rest is a :class:`Setting` — shape, range, who may set it, the
command-line flag, the line that documents it. From it come, with no second list anywhere:

* the check of a value from a TOML file or the command line (:meth:`Setting.convert`);
* the reading of a Windows registry value (:meth:`Setting.from_registry`) and the registry
  types it accepts (:attr:`Setting.registry_types`);
* the command-line flags (``agent/cli.py``) and their help;
* what ``docs/it-policy.md`` and ``docs/commands.md`` must say (``tests/unit/test_config_docs.py``).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent.errors import ConfigError


class Shape(enum.Enum):
    """How a value is written in TOML and in the registry."""

    BOOL = "true or false"
    INT = "a whole number"
    FLOAT = "a number"
    TEXT = "a string"
    LIST = "a list of strings"


class RegType(enum.IntEnum):
    """Windows registry value types (the numbers of :mod:`winreg`'s constants)."""

    REG_SZ = 1
    REG_EXPAND_SZ = 2
    REG_DWORD = 4
    REG_MULTI_SZ = 7


_STRINGS: Final = (RegType.REG_SZ, RegType.REG_EXPAND_SZ)
_REGISTRY_TYPES: Final[Mapping[Shape, tuple[RegType, ...]]] = {
    Shape.BOOL: (RegType.REG_DWORD, *_STRINGS),
    Shape.INT: (RegType.REG_DWORD, *_STRINGS),
    Shape.FLOAT: (RegType.REG_DWORD, *_STRINGS),
    Shape.TEXT: _STRINGS,
    # An MSI writes a whole property as one string: ";" separates entries there.
    Shape.LIST: (RegType.REG_MULTI_SZ, *_STRINGS),
}
_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Flag:
    """The command-line flag that sets a setting (its ``dest`` is the setting's name)."""

    name: str
    """E.g. ``--allow-origin``; repeatable when the setting is a list."""
    metavar: str
    """What the help shows for the value."""
    commands: frozenset[str] = frozenset()
    """The ``kyso-agent`` commands that take it; empty: every command."""

    def applies_to(self, command: str | None) -> bool:
        """Whether ``command`` takes this flag."""
        return not self.commands or command in self.commands


@dataclass(frozen=True)
class Setting:
    """One setting: everything about it but its Python type and default (the field's)."""

    shape: Shape
    """How TOML and the registry write it."""
    doc: str
    """One line for the flag's help and the documentation."""
    low: float | None = None
    """Numbers: the smallest value allowed."""
    high: float | None = None
    """Numbers: the largest value allowed (``None``: no limit)."""
    low_open: bool = False
    """Numbers: ``low`` itself is refused (a value must be more than it)."""
    unit: str = ""
    """Numbers: said after the range in messages (``" seconds"``)."""
    expect: str = ""
    """What a message says a value must be, when the range alone would not say it well."""
    parse: Callable[[Any], Any] | None = None
    """Text: the value as the configuration holds it; lists: each item's. Raises
    ``ValueError`` with the end of the message (text: ``"must be …"``)."""
    policy_only: bool = False
    """Only machine policy may set it: it loosens or tightens security."""
    pinned: bool = False
    """Set by machine policy, a user file or flag may not change it."""
    flag: Flag | None = None
    """The command-line flag, if any."""
    default_text: str = ""
    """The default as the documentation says it, when it is not a plain value."""
    name: str = ""
    """The key (filled from the field's name)."""
    default: Any = field(default=None, compare=False)
    """The default value (filled from the field's default)."""

    @property
    def choices(self) -> tuple[str, ...]:
        """Text: the words allowed, when there are a few (:class:`Choices`)."""
        return self.parse.values if isinstance(self.parse, Choices) else ()

    @property
    def registry_types(self) -> tuple[RegType, ...]:
        """The registry value types machine policy may use for it on Windows."""
        return _REGISTRY_TYPES[self.shape]

    @property
    def default_doc(self) -> str:
        """The default as ``docs/it-policy.md`` writes it (registry style: booleans 1/0)."""
        if self.default_text:
            return self.default_text
        value = self.default
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int | float):
            return str(int(value)) if value == int(value) else str(value)
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, str):
            return f"`{value}`"
        raise TypeError(f"{self.name}: declare default_text for default {value!r}")

    def values_text(self) -> str:
        """What a valid value is, for messages: ``1 to 600 seconds``."""
        if self.expect:
            return self.expect
        low, high = f"{self.low:g}", f"{self.high:g}" if self.high is not None else ""
        if self.low_open:
            return f"more than {low} and at most {high}{self.unit}"
        if not high:
            return f"at least {low}{self.unit}"
        return f"{low} to {high}{self.unit}"

    def convert(self, value: Any, source: str) -> Any:
        """``value`` (from TOML or a flag) as the configuration holds it, or :class:`ConfigError`
        naming ``source`` and the key."""
        where = f"{source}: {self.name}"
        if self.shape is Shape.BOOL:
            if not isinstance(value, bool):
                raise ConfigError(f"{where} must be true or false")
            return value
        if self.shape in (Shape.INT, Shape.FLOAT):
            return self._number(value, where)
        if self.shape is Shape.LIST:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where} must be a list of strings")
            try:
                return tuple(map(self.parse, value)) if self.parse else tuple(value)
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
        try:
            return self.parse(value) if self.parse else value
        except ValueError as exc:
            raise ConfigError(f"{where} {exc}") from exc

    def _number(self, value: Any, where: str) -> Any:
        allowed = int if self.shape is Shape.INT else int | float
        low = self.low if self.low is not None else float("-inf")
        high = self.high if self.high is not None else float("inf")
        if (
            not isinstance(value, allowed)
            or isinstance(value, bool)
            or not (low < value if self.low_open else low <= value)
            or value > high
        ):
            raise ConfigError(f"{where} must be {self.values_text()}")
        return value if self.shape is Shape.INT else float(value)

    def from_registry(self, data: Any, kind: int, where: str) -> Any:
        """A registry value as the TOML value of the same key (:meth:`convert` checks it after).

        ``where`` names the value in messages (``HKLM\\…\\NAME``).
        """
        if kind == RegType.REG_MULTI_SZ:
            if self.shape is not Shape.LIST:
                raise ConfigError(f"{where}: a list (REG_MULTI_SZ) is only for list settings")
            # An MSI writes a whole property as one item: "a;b" in one string is two entries.
            return [part.strip() for item in data for part in item.split(";") if part.strip()]
        if kind == RegType.REG_DWORD:
            if self.shape is Shape.BOOL:
                if data not in (0, 1):
                    raise ConfigError(f"{where} must be 0 or 1")
                return bool(data)
            if self.shape in (Shape.INT, Shape.FLOAT):
                return int(data)
            raise ConfigError(f"{where}: a number (REG_DWORD) does not fit this setting")
        if kind not in _STRINGS or not isinstance(data, str):
            raise ConfigError(f"{where}: use REG_SZ, REG_EXPAND_SZ, REG_DWORD or REG_MULTI_SZ")
        value = (os.path.expandvars(data) if kind == RegType.REG_EXPAND_SZ else data).strip()
        return self._from_string(value, where)

    def _from_string(self, value: str, where: str) -> Any:
        if self.shape is Shape.LIST:
            return [item.strip() for item in value.split(";") if item.strip()]
        if self.shape is Shape.BOOL:
            word = value.lower()
            if word not in _TRUE_WORDS | _FALSE_WORDS:
                raise ConfigError(f"{where} must be 1 or 0 (true or false)")
            return word in _TRUE_WORDS
        if self.shape is Shape.INT:
            if not value.isdigit():
                raise ConfigError(f"{where} must be a whole number")
            return int(value)
        if self.shape is Shape.FLOAT:
            try:
                return float(value)
            except ValueError as exc:
                raise ConfigError(f"{where} must be a number") from exc
        return value


SPEC: Final = "kyso.setting"
"""The key of a field's metadata that holds its :class:`Setting`."""


def setting(default: Any, spec: Setting, *, factory: bool = False) -> Any:
    """Declare a configuration field: ``default`` (a callable making it, with ``factory``)
    and everything else about it in ``spec``."""
    if factory:
        return field(default_factory=default, metadata={SPEC: spec})
    return field(default=default, metadata={SPEC: spec})


@dataclass(frozen=True)
class Choices:
    """A parser admitting a few words (the flag's choices too)."""

    values: tuple[str, ...]
    """The words allowed, as written."""
    make: Callable[[str], Any] = str
    """The configuration's value for a word (an enum)."""
    fold: Callable[[str], str] = str
    """Applied before comparing (:meth:`str.upper`: any case)."""

    @classmethod
    def of(cls, kind: type[enum.StrEnum]) -> Choices:
        """The values of ``kind``."""
        return cls(tuple(m.value for m in kind), kind)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.fold(value) not in self.values:
            raise ValueError(f"must be one of {', '.join(self.values)}")
        return self.make(self.fold(value))


def as_path(value: Any) -> Path:
    """A path, ``~`` expanded."""
    if not isinstance(value, str | Path) or not str(value):
        raise ValueError("must be a path")
    return Path(value).expanduser()
