"""Where stamps go, end to end: the real agent on SoftHSM signs through the VGCA port and the
HTTPS API, and independent tools judge the result: pdfsig and pyHanko the signatures, qpdf the
file, the widget rectangles read back from the file, pdftotext the stamps' words.

Two certificates sign every stacked document (poppler 22's pdfsig never trusts a second
signature made with a certificate it already saw in the file).
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest

from tests.conftest import PIN, AgentProcess, SessionToken, start_vgca_agent
from tests.integration.test_vgca import CLERK, LEADER, call_for_document
from tests.pdftools import NssDb, page_text, pyhanko_bottom_line, qpdf_clean, sample_pdf
from tests.placement_pdfs import fields_page
from tests.verify import b64, der
from tests.vgca_portal import Site

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("pdfsig", "pdftotext", "qpdf")),
        reason="needs poppler-utils and qpdf",
    ),
]

Box = tuple[float, float, float, float]


@pytest.fixture(scope="module")
def vgca(
    token: SessionToken, portal: Site, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    """An agent with the VGCA port, allowing the portal."""
    running = start_vgca_agent(tmp_path_factory.mktemp("placement-agent"), token.hsm, portal.origin)
    yield running
    running.stop()


LEADER_FIELD = (330.0, 150.0, 530.0, 230.0)
CLERK_FIELD = (80.0, 150.0, 280.0, 230.0)


def widgets(pdf: bytes) -> dict[str, Box]:
    """Each signature field's widget rectangle, read back from the file."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    found = {}
    for name, _, ref in enumerate_sig_fields(PdfFileReader(BytesIO(pdf))):
        x1, y1, x2, y2 = (float(v) for v in ref.get_object()["/Rect"])
        found[name] = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    return found


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_sign_issued_after_sign_approved_puts_the_seal_beside_the_leaders_signature(
    vgca: AgentProcess, portal: Site, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    agent_ = vgca
    agent_.script()
    portal.documents["qd-77.pdf"] = sample_pdf()
    agent_.script(
        {"approved": True, "pin": PIN, "certificate": LEADER},
        {"approved": True, "pin": PIN, "certificate": CLERK},
    )
    approved = call_for_document(agent_, "SignApproved", portal, "qd-77.pdf")
    assert approved["Status"] == 0, approved
    issued = call_for_document(
        agent_,
        "SignIssued",
        portal,
        approved["FileName"],
        DocNumber="77/QĐ-UBND",
        IssuedDate="2025-05-12T09:30:00+07:00",
    )
    assert issued["Status"] == 0, issued
    final = portal.documents[issued["FileName"]]

    rects = widgets(final)
    assert len(rects) == 2, rects
    leader, seal = rects["Signature1"], rects["Signature2"]
    assert not overlap(leader, seal), (leader, seal)
    assert seal[2] <= leader[0], "the organisation's stamp is on the left of the signature"
    assert abs((seal[1] + seal[3]) / 2 - (leader[1] + leader[3]) / 2) <= 1
    text = page_text(final, 2)
    assert "Ký bởi: Nguyễn Văn An" in text, "the leader's stamp still reads"
    assert "Số: 77/QĐ-UBND" in text
    blocks = nss.pdfsig(final, tmp_path)
    assert len(blocks) == 2
    for block, who in zip(blocks, (LEADER, CLERK), strict=True):
        assert "Signature is Valid" in block, block
        assert "Certificate is Trusted" in block, block
        assert who in block
    assert pyhanko_bottom_line(final, token.ca.cert) == [True, True]
    qpdf_clean(final, tmp_path)


def test_the_portal_names_the_empty_field_to_sign(
    fresh: AgentProcess,
    token: SessionToken,
    nss: NssDb,
    tmp_path: Path,
) -> None:
    pdf = fields_page(["SigLanhDao", "SigVanThu"], [LEADER_FIELD, CLERK_FIELD])
    fresh.script({"approved": True, "pin": PIN}, {"approved": True, "pin": PIN})

    first = fresh.post(
        "/v1/pdf/sign",
        {
            "pdf": b64(pdf),
            "certificate": b64(der(token.ec)),
            "appearance": {"profile": "personal", "field": "SigVanThu"},
        },
    )
    assert first.status == 200, first.body[:500]
    once = base64.b64decode(first.json["pdf"])
    second = fresh.post(
        "/v1/pdf/sign",
        {
            "pdf": b64(once),
            "certificate": b64(der(token.rsa)),
            "appearance": {"profile": "personal"},
        },
    )
    assert second.status == 200, second.body[:500]
    twice = base64.b64decode(second.json["pdf"])

    # Named, then the only one left: both filled in place, no third field.
    assert widgets(twice) == {"SigLanhDao": LEADER_FIELD, "SigVanThu": CLERK_FIELD}
    from pyhanko.pdf_utils.reader import PdfFileReader

    signed = PdfFileReader(BytesIO(twice)).embedded_signatures
    assert [s.field_name for s in signed] == ["SigVanThu", "SigLanhDao"]
    blocks = nss.pdfsig(twice, tmp_path)
    assert [("Signature is Valid" in b, "Certificate is Trusted" in b) for b in blocks] == [
        (True, True),
        (True, True),
    ]
    assert pyhanko_bottom_line(twice, token.ca.cert) == [True, True]
    qpdf_clean(twice, tmp_path)


@pytest.mark.parametrize(
    ("appearance", "words"),
    [
        ({"profile": "personal", "field": "SigGiamDoc"}, "không có ô chữ ký nào tên 'SigGiamDoc'"),
        (
            {"profile": "organization", "rect": [300, 140, 500, 220]},
            "che ô chữ ký 'SigLanhDao' trên trang 2",
        ),
    ],
    ids=["missing-field", "rect-over-a-field"],
)
def test_a_bad_position_is_refused_in_vietnamese_before_anyone_is_asked(
    fresh: AgentProcess, appearance: dict[str, object], words: str
) -> None:
    pdf = fields_page(["SigLanhDao", "SigVanThu"], [LEADER_FIELD, CLERK_FIELD])
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post("/v1/pdf/sign", {"pdf": b64(pdf), "appearance": appearance})
    assert response.status == 400, response.body[:500]
    assert response.error_code == "BAD_REQUEST"
    assert words in response.json["error"]["message"]
    assert fresh.prompts() == []
