"""What the consent and PIN dialog shows and what it answers — pure logic, no Tk.

:func:`describe` turns a :class:`~agent.consent.prompter.PromptRequest` into a
:class:`DialogView` (every text already in the user's language, from
:mod:`agent.messages`); :func:`build_answer` turns what the user did into the
protocol answer, or refuses with a message the dialog shows next to the buttons.
The Tk view in :mod:`agent.ui.dialog` only lays these out.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from agent.algorithms import HashAlgorithm
from agent.consent.prompter import (
    MAX_PREVIEW_BYTES,
    PREVIEW_SIDE,
    CertificateChoice,
    DocumentView,
    PagePreview,
    PinRequest,
    PromptAction,
    PromptRequest,
    RetryReason,
)
from agent.messages import Lang, format_date, text
from agent.origin import LOCAL_CALLER, InvalidOrigin, parse_origin
from agent.pin import TriesLeft

#: Second-level domains under which Vietnam registers names (vnnic.vn), so that
#: ``portal.example.gov.vn`` emphasises ``example.gov.vn``, not ``gov.vn``.
VN_SECOND_LEVEL: Final = frozenset(
    {
        "ac",
        "biz",
        "com",
        "edu",
        "gov",
        "health",
        "info",
        "int",
        "name",
        "net",
        "org",
        "pro",
    }
)

#: Generic fallback for other country codes (``example.co.uk``, ``example.com.au``).
GENERIC_SECOND_LEVEL: Final = frozenset({"ac", "co", "com", "edu", "gov", "net", "or", "org"})

#: The largest question read. The agent's own limits bound what it asks: 1000 hashes with
#: 255-character names, or 500 XML documents with their summaries, stay under half of it
#: (tests/unit/test_dialog_model.py builds both).
MAX_QUESTION_BYTES: Final = 8 * 1024 * 1024

#: Longest path of a document's copy for the viewer read from a question.
MAX_FILE_PATH: Final = 4096

#: Lines of documents the window shows as they are; a longer list goes in a scrolled box,
#: so that a batch of 500 invoices is listed in full without a window taller than the screen.
MAX_INLINE_DOCUMENT_LINES: Final = 12


class Tone(StrEnum):
    """How a notice looks."""

    INFO = "info"
    WARNING = "warning"
    DANGER = "danger"


@dataclass(frozen=True)
class Notice:
    """One sentence the user must not miss."""

    text: str
    """What it says."""
    tone: Tone
    """How loud it is (danger is red)."""


@dataclass(frozen=True)
class OriginView:
    """The asking origin cut in three so the registrable domain can stand out."""

    before: str
    """Scheme and sub-domains, e.g. ``https://portal.``."""
    domain: str
    """The registrable domain, e.g. ``example.gov.vn`` (emphasised)."""
    after: str
    """An explicit port, e.g. ``:8443``, or empty."""

    @property
    def full(self) -> str:
        """The origin as one string."""
        return self.before + self.domain + self.after


@dataclass(frozen=True)
class PreviewView:
    """The picture of the page a PDF signature goes on, and what it says."""

    png: bytes = field(repr=False)
    """PNG, the stamp's box already drawn on it."""
    width: int
    """Its width, pixels."""
    height: int
    """Its height, pixels."""
    caption: str
    """"Trang 2/3 — khung đỏ là chỗ đặt chữ ký." (or that the signature is not drawn)."""


@dataclass(frozen=True)
class DocumentLine:
    """One document as listed."""

    name: str
    """Its name, or "(unnamed)"."""
    fingerprint: str
    """The digest, shortened and labelled, e.g. ``Mã băm SHA-256: 2CF2 4DBA … 9824``."""
    route: tuple[str, ...] = ()
    """``Lấy từ: …`` and ``Gửi tới: …``, for another origin than the asking page's."""
    summary: tuple[str, ...] = ()
    """What the document says it is (an XML e-invoice: number, seller, buyer, total)."""
    preview: PreviewView | None = None
    """The page the signature goes on (a single PDF), shown under the document's lines."""
    file: Path | None = None
    """The document's copy for the user's viewer (a single PDF): the dialog offers to open it
    only after checking it is the agent's own (:func:`agent.pdf.viewer.is_viewer_copy`)."""


