"""HTTP quality values (RFC 9110, section 12.4.2): how much a client wants each item it lists
in an ``Accept`` or ``Accept-Language`` header.

One parser for both: :func:`agent.messages.pick_lang` (the language of a message) and
:func:`agent.server.routes.wants_pdf` (the shape of a signed PDF's answer).
"""

from __future__ import annotations


def quality_values(header: str) -> list[tuple[str, float]]:
    """Each item of ``header``, lower case and without its parameters, with its weight (``q``,
    1 when absent), in the header's order. A weight nobody can read counts for nothing (0)."""
    found: list[tuple[str, float]] = []
    for entry in header.split(","):
        item, *parameters = (part.strip().lower() for part in entry.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found.append((item, quality))
    return found
