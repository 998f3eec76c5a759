"""What the consent dialog shows about an XML document: e-invoices, tax declarations, others.

The documents follow the shapes of Nghị định 123/2020 and Thông tư 78/2021 e-invoices and
of HTKK tax declarations, with and without namespaces; fields are read by local name.
"""

from __future__ import annotations

import pytest

from agent.messages import Lang
from agent.xml.parse import parse_xml
from agent.xml.summary import MAX_FIELD_CHARS, Party, XmlKind, summarize_xml, summary_lines

INVOICE = """<?xml version="1.0" encoding="UTF-8"?>
<HDon{ns}>
  <DLHDon Id="data">
    <TTChung>
      <PBan>2.0.1</PBan><THDon>Hóa đơn giá trị gia tăng</THDon>
      <KHMSHDon>1</KHMSHDon><KHHDon>C25TAA</KHHDon><SHDon>42</SHDon>
      <NLap>2025-03-14</NLap><DVTTe>VND</DVTTe>
    </TTChung>
    <NDHDon>
      <NBan><Ten>CÔNG TY TNHH ÁNH DƯƠNG</Ten><MST>0101234567</MST></NBan>
      <NMua>{buyer}<MST>0309876543</MST></NMua>
      <TToan><TgTCThue>10000000</TgTCThue><TgTTTBSo>11000000</TgTTTBSo></TToan>
    </NDHDon>
  </DLHDon>
  <DSCKS><NBan/></DSCKS>
</HDon>
"""

DECLARATION = """<?xml version="1.0" encoding="UTF-8"?>
<HSoThueDTu xmlns="http://kekhaithue.gdt.gov.vn/TKhaiThue"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <HSoKhaiThue id="ID_1">
    <TTinChung>
      <TTinDVu><maDVu>HTKK</maDVu></TTinDVu>
      <TTinTKhaiThue>
        <TKhaiThue>
          <maTKhai>842</maTKhai>
          <tenTKhai>TỜ KHAI THUẾ GIÁ TRỊ GIA TĂNG (Mẫu số 01/GTGT)</tenTKhai>
          <KyKKhaiThue><kieuKy>{kind}</kieuKy><kyKKhai>{period}</kyKKhai></KyKKhaiThue>
        </TKhaiThue>
        <NNT><mst>0101234567</mst><tenNNT>Công ty TNHH Ánh Dương</tenNNT></NNT>
      </TTinTKhaiThue>
    </TTinChung>
  </HSoKhaiThue>
</HSoThueDTu>
"""


def invoice(ns: str = "", buyer: str = "<Ten>Trần Thị Bình</Ten>") -> bytes:
    return INVOICE.format(ns=ns, buyer=buyer).encode()


@pytest.mark.parametrize(
    "ns",
    ["", ' xmlns="http://laphoadon.gdt.gov.vn/2014/09/invoicexml/v1"'],
    ids=["no-namespace", "default-namespace"],
)
def test_an_invoice_is_read_field_by_field(ns: str) -> None:
    summary = summarize_xml(parse_xml(invoice(ns)), "data")
    assert summary.kind is XmlKind.INVOICE
    assert (summary.form, summary.serial, summary.number) == ("1", "C25TAA", "42")
    assert (summary.issued, summary.currency, summary.total) == ("2025-03-14", "VND", "11000000")
    assert summary.seller == Party("CÔNG TY TNHH ÁNH DƯƠNG", "0101234567")
    assert summary.buyer == Party("Trần Thị Bình", "0309876543")


def test_an_invoice_in_vietnamese_and_english() -> None:
    summary = summarize_xml(parse_xml(invoice()))
    assert summary_lines(summary, Lang.VI) == (
        "Hóa đơn điện tử",
        "Ký hiệu: 1C25TAA",
        "Số: 42",
        "Ngày lập: 14/03/2025",
        "Bên bán: CÔNG TY TNHH ÁNH DƯƠNG (MST 0101234567)",
        "Bên mua: Trần Thị Bình (MST 0309876543)",
        "Tổng tiền thanh toán: 11.000.000 VND",
    )
    assert summary_lines(summary, "en") == (
        "E-invoice",
        "Symbol: 1C25TAA",
        "Number: 42",
        "Issued: 2025-03-14",
        "Seller: CÔNG TY TNHH ÁNH DƯƠNG (tax code 0101234567)",
        "Buyer: Trần Thị Bình (tax code 0309876543)",
        "Total to pay: 11,000,000 VND",
    )


def test_a_buyer_who_is_a_person_is_named_by_full_name() -> None:
    summary = summarize_xml(parse_xml(invoice(buyer="<HVTNMHang>Lê Văn Cường</HVTNMHang>")))
    assert summary.buyer == Party("Lê Văn Cường", "0309876543")