def document_lines(document: DocumentLine) -> int:
    """How many lines ``document`` takes in the list: name, summary, fingerprint, route."""
    return 2 + len(document.summary) + len(document.route)


@dataclass(frozen=True)
class CertificateView:
    """One certificate as the user sees it."""

    id: str
    """The protocol id, echoed in the answer."""
    holder: str
    """Subject common name."""
    lines: tuple[str, ...]
    """Organisation, issuer, validity and token, each one labelled line."""


class PinField(StrEnum):
    """What the PIN part of the dialog holds."""

    NONE = "none"
    """No PIN part (certificate selection)."""
    ENTRY = "entry"
    """A masked entry field."""
    PINPAD = "pinpad"
    """No field: the PIN is typed on the reader."""
    CACHED = "cached"
    """No field: the PIN cached under machine policy is used."""


@dataclass(frozen=True)
class PinView:
    """The PIN part of the dialog."""

    field: PinField
    """Entry field, PIN pad or cached PIN."""
    label: str
    """Label in front of the entry field."""
    notes: tuple[Notice, ...]
    """PIN pad or cached-PIN explanation, tries-left warnings."""
    final_try: bool
    """The final attempt before the token locks: the tick box must be ticked."""
    tick_label: str
    """Text of the tick box (shown only on the final try)."""


@dataclass(frozen=True)
class DialogView:
    """Everything the dialog shows, in one language."""

    lang: Lang
    """Language of every text below."""
    action: PromptAction
    """select-certificate or sign."""
    window_title: str
    """Window title; always contains "Kyso Agent" (tests find the window by it)."""
    heading: str
    """First line inside the window."""
    origin_label: str
    """Label in front of the origin."""
    origin: OriginView
    """Who asks."""
    notices: tuple[Notice, ...]
    """Wrong PIN last time, first use of a wildcard origin."""
    documents_heading: str
    """"Document to sign:" or "3 documents will be signed:" (empty when nothing is signed)."""
    documents: tuple[DocumentLine, ...]
    """Every document, in the order they will be signed."""
    documents_scroll: str
    """Empty when the documents fit the window; else the hint under their scrolled list
    ("Scroll to see all 500 documents"): more than :data:`MAX_INLINE_DOCUMENT_LINES` lines."""
    certificates_heading: str
    """"Certificate:" or "Choose a certificate (N):"."""
    certificates: tuple[CertificateView, ...]
    """The certificates offered, in order."""
    chooser: bool
    """Several certificates: the user picks one (the first is preselected)."""
    pin: PinView
    """The PIN part."""
    approve_label: str
    """Ký / Sign (or Đồng ý / Allow for a certificate request)."""
    cancel_label: str
    """Hủy / Cancel."""
    keys_hint: str
    """"Enter = Ký · Esc = Hủy"."""
    open_label: str
    """"Mở tài liệu…": the button opening a document's copy in the user's viewer."""
    open_failed: str
    """What the dialog says when no viewer could be started."""


class AnswerRefused(ValueError):
    """The user pressed approve but the answer is not complete; the message says why."""


# --- origin -------------------------------------------------------------------------------


def registrable_domain(host: str) -> str:
    """The part of ``host`` a person must check: ``example.gov.vn`` in ``a.b.example.gov.vn``.

    Vietnam's second-level registries (``gov.vn``, ``com.vn``, ``edu.vn`` …) come from a
    small table, other country codes get a generic guess (``co.uk``); IP addresses,
    ``localhost`` and single labels are returned whole.
    """
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:
        return host
    labels = host.split(".")
    if len(labels) <= 2:
        return host
    tld, second = labels[-1], labels[-2]
    two_level = (tld == "vn" and second in VN_SECOND_LEVEL) or (
        len(tld) == 2 and second in GENERIC_SECOND_LEVEL
    )
    return ".".join(labels[-3:] if two_level else labels[-2:])


def split_origin(origin: str) -> OriginView:
    """Cut ``origin`` into what comes before the registrable domain, the domain, and the port."""
    try:
        parsed = parse_origin(origin)
    except InvalidOrigin:
        return OriginView(before="", domain=origin, after="")
    shown = str(parsed)
    host_start = len(parsed.scheme) + len("://")
    host_end = host_start + len(parsed.host)
    domain = registrable_domain(parsed.host)
    return OriginView(
        before=shown[: host_end - len(domain)],
        domain=domain,
        after=shown[host_end:],
    )


