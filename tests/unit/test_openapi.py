"""The packaged OpenAPI description of API v1 says what the code does.

Routes come from the route table, error codes and statuses from the error tree,
enums from :mod:`agent.algorithms`, request fields from the parsers in
:mod:`agent.protocol` (the examples in the spec must parse), response fields
from the ``to_wire`` methods. Nothing here starts a server.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import pytest
from aiohttp import web

from agent import errors
from agent.algorithms import HashAlgorithm, KeyType, RsaScheme, signature_algorithm_name
from agent.config import DEFAULT_PORT
from agent.errors import BadRequest, ErrorCode
from agent.protocol import (
    API_VERSION,
    MAX_BATCH_ITEMS,
    MAX_DOCUMENT_NAME,
    BatchSignResponse,
    CertificateResponse,
    SignResponse,
    TokenRef,
    b64decode,
    parse_batch_sign_request,
    parse_certificates_request,
    parse_sign_request,
)
from agent.server.routes import routes
from agent.service import SigningService

Spec = dict[str, Any]
Parser = Callable[[dict[str, Any]], object]

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

PARSERS: dict[str, Parser] = {
    "/v1/certificates": parse_certificates_request,
    "/v1/sign": parse_sign_request,
    "/v1/sign/batch": parse_batch_sign_request,
}

# What can go wrong where: the middlewares (Host, Origin, the catch-all), the
# body checks in routes.py plus the parsers, then the service.
_CHECKS = {"HOST_NOT_ALLOWED", "CALLER_NOT_ALLOWED", "ORIGIN_NOT_ALLOWED", "INTERNAL"}
_BODY = {"BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE", "PAYLOAD_TOO_LARGE"}
_CONSENT = {
    "USER_CANCELLED",
    "CONSENT_TIMEOUT",
    "BUSY",
    "TOKEN_NOT_PRESENT",
    "CERTIFICATE_NOT_FOUND",
    "CERTIFICATE_EXPIRED",
}
EXPECTED_CODES = {
    ("get", "/v1/info"): _CHECKS,
    ("get", "/v1/openapi.json"): _CHECKS,
    ("post", "/v1/certificates"): _CHECKS | _BODY | _CONSENT,
    ("post", "/v1/sign"): _CHECKS | _BODY | _CONSENT | {"PIN_LOCKED"},
    ("post", "/v1/sign/batch"): _CHECKS | _BODY | _CONSENT | {"PIN_LOCKED"},
}

PIN_LIKE_FIELDS = ("pin", "userPin", "PIN_CODE", "password", "passphrase")


@pytest.fixture(scope="module")
def spec() -> Spec:
    text = resources.files("agent.server").joinpath("openapi.json").read_text("utf-8")
    loaded: Spec = json.loads(text)
    return loaded


def resolve(spec: Spec, node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s (siblings of a ``$ref`` are dropped)."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations(spec: Spec) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(method, path, operation)`` for every documented operation."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def error_codes(spec: Spec, response: dict[str, Any]) -> set[str]:
    """The codes an error response allows: ``Error`` narrowed by an enum."""
    schema = resolve(spec, response)["content"]["application/json"]["schema"]
    base, narrowed = schema["allOf"]
    assert base == {"$ref": "#/components/schemas/Error"}
    return set(narrowed["properties"]["error"]["properties"]["code"]["enum"])


def wire_statuses() -> dict[str, set[int]]:
    """Code → HTTP statuses, from every error class that can reach a client."""
    table: dict[str, set[int]] = defaultdict(set)
    for cls in vars(errors).values():
        # PinIncorrect never reaches the wire: the user is asked again.
        if (
            isinstance(cls, type)
            and issubclass(cls, errors.AgentError)
            and cls is not errors.PinIncorrect
        ):
            table[cls.code.value].add(cls.http_status)
    return dict(table)


def request_schema(spec: Spec, path: str) -> dict[str, Any]:
    body = spec["paths"][path]["post"]["requestBody"]
    return resolve(spec, body["content"]["application/json"]["schema"])


def request_example(spec: Spec, path: str) -> dict[str, Any]:
    example: dict[str, Any] = copy.deepcopy(request_schema(spec, path)["examples"][0])
    return example


def unset_fields(value: object, where: str = "") -> list[str]:
    """Dataclass fields left at ``None`` anywhere in a parsed request."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        unset = []
        for field in dataclasses.fields(value):
            inner = getattr(value, field.name)
            if inner is None:
                unset.append(where + field.name)
            else:
                unset += unset_fields(inner, f"{where}{field.name}.")
        return unset
    if isinstance(value, tuple):
        return [
            name for i, inner in enumerate(value) for name in unset_fields(inner, f"{where}{i}.")
        ]
    return []


def test_spec_is_openapi_3_1_for_api_v1_on_the_default_port(spec: Spec) -> None:
    assert re.fullmatch(r"3\.1\.\d+", spec["openapi"])
    assert spec["info"]["version"] == str(API_VERSION)
    assert [s["url"] for s in spec["servers"]] == [f"https://127.0.0.1:{DEFAULT_PORT}"]


