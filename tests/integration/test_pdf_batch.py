"""``POST /v1/pdf/sign/batch`` through the real server on SoftHSM: one question listing every
PDF, one login, progress, Stop after the current document, and what comes back.

The documents are in the shapes portals send (tests/pdf_corpus.py): a plain decision, a form
that already has a ``Signature2`` field, a file encrypted with an owner password only, a
document its author certified allowing signatures. pdfsig and pyHanko judge every signature.
The user's Stop is the scripted prompter's (``{"stopAt": n}``): the real window's button is
tests/desktop/test_batch_dialog.py's. The documents wait in the spool (``DATA_DIR/spool``), and
are signed into it; every request leaves it empty once it has ended, however it ended.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.audit import OUTCOME_ABANDONED, AuditLog
from agent.testing.pki import LocalPki
from tests.conftest import (
    PIN,
    PORTAL,
    WRONG_PIN,
    AgentProcess,
    SessionToken,
    connection,
    eventually,
    read_then_gone,
    spool_of,
    start_agent,
    wait_until_spool_empty,
)
from tests.pdf_corpus import Encryption, certified, encrypted, pyhanko_verdicts, with_fields
from tests.pdftools import NssDb, pyhanko_bottom_line, sample_pdf
from tests.verify import b64, der

pytestmark = pytest.mark.integration


def portal_documents(token: SessionToken, tmp: Path) -> list[tuple[str, bytes]]:
    """Four documents as portals hand them out, with Vietnamese names (the last one certified
    by its author: signatures allowed, new stamps not)."""
    return [
        ("QĐ-123-UBND.pdf", sample_pdf(pages=3, text="Quyet dinh so 123/QD-UBND")),
        ("Tờ khai có sẵn ô ký.pdf", with_fields(token.ca)),
        ("Công văn mật khẩu chủ.pdf", encrypted(sample_pdf(), tmp, Encryption.AES_128)),
        ("Hợp đồng đã chứng nhận.pdf", certified(token.ca, 2)),
    ]


def batch_body(
    documents: list[tuple[str, bytes]],
    own: dict[int, dict[str, object]] | None = None,
    **shared: object,
) -> dict[str, object]:
    """The batch's JSON; ``own``: options of single documents, by index."""
    own = own or {}
    return {
        "documents": [
            {"pdf": b64(pdf), "documentName": name, **own.get(index, {})}
            for index, (name, pdf) in enumerate(documents)
        ],
        **shared,
    }