def test_missing_fields_are_left_out_not_errors() -> None:
    bare = b"<HDon><DLHDon Id='x'><TTChung><SHDon>7</SHDon></TTChung></DLHDon></HDon>"
    summary = summarize_xml(parse_xml(bare))
    assert summary.kind is XmlKind.INVOICE
    assert summary.seller is None and summary.total is None
    assert summary_lines(summary, Lang.EN) == ("E-invoice", "Number: 7")


def test_a_prefixed_invoice_inside_a_message_is_found() -> None:
    wrapped = (
        b'<TDiep xmlns:h="urn:example:hd"><DLieu><h:HDon><h:DLHDon Id="a"><h:TTChung>'
        b"<h:KHMSHDon>2</h:KHMSHDon><h:KHHDon>K25TBB</h:KHHDon><h:SHDon>9</h:SHDon>"
        b"</h:TTChung><h:NDHDon><h:TToan><h:TgTTTBSo>1234567.5</h:TgTTTBSo></h:TToan>"
        b"</h:NDHDon></h:DLHDon></h:HDon></DLieu></TDiep>"
    )
    summary = summarize_xml(parse_xml(wrapped))
    assert (summary.kind, summary.root, summary.number) == (XmlKind.INVOICE, "TDiep", "9")
    assert "Tổng tiền thanh toán: 1.234.567,5" in summary_lines(summary, Lang.VI)
    assert "Total to pay: 1,234,567.5" in summary_lines(summary, Lang.EN)


def test_the_signed_invoice_is_the_one_summarized() -> None:
    two = (
        b"<DSHDon><HDon><DLHDon Id='a'><TTChung><SHDon>1</SHDon></TTChung></DLHDon></HDon>"
        b"<HDon><DLHDon Id='b'><TTChung><SHDon>2</SHDon></TTChung></DLHDon></HDon></DSHDon>"
    )
    assert summarize_xml(parse_xml(two), "b").number == "2"
    assert summarize_xml(parse_xml(two)).number == "1"


@pytest.mark.parametrize(
    ("kind", "period", "vi", "en"),
    [
        ("M", "05/2025", "Kỳ tính thuế: tháng 05/2025", "Period: month 05/2025"),
        ("Q", "1/2025", "Kỳ tính thuế: quý 1/2025", "Period: quarter 1/2025"),
        ("Y", "2024", "Kỳ tính thuế: năm 2024", "Period: year 2024"),
        ("X", "2024", "Kỳ tính thuế: 2024", "Period: 2024"),
    ],
)
def test_a_tax_declaration(kind: str, period: str, vi: str, en: str) -> None:
    summary = summarize_xml(parse_xml(DECLARATION.format(kind=kind, period=period).encode()))
    assert summary.kind is XmlKind.TAX_DECLARATION
    assert summary.form == "842"
    assert summary.taxpayer == Party("Công ty TNHH Ánh Dương", "0101234567")
    assert summary_lines(summary, Lang.VI) == (
        "Tờ khai thuế",
        "Mẫu tờ khai: 842 - TỜ KHAI THUẾ GIÁ TRỊ GIA TĂNG (Mẫu số 01/GTGT)",
        vi,
        "Người nộp thuế: Công ty TNHH Ánh Dương (MST 0101234567)",
    )
    assert summary_lines(summary, Lang.EN)[2] == en


def test_another_document_shows_its_root_and_signed_element() -> None:
    summary = summarize_xml(
        parse_xml(b'<a:Report xmlns:a="urn:x"><Body Id="b1"/></a:Report>'), "b1"
    )
    assert summary.kind is XmlKind.OTHER
    assert summary_lines(summary, Lang.VI) == (
        "Tài liệu XML: <Report>",
        'Phần sẽ ký: phần tử có Id "b1"',
    )
    assert summary_lines(summary, Lang.EN)[0] == "XML document: <Report>"


def test_names_cannot_hide_behind_control_characters_or_run_on() -> None:
    sneaky = "<Ten>ABC\u202eCorp\u200b  \n  Ltd</Ten>"
    summary = summarize_xml(parse_xml(invoice(buyer=sneaky)))
    assert summary.buyer is not None
    assert summary.buyer.name == "ABCCorp Ltd"
    long = summarize_xml(parse_xml(invoice(buyer=f"<Ten>{'A' * 500}</Ten>")))
    assert long.buyer is not None and long.buyer.name is not None
    assert len(long.buyer.name) == MAX_FIELD_CHARS
    assert long.buyer.name.endswith("…")


def test_unreadable_dates_and_amounts_are_shown_as_written() -> None:
    odd = invoice().replace(b"2025-03-14", b"14/03/2025").replace(b"11000000", b"11tr")
    lines = summary_lines(summarize_xml(parse_xml(odd)), Lang.VI)
    assert "Ngày lập: 14/03/2025" in lines
    assert "Tổng tiền thanh toán: 11tr VND" in lines
