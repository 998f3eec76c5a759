"""Property tests of the pure parsers: origins, allow-list entries and request bodies.

Whatever the input, a parser returns its value or raises its own error
(:class:`~agent.origin.InvalidOrigin`, :class:`~agent.errors.BadRequest`), never
anything else: anything else becomes a 500 on the wire. Runs are derandomised, so
CI sees the same examples every time.
"""

from __future__ import annotations

import base64
import json
import string
import unicodedata
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.errors import BadRequest
from agent.origin import (
    InvalidOrigin,
    Origin,
    OriginDecision,
    OriginPolicy,
    parse_origin,
    parse_pattern,
)
from agent.protocol import (
    BLANK_CODEPOINTS,
    DIGEST_ALGORITHMS,
    MAX_MARKS,
    BatchSignRequest,
    CertificatesRequest,
    SignRequest,
    decode_json_object,
    parse_batch_sign_request,
    parse_certificates_request,
    parse_sign_request,
)

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- origins ---------------------------------------------------------------------------

#: Characters that matter to an origin parser, and some that look like them.
_TRICKY = [
    *"-.*[]:@%\\/?#_~ +!$&'()=,;",
    "\t",
    "\x00",
    "ü",
    "İ",
    "ß",
    "⒈",  # NFKC: "1."
    "²",  # isdigit() but not int()
    "٣",  # Arabic-Indic digit
    "\uff0e",  # fullwidth full stop
    "\u200b",
    "\ufffd",
    "\uff50",  # fullwidth p
]
_LABEL_CHARS = st.one_of(
    st.sampled_from(string.ascii_letters + string.digits),
    st.sampled_from(_TRICKY),
    st.characters(codec="utf-8"),
)
_label = st.text(_LABEL_CHARS, max_size=10)
_host = st.one_of(
    st.lists(_label, min_size=1, max_size=4).map(".".join),
    st.lists(_label, min_size=1, max_size=3).map(lambda ls: "*." + ".".join(ls)),
    st.text(st.sampled_from("0123456789abcdef:.%z"), max_size=12).map(lambda h: f"[{h}]"),
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "127.1", ""]),
)
_port = st.one_of(
    st.none(),
    st.integers(-1, 70_000).map(str),
    st.text(st.sampled_from("0123456789²٣ +-x"), max_size=6),
)
_scheme = st.sampled_from(
    ["https", "http", "HTTPS", "hTTp", "ftp", "wss", "", "https:", "blob:https"]
)
_tail = st.sampled_from(["", "", "", "/", "/x", "?q=1", "#f", "@evil.example", " ", "/.."])


@st.composite
def origin_like(draw: st.DrawFn) -> str:
    """Text shaped like ``scheme://host[:port]``, often slightly wrong."""
    port = draw(_port)
    text = f"{draw(_scheme)}://{draw(_host)}"
    if port is not None:
        text += f":{port}"
    return text + draw(_tail)


any_origin_text = st.one_of(st.text(max_size=40), origin_like())

_ascii_label = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=10)
_idn_label = st.sampled_from(["hànội", "thừathiênhuế", "đàlạt", "sởnộivụ", "bücher"])
valid_host = st.lists(st.one_of(_ascii_label, _idn_label), min_size=1, max_size=4).map(".".join)
parent_domain = st.lists(st.one_of(_ascii_label, _idn_label), min_size=2, max_size=3).map(".".join)


@st.composite
def valid_origin_text(draw: st.DrawFn) -> str:
    """An origin a browser could send (https, or http on loopback), in any letter case."""
    if draw(st.booleans()):
        scheme, host = draw(st.sampled_from(["https", "HTTPS"])), draw(valid_host)
    else:
        scheme = draw(st.sampled_from(["http", "https"]))
        host = draw(st.sampled_from(["localhost", "127.0.0.1", "[::1]", "127.0.0.2"]))
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    text = f"{scheme}://{host}" + ("" if port is None else f":{port}")
    return text + draw(st.sampled_from(["", "/"]))


POLICY = OriginPolicy.from_strings(
    [
        "https://portal.example.gov.vn",
        "https://*.tinh.gov.vn",
        "http://localhost:8990",
        "https://[::1]:8443",
    ]
)


def _parse_or_none(parse: Any, text: str) -> Any:
    try:
        return parse(text)
    except InvalidOrigin:
        return None


@FUZZ
@given(any_origin_text)
@example("https://[")
@example("https://[evil]")
@example("https://a:²")
def test_parse_origin_raises_nothing_but_invalid_origin(text: str) -> None:
    _parse_or_none(parse_origin, text)