def test_every_document_is_listed_once_signed_after_one_login_and_judged_valid(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    documents = portal_documents(token, tmp_path)
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post(
        "/v1/pdf/sign/batch",
        batch_body(
            documents,
            {3: {"appearance": {"profile": "invisible"}, "reason": "Đồng ý"}},
            certificate=b64(der(token.rsa)),
            appearance={"profile": "personal", "page": -1},
        ),
    )
    assert response.status == 200, response.body[:500]
    body = response.json
    assert (body["signed"], body["stopped"]) == (4, False)
    assert "error" not in body
    assert base64.b64decode(body["certificate"]) == der(token.rsa)
    # One question, listing every document with its SHA-256, in order.
    [question] = [p for p in fresh.prompts() if p.get("action") == "sign"]
    assert [(d["name"], d["digest"]) for d in question["documents"]] == [
        (name, hashlib.sha256(pdf).hexdigest()) for name, pdf in documents
    ]
    # The progress the user saw: each document by name before it was signed, then the end.
    [progress] = [p for p in fresh.prompts() if p.get("action") == "progress"]
    assert progress["total"] == 4
    assert fresh.activity_updates() == [
        *({"done": i, "current": name} for i, (name, _) in enumerate(documents)),
        {"done": 4},
    ]
    for index, ((name, original), result) in enumerate(
        zip(documents, body["documents"], strict=True)
    ):
        assert (result["index"], result["documentName"], result["signed"]) == (index, name, True)
        signed = base64.b64decode(result["pdf"])
        assert signed.startswith(original), name
        verdicts = pyhanko_verdicts(signed, token.ca.cert)  # opens the encrypted one too
        assert verdicts[-1][1:] == (True, True), (name, verdicts)
        blocks = nss.pdfsig(signed, tmp_path)
        assert "Signature is Valid" in blocks[-1], (name, blocks[-1])
        assert "Nguyễn Văn An" in blocks[-1]


@pytest.fixture
def timestamping(token: SessionToken, tsa: LocalPki, tmp_path: Path) -> Iterator[AgentProcess]:
    """An agent whose machine names ``tsa`` as its time-stamp server."""
    running = start_agent(
        tmp_path / "agent",
        token.hsm,
        policy={"cancel_backoff_seconds": 0, "tsa_url": tsa.tsa_url},
    )
    yield running
    running.stop()


def test_stop_ends_the_batch_after_the_current_document_and_returns_those_signed(
    timestamping: AgentProcess, token: SessionToken, tsa: LocalPki, nss: NssDb, tmp_path: Path
) -> None:
    fresh = timestamping
    documents = [
        (f"Văn bản {i + 1:02d}.pdf", sample_pdf(text=f"Van ban {i + 1}")) for i in range(8)
    ]
    fresh.script({"approved": True, "pin": PIN})
    fresh.script_activities({"stopAt": 3})  # Stop pressed while the fourth is being signed,
    tsa.hold_tsa(after=3)  # which waits for its time-stamp until the agent has the Stop
    body = batch_body(documents, certificate=b64(der(token.ec)), level="B-T")
    response = fresh.held_until_stopped(tsa, lambda: fresh.post("/v1/pdf/sign/batch", body))
    assert response.status == 200, response.body[:500]
    body = response.json
    assert body["stopped"] is True
    # The prompter saw document 3 (0-based) begin and pressed Stop: it finished, no other began.
    assert body["signed"] == 4
    assert [d["signed"] for d in body["documents"]] == [True] * 4 + [False] * 4
    assert all("pdf" not in d for d in body["documents"][4:])
    for result in body["documents"][:4]:
        signed = base64.b64decode(result["pdf"])
        assert pyhanko_bottom_line(signed, token.ca.cert, tsa.ca.cert) == [True]
        [block] = nss.pdfsig(signed, tmp_path)
        assert "Signature is Valid" in block
    with AuditLog(fresh.data_dir / "audit.sqlite3") as audit:
        last = audit.entries()[-1]
    assert (last.outcome, last.signatures, len(last.documents)) == ("signed", 4, 8)
    wait_until_spool_empty(fresh)


def test_a_page_gone_in_the_middle_of_a_batch_leaves_nothing_in_the_spool(
    timestamping: AgentProcess, token: SessionToken, tsa: LocalPki
) -> None:
    fresh = timestamping
    documents = [(f"Tờ trình {i + 1}.pdf", sample_pdf(text=f"To trinh {i + 1}")) for i in range(4)]
    fresh.script({"approved": True, "pin": PIN})
    tsa.hold_tsa(after=2)  # the third document waits for its time-stamp
    body = batch_body(documents, certificate=b64(der(token.rsa)), level="B-T")
    try:
        with connection(fresh) as client:
            client.request(
                "POST",
                "/v1/pdf/sign/batch",
                json.dumps(body).encode(),
                headers={"Origin": PORTAL, "Content-Type": "application/json"},
            )
            third = {"done": 2, "current": documents[2][0]}
            eventually(lambda: third in fresh.activity_updates(), 60, "the third document began")
            # The four documents, and the two signed so far, are in the spool.
            assert len(list(spool_of(fresh).iterdir())) >= 6
        # The tab is closed while the third document is being signed.
        wait_until_spool_empty(fresh)
    finally:
        tsa.release_tsa()
    assert eventually(fresh.audit_outcomes, 30, "the batch was audited") == [OUTCOME_ABANDONED]
    assert fresh.request("GET", "/v1/info").status == 200
    assert "Traceback" not in fresh.log_text()


def test_a_client_gone_mid_answer_leaves_nothing_and_the_agent_keeps_serving(
    fresh: AgentProcess, token: SessionToken
) -> None:
    """The answer is sent from the spool a piece at a time: several megabytes of base64 are
    still to come when the client closes."""
    documents = [
        (f"Bản vẽ {i + 1}.pdf", sample_pdf(text=f"Ban ve {i + 1}", scan_bytes=2 * 1024 * 1024))
        for i in range(3)
    ]
    fresh.script({"approved": True, "pin": PIN})
    body = json.dumps(batch_body(documents, certificate=b64(der(token.rsa)))).encode()
    read = read_then_gone(fresh, "/v1/pdf/sign/batch", body, "application/json")
    assert read.startswith(b'{"documents": [{"index": 0, ')
    wait_until_spool_empty(fresh)
    assert fresh.request("GET", "/v1/info").status == 200
    assert "unexpected error on POST /v1/pdf/sign/batch" not in fresh.log_text()


def test_a_document_that_cannot_be_signed_is_refused_by_index_before_any_question(
    fresh: AgentProcess, token: SessionToken
) -> None:
    documents = [
        ("Tốt.pdf", sample_pdf()),
        ("Khóa sửa đổi.pdf", certified(token.ca, 1)),  # certified: no changes at all
    ]
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post(
        "/v1/pdf/sign/batch",
        batch_body(documents),
        headers={"Accept-Language": "vi"},
    )
    assert (response.status, response.error_code) == (400, "BAD_REQUEST"), response.body
    assert "documents.1" in response.json["error"]["message"]
    assert fresh.prompts() == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"documents": []}, "documents"),
        ({"documents": [{"pdf": b64(b"%PDF")}] * 51}, "50"),
        ({"documents": [{"pdf": "không phải base64"}]}, "documents.0"),
        ({"documents": [{"pdf": b64(sample_pdf()), "pin": "123456"}]}, "PIN"),
        ({"documents": [{"pdf": b64(sample_pdf()), "level": "B-T"}]}, "documents.0.level"),
        ({"documents": ["QĐ.pdf"]}, "documents.0"),
    ],
)
def test_malformed_batches_get_a_stable_code_and_a_message_naming_the_fault(
    fresh: AgentProcess, body: dict[str, object], says: str
) -> None:
    response = fresh.post("/v1/pdf/sign/batch", body, headers={"Accept-Language": "en"})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST"), response.body
    assert says in response.json["error"]["message"]
    assert fresh.prompts() == []