def test_spec_passes_openapi_spec_validator(spec: Spec) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)


def test_every_route_is_documented_with_its_method_and_nothing_else(spec: Spec) -> None:
    registered = {
        (route.method.lower(), route.path) for route in routes if isinstance(route, web.RouteDef)
    }
    documented = {(method, path) for method, path, _ in operations(spec)}
    assert registered
    assert documented == registered


def test_every_post_route_has_a_parser_here() -> None:
    posted = {r.path for r in routes if isinstance(r, web.RouteDef) and r.method == "POST"}
    assert posted == set(PARSERS)


def test_error_code_enum_is_every_error_code(spec: Spec) -> None:
    enum = spec["components"]["schemas"]["ErrorCode"]["enum"]
    assert len(enum) == len(set(enum))
    assert set(enum) == {c.value for c in ErrorCode}


def test_error_code_table_gives_the_statuses_of_the_error_tree(spec: Spec) -> None:
    description = spec["components"]["schemas"]["ErrorCode"]["description"]
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([0-9, ]+) \|", description, re.MULTILINE)
    table = {code: {int(s) for s in statuses.split(",")} for code, statuses in rows}
    assert len(rows) == len(table)
    assert table == wire_statuses()


def test_operation_error_responses_use_each_code_with_its_status(spec: Spec) -> None:
    statuses = wire_statuses()
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            for code in error_codes(spec, response):
                assert int(status) in statuses[code], f"{method} {path}: {status} {code}"


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED_CODES))
def test_operation_documents_every_error_it_can_return(spec: Spec, method: str, path: str) -> None:
    operation = spec["paths"][path][method]
    documented = set().union(
        *(error_codes(spec, r) for s, r in operation["responses"].items() if int(s) >= 400)
    )
    assert documented == EXPECTED_CODES[method, path]


def test_every_error_code_has_a_documented_response(spec: Spec) -> None:
    responses = spec["components"]["responses"].values()
    assert set().union(*(error_codes(spec, r) for r in responses)) == {c.value for c in ErrorCode}
    method_not_allowed = spec["components"]["responses"]["MethodNotAllowed"]
    assert error_codes(spec, method_not_allowed) == {errors.MethodNotAllowed.code.value}
    assert "Allow" in method_not_allowed["headers"]


def test_enums_are_the_algorithms_of_the_agent(spec: Spec) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["HashAlgorithm"]["enum"] == [a.value for a in HashAlgorithm]
    assert schemas["RsaScheme"]["enum"] == [s.value for s in RsaScheme]
    assert schemas["KeyType"]["enum"] == [k.value for k in KeyType]
    produced = {
        signature_algorithm_name(key, scheme, hash_alg)
        for key in KeyType
        for scheme in RsaScheme
        for hash_alg in HashAlgorithm
    }
    assert set(schemas["SignatureAlgorithm"]["enum"]) == produced


def test_base64_pattern_accepts_exactly_what_the_parser_decodes(spec: Spec) -> None:
    base64_schema = spec["components"]["schemas"]["Base64"]
    pattern = re.compile(base64_schema["pattern"])
    assert base64_schema["minLength"] == 1
    for size in range(1, 70):
        text = base64.b64encode(bytes(range(size))).decode()
        assert pattern.fullmatch(text)
        b64decode(text, "x")
    for text in ("AA=", "AA", "A===", "AA==\n", "-_8=", "AA==AA=="):
        assert not pattern.fullmatch(text), text