# --- documents and certificates --------------------------------------------------------------


def fingerprint(digest: bytes) -> str:
    """A digest shortened for the eye: ``2CF2 4DBA … 9824`` (first 8 and last 4 hex digits)."""
    hexed = digest.hex().upper()
    if len(hexed) <= 12:
        return " ".join(hexed[i : i + 4] for i in range(0, len(hexed), 4))
    return f"{hexed[0:4]} {hexed[4:8]} … {hexed[-4:]}"


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header, or ``None`` when ``data`` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _preview_view(preview: PagePreview, lang: Lang) -> PreviewView | None:
    size = png_size(preview.png)
    if size is None:
        return None
    key = "dialog_preview_stamp" if preview.stamp else "dialog_preview_invisible"
    caption = text(key, lang, page=preview.page, pages=preview.pages)
    return PreviewView(preview.png, size[0], size[1], caption)


def _document_line(document: DocumentView, lang: Lang, *, single: bool) -> DocumentLine:
    """``single``: the only document of the question, the one shown with its page and copy
    (a batch is listed without them: one page of one document would stand for all)."""
    route = []
    if document.source is not None:
        route.append(text("dialog_document_from", lang, origin=document.source))
    if document.destination is not None:
        route.append(text("dialog_document_to", lang, origin=document.destination))
    return DocumentLine(
        name=document.name or text("dialog_unnamed", lang),
        fingerprint=text(
            "dialog_fingerprint",
            lang,
            algorithm=document.algorithm.value,
            fingerprint=fingerprint(document.digest),
        ),
        route=tuple(route),
        summary=document.summary,
        preview=(
            _preview_view(document.preview, lang)
            if single and document.preview is not None
            else None
        ),
        file=document.file if single else None,
    )


def name_attribute(rfc4514: str, oid: x509.ObjectIdentifier) -> str | None:
    """The first value of ``oid`` in an RFC 4514 distinguished name, if any."""
    try:
        values = x509.Name.from_rfc4514_string(rfc4514).get_attributes_for_oid(oid)
    except ValueError:
        return None
    for attribute in values:
        value = attribute.value
        shown = value if isinstance(value, str) else value.decode("utf-8", "replace")
        if shown.strip():
            return shown.strip()
    return None


def _certificate_view(choice: CertificateChoice, lang: Lang) -> CertificateView:
    holder = name_attribute(choice.subject, NameOID.COMMON_NAME) or choice.subject
    organisation = name_attribute(choice.subject, NameOID.ORGANIZATION_NAME)
    issuer = name_attribute(choice.issuer, NameOID.COMMON_NAME) or choice.issuer
    lines = [
        *([text("dialog_organisation", lang, value=organisation)] if organisation else []),
        text("dialog_issuer", lang, value=issuer),
        text("dialog_valid_until", lang, date=format_date(choice.not_after, lang)),
        text("dialog_token", lang, label=choice.token),
    ]
    return CertificateView(choice.id, holder, tuple(lines))


# --- PIN ---------------------------------------------------------------------------------------


def _pin_view(pin: PinRequest | None, lang: Lang) -> PinView:
    label = text("dialog_pin_label", lang)
    tick = text("dialog_final_tick", lang)
    if pin is None:
        return PinView(PinField.NONE, label, (), final_try=False, tick_label=tick)
    notes: list[Notice] = []
    if pin.pinpad:
        field = PinField.PINPAD
        notes.append(Notice(text("dialog_pinpad", lang), Tone.INFO))
    elif pin.cached or not pin.required:
        field = PinField.CACHED
        notes.append(Notice(text("dialog_pin_cached", lang), Tone.INFO))
    else:
        field = PinField.ENTRY
    final = pin.tries_left is TriesLeft.FINAL
    if final:
        notes.append(Notice(text("dialog_pin_final", lang), Tone.DANGER))
    elif pin.tries_left is TriesLeft.LOW:
        notes.append(Notice(text("dialog_pin_low", lang), Tone.WARNING))
    return PinView(field, label, tuple(notes), final_try=final, tick_label=tick)