def test_a_wrong_pin_asks_again_and_the_batch_then_signs_everything(
    fresh: AgentProcess, token: SessionToken
) -> None:
    documents = [(f"HĐ {i}.pdf", sample_pdf(text=f"Hop dong {i}")) for i in range(3)]
    fresh.script({"approved": True, "pin": WRONG_PIN}, {"approved": True, "pin": PIN})
    response = fresh.post(
        "/v1/pdf/sign/batch", batch_body(documents, certificate=b64(der(token.rsa)))
    )
    assert response.status == 200, response.body[:500]
    assert response.json["signed"] == 3
    questions = [p for p in fresh.prompts() if p.get("action") == "sign"]
    assert [q.get("retry") for q in questions] == [None, {"reason": "PIN_INCORRECT"}]
    for result in response.json["documents"]:
        assert pyhanko_bottom_line(base64.b64decode(result["pdf"]), token.ca.cert) == [True]
    # Nothing is left of the documents, of those signed, or of the try the wrong PIN ended.
    wait_until_spool_empty(fresh)


def test_the_batch_is_bounded_by_max_pdf_bytes_in_all(token: SessionToken, tmp_path: Path) -> None:
    """Each of two PDFs is within ``max_pdf_bytes`` (and the body within its own limit, which
    leaves room for options): together they are not."""
    limit = 1024 * 1024
    running = start_agent(tmp_path, token.hsm, policy={"max_pdf_bytes": limit})
    try:
        half = sample_pdf(filler=limit * 6 // 10)
        assert len(half) <= limit < 2 * len(half)
        response = running.post("/v1/pdf/sign/batch", {"documents": [{"pdf": b64(half)}] * 2})
        assert (response.status, response.error_code) == (413, "PAYLOAD_TOO_LARGE"), response.body
        assert str(limit) in response.json["error"]["message"]
        assert running.prompts() == []
        running.script({"approved": True, "pin": PIN})
        response = running.post("/v1/pdf/sign/batch", {"documents": [{"pdf": b64(half)}]})
        assert response.status == 200, response.body[:300]
    finally:
        running.stop()
