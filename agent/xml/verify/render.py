"""A :class:`~agent.xml.verify.model.XmlVerificationReport` for the wire and for people.

:func:`report_to_json` gives the wire form, named as the PDF report's
(:func:`agent.pdf.verify.render.report_to_json`); :func:`report_to_text` the report a
person reads (``kyso-agent verify``), in Vietnamese or English.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from agent.messages import DEFAULT_LANG, Lang, text
from agent.verify_text import format_time, short_name
from agent.xml.verify.model import XmlSignatureReport, XmlVerificationReport


def report_to_json(report: XmlVerificationReport) -> dict[str, Any]:
    """The wire form, named as the PDF report's: camelCase, ISO 8601 times, ``allValid``."""
    return {
        "allValid": report.all_valid,
        "signatures": [_signature_to_json(s) for s in report.signatures],
    }


def _signature_to_json(s: XmlSignatureReport) -> dict[str, Any]:
    return {
        "signatureId": s.signature_id,
        "signer": s.signer,
        "subject": s.subject,
        "issuer": s.issuer,
        "validity": {"notBefore": _iso(s.not_before), "notAfter": _iso(s.not_after)},
        "signerCertificate": (base64.b64encode(s.certificate).decode() if s.certificate else None),
        "covers": list(s.covers),
        "references": [
            {"uri": r.uri, "target": r.target, "element": r.element, "intact": r.intact}
            for r in s.references
        ],
        "intact": s.intact,
        "valid": s.value_ok,
        "trusted": s.trusted,
        "chain": list(s.chain),
        "signingTime": _iso(s.signing_time),
        "algorithm": s.algorithm,
        "problems": [p.value for p in s.problems],
        "ok": s.ok,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def report_to_text(report: XmlVerificationReport, lang: Lang | str = DEFAULT_LANG) -> str:
    """A report for people, in Vietnamese (default) or English: one block per signature."""
    try:
        chosen = Lang(lang)
    except ValueError:
        chosen = DEFAULT_LANG
    if not report.signatures:
        lines = [text("verify_none", chosen), text("verify_no_signature_verdict", chosen)]
        return "\n".join(lines) + "\n"
    lines = [text("verify_count", chosen, count=len(report.signatures))]
    lines.append(text("verify_all_valid" if report.all_valid else "verify_not_all_valid", chosen))
    for index, signature in enumerate(report.signatures, 1):
        lines.append("")
        lines += _signature_lines(index, signature, chosen)
    return "\n".join(lines) + "\n"


def _signature_lines(index: int, s: XmlSignatureReport, lang: Lang) -> list[str]:
    def mark(good: bool, key: str, **values: object) -> str:
        return f"  {'✓' if good else '✗'} {text(key, lang, **values)}"

    whole = text("xml_verify_whole_document", lang)
    covered = ", ".join(
        (f"#{r.target}" if r.target else whole) + ("" if r.intact else " ✗") for r in s.references
    )
    lines = [
        text(
            "verify_heading",
            lang,
            index=index,
            signer=s.signer or text("verify_unknown_signer", lang),
        ),
        f"  {text('verify_ok' if s.ok else 'verify_not_ok', lang)}",
        f"    {text('xml_verify_covers', lang, elements=covered or '-')}",
        mark(s.intact, "verify_intact" if s.intact else "verify_not_intact"),
        mark(s.value_ok, "verify_valid" if s.value_ok else "verify_not_valid"),
    ]
    if s.trusted:
        root = s.chain[-1] if s.chain else ""
        lines.append(mark(True, "verify_trusted", root=short_name(root)))
    else:
        lines.append(mark(False, "verify_untrusted"))
    if s.subject:
        lines.append(f"    {text('xml_verify_issuer', lang, issuer=short_name(s.issuer))}")
    if s.not_before is not None and s.not_after is not None:
        lines.append(
            "    "
            + text(
                "xml_verify_validity",
                lang,
                start=format_time(s.not_before, lang),
                end=format_time(s.not_after, lang),
            )
        )
    if s.signing_time is None:
        lines.append(f"    {text('verify_no_signing_time', lang)}")
    else:
        when = format_time(s.signing_time, lang)
        lines.append(f"    {text('verify_signing_time', lang, time=when)}")
    if s.problems:
        described = "; ".join(
            text("verify_problem_" + p.value.replace("-", "_"), lang) for p in s.problems
        )
        lines.append(f"    {text('verify_problems', lang, problems=described)}")
    return lines
