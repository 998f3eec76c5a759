"""The page-field readers every layer shares (agent/compat/fields.py), and each layer saying
their refusals in its own words."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from agent.algorithms import HashAlgorithm
from agent.compat import fields
from agent.compat.bkav.calls import parse_pdf as bkav_pdf
from agent.compat.bkav.protocol import parse_message as bkav_message
from agent.compat.fpt.protocol import parse_cms_call as fpt_cms
from agent.compat.fpt.protocol import parse_pdf_call as fpt_pdf
from agent.compat.vgca.protocol import parse_msg_call as vgca_msg
from agent.compat.vgca.protocol import parse_pdf_call as vgca_pdf
from agent.compat.vgca.protocol import parse_xml_call as vgca_xml
from agent.compat.vnpt import options as vnpt_options
from agent.compat.vnpt.protocol import parse_call as vnpt_call
from agent.errors import BadRequest
from agent.messages import Phrase
from agent.protocol import refuse_secrets

BAD = "fpt_field_number"
"""Any catalogue sentence taking ``{field}``: the readers are told which to say."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- numbers and flags ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"),
    [(12, 12.0), (12.5, 12.5), ("12", 12.0), (" 7.25 ", 7.25), (-3, -3.0), ("", None)],
)
def test_a_number_as_portals_send_it(value: Any, number: float | None) -> None:
    assert fields.number({"x": value}, "x", bad=BAD) == number
    assert fields.number({}, "x", bad=BAD) is None


@pytest.mark.parametrize(
    "value", ["left", "nan", "inf", float("nan"), float("inf"), 10**400, True, [1], {}]
)
def test_anything_else_is_no_number(value: Any) -> None:
    with pytest.raises(BadRequest) as refused:
        fields.number({"offsetX": value}, "offsetX", bad=BAD)
    assert refused.value.phrase == Phrase.of(BAD, field="offsetX")


@pytest.mark.parametrize(
    ("value", "on"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ("true", True),
        ("False", False),
        (" TRUE ", True),
    ],
)
def test_a_flag_as_portals_send_it(value: Any, on: bool) -> None:
    assert fields.flag({"x": value}, "x", default=not on, bad=BAD) is on


def test_an_absent_or_empty_flag_is_the_default() -> None:
    for obj in ({}, {"x": None}, {"x": ""}):
        assert fields.flag(obj, "x", default=True, bad=BAD) is True
        assert fields.flag(obj, "x", default=False, bad=BAD) is False


@pytest.mark.parametrize("value", [2, -1, 1.0, "yes", "on", "10", [], {}])
def test_anything_else_is_no_flag(value: Any) -> None:
    with pytest.raises(BadRequest) as refused:
        fields.flag({"invisible": value}, "invisible", default=False, bad=BAD)
    assert refused.value.phrase == Phrase.of(BAD, field="invisible")


# --- text, images, digest names ---------------------------------------------------------------


def test_control_characters_are_found() -> None:
    for text in ("a\nb", "a\tb", "a\x00", "\x7f", "\r"):
        assert fields.has_controls(text)
    for text in ("", "Nguyễn Văn An", "https://tsa.vn/x?a=1&b=2", "a b"):
        assert not fields.has_controls(text)


def test_a_png_is_known_by_its_first_bytes() -> None:
    assert fields.is_png(fields.PNG_MAGIC + b"rest")
    assert not fields.is_png(b"\xff\xd8\xff\xe0JFIF")
    assert not fields.is_png(b"")


def test_digest_names_in_every_spelling_portals_use() -> None:
    for name in ("SHA256", "SHA-256", "sha256", "Sha_256", "sha-256"):
        assert fields.DIGEST_NAMES[fields.hash_name(name)] is HashAlgorithm.SHA256
    assert fields.DIGEST_NAMES[fields.hash_name("sha-512")] is HashAlgorithm.SHA512
    assert list(fields.DIGEST_NAMES) == ["SHA256", "SHA384", "SHA512"]
    for weak in ("SHA1", "SHA-1", "MD5", "SHA224"):
        assert fields.hash_name(weak) not in fields.DIGEST_NAMES


# --- each layer, in its own words -------------------------------------------------------------

_XML = b64(b"<Data Id='a'>x</Data>")
_PDF = b64(b"%PDF")
_JPEG = b64(b"\xff\xd8\xff\xe0JFIF")


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda: fpt_pdf({"DataToBeSign": _PDF, "invisible": "yes"}), "fpt_field_flag"),
        (lambda: fpt_pdf({"DataToBeSign": _PDF, "pageIndex": "first"}), "fpt_field_number"),
        (lambda: fpt_pdf({"DataToBeSign": _PDF, "sigId": "a\nb"}), "fpt_field_text"),
        (lambda: fpt_pdf({"DataToBeSign": _PDF, "logoData": _JPEG}), "fpt_logo_png"),
        (
            lambda: fpt_cms({"DataToBeSign": b64(b"x" * 20), "reqDigest": 0, "algDigest": "SHA1"}),
            "fpt_alg_digest",
        ),
        (
            lambda: vgca_xml(json.dumps({"Base64Content": _XML, "ReturnSignatureOnly": "maybe"})),
            "vgca_flag",
        ),
        (
            lambda: vgca_pdf({"FileName": "https://a.vn/a\tb.pdf", "FileUploadHandler": "x"}),
            "vgca_field_control",
        ),
        (lambda: vgca_msg(json.dumps({"HashValue": _PDF, "HashAlg": "MD5"})), "vgca_hash_alg"),
        (lambda: vnpt_options.pdf_choice({"SigVisible": "maybe"}), "vnpt_field_flag"),
        (lambda: vnpt_options.pdf_choice({"llx": "left"}), "vnpt_field_number"),
        (lambda: vnpt_options.hash_algorithm("SHA-1"), "vnpt_hash_algorithm"),
        (lambda: vnpt_call('{"functionID": 7, "funcCallback": "a\\nb"}'), "vnpt_callback"),
        (lambda: bkav_pdf(bkav_message(f"3*{_PDF}*t*1*s*10*10*1*{_JPEG}*end")), "bkav_image"),
    ],
)
def test_each_layer_refuses_in_its_own_words(call: Callable[[], object], key: str) -> None:
    with pytest.raises(BadRequest) as refused:
        call()
    said = refused.value.phrase
    assert said is not None
    if said.key == "compat_bad_message":  # BKAV says it in the plugin's name: the detail
        said = dict(said.values)["detail"]
    assert isinstance(said, Phrase) and said.key == key


@pytest.mark.parametrize(
    "field",
    ["pin", "userPin", "PIN_CODE", "password", "userPassword", "tokenPasswd", "pwd", "matKhau"],
)
def test_a_field_named_like_a_pin_or_password_that_carries_one_is_refused(field: str) -> None:
    with pytest.raises(BadRequest) as refused:
        refuse_secrets({"options": [{field: "246810"}]})
    assert refused.value.phrase is not None and refused.value.phrase.key == "bad_pin_field"


@pytest.mark.parametrize("value", [None, ""])
def test_an_empty_login_field_a_vendor_library_always_sends_is_no_pin(value: str | None) -> None:
    refuse_secrets({"TsaPassword": value, "EncryptPassword": value, "x": 1})
    with pytest.raises(BadRequest):
        refuse_secrets({"TsaPassword": "secret"})
