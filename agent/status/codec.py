"""JSON, generically over frozen dataclasses: the report's wire form, and the token listing's.

:func:`dump` writes a dataclass as an object of its fields (nested dataclasses, tuples and
lists too); times as ISO-8601 UTC, enums as their string values. :func:`load` reads that back
into the dataclass, guided by its type hints, and raises ``TypeError``/``ValueError``/``KeyError``
on anything else.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def _same(name: str) -> str:
    return name


def camel_case(name: str) -> str:
    """``to_be_changed`` → ``toBeChanged``: the key style of ``kyso-agent tokens --json``."""
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def dump(value: object, key: Callable[[str], str] = _same) -> object:
    """The JSON value of ``value``; ``key`` names each field (snake_case by default)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {key(f.name): dump(getattr(value, f.name), key) for f in fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple | list):
        return [dump(v, key) for v in value]
    return value


def load(kind: Any, value: object) -> object:
    """``value`` (as :func:`dump` made it, snake_case) read back as a ``kind``."""
    origin = typing.get_origin(kind)
    if origin is types.UnionType or origin is typing.Union:
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return None if value is None else load(options[0], value)
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(load(typing.get_args(kind)[0], v) for v in value)
    if isinstance(kind, type) and is_dataclass(kind):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {kind.__name__}")
        hints = typing.get_type_hints(kind)
        # A field the writer did not know yet (an older agent's report) takes its default.
        return kind(
            **{
                f.name: load(hints[f.name], value[f.name])
                for f in fields(kind)
                if f.name in value or (f.default is MISSING and f.default_factory is MISSING)
            }
        )
    if kind is datetime:
        if not isinstance(value, str):
            raise TypeError("expected an ISO-8601 time")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"time without a zone: {value}")
        return moment
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        if not isinstance(value, str):
            raise TypeError(f"expected a {kind.__name__} value")
        return kind(value)
    if kind in (int, str, bool) and type(value) is kind:
        return value
    raise TypeError(f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