@pytest.mark.parametrize("path", sorted(PARSERS))
def test_request_body_is_required_json_without_extra_fields(spec: Spec, path: str) -> None:
    body = spec["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"application/json"}
    assert request_schema(spec, path)["additionalProperties"] is False


@pytest.mark.parametrize("path", sorted(PARSERS))
def test_request_example_uses_every_property_and_parses(spec: Spec, path: str) -> None:
    schema = request_schema(spec, path)
    example = request_example(spec, path)
    assert set(example) == set(schema["properties"])
    parsed = PARSERS[path](example)
    # A field the parser reads but the spec lacks would stay unset here.
    assert unset_fields(parsed) == []


@pytest.mark.parametrize("path", sorted(PARSERS))
def test_request_needs_exactly_the_required_properties(spec: Spec, path: str) -> None:
    schema = request_schema(spec, path)
    example = request_example(spec, path)
    required = schema.get("required", [])
    assert set(required) <= set(schema["properties"])
    PARSERS[path]({name: example[name] for name in required})
    for missing in required:
        with pytest.raises(BadRequest, match=missing):
            PARSERS[path]({name: example[name] for name in required if name != missing})


@pytest.mark.parametrize("field", ["unexpected", "callback", *PIN_LIKE_FIELDS])
@pytest.mark.parametrize("path", sorted(PARSERS))
def test_request_field_not_in_the_schema_is_refused(spec: Spec, path: str, field: str) -> None:
    example = request_example(spec, path)
    assert field not in request_schema(spec, path)["properties"]
    with pytest.raises(BadRequest, match=field):
        PARSERS[path]({**example, field: "1234"})


def test_batch_items_are_digest_items_as_the_parser_reads_them(spec: Spec) -> None:
    items = request_schema(spec, "/v1/sign/batch")["properties"]["items"]
    item_schema = resolve(spec, items["items"])
    assert item_schema["additionalProperties"] is False
    example = request_example(spec, "/v1/sign/batch")
    for item in example["items"]:
        assert set(item) == set(item_schema["properties"])
    first = example["items"][0]
    for missing in item_schema["required"]:
        trimmed = {k: v for k, v in first.items() if k != missing}
        with pytest.raises(BadRequest, match=f"items.0.{missing}"):
            parse_batch_sign_request({"items": [trimmed]})
    for field in ("unexpected", *PIN_LIKE_FIELDS):
        with pytest.raises(BadRequest, match=f"items.0.{field}"):
            parse_batch_sign_request({"items": [{**first, field: "1234"}]})


def test_batch_size_and_document_name_limits_are_the_parser_limits(spec: Spec) -> None:
    items = request_schema(spec, "/v1/sign/batch")["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, MAX_BATCH_ITEMS)
    item = request_example(spec, "/v1/sign/batch")["items"][0]
    largest = parse_batch_sign_request({"items": [item] * MAX_BATCH_ITEMS})
    assert len(largest.items) == MAX_BATCH_ITEMS
    for count in (0, MAX_BATCH_ITEMS + 1):
        with pytest.raises(BadRequest, match="items"):
            parse_batch_sign_request({"items": [item] * count})

    name_schema = spec["components"]["schemas"]["DocumentName"]
    assert name_schema["maxLength"] == MAX_DOCUMENT_NAME
    parse_sign_request({**item, "documentName": "a" * MAX_DOCUMENT_NAME})
    with pytest.raises(BadRequest, match="documentName"):
        parse_sign_request({**item, "documentName": "a" * (MAX_DOCUMENT_NAME + 1)})


def test_batch_mixing_hash_algorithms_is_accepted_as_documented(spec: Spec) -> None:
    items = request_schema(spec, "/v1/sign/batch")["properties"]["items"]
    assert "different hash algorithms" in items["description"]
    sha384 = {"hash": base64.b64encode(bytes(48)).decode(), "hashAlgorithm": "SHA-384"}
    first = request_example(spec, "/v1/sign/batch")["items"][0]
    assert first["hashAlgorithm"] != sha384["hashAlgorithm"]
    parsed = parse_batch_sign_request({"items": [first, sha384]})
    assert [i.algorithm.value for i in parsed.items] == [first["hashAlgorithm"], "SHA-384"]


@pytest.mark.parametrize("path", sorted(PARSERS))
def test_request_schema_says_that_pin_fields_are_refused(spec: Spec, path: str) -> None:
    assert "PIN" in request_schema(spec, path)["description"]


_CERT, _ISSUER = b"\x30\x82leaf", b"\x30\x82issuer"
WIRE: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/v1/info"): SigningService.info(),
    ("post", "/v1/certificates"): CertificateResponse(
        _CERT, (_ISSUER,), KeyType.RSA, TokenRef("VNPT-CA", "5404A1B2")
    ).to_wire(),
    ("post", "/v1/sign"): SignResponse(b"sig", "RS256", _CERT).to_wire(),
    ("post", "/v1/sign/batch"): BatchSignResponse(
        (b"s1", b"s2"), ("ES384", "ES384"), _CERT
    ).to_wire(),
}


#: Response fields that are sent only in some cases (samples above include them).
OPTIONAL_IN_RESPONSE = {"/v1/sign/batch": {"signatureAlgorithm"}}


def test_batch_response_omits_the_common_algorithm_when_items_differ() -> None:
    wire = BatchSignResponse((b"a", b"b"), ("RS256", "RS512"), _CERT).to_wire()
    assert "signatureAlgorithm" not in wire
    assert wire["signatureAlgorithms"] == ["RS256", "RS512"]


@pytest.mark.parametrize(("method", "path"), sorted(WIRE))
def test_response_schema_has_exactly_the_fields_sent(spec: Spec, method: str, path: str) -> None:
    response = spec["paths"][path][method]["responses"]["200"]
    schema = resolve(spec, response["content"]["application/json"]["schema"])
    wire = WIRE[method, path]
    assert set(schema["properties"]) == set(wire)
    assert set(schema["required"]) == set(wire) - OPTIONAL_IN_RESPONSE.get(path, set())
    for name, value in wire.items():
        inner = resolve(spec, schema["properties"][name])
        if "const" in inner:
            assert value == inner["const"], name
        if isinstance(value, dict):
            assert set(inner["properties"]) == set(inner["required"]) == set(value), name


def test_response_examples_have_exactly_the_fields_sent(spec: Spec) -> None:
    schemas = spec["components"]["schemas"]
    for name, key in [
        ("CertificateResponse", ("post", "/v1/certificates")),
        ("SignResponse", ("post", "/v1/sign")),
        ("BatchSignResponse", ("post", "/v1/sign/batch")),
    ]:
        for example in schemas[name]["examples"]:
            assert set(example) == set(WIRE[key]), name
