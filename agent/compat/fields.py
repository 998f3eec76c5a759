"""Fields of a page's message read as the vendors' libraries write them, for every layer.

Portals send numbers as text (``"12"``), switches as ``1``, ``"0"`` or ``"true"``, digest names
as ``SHA-256``, ``sha256`` or ``Sha_256``: what each plugin took, the agent takes too. What is
particular to one plugin (its base64 leniency, its text rules, its field names) stays in its
room. A refusal is said in the layer's own words: each reader takes the catalogue key of the
layer's sentence (``fpt_field_number``, ``vnpt_field_flag`` …), which names the field as
``{field}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from agent.algorithms import HashAlgorithm
from agent.errors import BadRequest
from agent.messages import Phrase
from agent.protocol import DIGEST_ALGORITHMS

PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
"""How a PNG starts: the only image format a stamp takes (``agent/pdf/appearance.py`` checks
it again; not imported from there, as it loads the PDF stack)."""

_FLAGS: Final[Mapping[str, bool]] = {"1": True, "true": True, "0": False, "false": False}


def number(obj: Mapping[str, Any], key: str, *, bad: str) -> float | None:
    """A finite number as portals send it (``12``, ``12.5``, ``"12"``); ``None`` when absent
    or ``""``.

    :raises BadRequest: ``bad`` (with ``field``) for anything else.
    """
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise BadRequest(Phrase.of(bad, field=key)) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(Phrase.of(bad, field=key))
    try:
        result = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise BadRequest(Phrase.of(bad, field=key)) from None
    if not math.isfinite(result):
        raise BadRequest(Phrase.of(bad, field=key))
    return result


def flag(obj: Mapping[str, Any], key: str, *, default: bool, bad: str) -> bool:
    """A yes/no switch as portals write it: a boolean, ``1``/``0``, or ``"1"``, ``"0"``,
    ``"true"``, ``"false"`` in any case, blanks around ignored; ``default`` when absent or
    ``""``.

    :raises BadRequest: ``bad`` (with ``field``) for anything else.
    """
    value = obj.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.strip().lower() in _FLAGS:
        return _FLAGS[value.strip().lower()]
    raise BadRequest(Phrase.of(bad, field=key))


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a control character (line break, tab, NUL …) or DEL, which no
    single-line field (a name, a URL, a callback) does."""
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def is_png(data: bytes) -> bool:
    """Whether ``data`` is a PNG by its first bytes (the rest is checked when it is drawn)."""
    return data.startswith(PNG_MAGIC)


def hash_name(text: str) -> str:
    """A digest algorithm's name in one spelling: ``SHA-256``, ``sha_256``, ``Sha256`` are all
    ``SHA256``."""
    return text.upper().replace("-", "").replace("_", "")


DIGEST_NAMES: Final[Mapping[str, HashAlgorithm]] = {
    hash_name(a.value): a for a in DIGEST_ALGORITHMS
}
"""The digests a page may compute itself, by :func:`hash_name` (``SHA256``, ``SHA384``,
``SHA512``): the HTTPS API's :data:`~agent.protocol.DIGEST_ALGORITHMS`, never SHA-1."""
