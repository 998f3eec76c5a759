"""The helpdesk report as plain text to paste into a ticket, in the user's language."""

from __future__ import annotations

from datetime import datetime

from agent.localtls.model import check_text
from agent.messages import Lang, text
from agent.status.inventory import ListedToken, TokenListing
from agent.status.model import (
    AuditStatus,
    ModuleStatus,
    StatusReport,
    TlsStatus,
    TokenStatus,
    Validity,
)


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _uptime(seconds: int, lang: Lang) -> str:
    minutes, _ = divmod(max(0, seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return text("status_uptime", lang, days=days, hours=hours, minutes=minutes)


def _pin_text(token: TokenStatus, lang: Lang) -> str:
    shown = text(f"status_pin_{token.pin.value}", lang)
    if token.pinpad:
        shown += text("status_pin_pinpad", lang)
    if not token.pin_initialized:
        shown += text("status_pin_not_initialized", lang)
    if token.pin_to_be_changed:
        shown += text("status_pin_to_be_changed", lang)
    return shown


def _head_lines(report: StatusReport, lang: Lang) -> list[str]:
    agent = report.agent
    generated = report.generated_at.astimezone().isoformat("T", "seconds")
    lines = [
        text("status_title", lang),
        text("status_generated", lang, time=generated),
        text("status_version", lang, version=agent.version, python=agent.python),
    ]
    if agent.running and agent.started_at is not None:
        lines.append(
            text(
                "status_running",
                lang,
                port=agent.port if agent.port is not None else "?",
                since=_local(agent.started_at),
                uptime=_uptime(agent.uptime_seconds or 0, lang),
            )
        )
    else:
        lines.append(text("status_not_running", lang))
    lines.append(text("status_data_dir", lang, path=agent.data_dir))
    attention = report.attention()
    if attention:
        lines += ["", text("status_attention_heading", lang)]
        lines += ["  - " + text(key, lang, **values) for key, values in attention]
    return lines


def _listener_lines(report: StatusReport, lang: Lang) -> list[str]:
    """Which plugin layers listen where, and which ports other programs hold."""
    if not report.listeners:
        return []
    lines = ["", text("status_listeners_heading", lang)]
    for listener in report.listeners:
        held = ", ".join(map(str, listener.held))
        if not listener.enabled:
            lines.append(text("status_listener_off", lang, product=listener.product))
        elif listener.url is None:
            lines.append(
                text("status_listener_waiting", lang, product=listener.product, ports=held)
            )
        else:
            line = text("status_listener_on", lang, product=listener.product, url=listener.url)
            lines.append(line + (text("status_listener_held", lang, ports=held) if held else ""))
    return lines


def _tls_lines(tls: TlsStatus, lang: Lang) -> list[str]:
    lines = [text("status_tls_heading", lang, path=tls.ca_file)]
    if tls.validity is Validity.MISSING or tls.not_after is None:
        lines.append(text("status_tls_missing", lang))
    else:
        key = {
            Validity.EXPIRED: "status_tls_expired",
            Validity.EXPIRING: "status_tls_expiring",
        }.get(tls.validity, "status_tls_valid")
        lines.append(text(key, lang, not_after=_local(tls.not_after), days=tls.days_left))
    if tls.ca_sha256:
        lines.append(text("status_tls_fingerprint", lang, fingerprint=tls.ca_sha256))
    return lines + [check_text(c, lang) for c in tls.trust]


def _module_line(module: ModuleStatus, lang: Lang) -> str:
    if not module.loaded:
        return text("status_module_failed", lang, path=module.path, error=module.error)
    if module.error:
        return text("status_module_read_failed", lang, path=module.path, error=module.error)
    description = module.description or "?"
    return text("status_module_loaded", lang, path=module.path, description=description)


def _token_lines(report: StatusReport, lang: Lang) -> list[str]:
    lines = [text("status_modules_heading", lang)]
    if not report.modules:
        lines.append(text("status_modules_none", lang))
    lines += [_module_line(m, lang) for m in report.modules]
    lines += ["", text("status_tokens_heading", lang)]
    if not report.tokens:
        lines.append(text("status_tokens_none", lang))
    lines += [
        text(
            "status_token",
            lang,
            label=token.label,
            serial=token.serial,
            maker=f"{token.manufacturer} {token.model}".strip(),
            pin=_pin_text(token, lang),
        )
        for token in report.tokens
    ]
    lines += ["", text("status_certs_heading", lang)]
    if not report.certificates:
        lines.append(text("status_certs_none", lang))
    for cert in report.certificates:
        holder = f"{cert.holder} ({cert.organization})" if cert.organization else cert.holder
        lines.append(
            text("status_cert", lang, holder=holder, issuer=cert.issuer, token=cert.token_label)
        )
        lines.append(
            text(
                f"status_cert_{cert.validity.value.replace('-', '_')}",
                lang,
                not_before=_local(cert.not_before),
                not_after=_local(cert.not_after),
                days=cert.days_left,
            )
        )
    return lines


def _audit_line(entry: AuditStatus, lang: Lang) -> str:
    action_key = "status_action_sign" if entry.action == "sign" else "status_action_select"
    documents = ", ".join(d or text("console_unnamed", lang) for d in entry.documents)
    line = text(
        "status_audit_entry",
        lang,
        time=_local(entry.time),
        origin=entry.origin,
        action=text(action_key, lang),
        outcome=entry.outcome,
        signatures=entry.signatures,
        holder=entry.holder or "-",
    )
    return line + (f" [{documents}]" if documents else "")


def _history_lines(report: StatusReport, lang: Lang) -> list[str]:
    none = text("status_none", lang)
    paired = ", ".join(p.origin for p in report.paired_origins) or none
    lines = [
        text("status_allowed", lang, origins=", ".join(report.allowed_origins) or none),
        text("status_paired", lang, origins=paired),
        "",
    ]
    if report.recent_errors:
        lines.append(text("status_errors_heading", lang, count=len(report.recent_errors)))
        lines += ["  " + line for line in report.recent_errors]
    else:
        lines.append(text("status_errors_none", lang))
    lines.append("")
    if report.audit:
        lines.append(text("status_audit_heading", lang, count=len(report.audit)))
        lines += [_audit_line(entry, lang) for entry in report.audit]
    else:
        lines.append(text("status_audit_none", lang))
    if report.problems:
        lines += ["", text("status_problems_heading", lang)]
        lines += ["  " + p for p in report.problems]
    return lines


def report_lines(report: StatusReport, lang: Lang) -> list[str]:
    """The report's lines of text."""
    return [
        *_head_lines(report, lang),
        *_listener_lines(report, lang),
        "",
        *_tls_lines(report.tls, lang),
        "",
        *_token_lines(report, lang),
        "",
        *_history_lines(report, lang),
    ]


# --- the token listing (kyso-agent tokens) -------------------------------------------------------


def _listed_token_lines(token: ListedToken, lang: Lang) -> list[str]:
    flags = [text("tokens_pin_tries", lang, state=token.pin.tries_left.value)]
    if token.pin.pinpad:
        flags.append(text("tokens_pin_pinpad", lang))
    maker = f"{token.manufacturer} {token.model}"
    pin = " ".join(flags)
    lines = [
        text(
            "tokens_token",
            lang,
            label=token.label,
            serial=token.serial,
            maker=maker,
            slot=token.slot,
            pin=pin,
        )
    ]
    if not token.certificates:
        lines.append(text("tokens_no_certificate", lang))
    for cert in token.certificates:
        kind = "CA" if cert.ca else (cert.key_type.value if cert.key_type else "?")
        lines.append(text("tokens_certificate", lang, kind=kind, subject=cert.subject))
        lines.append(text("tokens_certificate_issuer", lang, issuer=cert.issuer))
        lines.append(
            text(
                "tokens_certificate_valid",
                lang,
                not_before=cert.not_before.isoformat(),
                not_after=cert.not_after.isoformat(),
            )
        )
    return lines


def listing_lines(listing: TokenListing, lang: Lang) -> list[str]:
    """``kyso-agent tokens``: each module, its tokens and their certificates."""
    if not listing.modules:
        return [text("tokens_no_module", lang)]
    lines: list[str] = []
    for module in listing.modules:
        state = text("tokens_module_loaded" if module.loaded else "tokens_module_failed", lang)
        lines.append(text("tokens_module", lang, path=module.path, state=state))
        if module.description:
            lines.append(f"  {module.description}")
        if module.error:
            lines.append(text("tokens_module_error", lang, error=module.error))
        if module.loaded and not module.tokens:
            lines.append(text("tokens_no_token", lang))
        for token in module.tokens:
            lines += _listed_token_lines(token, lang)
    return lines
