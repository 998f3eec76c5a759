"""Pictures of every state of the consent dialog, in Vietnamese and English.

    python -m tests.desktop.screenshots docs/dialog

starts its own Xvfb (or uses ``--display :N``), renders each sample question with
``python -m agent.ui.dialog --screenshot`` and writes ``STATE-LANG.png``; the activity
window's pictures (waiting for the token, a batch's progress: :data:`ACTIVITIES`) with
``python -m agent.ui.activity --screenshot``.

The states of :data:`PDF_PREVIEW_STATES` sign a sample decision (:func:`sample_decision`) the
way the agent asks for it: the page its stamp goes on, drawn by the agent's own renderer with
the box its placement rule picks, and a private copy of it to open.
"""

from __future__ import annotations

import argparse
import base64
import copy
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.pdf.viewer import make_viewer_copy, remove_viewer_copy
from agent.xml.summary import Party, XmlKind, XmlSummary, summary_lines
from tests.desktop.xvfb import virtual_display
from tests.placement_pdfs import LETTERHEAD_LEFT, LETTERHEAD_MOTTO, LETTERHEAD_RIGHT, Page, build

_DIGEST = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
_ISSUER = "CN=Kyso Test CA,O=Kyso,C=VN"
_AN = {
    "id": "758fa153" + "0" * 48 + "b9b3",
    "subject": "CN=Nguyễn Văn An,O=UBND tỉnh Thừa Thiên Huế,C=VN",
    "issuer": _ISSUER,
    "notAfter": "2028-11-28T06:37:07+00:00",
    "token": "KYSO-TEST",
}
_BINH = {
    "id": "a1b2c3d4" + "0" * 48 + "e5f6",
    "subject": "CN=Trần Thị Bình,O=Sở Nội vụ,C=VN",
    "issuer": _ISSUER,
    "notAfter": "2027-03-15T06:37:07+00:00",
    "token": "KYSO-TEST",
}
_SIGN: dict[str, Any] = {
    "action": "sign",
    "origin": "https://portal.example.gov.vn",
    "documents": [{"name": "QĐ-123.pdf", "digest": _DIGEST, "algorithm": "SHA-256"}],
    "certificates": [_AN],
    "pin": {"required": True, "pinpad": False, "triesLeft": "ok", "cached": False},
    "firstUse": False,
}


def _sign(**changes: Any) -> dict[str, Any]:
    question = copy.deepcopy(_SIGN)
    question.update(changes)
    return question


#: The states, each one sample question (``lang`` is added per picture).
STATES: dict[str, dict[str, Any]] = {
    "sign-single": _sign(),
    "sign-batch": _sign(
        documents=[
            {"name": f"QĐ-{n}/UBND.pdf", "digest": f"{n:02x}" * 32, "algorithm": "SHA-256"}
            for n in range(101, 108)
        ]
    ),
    "select-certificate": {
        "action": "select-certificate",
        "origin": "https://dichvucong.hue.gov.vn",
        "certificates": [_AN, _BINH],
        "firstUse": False,
    },
    "retry-wrong-pin": _sign(
        retry={"reason": "PIN_INCORRECT"},
        pin={"required": True, "pinpad": False, "triesLeft": "low", "cached": False},
    ),
    "final-try": _sign(
        retry={"reason": "PIN_INCORRECT"},
        pin={"required": True, "pinpad": False, "triesLeft": "final", "cached": False},
    ),
    "pinpad": _sign(pin={"required": False, "pinpad": True, "triesLeft": "ok", "cached": False}),
    "first-use": _sign(origin="https://vanban.so.tinh.gov.vn", firstUse=True),
    # A PDF with its page (the stamp's box in red) and "Open document…" (render_all adds them).
    "sign-pdf-preview": _sign(origin="https://vanban.hue.gov.vn"),
    # An e-invoice: the summary lines are the agent's own (agent/xml/summary.py), in the
    # picture's language (render_all puts them in).
    "sign-xml-invoice": _sign(
        origin="https://hoadon.example.vn",
        documents=[{"name": "HĐ 1C25TAA-0000123.xml", "digest": _DIGEST, "algorithm": "SHA-256"}],
    ),
    # A day's invoices under one consent: every one listed, in a scrolled box.
    "sign-xml-batch": _sign(
        origin="https://hoadon.example.vn",
        documents=[
            {"name": f"HĐ 1C25TAA-{n:07d}.xml", "digest": f"{n:02x}" * 32, "algorithm": "SHA-256"}
            for n in range(123, 148)
        ],
    ),
}

#: States whose document is :func:`sample_decision`, shown with its page and a copy to open.
PDF_PREVIEW_STATES = frozenset({"sign-pdf-preview"})


def sample_decision() -> bytes:
    """A two-page decision shaped like the decree's (letterhead, title, articles, the signer's
    block at the end of the last page), in Helvetica: at thumbnail size only its shape shows."""
    first = Page()
    first.lines += [
        (60, 800, 12, LETTERHEAD_LEFT),
        (318, 800, 11, LETTERHEAD_RIGHT),
        (370, 784, 12, LETTERHEAD_MOTTO),
        (95, 786, 12, "THUA THIEN HUE"),
        (250, 720, 16, "QUYET DINH"),
        (150, 700, 12, "Ve viec phe duyet ke hoach chuyen doi so nam 2025"),
    ]
    first.rules.append((370.0, 779.0, 520.0, 780.0))
    last = Page()
    for page, top, bottom in ((first, 660, 90), (last, 780, 420)):
        y = top
        while y >= bottom:
            article = (top - y) % 126 == 0
            text = "Dieu 1. Phe duyet ke hoach." if article else "Noi dung van ban, dong chu."
            page.lines.append((85, y, 12, text * (1 if article else 2)))
            y -= 18
    last.lines += [(380, 380, 12, "CHU TICH"), (60, 380, 10, "Noi nhan:")]
    return build([first, last])


