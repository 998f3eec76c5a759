"""The PIN as a short-lived secret that refuses to be printed.

A :class:`Pin` exists from the moment the user types it until the login call
returns. It has no ``__str__`` worth logging, compares by identity only and can
be wiped. Python strings cannot be erased from memory, so the value is kept as a
``bytearray`` that :meth:`Pin.wipe` overwrites.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PinMode(StrEnum):
    """How the user proves they hold the token."""

    DIALOG = "dialog"
    """Typed into the agent's own prompt."""
    PINPAD = "pinpad"
    """Typed on the reader's keypad (protected authentication path)."""


class TriesLeft(StrEnum):
    """What the token's flags say about the PIN retry counter."""

    OK = "ok"
    LOW = "low"
    FINAL = "final"
    LOCKED = "locked"


class Pin:
    """A PIN typed by the user for one operation."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytearray) -> None:
        """``value``: the typed text, or a buffer of its UTF-8 bytes, which the PIN takes
        over (no copy is made; :meth:`wipe` clears that buffer)."""
        self._value = value if isinstance(value, bytearray) else bytearray(value.encode("utf-8"))

    def reveal(self) -> bytes:
        """The PIN bytes, for the login call only."""
        return bytes(self._value)

    def copy(self) -> bytearray:
        """A wipeable copy (no immutable ``bytes`` on the way), for a request that carries it."""
        return bytearray(self._value)

    def wipe(self) -> None:
        """Overwrite the stored value."""
        for index in range(len(self._value)):
            self._value[index] = 0
        self._value.clear()

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Pin(***)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a PIN cannot be pickled")


@dataclass(frozen=True)
class Login:
    """What the user gave for one login: the PIN typed, and the final-try confirmation.

    ``pin`` is ``None`` when none was typed (right for a PIN pad token, a refusal
    otherwise). Whether the token has a PIN pad, and how many tries it has left, is
    read from the token itself at the moment of logging in, not from what it said
    before the user was asked.
    """

    pin: Pin | None
    final_try_confirmed: bool = False