# --- the whole dialog ------------------------------------------------------------------------


def _heading_key(origin: str, *, signing: bool) -> str:
    # A file the user picked in the tray or on the command line is not a portal's request.
    if origin == str(LOCAL_CALLER):
        return "dialog_heading_sign_local" if signing else "dialog_heading_select_local"
    return "dialog_heading_sign" if signing else "dialog_heading_select"


def describe(request: PromptRequest) -> DialogView:
    """Everything the dialog shows for ``request``."""
    lang = request.lang
    signing = request.action is PromptAction.SIGN
    notices: list[Notice] = []
    if request.retry is RetryReason.PIN_INCORRECT:
        notices.append(Notice(text("dialog_retry_pin", lang), Tone.DANGER))
    if request.first_use:
        notices.append(Notice(text("dialog_first_use", lang), Tone.WARNING))
    count = len(request.documents)
    if count == 0:
        documents_heading = ""
    elif count == 1:
        documents_heading = text("dialog_documents_one", lang)
    else:
        documents_heading = text("dialog_documents_many", lang, count=count)
    documents = tuple(_document_line(d, lang, single=count == 1) for d in request.documents)
    scroll = sum(document_lines(d) for d in documents) > MAX_INLINE_DOCUMENT_LINES
    chooser = len(request.certificates) > 1
    approve = text("dialog_sign" if signing else "dialog_allow", lang)
    cancel = text("dialog_cancel", lang)
    return DialogView(
        lang=lang,
        action=request.action,
        window_title=text("dialog_title_sign" if signing else "dialog_title_select", lang),
        heading=text(_heading_key(request.origin, signing=signing), lang),
        origin_label=text("dialog_origin", lang),
        origin=split_origin(request.origin),
        notices=tuple(notices),
        documents_heading=documents_heading,
        documents=documents,
        documents_scroll=text("dialog_documents_scroll", lang, count=count) if scroll else "",
        certificates_heading=(
            text("dialog_certificate_choose", lang, count=len(request.certificates))
            if chooser
            else text("dialog_certificate_one", lang)
        ),
        certificates=tuple(_certificate_view(c, lang) for c in request.certificates),
        chooser=chooser,
        pin=_pin_view(request.pin if signing else None, lang),
        approve_label=approve,
        cancel_label=cancel,
        keys_hint=text("dialog_keys", lang, approve=approve, cancel=cancel),
        open_label=text("dialog_open_document", lang),
        open_failed=text("dialog_open_failed", lang),
    )


