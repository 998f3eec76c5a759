"""``kyso-agent verify`` on XML: told from a PDF by content, exit codes as for a PDF.

The invoice is signed by the agent's own signing code with a software key and judged by
xmlsec1 first, so the command is checked against a signature an independent verifier
accepts. PDFs through the same command: ``test_pdf_api.py::test_cli_sign_pdf_then_verify``.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from agent.testing.softhsm import TestCa
from agent.xml.profiles import PlacementSpec, Profile
from tests.conftest import run_cli
from tests.xmlsig import INVOICE, SoftSigner, sign_xml, xmlsec_verify

SELLER_NAME = "CÔNG TY TNHH THỬ NGHIỆM"


@pytest.fixture(scope="module")
def ca() -> TestCa:
    return TestCa.create()


@pytest.fixture(scope="module")
def signed(ca: TestCa) -> bytes:
    data = sign_xml(INVOICE, SoftSigner.rsa(ca, SELLER_NAME), PlacementSpec(Profile.EINVOICE))
    judged = xmlsec_verify(data, ca.cert)
    assert judged.returncode == 0, judged.stderr
    return data


def verify(
    tmp_path: Path, data: bytes, *args: str, ca: TestCa | None = None
) -> tuple[int, str, str]:
    document = tmp_path / "hoa-don.txt"  # the name says nothing: the content decides
    document.write_bytes(data)
    common = ["--data-dir", str(tmp_path / "data")]
    if ca is not None:
        root = tmp_path / "ca.pem"
        root.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
        common += ["--trust-root", str(root)]
    env = {**os.environ, "HOME": str(tmp_path)}
    done = run_cli("verify", str(document), *common, *args, env=env)
    return done.returncode, done.stdout, done.stderr


def test_a_signed_invoice_verifies_with_its_root(tmp_path: Path, ca: TestCa, signed: bytes) -> None:
    code, out, err = verify(tmp_path, signed, ca=ca)
    assert code == 0, out + err
    assert SELLER_NAME in out
    assert "Kết luận" in out  # the agent's language: Vietnamese unless told otherwise
    assert "#DLHDon-0001" in out


def test_the_json_form_is_the_xml_report(tmp_path: Path, ca: TestCa, signed: bytes) -> None:
    code, out, _ = verify(tmp_path, signed, "--json", ca=ca)
    assert code == 0
    wire = json.loads(out)
    assert wire["allValid"] is True
    [signature] = wire["signatures"]
    assert signature["signer"] == SELLER_NAME
    assert (signature["intact"], signature["valid"], signature["trusted"]) == (True, True, True)
    assert "DLHDon-0001" in signature["covers"]


def test_english_when_the_agent_speaks_english(tmp_path: Path, ca: TestCa, signed: bytes) -> None:
    code, out, _ = verify(tmp_path, signed, "--lang", "en", ca=ca)
    assert code == 0
    assert "Conclusion" in out


def test_a_changed_invoice_or_an_unknown_root_exits_1(
    tmp_path: Path, ca: TestCa, signed: bytes
) -> None:
    tampered = signed.replace(b"<SHDon>123</SHDon>", b"<SHDon>124</SHDon>")
    assert tampered != signed
    assert verify(tmp_path, tampered, ca=ca)[0] == 1
    assert verify(tmp_path, signed)[0] == 1  # no root given: not trusted


def test_xml_after_a_byte_order_mark_is_xml(tmp_path: Path, ca: TestCa, signed: bytes) -> None:
    # Windows tools write one; whitespace may precede only XML without a declaration.
    code, out, err = verify(tmp_path, codecs.BOM_UTF8 + signed, ca=ca)
    assert code == 0, out + err


def test_an_unsigned_invoice_exits_1(tmp_path: Path) -> None:
    code, out, _ = verify(tmp_path, INVOICE)
    assert code == 1
    assert "không có chữ ký" in out


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"PK\x03\x04 not a document", "không phải PDF hay XML"),
        (b"<HDon><DLHDon></HDon>", "không hợp lệ"),
    ],
    ids=["neither", "malformed-xml"],
)
def test_what_cannot_be_read_exits_2(tmp_path: Path, data: bytes, said: str) -> None:
    code, out, err = verify(tmp_path, data)
    assert code == 2
    assert out == ""
    assert said in err
