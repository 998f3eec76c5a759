"""What the consent dialog says about an XML document, read from the document itself.

A PDF is shown by its name and fingerprint; an e-invoice or a tax declaration can say
much more, and should: the person about to sign sees the invoice number, the seller, the
buyer and the total (or the declaration's form, period and taxpayer) that the web page
sent, not what the page claims to have sent.

:func:`summarize_xml` reads a parsed tree (:func:`agent.xml.parse.parse_xml`) into an
:class:`XmlSummary`; :func:`summary_lines` puts it into short labelled lines in
Vietnamese or English. Elements are matched by local name, because issuers write the
same shapes with no namespace, a default namespace or a prefix. A missing field is
simply absent from the summary: this is a description, not a validation.

Shapes (Nghị định 123/2020, Thông tư 78/2021; HTKK tax declarations):

* e-invoice: ``HDon/DLHDon`` with ``TTChung/{KHMSHDon, KHHDon, SHDon, NLap, DVTTe}``,
  ``NDHDon/NBan/{Ten, MST}``, ``NDHDon/NMua/{Ten | HVTNMHang, MST}``,
  ``NDHDon/TToan/TgTTTBSo``;
* tax declaration: ``HSoThueDTu/HSoKhaiThue/TTinChung/TTinTKhaiThue`` with
  ``TKhaiThue/{maTKhai, tenTKhai, KyKKhaiThue/{kieuKy, kyKKhai}}`` and
  ``NNT/{mst, tenNNT}``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final

from agent.messages import Lang, format_date, text
from agent.xml.parse import elements_named, elements_with_id

MAX_FIELD_CHARS: Final = 120
"""A field longer than this is cut (with "…"): the dialog has a few lines, not a page."""


class XmlKind(StrEnum):
    """What kind of document the XML is."""

    INVOICE = "invoice"
    """A Vietnamese e-invoice (``HDon/DLHDon``)."""
    TAX_DECLARATION = "tax-declaration"
    """A tax declaration for the General Department of Taxation (``HSoKhaiThue``)."""
    OTHER = "other"
    """Anything else: only the root element and the signed element are shown."""


@dataclass(frozen=True)
class Party:
    """A seller, buyer or taxpayer as the document names it."""

    name: str | None = None
    """The name (``Ten``, ``HVTNMHang``, ``tenNNT``)."""
    tax_code: str | None = None
    """The tax code, mã số thuế (``MST``, ``mst``)."""


@dataclass(frozen=True)
class XmlSummary:
    """What the document says about itself; every field may be missing (``None``)."""

    kind: XmlKind
    """Invoice, tax declaration or other."""
    root: str
    """Local name of the root element."""
    signed_id: str | None = None
    """Id of the element the signature will cover, if the caller named one."""
    form: str | None = None
    """Invoice: template symbol (``KHMSHDon``). Declaration: form code (``maTKhai``)."""
    form_name: str | None = None
    """Declaration: form name (``tenTKhai``)."""
    serial: str | None = None
    """Invoice: serial symbol (``KHHDon``)."""
    number: str | None = None
    """Invoice: number (``SHDon``)."""
    issued: str | None = None
    """Invoice: date of issue (``NLap``), as written (ISO ``YYYY-MM-DD`` by the schema)."""
    currency: str | None = None
    """Invoice: currency (``DVTTe``)."""
    total: str | None = None
    """Invoice: total to pay in figures (``TgTTTBSo``), as written."""
    seller: Party | None = None
    """Invoice: the seller (``NBan``)."""
    buyer: Party | None = None
    """Invoice: the buyer (``NMua``)."""
    period_kind: str | None = None
    """Declaration: kind of period (``kieuKy``: ``M`` month, ``Q`` quarter, ``Y`` year…)."""
    period: str | None = None
    """Declaration: the period (``kyKKhai``, e.g. ``05/2024``, ``2/2024``, ``2024``)."""
    taxpayer: Party | None = None
    """Declaration: the taxpayer (``NNT``)."""


def summarize_xml(tree: Any, signed_id: str | None = None) -> XmlSummary:
    """Read the summary of ``tree`` (an ``lxml`` element tree); ``signed_id`` picks, among
    several invoices, the one being signed, and is shown for other documents."""
    root = tree.getroot()
    signed = _signed_element(tree, signed_id)
    invoice = _pick(elements_named(root, "DLHDon"), signed)
    if invoice is not None:
        return _invoice(root, invoice, signed_id)
    declaration = _pick(elements_named(root, "HSoKhaiThue"), signed)
    if declaration is not None:
        return _declaration(root, declaration, signed_id)
    return XmlSummary(kind=XmlKind.OTHER, root=_local(root), signed_id=signed_id)


def _invoice(root: Any, dlhdon: Any, signed_id: str | None) -> XmlSummary:
    general = _child(dlhdon, "TTChung")
    content = _child(dlhdon, "NDHDon")
    seller = _child(content, "NBan")
    buyer = _child(content, "NMua")
    return XmlSummary(
        kind=XmlKind.INVOICE,
        root=_local(root),
        signed_id=signed_id,
        form=_value(general, "KHMSHDon"),
        serial=_value(general, "KHHDon"),
        number=_value(general, "SHDon"),
        issued=_value(general, "NLap"),
        currency=_value(general, "DVTTe"),
        total=_value(_child(content, "TToan"), "TgTTTBSo"),
        seller=_party(seller, ("Ten",), "MST"),
        # A buyer who is a person, not a business, has a full name (HVTNMHang) and no Ten.
        buyer=_party(buyer, ("Ten", "HVTNMHang"), "MST"),
    )


def _declaration(root: Any, hskt: Any, signed_id: str | None) -> XmlSummary:
    info = _child(_child(hskt, "TTinChung"), "TTinTKhaiThue")
    form = _child(info, "TKhaiThue")
    period = _child(form, "KyKKhaiThue")
    return XmlSummary(
        kind=XmlKind.TAX_DECLARATION,
        root=_local(root),
        signed_id=signed_id,
        form=_value(form, "maTKhai"),
        form_name=_value(form, "tenTKhai"),
        period_kind=_value(period, "kieuKy"),
        period=_value(period, "kyKKhai"),
        taxpayer=_party(_child(info, "NNT"), ("tenNNT",), "mst"),
    )


# --- reading by local name -------------------------------------------------------------------


def _local(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rpartition("}")[2]


def _child(parent: Any, name: str) -> Any:
    if parent is None:
        return None
    for child in parent:
        if _local(child) == name:
            return child
    return None


def _signed_element(tree: Any, signed_id: str | None) -> Any:
    if not signed_id:
        return None
    found = elements_with_id(tree, signed_id)
    return found[0] if len(found) == 1 else None


def _pick(candidates: list[Any], signed: Any) -> Any:
    """The candidate that is, holds or lies inside the signed element; else the first."""
    if not candidates:
        return None
    if signed is not None:
        for candidate in candidates:
            if candidate is signed or candidate in signed.iterancestors():
                return candidate
            if signed in candidate.iterancestors():
                return candidate
    return candidates[0]


def _value(parent: Any, name: str) -> str | None:
    element = _child(parent, name)
    if element is None:
        return None
    return _clean("".join(element.itertext()))


def _party(element: Any, names: tuple[str, ...], tax_code: str) -> Party | None:
    if element is None:
        return None
    name = next((v for v in (_value(element, n) for n in names) if v), None)
    party = Party(name=name, tax_code=_value(element, tax_code))
    return party if party.name or party.tax_code else None


def _clean(raw: str) -> str | None:
    """Whitespace collapsed, control and format characters dropped, length bounded.

    Format characters (bidi overrides, zero-width joiners) could make a name read
    differently from what it is; the dialog shows what a person can check.
    """
    # A printable text has neither (the usual value: one line of letters, digits, spaces).
    kept = (
        raw
        if raw.isprintable()
        else "".join(c for c in raw if unicodedata.category(c) not in ("Cc", "Cf") or c in "\t\n")
    )
    value = " ".join(kept.split())
    if not value:
        return None
    if len(value) > MAX_FIELD_CHARS:
        return value[: MAX_FIELD_CHARS - 1] + "…"
    return value


# --- lines for people ------------------------------------------------------------------------

_PERIOD_KEYS: Final = {
    "D": "xml_summary_period_day",
    "M": "xml_summary_period_month",
    "Q": "xml_summary_period_quarter",
    "Y": "xml_summary_period_year",
}


def summary_lines(summary: XmlSummary, lang: Lang | str = Lang.VI) -> tuple[str, ...]:
    """Short labelled lines, the first naming the kind of document."""
    chosen = _lang(lang)
    if summary.kind is XmlKind.INVOICE:
        return _invoice_lines(summary, chosen)
    if summary.kind is XmlKind.TAX_DECLARATION:
        return _declaration_lines(summary, chosen)
    lines = [text("xml_summary_other", chosen, root=summary.root)]
    if summary.signed_id:
        lines.append(text("xml_summary_signed_element", chosen, id=summary.signed_id))
    return tuple(lines)


def _invoice_lines(s: XmlSummary, lang: Lang) -> tuple[str, ...]:
    lines = [text("xml_summary_invoice", lang)]
    symbol = "".join(v for v in (s.form, s.serial) if v)
    if symbol:
        lines.append(text("xml_summary_invoice_symbol", lang, value=symbol))
    if s.number:
        lines.append(text("xml_summary_invoice_number", lang, value=s.number))
    if s.issued:
        lines.append(text("xml_summary_invoice_date", lang, value=_date(s.issued, lang)))
    if s.seller:
        lines.append(text("xml_summary_seller", lang, party=_party_text(s.seller, lang)))
    if s.buyer:
        lines.append(text("xml_summary_buyer", lang, party=_party_text(s.buyer, lang)))
    if s.total:
        amount = " ".join(v for v in (_amount(s.total, lang), s.currency) if v)
        lines.append(text("xml_summary_total", lang, value=amount))
    return tuple(lines)


def _declaration_lines(s: XmlSummary, lang: Lang) -> tuple[str, ...]:
    lines = [text("xml_summary_tax", lang)]
    form = " - ".join(v for v in (s.form, s.form_name) if v)
    if form:
        lines.append(text("xml_summary_tax_form", lang, value=form))
    if s.period:
        key = _PERIOD_KEYS.get((s.period_kind or "").strip().upper())
        period = text(key, lang, value=s.period) if key else s.period
        lines.append(text("xml_summary_tax_period", lang, value=period))
    if s.taxpayer:
        lines.append(text("xml_summary_taxpayer", lang, party=_party_text(s.taxpayer, lang)))
    return tuple(lines)


def _party_text(party: Party, lang: Lang) -> str:
    if party.name and party.tax_code:
        return text("xml_summary_party", lang, name=party.name, tax_code=party.tax_code)
    if party.name:
        return party.name
    return text("xml_summary_party_tax_code_only", lang, tax_code=party.tax_code)


def _date(raw: str, lang: Lang) -> str:
    """``2024-05-31`` as ``31/05/2024`` in Vietnamese; anything unreadable as written."""
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        return raw
    return format_date(day, lang)


def _amount(raw: str, lang: Lang) -> str:
    """``11000000.5`` as ``11.000.000,5`` (Vietnamese) or ``11,000,000.5`` (English)."""
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return raw
    if not number.is_finite():
        return raw
    grouped = f"{number:,f}"
    if "." in grouped:
        grouped = grouped.rstrip("0").rstrip(".")
    if lang is Lang.VI:
        return grouped.translate(_VI_SEPARATORS)
    return grouped


_VI_SEPARATORS: Final = str.maketrans(",.", ".,")


def _lang(lang: Lang | str) -> Lang:
    try:
        return Lang(lang)
    except ValueError:
        return Lang.VI