def countdown_text(remaining: float, lang: Lang) -> str:
    """ "Cancels by itself in 1:05" for ``remaining`` seconds (rounded up, never negative)."""
    seconds = max(0, int(-(-remaining // 1)))
    return text("dialog_countdown", lang, time=f"{seconds // 60}:{seconds % 60:02d}")


def build_answer(
    view: DialogView, certificate: int | None, pin: str, final_tick: bool
) -> dict[str, Any]:
    """The protocol answer for "approve", or :class:`AnswerRefused` with what is missing.

    ``certificate`` is the index of the chosen certificate, ``pin`` what was typed (ignored
    unless the dialog has a PIN field), ``final_tick`` the state of the final-try tick box.
    """
    if certificate is None or not 0 <= certificate < len(view.certificates):
        raise AnswerRefused(text("dialog_need_certificate", view.lang))
    answer: dict[str, Any] = {"approved": True, "certificateId": view.certificates[certificate].id}
    if view.pin.field is PinField.ENTRY:
        if not pin:
            raise AnswerRefused(text("dialog_need_pin", view.lang))
        answer["pin"] = pin
    if view.pin.final_try:
        if not final_tick:
            raise AnswerRefused(text("dialog_need_tick", view.lang))
        answer["confirmFinalTry"] = True
    return answer


def cancel_answer() -> dict[str, Any]:
    """The protocol answer for "cancel"."""
    return {"approved": False}


# --- the question on the wire ----------------------------------------------------------------


class InvalidQuestion(ValueError):
    """A question that does not follow the prompter protocol."""


def _field(obj: dict[str, Any], key: str, kind: type[Any]) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise InvalidQuestion(f"{key!r} must be {kind.__name__}")
    return value


MAX_SUMMARY_LINES: Final = 12
"""Most summary lines shown for one document (an e-invoice has seven)."""
MAX_SUMMARY_CHARS: Final = 300
"""Longest summary line shown; the agent writes shorter ones."""


def _summary(value: Any) -> tuple[str, ...]:
    """The optional ``summary`` of a document: a list of strings, bounded for the window."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
        raise InvalidQuestion("'summary' must be a list of strings")
    return tuple(line[:MAX_SUMMARY_CHARS] for line in value[:MAX_SUMMARY_LINES])


_MAX_PREVIEW_BASE64: Final = 4 * -(-MAX_PREVIEW_BYTES // 3)
"""Longest base64 text of a preview of :data:`MAX_PREVIEW_BYTES`."""


def _preview(value: Any) -> PagePreview | None:
    """The optional ``preview`` of a document: a PNG no larger than the protocol allows (a
    larger picture would not fit the window), with its page number."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidQuestion("'preview' must be an object")
    encoded = _field(value, "png", str)
    if len(encoded) > _MAX_PREVIEW_BASE64:
        raise InvalidQuestion("'preview' is too large")
    try:
        png = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InvalidQuestion("'preview' is not base64") from None
    size = png_size(png)
    if size is None:
        raise InvalidQuestion("'preview' is not a PNG")
    if len(png) > MAX_PREVIEW_BYTES or not all(0 < side <= PREVIEW_SIDE for side in size):
        raise InvalidQuestion("'preview' is too large")
    page, pages = _field(value, "page", int), _field(value, "pages", int)
    if not 1 <= page <= pages:
        raise InvalidQuestion("'preview' names a page outside the document")
    return PagePreview(png, page, pages, stamp=_field(value, "stamp", bool))


def _file(value: Any) -> Path | None:
    """The optional ``file`` of a document: where its copy for the viewer is (checked by the
    dialog before it is opened)."""
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_FILE_PATH or "\0" in value:
        raise InvalidQuestion("'file' must be a path")
    return Path(value)


def parse_question(wire: Any) -> PromptRequest:
    """Read the question the agent wrote (the inverse of ``PromptRequest.to_wire``)."""
    if not isinstance(wire, dict):
        raise InvalidQuestion("the question must be a JSON object")
    try:
        action = PromptAction(_field(wire, "action", str))
        lang = Lang(wire.get("lang", Lang.VI.value))
        certificates = tuple(
            CertificateChoice(
                id=_field(c, "id", str),
                subject=_field(c, "subject", str),
                issuer=_field(c, "issuer", str),
                not_after=datetime.fromisoformat(_field(c, "notAfter", str)),
                token=str(c.get("token") or ""),
            )
            for c in _field(wire, "certificates", list)
        )
        documents = tuple(
            DocumentView(
                name=d.get("name") if isinstance(d.get("name"), str) else None,
                digest=bytes.fromhex(_field(d, "digest", str)),
                algorithm=HashAlgorithm(_field(d, "algorithm", str)),
                source=d.get("from") if isinstance(d.get("from"), str) else None,
                destination=d.get("to") if isinstance(d.get("to"), str) else None,
                summary=_summary(d.get("summary")),
                preview=_preview(d.get("preview")),
                file=_file(d.get("file")),
            )
            for d in wire.get("documents") or ()
        )
        pin_wire = wire.get("pin")
        pin = (
            PinRequest(
                required=bool(pin_wire.get("required")),
                pinpad=bool(pin_wire.get("pinpad")),
                tries_left=TriesLeft(pin_wire.get("triesLeft", TriesLeft.OK.value)),
                cached=bool(pin_wire.get("cached")),
            )
            if isinstance(pin_wire, dict)
            else None
        )
        retry_wire = wire.get("retry")
        retry = RetryReason(retry_wire["reason"]) if isinstance(retry_wire, dict) else None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidQuestion):
            raise
        raise InvalidQuestion(f"malformed question ({type(exc).__name__})") from None
    if not certificates:
        raise InvalidQuestion("no certificate offered")
    return PromptRequest(
        action=action,
        origin=_field(wire, "origin", str),
        certificates=certificates,
        documents=documents,
        pin=pin,
        retry=retry,
        lang=lang,
        first_use=wire.get("firstUse") is True,
    )