@FUZZ
@given(any_origin_text)
@example("https://*.[")
@example("https://*.a.b:²")
def test_parse_pattern_raises_nothing_but_invalid_origin(text: str) -> None:
    _parse_or_none(parse_pattern, text)


@FUZZ
@given(st.one_of(any_origin_text, valid_origin_text()))
@example("https://[")
@example("https://a:²")
def test_policy_check_never_raises(text: str) -> None:
    decision = POLICY.check(text)
    assert isinstance(decision, OriginDecision)
    if decision.allowed:
        assert decision.origin is not None
    if decision.via_wildcard:
        assert decision.allowed


@FUZZ
@given(st.one_of(valid_origin_text(), origin_like()))
def test_normalised_origin_reparses_to_itself(text: str) -> None:
    try:
        origin = parse_origin(text)
    except ValueError:  # InvalidOrigin, or the bug the test above reports
        return
    normal = str(origin)
    assert parse_origin(normal) == origin
    assert str(parse_origin(normal)) == normal
    assert normal == normal.lower()
    assert normal.isascii()


@FUZZ
@given(valid_origin_text())
def test_browser_shaped_origins_are_accepted(text: str) -> None:
    origin = parse_origin(text)
    assert isinstance(origin, Origin)
    assert origin.scheme in {"https", "http"}


@FUZZ
@given(st.one_of(origin_like(), parent_domain.map(lambda d: f"https://*.{d}")))
def test_normalised_pattern_reparses_to_itself(text: str) -> None:
    try:
        pattern = parse_pattern(text)
    except ValueError:
        return
    assert parse_pattern(str(pattern)) == pattern


@st.composite
def wildcard_case(draw: st.DrawFn) -> tuple[str, str]:
    """A wildcard entry ``https://*.X`` and an origin that may or may not lie below ``X``."""
    parent = draw(parent_domain)
    sub = draw(valid_host)
    port = draw(st.sampled_from(["", ":443", ":8443"]))
    candidate = draw(
        st.one_of(
            st.just(f"https://{sub}.{parent}{port}"),
            st.just(f"HTTPS://{sub.upper()}.{parent}{port}"),
            st.just(f"http://{sub}.{parent}{port}"),
            st.just(f"https://{sub}{parent}{port}"),  # no dot: a different domain
            st.just(f"https://{parent}{port}"),  # the parent itself
            st.just(f"https://{parent}.{sub}{port}"),  # parent as a prefix
            st.just(f"https://{sub}.{parent}.evil.example{port}"),
            origin_like(),
        )
    )
    return parent, candidate


@FUZZ
@given(wildcard_case())
def test_wildcard_admits_only_https_strict_subdomains(case: tuple[str, str]) -> None:
    parent, candidate = case
    pattern = parse_pattern(f"https://*.{parent}")
    policy = OriginPolicy((pattern,))
    decision = policy.check(candidate)
    if decision.allowed:
        assert decision.origin is not None
        assert decision.via_wildcard
        assert decision.origin.scheme == "https"
        assert decision.origin.port == 443
        assert decision.origin.host.endswith("." + pattern.host)
        assert decision.origin.host != pattern.host


@FUZZ
@given(parent_domain, valid_host)
def test_wildcard_admits_every_https_subdomain(parent: str, sub: str) -> None:
    policy = OriginPolicy.from_strings([f"https://*.{parent}"])
    decision = policy.check(f"https://{sub}.{parent}")
    assert decision.allowed
    assert decision.via_wildcard


# --- request bodies --------------------------------------------------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_field_names = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "hash",
            "hashAlgorithm",
            "documentName",
            "certificate",
            "scheme",
            "items",
            "__proto__",
            "",
        ]
    ),
)
json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_field_names, children, max_size=4),
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(_field_names, json_values, max_size=6)

_ALGORITHMS = {a.value: a.digest_size for a in DIGEST_ALGORITHMS}
#: Names the prompt may show: no control, format (bidi, zero-width) or separator character but
#: the plain space, nothing that renders blank, at most MAX_MARKS combining marks on a letter.
_document_names = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=["Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"],
        include_characters=" ",
        exclude_characters="".join(map(chr, BLANK_CODEPOINTS)),
    ),
    max_size=40,
).filter(lambda name: _longest_mark_run(name) <= MAX_MARKS)


def _longest_mark_run(name: str) -> int:
    longest = run = 0
    for char in name:
        run = run + 1 if unicodedata.category(char).startswith("M") else 0
        longest = max(longest, run)
    return longest


