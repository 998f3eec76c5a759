"""The packaged OpenAPI description of API v1 says what the code does.

Routes come from the route table, error codes and statuses from the error tree,
enums from :mod:`agent.algorithms` and :mod:`agent.pdf`, request fields from the
parsers in :mod:`agent.protocol` (the examples in the spec must parse), response
fields from the ``to_wire`` methods and the service's verification report, form
parts and size limits from the handlers, called directly. Nothing here starts a
server.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import functools
import json
import math
import re
import tempfile
import urllib.parse
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any, cast
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request

from agent import errors
from agent.algorithms import KeyType, RsaScheme, signature_algorithm_name
from agent.config import DEFAULT_MAX_BODY, DEFAULT_MAX_PDF, DEFAULT_PORT
from agent.consent.prompter import Prompter
from agent.consent.refusing import RefusingPrompter
from agent.errors import BadRequest, ErrorCode, PayloadTooLarge
from agent.messages import Lang
from agent.origin import Admitted, OriginPolicy, parse_origin
from agent.pdf.models import Profile, SignatureLevel
from agent.pdf.verify.findings import unreadable_report
from agent.pdf.verify.model import (
    B_LTA,
    Coverage,
    Modifications,
    Problem,
    Revocation,
    SignatureKind,
    SignatureReport,
    VerificationReport,
)
from agent.pdf.verify.read import Found
from agent.protocol import (
    API_VERSION,
    DIGEST_ALGORITHMS,
    MAX_BATCH_ITEMS,
    MAX_DOCUMENT_NAME,
    MAX_IMAGE_BYTES,
    MAX_PDF_BATCH,
    MAX_TEXT,
    BatchSignResponse,
    CertificateResponse,
    CmsSignResponse,
    PdfBatchSignRequest,
    PdfBatchSignResponse,
    PdfSignRequest,
    PdfSignResponse,
    PdfVerifyRequest,
    PdfVerifyResponse,
    SignedXml,
    SignResponse,
    TokenRef,
    XmlBatchSignResponse,
    XmlSignRequest,
    XmlSignResponse,
    XmlVerifyRequest,
    XmlVerifyResponse,
    b64decode,
    parse_appearance,
    parse_batch_sign_request,
    parse_certificates_request,
    parse_cms_sign_request,
    parse_pdf_batch_sign_request,
    parse_pdf_sign_request,
    parse_pdf_verify_request,
    parse_sign_request,
    parse_xml_batch_sign_request,
    parse_xml_sign_request,
    parse_xml_verify_request,
)
from agent.server.keys import CALLER, SERVICE, SETTINGS, SPOOL, ServerSettings
from agent.server.routes import MAX_QUERY_OPTIONS, PDF_MEDIA_TYPE, routes
from agent.service import SigningService
from agent.spool import Spool, SpooledFile
from agent.token import Inventory, PinState
from agent.xml.verify.model import XmlVerificationReport

Spec = dict[str, Any]
Parser = Callable[[dict[str, Any]], object]

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

EXAMPLE_TSA = "http://tsa.example.gov.vn/tsa"
"""The TSA of the specification's examples."""

PARSERS: dict[str, Parser] = {
    "/v1/certificates": parse_certificates_request,
    "/v1/sign": parse_sign_request,
    "/v1/sign/batch": parse_batch_sign_request,
    # As on an agent with a configured TSA: the examples' B-T then parses without 'tsaUrl'.
    "/v1/pdf/sign": functools.partial(parse_pdf_sign_request, default_tsa="http://tsa.example/"),
    "/v1/pdf/sign/batch": functools.partial(
        parse_pdf_batch_sign_request, default_tsa="http://tsa.example/"
    ),
    "/v1/cms/sign": parse_cms_sign_request,
    "/v1/pdf/verify": parse_pdf_verify_request,
    "/v1/xml/sign": parse_xml_sign_request,
    "/v1/xml/sign/batch": parse_xml_batch_sign_request,
    "/v1/xml/verify": parse_xml_verify_request,
}

#: Requests whose fields exclude one another (``signId`` only with ``enveloped``, ``parentId``
#: or ``parentXpath``): their examples use every property between them, not each one.
SEVERAL_EXAMPLES = {"/v1/xml/sign", "/v1/xml/sign/batch"}

#: Fields a parsed request leaves unset by design: a batch's certificate is the batch's, not
#: each document's.
UNSET_BY_DESIGN = {"/v1/pdf/sign/batch": re.compile(r"documents\.\d+\.certificate")}

#: Request media types other than JSON alone.
MEDIA_TYPES = {
    path: {"application/json", "multipart/form-data", PDF_MEDIA_TYPE}
    for path in ("/v1/pdf/sign", "/v1/pdf/verify")
}

# What can go wrong where: the middlewares (Host, Origin, the catch-all), the
# body checks in routes.py plus the parsers, then the service: consent, the
# certificate checks after it (validity, revocation), and for PDF and CMS the
# time-stamping authority and validation data.
_CHECKS = {"HOST_NOT_ALLOWED", "CALLER_NOT_ALLOWED", "ORIGIN_NOT_ALLOWED", "INTERNAL"}
_BODY = {"BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE", "PAYLOAD_TOO_LARGE"}
_CONSENT = {
    "USER_CANCELLED",
    "CONSENT_TIMEOUT",
    "BUSY",
    "TOKEN_NOT_PRESENT",
    "TOKEN_MODULE_FAILED",
    "CERTIFICATE_NOT_FOUND",
    "CERTIFICATE_EXPIRED",
}
_SIGNING = _CONSENT | {"PIN_LOCKED", "CERTIFICATE_REVOKED"}
EXPECTED_CODES = {
    ("get", "/v1/info"): _CHECKS,
    ("get", "/v1/openapi.json"): _CHECKS,
    ("post", "/v1/certificates"): _CHECKS | _BODY | _CONSENT,
    ("post", "/v1/sign"): _CHECKS | _BODY | _SIGNING,
    ("post", "/v1/sign/batch"): _CHECKS | _BODY | _SIGNING,
    # A form's file or a raw PDF body goes to the disk (agent/spool.py), which may be full.
    ("post", "/v1/pdf/sign"): _CHECKS | _BODY | _SIGNING | {"SIGNING_FAILED", "STORAGE_FAILED"},
    ("post", "/v1/pdf/sign/batch"): _CHECKS | _BODY | _SIGNING | {"SIGNING_FAILED"},
    ("post", "/v1/cms/sign"): _CHECKS | _BODY | _SIGNING | {"SIGNING_FAILED"},
    # No prompt, no token: only the request itself can be wrong, or the disk it waits on.
    ("post", "/v1/pdf/verify"): _CHECKS | _BODY | {"STORAGE_FAILED"},
    ("post", "/v1/xml/sign"): _CHECKS | _BODY | _SIGNING,
    ("post", "/v1/xml/sign/batch"): _CHECKS | _BODY | _SIGNING,
    ("post", "/v1/xml/verify"): _CHECKS | _BODY,
}

