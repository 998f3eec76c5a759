"""The PDF sign question shows the page the stamp goes on and offers the document to open,
through the real agent on SoftHSM.

The scripted prompter records each question (``agent.prompts()``); the preview's pixels are
checked at places computed here from the signature field the signed PDF actually got. A
recording prompter of this file looks at the private copy while the question is open.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import stat
import sys
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.conftest import PIN, AgentProcess, SessionToken, start_agent
from tests.placement_pdfs import Page, body_text, build
from tests.verify import b64, der

pytestmark = pytest.mark.integration

A4_H = 842.0
STAMP = (380.0, 90.0, 530.0, 150.0)
BLOCK = (85.0, 300.0, 250.0, 340.0)
"""A black block only page 2 has: the preview shows page 2 when it shows it."""


def three_pages() -> bytes:
    pages = [body_text(Page(), top=780, bottom=600) for _ in range(3)]
    pages[1].rules.append(BLOCK)
    return build(pages)


def picture(prompt: dict[str, object]) -> tuple[dict[str, object], Image.Image]:
    [document] = prompt["documents"]  # type: ignore[misc]
    preview = document["preview"]
    with Image.open(BytesIO(base64.b64decode(preview["png"]))) as png:
        assert png.format == "PNG"
        return preview, png.convert("RGB")


def is_red(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 180 and g < 80 and b < 80


def to_pixels(box: tuple[float, ...], scale: float) -> tuple[int, int, int, int]:
    """An unrotated A4 page's box as the pixels it covers (first, last) in the preview."""
    return (
        math.floor(box[0] * scale),
        math.floor((A4_H - box[3]) * scale),
        math.ceil(box[2] * scale) - 1,
        math.ceil((A4_H - box[1]) * scale) - 1,
    )


def test_the_pdf_question_shows_the_page_the_stamp_goes_on_with_its_box(
    fresh: AgentProcess, token: SessionToken
) -> None:
    pdf = three_pages()
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post(
        "/v1/pdf/sign",
        {
            "pdf": b64(pdf),
            "certificate": b64(der(token.rsa)),
            "documentName": "Tờ trình 7.pdf",
            "appearance": {"profile": "personal", "page": 2, "rect": list(STAMP)},
        },
    )
    assert response.status == 200, response.body[:500]
    [prompt] = fresh.prompts()
    preview, shown = picture(prompt)
    assert {k: preview[k] for k in ("page", "pages", "stamp")} == {
        "page": 2,
        "pages": 3,
        "stamp": True,
    }
    assert shown.size == (184, 260)
    assert len(base64.b64decode(preview["png"])) <= 200 * 1024  # type: ignore[arg-type]

    # The box drawn is where the signature went: its field's rectangle in the signed file.
    signed = base64.b64decode(response.json["pdf"])
    [signature] = PdfFileReader(BytesIO(signed), strict=False).embedded_signatures
    rect = [float(v) for v in signature.sig_field["/Rect"]]
    assert rect == pytest.approx(list(STAMP), abs=1)
    left, top, right, bottom = to_pixels(tuple(rect), 260 / A4_H)
    middle_x, middle_y = (left + right) // 2, (top + bottom) // 2
    for x, y in ((left, middle_y), (right, middle_y), (middle_x, top), (middle_x, bottom)):
        assert is_red(shown.getpixel((x, y))), (x, y, shown.getpixel((x, y)))
    assert not is_red(shown.getpixel((left - 4, middle_y)))
    # Page 2's own content: its black block.
    bx1, by1, bx2, by2 = to_pixels(BLOCK, 260 / A4_H)
    assert max(shown.getpixel(((bx1 + bx2) // 2, (by1 + by2) // 2))) < 60


def test_an_invisible_signature_shows_the_first_page_without_a_box(
    fresh: AgentProcess, token: SessionToken
) -> None:
    pdf = three_pages()
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post("/v1/pdf/sign", {"pdf": b64(pdf), "certificate": b64(der(token.ec))})
    assert response.status == 200, response.body[:500]
    [prompt] = fresh.prompts()
    preview, shown = picture(prompt)
    assert (preview["page"], preview["pages"], preview["stamp"]) == (1, 3, False)
    assert not any(
        is_red(shown.getpixel((x, y))) for x in range(shown.width) for y in range(shown.height)
    )
    bx1, by1, bx2, by2 = to_pixels(BLOCK, 260 / A4_H)
    assert min(shown.getpixel(((bx1 + bx2) // 2, (by1 + by2) // 2))) > 200, "page 1: no block"
    [document] = prompt["documents"]
    assert Path(document["file"]).name == "document.pdf"  # no name given
    assert not Path(document["file"]).exists(), "removed once the request ended"


#: A prompter that looks at the document's copy while the question is open, records what it
#: saw in argv[1], and approves (argv[2] == "approve") or cancels.
_RECORDING_PROMPTER = """
import hashlib, json, stat, sys
from pathlib import Path
from agent.pdf.viewer import is_viewer_copy
question = json.loads(sys.stdin.buffer.read())
[document] = question["documents"]
copy = Path(document["file"])
Path(sys.argv[1]).write_text(json.dumps({
    "file": str(copy),
    "digest": document["digest"],
    "sha256": hashlib.sha256(copy.read_bytes()).hexdigest(),
    "file_mode": stat.S_IMODE(copy.stat().st_mode),
    "dir_mode": stat.S_IMODE(copy.parent.stat().st_mode),
    "the_dialog_would_open_it": is_viewer_copy(copy),
}))
approve = sys.argv[2] == "approve"
print(json.dumps({"approved": True, "pin": %r} if approve else {"approved": False}))
"""


@pytest.mark.parametrize("answer", ["approve", "cancel"])
def test_the_copy_to_open_is_the_document_while_asking_and_is_gone_after(
    token: SessionToken, tmp_path: Path, answer: str
) -> None:
    script = tmp_path / "recording_prompter.py"
    script.write_text(_RECORDING_PROMPTER % PIN)
    record = tmp_path / "seen.json"
    temp = tmp_path / "tmp"
    temp.mkdir(mode=0o700)
    running = start_agent(
        tmp_path / "agent",
        token.hsm,
        "--prompter",
        f"{sys.executable} {script} {record} {answer}",
        scripted=False,
        env={"TMPDIR": str(temp)},
    )
    try:
        pdf = three_pages()
        response = running.post(
            "/v1/pdf/sign",
            {"pdf": b64(pdf), "certificate": b64(der(token.rsa)), "documentName": "QĐ-7/UBND"},
        )
    finally:
        running.stop()
    assert response.status == (200 if answer == "approve" else 403), response.body[:300]
    seen = json.loads(record.read_text())
    copy = Path(seen["file"])
    assert copy.parent.parent == temp and copy.name == "QĐ-7_UBND.pdf"
    assert seen["sha256"] == seen["digest"] == hashlib.sha256(pdf).hexdigest()
    assert seen["file_mode"] == stat.S_IREAD, "read-only"
    assert seen["dir_mode"] == stat.S_IRWXU, "the user's alone"
    assert seen["the_dialog_would_open_it"] is True
    assert list(temp.iterdir()) == [], "the copy and its directory are removed"