@st.composite
def digest_item(draw: st.DrawFn, algorithm: str | None = None) -> dict[str, Any]:
    """A valid ``{hash, hashAlgorithm[, documentName]}``."""
    algorithm = algorithm or draw(st.sampled_from(sorted(_ALGORITHMS)))
    digest = draw(st.binary(min_size=_ALGORITHMS[algorithm], max_size=_ALGORITHMS[algorithm]))
    item: dict[str, Any] = {
        "hash": base64.b64encode(digest).decode(),
        "hashAlgorithm": algorithm,
    }
    name = draw(st.one_of(st.none(), st.just("absent"), _document_names))
    if name != "absent":
        item["documentName"] = name
    return item


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _certificates() -> list[str]:
    """A few real certificates (the parser checks that ``certificate`` is one)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from agent.testing.softhsm import TestCa, vn_name

    ca = TestCa.create("Kyso Fuzz CA")
    issued = [
        ca.issue(ec.generate_private_key(ec.SECP256R1()).public_key(), vn_name(name))
        for name in ("Nguyễn Văn An", "Trần Thị Bình")
    ]
    return [_b64(c.public_bytes(serialization.Encoding.DER)) for c in (ca.cert, *issued)]


_CERTIFICATES = _certificates()


def _optional_fields(draw: st.DrawFn, request: dict[str, Any]) -> dict[str, Any]:
    if draw(st.booleans()):
        request["certificate"] = draw(st.one_of(st.none(), st.sampled_from(_CERTIFICATES)))
    if draw(st.booleans()):
        request["scheme"] = draw(st.sampled_from([None, "PKCS1v15", "PSS"]))
    return request


@st.composite
def valid_sign(draw: st.DrawFn) -> dict[str, Any]:
    """A body ``POST /v1/sign`` accepts."""
    return _optional_fields(draw, draw(digest_item()))


@st.composite
def valid_batch(draw: st.DrawFn) -> dict[str, Any]:
    """A body ``POST /v1/sign/batch`` accepts."""
    items = draw(st.lists(digest_item(), min_size=1, max_size=5))
    return _optional_fields(draw, {"items": items})


_bad_b64 = st.one_of(
    st.text(max_size=20),
    st.binary(max_size=70).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.binary(max_size=70).map(lambda b: base64.b64encode(b).decode().rstrip("=")),
    st.binary(max_size=70).map(lambda b: base64.encodebytes(b).decode()),
    st.binary(min_size=1, max_size=70).map(lambda b: " " + _b64(b)),
)
_field_values = st.one_of(
    json_values,
    _bad_b64,
    st.sampled_from(["SHA-256", "SHA-1", "sha-256", "SHA256", "PSS", "pss", "RSA"]),
    st.text(st.sampled_from("a\x00\x1f\x7f\x85\u202e\u202d\u200f "), max_size=300),
    st.lists(st.just("x"), min_size=0, max_size=3),
)


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A valid body (or one of its items) with one to three fields dropped, retyped or added."""
    body = draw(valid)
    for _ in range(draw(st.integers(1, 3))):
        target: dict[str, Any] = body
        items = body.get("items")
        if isinstance(items, list) and items and draw(st.booleans()):
            chosen = items[draw(st.integers(0, len(items) - 1))]
            if isinstance(chosen, dict):
                target = chosen
        keys = sorted(target)
        action = draw(st.sampled_from(["drop", "retype", "add"] if keys else ["add"]))
        if action == "drop":
            del target[draw(st.sampled_from(keys))]
        elif action == "retype":
            target[draw(st.sampled_from(keys))] = draw(_field_values)
        else:
            target[draw(_field_names)] = draw(_field_values)
    return body


_PARSERS = (
    (parse_sign_request, SignRequest),
    (parse_batch_sign_request, BatchSignRequest),
    (parse_certificates_request, CertificatesRequest),
)


def _each_parser_returns_its_value_or_bad_request(obj: dict[str, Any]) -> None:
    for parse, result_type in _PARSERS:
        try:
            result = parse(obj)
        except BadRequest as exc:
            assert exc.detail
        else:
            assert isinstance(result, result_type)


def _as_wire(value: Any) -> bytes:
    return json.dumps(value).encode()


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        json_values.map(_as_wire),
        json_values.map(lambda v: _as_wire(v)[:-1]),
        json_values.map(lambda v: json.dumps(v).encode("utf-16")),
        st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
)
@example(b"")
@example(b"\xff\xfe")
@example(b'{"a": NaN}')
@example(b"[" * 100_000)
@example(b'{"a":' * 5000 + b"1" + b"}" * 5000)
def test_decode_json_object_returns_a_dict_or_bad_request(body: bytes) -> None:
    try:
        obj = decode_json_object(body)
    except BadRequest:
        return
    assert isinstance(obj, dict)
    _each_parser_returns_its_value_or_bad_request(obj)


