"""A :class:`~agent.pdf.verify.model.VerificationReport` for the wire and for people.

:func:`report_to_json` gives the wire form of ``POST /v1/pdf/verify``, :func:`report_to_text`
the report a person reads (``kyso-agent verify``, the tray), in Vietnamese or English.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from agent import messages
from agent.messages import DEFAULT_LANG, Lang
from agent.pdf.verify.model import (
    Coverage,
    Modifications,
    Revocation,
    SignatureKind,
    SignatureReport,
    VerificationReport,
)
from agent.verify_text import format_time, short_name


def report_to_json(report: VerificationReport) -> dict[str, Any]:
    """The wire form: camelCase keys, ISO 8601 times, base64 certificates, ``allValid``."""
    return {
        "allValid": report.all_valid,
        "signatures": [_signature_to_json(s) for s in report.signatures],
    }


def _signature_to_json(s: SignatureReport) -> dict[str, Any]:
    return {
        "fieldName": s.field_name,
        "kind": s.kind.value,
        "signer": s.signer,
        "signerCertificate": (
            base64.b64encode(s.signer_certificate).decode() if s.signer_certificate else None
        ),
        "signingTime": _iso(s.signing_time),
        "intact": s.intact,
        "valid": s.valid,
        "trusted": s.trusted,
        "chain": list(s.chain),
        "revocation": s.revocation.value,
        "timestamp": _iso(s.timestamp),
        "timestampValid": s.timestamp_valid,
        "coverage": s.coverage.value,
        "modifications": s.modifications.value,
        "docmdpOk": s.docmdp_ok,
        "level": s.level,
        "problems": [p.value for p in s.problems],
        "ok": s.ok,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _text(key: str, lang: Lang, **values: object) -> str:
    return messages.text(key, lang, **values)


def report_to_text(report: VerificationReport, lang: str = "vi") -> str:
    """A report for people, in Vietnamese (default) or English: one block per signature."""
    try:
        chosen = Lang(lang)
    except ValueError:
        chosen = DEFAULT_LANG
    lines: list[str] = []
    if not report.signatures:
        lines += [_text("verify_none", chosen), _text("verify_no_signature_verdict", chosen)]
        return "\n".join(lines) + "\n"
    lines.append(_text("verify_count", chosen, count=len(report.signatures)))
    verdict = "verify_all_valid" if report.all_valid else "verify_not_all_valid"
    lines.append(_text(verdict, chosen))
    for index, signature in enumerate(report.signatures, 1):
        lines.append("")
        lines += _signature_lines(index, signature, chosen)
    return "\n".join(lines) + "\n"


def _signature_lines(index: int, s: SignatureReport, lang: Lang) -> list[str]:
    def mark(good: bool | None, key: str, **values: object) -> str:
        symbol = {True: "✓", False: "✗", None: "•"}[good]
        return f"  {symbol} {_text(key, lang, **values)}"

    heading = (
        "verify_heading_timestamp"
        if s.kind is SignatureKind.DOCUMENT_TIMESTAMP
        else "verify_heading"
    )
    signer = s.signer or _text("verify_unknown_signer", lang)
    lines = [
        _text(heading, lang, index=index, signer=signer),
        f"  {_text('verify_ok' if s.ok else 'verify_not_ok', lang)}",
        f"    {_text('verify_field', lang, name=s.field_name)}",
        mark(s.intact, "verify_intact" if s.intact else "verify_not_intact"),
        mark(s.valid, "verify_valid" if s.valid else "verify_not_valid"),
    ]
    if s.trusted:
        lines.append(mark(True, "verify_trusted", root=short_name(s.chain[-1] if s.chain else "")))
    else:
        lines.append(mark(False, "verify_untrusted"))
    revocation: dict[Revocation, tuple[bool | None, str]] = {
        Revocation.GOOD: (True, "verify_revocation_good"),
        Revocation.REVOKED: (False, "verify_revocation_revoked"),
        Revocation.UNKNOWN: (None, "verify_revocation_unknown"),
        Revocation.NOT_CHECKED: (None, "verify_revocation_not_checked"),
    }
    lines.append(mark(*revocation[s.revocation]))
    if s.kind is SignatureKind.SIGNATURE:
        if s.signing_time is None:
            lines.append(f"    {_text('verify_no_signing_time', lang)}")
        else:
            when = format_time(s.signing_time, lang)
            lines.append(f"    {_text('verify_signing_time', lang, time=when)}")
    if s.timestamp is None:
        lines.append(mark(None, "verify_no_timestamp"))
    else:
        when = format_time(s.timestamp, lang)
        key = "verify_timestamp_valid" if s.timestamp_valid else "verify_timestamp_invalid"
        lines.append(mark(bool(s.timestamp_valid), key, time=when))
    lines.append(_coverage_line(s, lang, mark))
    if s.level:
        lines.append(f"    {_text('verify_level', lang, level=s.level)}")
    if s.problems:
        described = "; ".join(
            _text("verify_problem_" + p.value.replace("-", "_"), lang) for p in s.problems
        )
        lines.append(f"    {_text('verify_problems', lang, problems=described)}")
    return lines


def _coverage_line(s: SignatureReport, lang: Lang, mark: Any) -> str:
    what_key = {
        Modifications.LTA_UPDATES: "verify_modified_lta",
        Modifications.FORM_FILLING: "verify_modified_form",
        Modifications.ANNOTATIONS: "verify_modified_annotations",
        Modifications.OTHER: "verify_modified_other",
        Modifications.UNKNOWN: "verify_modified_unknown",
    }
    line: str
    if s.coverage is Coverage.PARTIAL:
        line = mark(False, "verify_coverage_partial")
    elif s.coverage is Coverage.ENTIRE_DOCUMENT or s.modifications is Modifications.NONE:
        line = mark(True, "verify_coverage_entire")
    elif s.modifications_allowed:
        what = _text(what_key[s.modifications], lang)
        line = mark(True, "verify_coverage_revision", what=what)
    else:
        what = _text(what_key.get(s.modifications, "verify_modified_other"), lang)
        line = mark(False, "verify_coverage_modified", what=what)
    return line