@contextmanager
def with_pdf_preview(question: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``question`` asking to sign :func:`sample_decision` with a personal stamp where the
    agent's rule puts it: the preview drawn by the agent's renderer, a private copy to open
    (removed afterwards)."""
    from agent.consent.prompter import MAX_PREVIEW_BYTES, PREVIEW_SIDE
    from agent.pdf.models import Appearance, Profile
    from agent.pdf.preview import page_thumbnail
    from agent.pdf.signer import prepare_pdf

    pdf = sample_decision()
    prepared = prepare_pdf(pdf, Appearance(profile=Profile.PERSONAL))
    thumbnail = page_thumbnail(pdf, prepared, side=PREVIEW_SIDE, max_bytes=MAX_PREVIEW_BYTES)
    assert thumbnail is not None
    question = copy.deepcopy(question)
    [document] = question["documents"]
    document["digest"] = hashlib.sha256(pdf).hexdigest()
    document["preview"] = {
        "png": base64.b64encode(thumbnail.png).decode(),
        "page": thumbnail.page_index + 1,
        "pages": thumbnail.pages,
        "stamp": thumbnail.stamp,
    }
    path = make_viewer_copy(pdf, document["name"])
    document["file"] = str(path)
    try:
        yield question
    finally:
        remove_viewer_copy(path)


#: The invoice the "sign-xml-invoice" picture describes.
_INVOICE = XmlSummary(
    kind=XmlKind.INVOICE,
    root="HDon",
    signed_id="DLHDon-1",
    form="1",
    serial="C25TAA",
    number="0000123",
    issued="2025-06-30",
    currency="VND",
    total="11000000",
    seller=Party("Công ty TNHH Phần mềm Sông Hương", "3301234567"),
    buyer=Party("Sở Tư pháp tỉnh Thừa Thiên Huế", "3300101234"),
)


def in_language(question: dict[str, Any], lang: str) -> dict[str, Any]:
    """The question as the agent would send it in ``lang`` (summaries are the agent's words)."""
    question = copy.deepcopy(question)
    for document in question.get("documents", []):
        if document["name"].endswith(".xml"):
            number = document["name"].removesuffix(".xml").rsplit("-", 1)[1]
            invoice = dataclasses.replace(_INVOICE, number=number)
            document["summary"] = list(summary_lines(invoice, lang))
    return {**question, "lang": lang}


def render(question: dict[str, Any], out: Path, display: str) -> None:
    """One picture of the dialog for ``question``."""
    subprocess.run(
        [sys.executable, "-m", "agent.ui.dialog", "--screenshot", str(out)],
        input=json.dumps(question, ensure_ascii=False).encode(),
        env={**os.environ, "DISPLAY": display},
        check=True,
        timeout=60,
    )


def render_all(folder: Path, display: str) -> list[Path]:
    """Every state in both languages into ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for state, question in STATES.items():
        for lang in ("vi", "en"):
            out = folder / f"{state}-{lang}.png"
            if state in PDF_PREVIEW_STATES:
                with with_pdf_preview(in_language(question, lang)) as shown:
                    render(shown, out, display)
            else:
                render(in_language(question, lang), out, display)
            written.append(out)
    return written


#: The activity window (agent/ui/activity.py): its first line, and a progress line shown.
ACTIVITIES: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "wait-token": (
        {
            "action": "wait-token",
            "origin": "https://portal.example.gov.vn",
            "seconds": 120,
            "certificate": _AN["subject"],
        },
        None,
    ),
    "progress": (
        {"action": "progress", "origin": "https://vanban.hue.gov.vn", "total": 20},
        {"done": 7, "current": "QĐ-108/UBND về việc phê duyệt kế hoạch chuyển đổi số năm 2025.pdf"},
    ),
}


def render_activity(
    first: dict[str, Any], step: dict[str, Any] | None, out: Path, display: str
) -> None:
    """One picture of the activity window for its ``first`` line after ``step``."""
    extra = ["--step", json.dumps(step, ensure_ascii=False)] if step is not None else []
    subprocess.run(
        [sys.executable, "-m", "agent.ui.activity", "--screenshot", str(out), *extra],
        input=json.dumps(first, ensure_ascii=False).encode() + b"\n",
        env={**os.environ, "DISPLAY": display},
        check=True,
        timeout=60,
    )


def render_activities(folder: Path, display: str) -> list[Path]:
    """Every activity in both languages into ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for state, (first, step) in ACTIVITIES.items():
        for lang in ("vi", "en"):
            out = folder / f"{state}-{lang}.png"
            render_activity({**first, "lang": lang}, step, out, display)
            written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tests.desktop.screenshots FOLDER [--display :N]``."""
    parser = argparse.ArgumentParser(prog="python -m tests.desktop.screenshots")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--display", help="use this X display instead of a private Xvfb")
    args = parser.parse_args(argv)
    if args.display:
        written = render_all(args.folder, args.display)
        written += render_activities(args.folder, args.display)
    else:
        with virtual_display() as display:
            written = render_all(args.folder, display)
            written += render_activities(args.folder, display)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
