"""Wording shared by the verification reports people read, for PDF and for XML.

Both reports (:mod:`agent.pdf.verify.render`, :mod:`agent.xml.verify.render`) show times
and certificate names the same way; this is the one place that decides how.
"""

from __future__ import annotations

from datetime import datetime

from agent.messages import Lang, text


def format_time(moment: datetime, lang: Lang) -> str:
    """``moment`` in this computer's zone, with its UTC offset (``+07:00``) written out."""
    local = moment.astimezone()
    raw = local.strftime("%z") or "+0000"
    return text("verify_time", lang, moment=local, offset=f"{raw[:3]}:{raw[3:5]}")


def short_name(rfc4514: str) -> str:
    """The common name in an RFC 4514 subject, for people; the subject if it has none."""
    # Imported here: the reports' rendering loads with the server (agent.protocol), which
    # does not load cryptography before a report is made (docs/performance.md).
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        names = x509.Name.from_rfc4514_string(rfc4514).get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return rfc4514
    return str(names[0].value) if names else rfc4514