#: Operations whose size limit is ``max_pdf_bytes`` (on the PDF), not ``max_body_bytes``.
PDF_SIZED = {
    "/v1/pdf/sign",
    "/v1/pdf/sign/batch",
    "/v1/pdf/verify",
    "/v1/xml/sign",
    "/v1/xml/sign/batch",
    "/v1/xml/verify",
}

#: The caller the origin middleware hands to the handlers.
ADMITTED = Admitted(parse_origin("https://portal.example.gov.vn"), via_wildcard=False)

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


def form_schema(spec: Spec) -> dict[str, Any]:
    body = spec["paths"]["/v1/pdf/sign"]["post"]["requestBody"]
    return resolve(spec, body["content"]["multipart/form-data"]["schema"])


def allows_null(spec: Spec, node: dict[str, Any]) -> bool:
    """Whether a schema admits JSON ``null`` (``type`` lists, ``anyOf`` branches)."""
    node = resolve(spec, node)
    if "anyOf" in node:
        return any(allows_null(spec, branch) for branch in node["anyOf"])
    kind = node.get("type")
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def schema_named(spec: Spec, name: str) -> dict[str, Any]:
    return resolve(spec, {"$ref": f"#/components/schemas/{name}"})


def not_null(spec: Spec, node: dict[str, Any]) -> dict[str, Any]:
    """The schema of a nullable property without its ``null`` branch."""
    node = resolve(spec, node)
    if "anyOf" in node:
        [branch] = [b for b in node["anyOf"] if b != {"type": "null"}]
        return resolve(spec, branch)
    return node


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
    # The API's list, not every algorithm the token signs: SHA-1 is for XML signatures only.
    assert schemas["HashAlgorithm"]["enum"] == [a.value for a in DIGEST_ALGORITHMS]
    assert schemas["RsaScheme"]["enum"] == [s.value for s in RsaScheme]
    assert schemas["KeyType"]["enum"] == [k.value for k in KeyType]
    produced = {
        signature_algorithm_name(key, scheme, hash_alg)
        for key in KeyType
        for scheme in RsaScheme
        for hash_alg in DIGEST_ALGORITHMS
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
    assert set(body["content"]) == MEDIA_TYPES.get(path, {"application/json"})
    assert request_schema(spec, path)["additionalProperties"] is False


@pytest.mark.parametrize("path", sorted(PARSERS))
def test_request_example_uses_every_property_and_parses(spec: Spec, path: str) -> None:
    schema = request_schema(spec, path)
    if path in SEVERAL_EXAMPLES:
        examples = schema["examples"]
        assert set().union(*examples) == set(schema["properties"])
        # The exclusive fields stay unset in each: no unset_fields check.
        for example in examples:
            PARSERS[path](example)
        return
    example = request_example(spec, path)
    assert set(example) == set(schema["properties"])
    parsed = PARSERS[path](example)
    # A field the parser reads but the spec lacks would stay unset here.
    by_design = UNSET_BY_DESIGN.get(path, re.compile("(?!)"))
    assert [name for name in unset_fields(parsed) if not by_design.fullmatch(name)] == []


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


@pytest.mark.parametrize("path", sorted(PARSERS))
def test_null_is_accepted_exactly_where_the_schema_allows_it(spec: Spec, path: str) -> None:
    schema = request_schema(spec, path)
    example = request_example(spec, path)
    for name, node in schema["properties"].items():
        if allows_null(spec, node):
            PARSERS[path]({**example, name: None})
        else:
            with pytest.raises(BadRequest):
                PARSERS[path]({**example, name: None})


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


def test_pdf_batch_documents_are_what_the_parser_reads(spec: Spec) -> None:
    documents = request_schema(spec, "/v1/pdf/sign/batch")["properties"]["documents"]
    document = resolve(spec, documents["items"])
    assert document["additionalProperties"] is False
    example = request_example(spec, "/v1/pdf/sign/batch")
    assert set().union(*example["documents"]) == set(document["properties"])
    assert document["examples"] == [example["documents"][1]]
    full = example["documents"][1]
    for missing in document["required"]:
        trimmed = {k: v for k, v in full.items() if k != missing}
        with pytest.raises(BadRequest, match=f"documents.0.{missing}"):
            parse_pdf_batch_sign_request({"documents": [trimmed]})
    # The batch's own options, a stray field or a PIN: refused in a document.
    for field in ("certificate", "level", "tsaUrl", "unexpected", *PIN_LIKE_FIELDS):
        assert field not in document["properties"]
        with pytest.raises(BadRequest, match=f"documents.0.{field}"):
            parse_pdf_batch_sign_request({"documents": [{**full, field: "1234"}]})
    for name, node in document["properties"].items():
        if allows_null(spec, node):
            parse_pdf_batch_sign_request({"documents": [{**full, name: None}]})
        else:
            with pytest.raises(BadRequest, match=f"documents.0.{name}"):
                parse_pdf_batch_sign_request({"documents": [{**full, name: None}]})
    assert "PIN" in document["description"]


def test_pdf_batch_size_is_the_parser_limit(spec: Spec) -> None:
    documents = request_schema(spec, "/v1/pdf/sign/batch")["properties"]["documents"]
    assert (documents["minItems"], documents["maxItems"]) == (1, MAX_PDF_BATCH)
    answered = answer_schema(spec, "post", "/v1/pdf/sign/batch")
    assert resolve(spec, answered)["properties"]["documents"]["maxItems"] == MAX_PDF_BATCH
    document = {"pdf": request_example(spec, "/v1/pdf/sign/batch")["documents"][0]["pdf"]}
    largest = parse_pdf_batch_sign_request({"documents": [document] * MAX_PDF_BATCH})
    assert len(largest.documents) == MAX_PDF_BATCH
    for count in (0, MAX_PDF_BATCH + 1):
        with pytest.raises(BadRequest, match="documents"):
            parse_pdf_batch_sign_request({"documents": [document] * count})


@pytest.mark.parametrize("name", ["reason", "location", "appearance"])
def test_a_documents_own_option_replaces_the_batchs_as_documented(spec: Spec, name: str) -> None:
    described = resolve(spec, schema_named(spec, "PdfBatchDocument"))["properties"][name]
    assert "Omitted: the batch's" in described["description"]
    assert (
        f"own `{name}` replaces it"
        in (request_schema(spec, "/v1/pdf/sign/batch")["properties"][name]["description"])
    )
    example = request_example(spec, "/v1/pdf/sign/batch")
    own = example["documents"][1][name]
    assert own != example[name]
    bare = {"pdf": example["documents"][0]["pdf"]}
    request = PARSERS["/v1/pdf/sign/batch"](
        {
            **example,
            "documents": [bare, {**bare, name: own}, {**bare, name: None}],
        }
    )
    assert isinstance(request, PdfBatchSignRequest)
    shared, replaced, unset = (getattr(d.options, name) for d in request.documents)
    if name == "appearance":
        assert (shared, replaced) == (parse_appearance(example[name]), parse_appearance(own))
        assert unset.profile is Profile.INVISIBLE
    else:
        assert (shared, replaced, unset) == (example[name], own, None)


@pytest.mark.parametrize("path", sorted(PARSERS))
def test_request_schema_says_that_pin_fields_are_refused(spec: Spec, path: str) -> None:
    assert "PIN" in request_schema(spec, path)["description"]


def test_pdf_form_has_the_file_and_the_json_body_fields_as_options(spec: Spec) -> None:
    form = spec["paths"]["/v1/pdf/sign"]["post"]["requestBody"]["content"]["multipart/form-data"]
    schema = form_schema(spec)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["file"]
    assert schema["properties"]["file"]["format"] == "binary"
    assert form["encoding"]["options"]["contentType"] == "application/json"
    options = resolve(spec, schema["properties"]["options"])
    assert options["additionalProperties"] is False
    assert "required" not in options
    json_body = request_schema(spec, "/v1/pdf/sign")
    assert set(options["properties"]) == set(json_body["properties"]) - {"pdf"}
    for name, node in options["properties"].items():
        assert node == json_body["properties"][name], name
    assert "PIN" in options["description"]


def test_pdf_form_options_example_parses_with_a_pdf_part(spec: Spec) -> None:
    options = resolve(spec, form_schema(spec)["properties"]["options"])
    [example] = options["examples"]
    assert set(example) == set(options["properties"])
    pdf = base64.b64decode(request_example(spec, "/v1/pdf/sign")["pdf"])
    assert unset_fields(parse_pdf_sign_request(example, pdf)) == []
    parse_pdf_sign_request({}, pdf)
    for field in ("pdf", "unexpected", *PIN_LIKE_FIELDS):
        with pytest.raises(BadRequest, match=f"options.{field}"):
            parse_pdf_sign_request({**example, field: "1234"}, pdf)


def test_appearance_is_the_object_the_parser_reads(spec: Spec) -> None:
    schema = not_null(spec, request_schema(spec, "/v1/pdf/sign")["properties"]["appearance"])
    assert schema["additionalProperties"] is False
    appearance = request_example(spec, "/v1/pdf/sign")["appearance"]
    assert set(appearance) == set(schema["properties"])
    assert schema["examples"] == [appearance]
    assert unset_fields(parse_appearance(appearance)) == []
    for missing in schema["required"]:
        with pytest.raises(BadRequest, match=f"appearance.{missing}"):
            parse_appearance({k: v for k, v in appearance.items() if k != missing})
    for field in ("unexpected", *PIN_LIKE_FIELDS):
        with pytest.raises(BadRequest, match=f"appearance.{field}"):
            parse_appearance({**appearance, field: "1234"})
    for name, node in schema["properties"].items():
        if allows_null(spec, node):
            parse_appearance({**appearance, name: None})
        else:
            with pytest.raises(BadRequest, match=name):
                parse_appearance({**appearance, name: None})


def test_appearance_page_and_rect_limits_are_the_parser_limits(spec: Spec) -> None:
    properties = schema_named(spec, "Appearance")["properties"]
    appearance = request_example(spec, "/v1/pdf/sign")["appearance"]
    page_schema = schema_validator(spec, properties["page"])
    for page in (1, -1, 9999, -9999):
        assert page_schema.is_valid(page)
        assert parse_appearance({**appearance, "page": page}).page == page
    for page in (0, 1.5, True, "1"):
        assert not page_schema.is_valid(page)
        with pytest.raises(BadRequest, match=r"appearance\.page"):
            parse_appearance({**appearance, "page": page})
    rect = properties["rect"]
    assert (rect["minItems"], rect["maxItems"]) == (4, 4)
    assert rect["items"] == {"type": "number"}
    assert "x1 < x2" in rect["description"]
    for bad in ([1, 2, 3], [1, 2, 3, 4, 5], [10, 0, 5, 20], [0, 10, 20, 5], [0, 0, "1", 1]):
        with pytest.raises(BadRequest, match=r"appearance\.rect"):
            parse_appearance({**appearance, "rect": bad})


@pytest.mark.parametrize(
    ("where", "field"),
    [("", "reason"), ("", "location"), ("appearance", "anchor"), ("appearance", "text")],
)
def test_pdf_text_limits_are_the_parser_limits(spec: Spec, where: str, field: str) -> None:
    owner = schema_named(spec, "Appearance") if where else request_schema(spec, "/v1/pdf/sign")
    assert resolve(spec, owner["properties"][field])["maxLength"] == MAX_TEXT
    example = request_example(spec, "/v1/pdf/sign")

    def with_value(value: str) -> dict[str, Any]:
        if where:
            return {**example, where: {**example[where], field: value}}
        return {**example, field: value}

    parse_pdf_sign_request(with_value("a\n" * (MAX_TEXT // 2)))
    for bad in ("a" * (MAX_TEXT + 1), "Ký bởi\u202e", "a\rb"):
        with pytest.raises(BadRequest, match=field):
            parse_pdf_sign_request(with_value(bad))


@pytest.mark.parametrize("path", ["/v1/pdf/sign", "/v1/cms/sign"])
def test_tsa_url_pattern_and_length_are_the_parser_rules(spec: Spec, path: str) -> None:
    schema = resolve(spec, request_schema(spec, path)["properties"]["tsaUrl"])
    pattern = re.compile(schema["pattern"])
    example = request_example(spec, path)
    for url in ("http://tsa.example", "HTTPS://tsa.example", "hTtPs://", "ftp://tsa", "https:/a"):
        accepted = url.lower().startswith(("http://", "https://"))
        assert bool(pattern.search(url)) == accepted, url
        if accepted:
            PARSERS[path]({**example, "tsaUrl": url})
        else:
            with pytest.raises(BadRequest, match="tsaUrl"):
                PARSERS[path]({**example, "tsaUrl": url})
    longest = "http://" + "a" * (schema["maxLength"] - len("http://"))
    PARSERS[path]({**example, "tsaUrl": longest})
    with pytest.raises(BadRequest, match="tsaUrl"):
        PARSERS[path]({**example, "tsaUrl": longest + "a"})


def test_appearance_image_is_a_png_of_at_most_the_parser_size(spec: Spec) -> None:
    image = not_null(spec, schema_named(spec, "Appearance")["properties"]["image"])
    base, png = image["allOf"]
    assert resolve(spec, base) is spec["components"]["schemas"]["Base64"]
    assert png["maxLength"] == 4 * math.ceil(MAX_IMAGE_BYTES / 3)
    pattern = re.compile(png["pattern"])
    appearance = request_example(spec, "/v1/pdf/sign")["appearance"]
    magic = b"\x89PNG\r\n\x1a\n"
    for eighth in range(256):
        text = base64.b64encode(magic[:7] + bytes([eighth]) + b"IHDR").decode()
        is_png = eighth == magic[7]
        assert bool(pattern.search(text)) == is_png, eighth
        if not is_png:
            with pytest.raises(BadRequest, match=r"appearance\.image"):
                parse_appearance({**appearance, "image": text})
    largest = base64.b64encode(magic + bytes(MAX_IMAGE_BYTES - len(magic))).decode()
    assert len(largest) <= png["maxLength"]
    parse_appearance({**appearance, "image": largest})
    with pytest.raises(BadRequest, match=r"appearance\.image"):
        parse_appearance(
            {**appearance, "image": base64.b64encode(magic + bytes(MAX_IMAGE_BYTES)).decode()}
        )


def test_cms_digest_is_checked_against_its_algorithm(spec: Spec) -> None:
    example = request_example(spec, "/v1/cms/sign")
    parsed = parse_cms_sign_request(example)
    assert len(parsed.item.digest) == parsed.item.algorithm.digest_size
    short = base64.b64encode(bytes(parsed.item.algorithm.digest_size - 1)).decode()
    assert (
        "32 bytes for SHA-256"
        in request_schema(spec, "/v1/cms/sign")["properties"]["digest"]["description"]
    )
    with pytest.raises(BadRequest, match="digests are"):
        parse_cms_sign_request({**example, "digest": short})


class Asked(Exception):
    """The service got past the document checks and looked for tokens."""


class NoTokens:
    """A token layer that no request here may reach."""

    async def inventory(self, *, rescan: bool = False) -> Inventory:
        raise Asked

    async def pin_state(self, *_args: Any) -> PinState:
        raise Asked

    async def sign(self, *_args: Any, **_kwargs: Any) -> list[bytes]:
        raise Asked

    async def sign_held(self, *_args: Any) -> list[bytes]:
        raise Asked

    async def release(self, *_args: Any) -> None:
        raise Asked


async def test_pdf_sign_example_passes_every_check_made_before_the_prompt(spec: Spec) -> None:
    request = parse_pdf_sign_request(request_example(spec, "/v1/pdf/sign"))
    # The example names a time-stamping authority: the one this computer is configured with.
    # A prompter that would refuse, never reached: the token is asked for first.
    service = SigningService(NoTokens(), RefusingPrompter(), tsa_url=request.options.tsa_url)
    assert request.options.appearance.profile is not Profile.INVISIBLE
    with pytest.raises(Asked):
        await service.sign_pdf(ADMITTED, request)


async def test_pdf_batch_example_passes_every_check_made_before_the_prompt(spec: Spec) -> None:
    request = parse_pdf_batch_sign_request(request_example(spec, "/v1/pdf/sign/batch"))
    tsa = request.documents[0].options.tsa_url
    service = SigningService(NoTokens(), cast(Prompter, None), tsa_url=tsa)
    profiles = {d.options.appearance.profile for d in request.documents}
    assert Profile.INVISIBLE not in profiles
    assert len(profiles) == len(request.documents)  # each document its own stamp
    with pytest.raises(Asked):
        await service.sign_pdf_batch(ADMITTED, request)


def test_pdf_verify_example_is_a_pdf(spec: Spec) -> None:
    parsed = parse_pdf_verify_request(request_example(spec, "/v1/pdf/verify"))
    assert parsed.pdf.startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("schema", "values"),
    [
        ("SignatureLevel", [lvl.value for lvl in SignatureLevel]),
        ("AppearanceProfile", [p.value for p in Profile]),
    ],
)
def test_request_enums_are_what_the_parser_accepts(
    spec: Spec, schema: str, values: list[str]
) -> None:
    assert schema_named(spec, schema)["enum"] == values
    example = request_example(spec, "/v1/pdf/sign")
    for value in values:
        parsed = parse_pdf_sign_request(
            {**example, "level": value}
            if schema == "SignatureLevel"
            else {**example, "appearance": {**example["appearance"], "profile": value}}
        )
        assert value in (parsed.options.level.value, parsed.options.appearance.profile.value)
    with pytest.raises(BadRequest, match="level"):
        parse_pdf_sign_request({**example, "level": B_LTA})


def test_verification_enums_are_those_of_the_report(spec: Spec) -> None:
    expected = {
        "SignatureKind": [k.value for k in SignatureKind],
        "RevocationStatus": [r.value for r in Revocation],
        "SignatureCoverage": [c.value for c in Coverage],
        "ModificationLevel": [m.value for m in Modifications],
        "VerificationProblem": [p.value for p in Problem],
        "PadesLevel": [*(lvl.value for lvl in SignatureLevel), B_LTA],
    }
    for name, values in expected.items():
        schema = schema_named(spec, name)
        assert schema["enum"] == values, name
        for value in values:
            assert f"`{value}`" in schema["description"], (name, value)


_CERT, _ISSUER = b"\x30\x82leaf", b"\x30\x82issuer"
_SIGNED_AT = datetime(2025, 3, 14, 9, 30, 12, tzinfo=timezone(timedelta(hours=7)))
#: A signature report with every optional field set.
_CHECKED = SignatureReport(
    field_name="Signature1",
    kind=SignatureKind.SIGNATURE,
    signer="Nguyễn Văn An",
    signer_certificate=_CERT,
    signing_time=_SIGNED_AT,
    intact=True,
    valid=True,
    trusted=True,
    chain=("CN=Nguyễn Văn An,C=VN", "CN=Kyso Test CA,C=VN"),
    revocation=Revocation.GOOD,
    timestamp=(_SIGNED_AT + timedelta(seconds=1)).astimezone(UTC),
    timestamp_valid=True,
    coverage=Coverage.ENTIRE_REVISION,
    modifications=Modifications.FORM_FILLING,
    docmdp_ok=True,
    level=B_LTA,
    problems=(Problem.REVOCATION_UNKNOWN,),
)
#: One with every optional field unset: a document timestamp that cannot be read, as the
#: verifier itself reports one.
_UNREADABLE = unreadable_report(
    Found("Signature2", SignatureKind.DOCUMENT_TIMESTAMP, revision=0, embedded=None),
    Problem.MALFORMED,
)


def verify_wire(report: VerificationReport) -> dict[str, Any]:
    """What ``POST /v1/pdf/verify`` answers for ``report``: the service's own wire form."""
    service = SigningService(NoTokens(), cast(Prompter, None))
    with mock.patch("agent.pdf.commands.PdfJob.verify", return_value=report):
        return asyncio.run(service.verify_pdf(PdfVerifyRequest(b"%PDF-"), Lang.EN)).to_wire()


_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"

WIRE: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/v1/info"): SigningService.info(),
    ("post", "/v1/certificates"): CertificateResponse(
        _CERT, (_ISSUER,), KeyType.RSA, TokenRef("VNPT-CA", "5404A1B2")
    ).to_wire(),
    ("post", "/v1/sign"): SignResponse(b"sig", "RS256", _CERT).to_wire(),
    ("post", "/v1/sign/batch"): BatchSignResponse(
        (b"s1", b"s2"), ("ES384", "ES384"), _CERT
    ).to_wire(),
    ("post", "/v1/pdf/sign"): PdfSignResponse(b"%PDF-1.7 signed", _CERT).to_wire(),
    # Signing the second of three failed: the first comes back, and what went wrong.
    ("post", "/v1/pdf/sign/batch"): PdfBatchSignResponse(
        ("QĐ 1.pdf", None, "QĐ 3.pdf"),
        (b"%PDF-1.7 signed",),
        _CERT,
        error=errors.SigningFailed("the time-stamping authority did not answer"),
    ).to_wire(Lang.EN),
    ("post", "/v1/cms/sign"): CmsSignResponse(b"\x30\x80cms", _CERT).to_wire(),
    ("post", "/v1/pdf/verify"): verify_wire(VerificationReport((_CHECKED, _UNREADABLE))),
    ("post", "/v1/xml/verify"): XmlVerifyResponse(XmlVerificationReport(()), "").to_wire(),
    ("post", "/v1/xml/sign"): XmlSignResponse(SignedXml(b"<a/>", _RSA_SHA256), _CERT).to_wire(),
    ("post", "/v1/xml/sign/batch"): XmlBatchSignResponse(
        (SignedXml(b"<a/>", _RSA_SHA256, "HĐ 1"), SignedXml(b"<b/>", _RSA_SHA256)), _CERT
    ).to_wire(),
}


#: Response fields that are sent only in some cases (samples above include them).
OPTIONAL_IN_RESPONSE = {"/v1/sign/batch": {"signatureAlgorithm"}, "/v1/pdf/sign/batch": {"error"}}


def test_batch_response_omits_the_common_algorithm_when_items_differ() -> None:
    wire = BatchSignResponse((b"a", b"b"), ("RS256", "RS512"), _CERT).to_wire()
    assert "signatureAlgorithm" not in wire
    assert wire["signatureAlgorithms"] == ["RS256", "RS512"]


def check_fields(
    spec: Spec,
    node: dict[str, Any],
    value: object,
    where: str,
    optional: frozenset[str] = frozenset(),
) -> None:
    """Every object in ``value`` has exactly the properties of its schema, each one required
    (but ``optional``, at the top, which may also be left out); arrays are checked item by
    item, constants by value, a ``oneOf`` by the branch of the value's properties."""
    schema = resolve(spec, node)
    if "oneOf" in schema:
        assert isinstance(value, dict), where
        [schema] = [
            branch
            for branch in map(functools.partial(resolve, spec), schema["oneOf"])
            if set(branch["properties"]) == set(value)
        ]
    if "const" in schema:
        assert value == schema["const"], where
    if isinstance(value, dict):
        assert set(value) <= set(schema["properties"]), where
        assert set(schema["properties"]) - set(value) <= optional, where
        assert set(schema["required"]) == set(value) - optional, where
        for name, inner in value.items():
            check_fields(spec, schema["properties"][name], inner, f"{where}.{name}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            check_fields(spec, schema["items"], inner, f"{where}.{index}")


def schema_validator(spec: Spec, node: dict[str, Any]) -> Any:
    """A JSON Schema validator (OpenAPI 3.1 dialect, formats checked) for ``node``."""
    oas = pytest.importorskip("openapi_schema_validator")
    root = {**node, "components": spec["components"]}
    return oas.OAS31Validator(root, format_checker=oas.oas31_format_checker)


def answer_schema(spec: Spec, method: str, path: str) -> dict[str, Any]:
    response = spec["paths"][path][method]["responses"]["200"]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def test_every_json_object_answer_has_a_wire_sample_here(spec: Spec) -> None:
    answering = {
        (method, path)
        for method, path, _ in operations(spec)
        if "properties" in resolve(spec, answer_schema(spec, method, path))
    }
    assert answering == set(WIRE)


@pytest.mark.parametrize(("method", "path"), sorted(WIRE))
def test_response_schema_has_exactly_the_fields_sent(spec: Spec, method: str, path: str) -> None:
    optional = frozenset(OPTIONAL_IN_RESPONSE.get(path, set()))
    schema = resolve(spec, answer_schema(spec, method, path))
    assert set(WIRE[method, path]) == set(schema["properties"])  # the samples send them all
    check_fields(spec, schema, WIRE[method, path], path, optional)


@pytest.mark.parametrize(("method", "path"), sorted(WIRE))
def test_response_sent_is_valid_by_its_schema(spec: Spec, method: str, path: str) -> None:
    schema_validator(spec, answer_schema(spec, method, path)).validate(WIRE[method, path])


def test_verify_samples_send_each_nullable_field_both_ways(spec: Spec) -> None:
    report = schema_named(spec, "SignatureReport")
    sent = WIRE["post", "/v1/pdf/verify"]["signatures"]
    for name, node in report["properties"].items():
        if allows_null(spec, node):
            assert {s[name] is None for s in sent} == {True, False}, name


def test_response_examples_have_exactly_the_fields_sent(spec: Spec) -> None:
    schemas = spec["components"]["schemas"]
    for name, key in [
        ("CertificateResponse", ("post", "/v1/certificates")),
        ("SignResponse", ("post", "/v1/sign")),
        ("BatchSignResponse", ("post", "/v1/sign/batch")),
        ("PdfSignResponse", ("post", "/v1/pdf/sign")),
        ("PdfBatchSignResponse", ("post", "/v1/pdf/sign/batch")),
        ("CmsSignResponse", ("post", "/v1/cms/sign")),
        ("PdfVerifyReport", ("post", "/v1/pdf/verify")),
        ("XmlSignResponse", ("post", "/v1/xml/sign")),
        ("XmlBatchSignResponse", ("post", "/v1/xml/sign/batch")),
    ]:
        optional = frozenset(OPTIONAL_IN_RESPONSE.get(key[1], set()))
        for example in schemas[name]["examples"]:
            assert set(WIRE[key]) - optional <= set(example) <= set(WIRE[key]), name
            check_fields(spec, schemas[name], example, name, optional)


def test_pdf_batch_examples_answer_all_signed_stopped_and_failed_midway(spec: Spec) -> None:
    examples = schema_named(spec, "PdfBatchSignResponse")["examples"]
    shapes = set()
    for example in examples:
        flags = [d["signed"] for d in example["documents"]]
        assert flags == [True] * example["signed"] + [False] * (len(flags) - example["signed"])
        assert [d["index"] for d in example["documents"]] == list(range(len(flags)))
        shapes.add(("error" in example, example["stopped"], example["signed"] == len(flags)))
    assert shapes == {(False, False, True), (False, True, False), (True, False, False)}


def test_pdf_batch_answer_gives_the_signed_documents_first_and_the_error_as_on_the_wire() -> None:
    failure = errors.TokenNotPresent("token removed")
    wire = PdfBatchSignResponse(("a", "b", None), (b"%PDF-a", b"%PDF-b"), _CERT).to_wire("vi")
    assert (wire["signed"], wire["stopped"], "error" in wire) == (2, False, False)
    assert [d["signed"] for d in wire["documents"]] == [True, True, False]
    wire = PdfBatchSignResponse(("a", "b"), (b"%PDF-a",), _CERT, error=failure).to_wire("en")
    assert wire["error"] == failure.to_wire("en")["error"]
    assert "pdf" not in wire["documents"][1]


def test_every_example_is_valid_by_its_schema(spec: Spec) -> None:
    for name, schema in spec["components"]["schemas"].items():
        validator = schema_validator(spec, {"$ref": f"#/components/schemas/{name}"})
        for example in schema.get("examples", []):
            validator.validate(example)
    for response in spec["components"]["responses"].values():
        media = response["content"]["application/json"]
        schema_validator(spec, media["schema"]).validate(media["example"])


# --- the handlers, called directly: form parts and size limits ----------------------------


class Recorder:
    """Stands in for the service behind the PDF handlers and keeps what they parsed."""

    def __init__(self) -> None:
        self.parsed: list[object] = []

    async def sign_pdf(self, _caller: Admitted, request: PdfSignRequest) -> PdfSignResponse:
        if isinstance(request.pdf, SpooledFile):  # kept as it came: the handler removes the file
            request = dataclasses.replace(request, pdf=request.pdf.read_bytes())
        self.parsed.append(request)
        return PdfSignResponse(b"%PDF-", _CERT)

    async def sign_pdf_batch(
        self, _caller: Admitted, request: PdfBatchSignRequest
    ) -> PdfBatchSignResponse:
        self.parsed.append(request)
        names = tuple(d.document_name for d in request.documents)
        return PdfBatchSignResponse(names, tuple(d.pdf for d in request.documents), _CERT)

    async def verify_pdf(self, request: PdfVerifyRequest, _lang: Lang) -> PdfVerifyResponse:
        # Whichever body it came in, the PDF waits in the spool (the handler removes the file).
        assert isinstance(request.pdf, SpooledFile), type(request.pdf)
        request = PdfVerifyRequest(request.pdf.read_bytes())
        self.parsed.append(request)
        return PdfVerifyResponse(VerificationReport(()), "")

    async def sign_xml(self, _caller: Admitted, request: XmlSignRequest) -> XmlSignResponse:
        self.parsed.append(request)
        return XmlSignResponse(SignedXml(b"<a/>", "rsa"), _CERT)

    async def sign_xml_batch(
        self, _caller: Admitted, request: XmlSignRequest
    ) -> XmlBatchSignResponse:
        self.parsed.append(request)
        return XmlBatchSignResponse((SignedXml(b"<a/>", "rsa"),), _CERT)

    async def verify_xml(self, request: XmlVerifyRequest, _lang: Lang) -> XmlVerifyResponse:
        self.parsed.append(request)
        return XmlVerifyResponse(XmlVerificationReport(()), "")


async def call_handler(
    path: str,
    body: bytes,
    content_type: str = "application/json",
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_pdf: int = DEFAULT_MAX_PDF,
    query: str = "",
    left: list[bytes] | None = None,
) -> list[object]:
    """Run the route's handler on ``body`` as the server would; what reached the service.
    ``left``: gets what the handler left of the body unread, however it ended."""
    app = web.Application()
    # As an agent configured with the examples' TSA, the only one a page may name.
    app[SETTINGS] = ServerSettings(
        OriginPolicy(), max_body, Lang.EN, max_pdf_bytes=max_pdf, tsa_url=EXAMPLE_TSA
    )
    recorder = Recorder()
    app[SERVICE] = cast(SigningService, recorder)
    payload = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(body)
    payload.feed_eof()
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    request = make_mocked_request("POST", path + query, headers, app=app, payload=payload)
    request[CALLER] = ADMITTED
    [handler] = [r.handler for r in routes if isinstance(r, web.RouteDef) and r.path == path]
    with tempfile.TemporaryDirectory() as directory:
        app[SPOOL] = Spool(Path(directory))
        try:
            await handler(request)
        finally:
            assert list(Path(directory).iterdir()) == []  # refused or answered, nothing left
            if left is not None:
                left.append(await payload.read())
    return recorder.parsed


def multipart(parts: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A form body of ``(name, content, content type)`` parts, and its Content-Type."""
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
        f"Content-Type: {kind}\r\n\r\n".encode()
        + content
        + b"\r\n"
        for name, content, kind in parts
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def form_parts(spec: Spec, pdf: bytes, options: dict[str, Any]) -> list[tuple[str, bytes, str]]:
    """The parts the spec's form schema names: the binary one gets the PDF, the other the JSON."""
    parts = []
    for name, node in form_schema(spec)["properties"].items():
        if node.get("format") == "binary":
            parts.append((name, pdf, node["contentMediaType"]))
        else:
            encoding = spec["paths"]["/v1/pdf/sign"]["post"]["requestBody"]["content"][
                "multipart/form-data"
            ]["encoding"][name]
            parts.append((name, json.dumps(options).encode(), encoding["contentType"]))
    return parts


async def test_form_upload_reaches_the_service_as_the_json_body_does(spec: Spec) -> None:
    example = request_example(spec, "/v1/pdf/sign")
    pdf = base64.b64decode(example.pop("pdf"))
    sent = {**example, "pdf": base64.b64encode(pdf).decode()}
    [from_json] = await call_handler("/v1/pdf/sign", json.dumps(sent).encode())
    body, content_type = multipart(form_parts(spec, pdf, example))
    [from_form] = await call_handler("/v1/pdf/sign", body, content_type)
    assert from_form == from_json
    required = form_schema(spec)["required"]
    body, content_type = multipart([p for p in form_parts(spec, pdf, {}) if p[0] in required])
    [bare] = await call_handler("/v1/pdf/sign", body, content_type)
    assert isinstance(bare, PdfSignRequest)
    assert bare.pdf == pdf
    for extra in ("unexpected", "pdf", "file"):
        parts = [*form_parts(spec, pdf, example), (extra, b"1", "text/plain")]
        body, content_type = multipart(parts)
        with pytest.raises(BadRequest, match=extra):
            await call_handler("/v1/pdf/sign", body, content_type)


def options_parameter(spec: Spec) -> dict[str, Any]:
    [parameter] = [
        p for p in spec["paths"]["/v1/pdf/sign"]["post"]["parameters"] if p.get("in") == "query"
    ]
    return parameter


async def test_raw_pdf_body_reaches_the_service_as_the_json_body_does(spec: Spec) -> None:
    example = request_example(spec, "/v1/pdf/sign")
    pdf = base64.b64decode(example.pop("pdf"))
    sent = {**example, "pdf": base64.b64encode(pdf).decode()}
    [from_json] = await call_handler("/v1/pdf/sign", json.dumps(sent).encode())
    query = "?options=" + urllib.parse.quote(json.dumps(example))
    [from_raw] = await call_handler("/v1/pdf/sign", pdf, PDF_MEDIA_TYPE, query=query)
    assert from_raw == from_json
    [bare] = await call_handler("/v1/pdf/sign", pdf, PDF_MEDIA_TYPE)
    assert isinstance(bare, PdfSignRequest)
    assert bare.pdf == pdf
    parameter = options_parameter(spec)
    assert parameter["name"] == "options"
    assert parameter["required"] is False
    # The same options as a form's, as JSON.
    form_options = form_schema(spec)["properties"]["options"]["$ref"]
    assert parameter["content"]["application/json"]["schema"] == {"$ref": form_options}


@pytest.mark.parametrize(
    "query",
    [
        "?options=%5B%5D",  # a list
        "?options=not-json",
        "?options=%7B%7D&options=%7B%7D",
        "?other=1",
        "?options=" + urllib.parse.quote(json.dumps({"reason": "a" * MAX_QUERY_OPTIONS})),
        "?options=" + urllib.parse.quote(json.dumps({"unexpected": 1})),
        "?options=" + urllib.parse.quote(json.dumps({"pin": "1234"})),
    ],
)
async def test_raw_pdf_options_other_than_one_json_object_are_refused(
    spec: Spec, query: str
) -> None:
    pdf = base64.b64decode(request_example(spec, "/v1/pdf/sign")["pdf"])
    with pytest.raises(BadRequest):
        await call_handler("/v1/pdf/sign", pdf, PDF_MEDIA_TYPE, query=query)
    assert f"{MAX_QUERY_OPTIONS} characters" in options_parameter(spec)["description"]


def verify_form_schema(spec: Spec) -> dict[str, Any]:
    body = spec["paths"]["/v1/pdf/verify"]["post"]["requestBody"]
    return resolve(spec, body["content"]["multipart/form-data"]["schema"])


async def test_pdf_to_verify_reaches_the_service_alike_as_json_a_form_or_itself(
    spec: Spec,
) -> None:
    pdf = base64.b64decode(request_example(spec, "/v1/pdf/verify")["pdf"])
    [from_json] = await call_handler(
        "/v1/pdf/verify", json.dumps({"pdf": base64.b64encode(pdf).decode()}).encode()
    )
    schema = verify_form_schema(spec)
    assert schema["required"] == ["file"]
    assert schema["properties"]["file"]["format"] == "binary"
    assert schema["properties"]["options"]["maxProperties"] == 0
    body, content_type = multipart([("file", pdf, PDF_MEDIA_TYPE)])
    [from_form] = await call_handler("/v1/pdf/verify", body, content_type)
    body, content_type = multipart([("options", b"{}", "application/json"), ("file", pdf, "x/y")])
    [with_options] = await call_handler("/v1/pdf/verify", body, content_type)
    [from_raw] = await call_handler("/v1/pdf/verify", pdf, PDF_MEDIA_TYPE)
    assert from_json == from_form == with_options == from_raw == PdfVerifyRequest(pdf)


@pytest.mark.parametrize(
    ("parts", "query", "refused"),
    [
        ([("options", b'{"level": "B-T"}', "application/json")], "", "options.level"),
        ([("options", b'{"pin": "1234"}', "application/json")], "", "options.pin"),
        ([("pdf", b"%PDF-", PDF_MEDIA_TYPE)], "", "pdf"),
        ([("file", b"%PDF-", PDF_MEDIA_TYPE)], "", "file"),  # a second file
        (None, "?options=" + urllib.parse.quote('{"reason": "x"}'), "options.reason"),
        (None, "?other=1", "other"),
    ],
)
async def test_pdf_to_verify_with_anything_beside_it_is_refused(
    spec: Spec, parts: list[tuple[str, bytes, str]] | None, query: str, refused: str
) -> None:
    pdf = base64.b64decode(request_example(spec, "/v1/pdf/verify")["pdf"])
    with pytest.raises(BadRequest, match=refused):
        if parts is None:
            await call_handler("/v1/pdf/verify", pdf, PDF_MEDIA_TYPE, query=query)
        else:
            body, content_type = multipart([("file", pdf, PDF_MEDIA_TYPE), *parts])
            await call_handler("/v1/pdf/verify", body, content_type)
    body, content_type = multipart([("options", b"{}", "application/json")])
    with pytest.raises(BadRequest, match="'file'"):
        await call_handler("/v1/pdf/verify", body, content_type)


@pytest.mark.parametrize(
    ("path", "wrong", "named"),
    [
        ("/v1/pdf/sign", {"unexpected": 1}, "options.unexpected"),
        ("/v1/pdf/sign", {"level": "B-X"}, "B-B"),  # the levels allowed
        ("/v1/pdf/sign", {"certificate": "AAAA"}, "certificate"),
        ("/v1/pdf/verify", {"level": "B-B"}, "options.level"),
    ],
)
async def test_options_are_refused_before_the_document_is_read(
    spec: Spec, path: str, wrong: dict[str, Any], named: str
) -> None:
    """A page's mistake in the options costs no upload: a raw body is left unread, and a form's
    file part after its options part too (a megabyte here, a hundred on a portal)."""
    pdf = base64.b64decode(request_example(spec, "/v1/pdf/sign")["pdf"]) + b"%" * 1024 * 1024
    left: list[bytes] = []
    query = "?options=" + urllib.parse.quote(json.dumps(wrong))
    with pytest.raises(BadRequest, match=named):
        await call_handler(path, pdf, PDF_MEDIA_TYPE, query=query, left=left)
    assert left == [pdf], "the body was not read"
    options = ("options", json.dumps(wrong).encode(), "application/json")
    body, content_type = multipart([options, ("file", pdf, PDF_MEDIA_TYPE)])
    left.clear()
    with pytest.raises(BadRequest, match=named):
        await call_handler(path, body, content_type, left=left)
    assert len(left[0]) > len(pdf) // 2, "most of the file part was not read"


@pytest.mark.parametrize("path", sorted(PARSERS))
async def test_each_operation_has_the_size_limit_it_documents(spec: Spec, path: str) -> None:
    pdf_sized = path in PDF_SIZED
    documented = "PdfPayloadTooLarge" if pdf_sized else "PayloadTooLarge"
    assert spec["paths"][path]["post"]["responses"]["413"] == {
        "$ref": f"#/components/responses/{documented}"
    }
    setting, default = (
        ("max_pdf_bytes", DEFAULT_MAX_PDF) if pdf_sized else ("max_body_bytes", DEFAULT_MAX_BODY)
    )
    described = spec["components"]["responses"][documented]["description"]
    assert f"`{setting}`" in described
    assert str(default) in described

    limits = {"max_body": 1024, "max_pdf": 4096}
    padded_object = b"{" + b" " * limits["max_body"] + b"}"
    if not pdf_sized:
        with pytest.raises(PayloadTooLarge) as refused:
            await call_handler(path, padded_object, **limits)
        assert refused.value.limit == limits["max_body"]
        return
    field = "documents" if path.endswith("/batch") else "xml" if "/xml/" in path else "pdf"
    # Past max_body_bytes, a PDF operation still reads the object (and finds no "pdf").
    with pytest.raises(BadRequest, match=field):
        await call_handler(path, padded_object, **limits)
    if "/xml/" in path or path.endswith("/batch"):
        await documents_within_the_pdf_limit(spec, path, limits)
        return
    example = request_example(spec, path)
    pdf = base64.b64decode(example["pdf"])
    largest = pdf + b"%" * (limits["max_pdf"] - len(pdf))
    sent = {**example, "pdf": base64.b64encode(largest).decode()}
    [parsed] = await call_handler(path, json.dumps(sent).encode(), **limits)
    assert cast(PdfVerifyRequest, parsed).pdf == largest
    sent = {**example, "pdf": base64.b64encode(largest + b"%").decode()}
    with pytest.raises(PayloadTooLarge) as refused:
        await call_handler(path, json.dumps(sent).encode(), **limits)
    assert refused.value.limit == limits["max_pdf"]
    if path in MEDIA_TYPES:
        [parsed] = await call_handler(path, *multipart(form_parts(spec, largest, {})), **limits)
        assert cast(PdfSignRequest, parsed).pdf == largest
        with pytest.raises(PayloadTooLarge) as refused:
            await call_handler(path, *multipart(form_parts(spec, largest + b"%", {})), **limits)
        assert refused.value.limit == limits["max_pdf"]
        [parsed] = await call_handler(path, largest, PDF_MEDIA_TYPE, **limits)
        assert cast(PdfSignRequest, parsed).pdf == largest
        with pytest.raises(PayloadTooLarge) as refused:
            await call_handler(path, largest + b"%", PDF_MEDIA_TYPE, **limits)
        assert refused.value.limit == limits["max_pdf"]


async def documents_within_the_pdf_limit(spec: Spec, path: str, limits: dict[str, int]) -> None:
    """XML documents, or a batch's PDFs, in all as large as ``max_pdf_bytes`` and not one
    byte larger."""
    example = request_example(spec, path)
    if path.endswith("/batch"):
        first = example["documents"][0]
        half = limits["max_pdf"] // 2
        key, filler = ("pdf", b"%") if "/pdf/" in path else ("xml", b" ")

        def sent(extra: int) -> dict[str, Any]:
            blob = base64.b64encode(filler * (half + extra)).decode()
            return {**example, "documents": [{**first, key: blob}] * 2}

        size = 2 * half
    else:

        def sent(extra: int) -> dict[str, Any]:
            blob = base64.b64encode(b" " * (limits["max_pdf"] + extra)).decode()
            return {**example, "xml": blob}

        size = limits["max_pdf"]
    [parsed] = await call_handler(path, json.dumps(sent(0)).encode(), **limits)
    assert getattr(parsed, "size", None) in (size, None)
    with pytest.raises(PayloadTooLarge) as refused:
        await call_handler(path, json.dumps(sent(1)).encode(), **limits)
    assert refused.value.limit == limits["max_pdf"]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 1000, 3 * 1024 * 1024 + 1])
def test_the_pdf_answer_assembled_as_bytes_is_the_json_of_its_wire_form(size: int) -> None:
    answer = PdfSignResponse(bytes(range(256)) * (size // 256) + bytes(size % 256), _CERT)
    assert json.loads(answer.to_json_bytes()) == answer.to_wire()