@FUZZ
@given(json_objects)
def test_parsers_on_arbitrary_json_objects_raise_only_bad_request(obj: dict[str, Any]) -> None:
    _each_parser_returns_its_value_or_bad_request(obj)


@FUZZ
@given(st.one_of(mutated(valid_sign()), mutated(valid_batch()), valid_sign(), valid_batch()))
def test_near_valid_requests_parse_or_raise_bad_request(obj: dict[str, Any]) -> None:
    wire = decode_json_object(_as_wire(obj))
    _each_parser_returns_its_value_or_bad_request(wire)


@FUZZ
@given(valid_sign())
def test_valid_sign_requests_parse_to_their_digest(obj: dict[str, Any]) -> None:
    request = parse_sign_request(decode_json_object(_as_wire(obj)))
    assert request.item.digest == base64.b64decode(obj["hash"])
    assert request.item.algorithm.value == obj["hashAlgorithm"]


@FUZZ
@given(valid_batch())
def test_valid_batches_parse_in_order(obj: dict[str, Any]) -> None:
    request = parse_batch_sign_request(decode_json_object(_as_wire(obj)))
    assert [i.digest for i in request.items] == [base64.b64decode(i["hash"]) for i in obj["items"]]


# --- PIN-like fields -------------------------------------------------------------------

_PIN_WORDS = ["pin", "PIN", "Pin", "pIN"]
_SEPARATORS = ["", "_", "-", ".", " ", "__"]
_rest = st.text(string.ascii_letters, max_size=8)
pin_key = st.one_of(
    st.builds(
        lambda w, s, r: w + s + r, st.sampled_from(_PIN_WORDS), st.sampled_from(_SEPARATORS), _rest
    ),
    st.builds(
        lambda r, s, w: r + s + w, _rest, st.sampled_from(_SEPARATORS), st.sampled_from(_PIN_WORDS)
    ),
    st.sampled_from(
        [
            "pin",
            "userPin",
            "PIN_code",
            "user_pin",
            "newPIN",
            "pinCode",
            "Pin-Number",
            "soPin",
            "password",
            "Pass-Word",
            "passcode",
            "pass_phrase",
            "SECRET",
        ]
    ),
)
pin_value = st.one_of(st.from_regex(r"\A[0-9]{6,8}\Z"), st.just("246810"))
_safe_key = st.text(string.ascii_letters, min_size=1, max_size=8).filter(
    lambda k: not k.lower().startswith("pin") and not k.lower().endswith("pin")
)


@st.composite
def pin_holder(draw: st.DrawFn) -> tuple[Any, str]:
    """A JSON value with a PIN-like key somewhere inside, and the PIN it carries."""
    secret = draw(pin_value)
    holder: Any = {draw(pin_key): secret}
    if draw(st.booleans()):
        holder.update(draw(st.dictionaries(_safe_key, _json_scalars, max_size=2)))
    for _ in range(draw(st.integers(0, 4))):
        holder = draw(
            st.sampled_from(
                [
                    {draw(_safe_key): holder},
                    [holder],
                    [draw(_json_scalars), holder],
                    {"items": [holder]},
                ]
            )
        )
    return holder, secret


@st.composite
def request_with_pin(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A request body (valid, near-valid or empty) with a PIN-like field at some depth."""
    body = draw(st.one_of(valid_sign(), valid_batch(), st.just({})))
    holder, secret = draw(pin_holder())
    where = draw(st.sampled_from(["top", "field", "item"]))
    if where == "top" and isinstance(holder, dict):
        body.update(holder)
    elif where == "item" and "items" in body:
        body["items"][draw(st.integers(0, len(body["items"]) - 1))].update(
            holder if isinstance(holder, dict) else {"documentName": holder}
        )
    else:
        body[draw(st.sampled_from(["hash", "documentName", "certificate", "scheme", "items"]))] = (
            holder
        )
    return body, secret


@FUZZ
@given(request_with_pin())
@example(({"hash": "x", "hashAlgorithm": "SHA-256", "userPin": "246810"}, "246810"))
@example(({"items": [{"hash": "x", "hashAlgorithm": "SHA-256", "PIN_code": "1234567"}]}, "1234567"))
@example(({"certificate": {"nested": [{"pin": "24681012"}]}}, "24681012"))
def test_any_pin_like_field_anywhere_is_refused(case: tuple[dict[str, Any], str]) -> None:
    body, secret = case
    wire = decode_json_object(_as_wire(body))
    for parse, _ in _PARSERS:
        try:
            parse(wire)
        except BadRequest as exc:
            assert secret not in str(exc)
            assert secret not in exc.detail
        else:
            raise AssertionError(f"{parse.__name__} accepted a PIN-like field: {body!r}")
