"""API v1 requests and responses: parsed once here, typed everywhere after.

Every ``parse_*`` function takes the decoded JSON value of a request body and
returns a frozen dataclass or raises :class:`~agent.errors.BadRequest` with a
message that tells the caller which field is wrong. Binary values are standard
base64 (RFC 4648 section 4, with padding).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from agent.algorithms import HashAlgorithm, KeyType, RsaScheme
from agent.errors import BadRequest

API_VERSION: Final = 1
MAX_BATCH_ITEMS: Final = 1000
MAX_DOCUMENT_NAME: Final = 255

_INVISIBLE: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SECRET_WORDS: Final = frozenset({"password", "passcode", "passphrase", "secret"})


@dataclass(frozen=True)
class DigestToSign:
    """One precomputed digest and what it belongs to."""

    digest: bytes
    """The hash value; its length matches ``algorithm``."""
    algorithm: HashAlgorithm
    """The hash algorithm that produced ``digest``."""
    document_name: str | None = None
    """What the user is shown; ``None`` when the portal gave no name."""


@dataclass(frozen=True)
class CertificatesRequest:
    """``POST /v1/certificates``: the user picks a certificate. No fields."""


@dataclass(frozen=True)
class SignRequest:
    """``POST /v1/sign``."""

    item: DigestToSign
    """The digest to sign."""
    certificate: bytes | None = None
    """DER certificate to sign with; ``None`` lets the user choose."""
    scheme: RsaScheme | None = None
    """RSA padding; ``None`` means PKCS#1 v1.5. Refused for EC keys."""


@dataclass(frozen=True)
class BatchSignRequest:
    """``POST /v1/sign/batch``: one consent, one login, many digests."""

    items: tuple[DigestToSign, ...]
    """1 to 1000 digests, signed in this order."""
    certificate: bytes | None = None
    """DER certificate to sign with; ``None`` lets the user choose."""
    scheme: RsaScheme | None = None
    """RSA padding for every item."""


@dataclass(frozen=True)
class TokenRef:
    """Which token a certificate lives on, as shown to the caller."""

    label: str
    """Token label."""
    serial: str
    """Token serial number."""


@dataclass(frozen=True)
class CertificateResponse:
    """Answer to ``POST /v1/certificates``."""

    certificate: bytes
    chain: tuple[bytes, ...]
    key_type: KeyType
    token: TokenRef

    def to_wire(self) -> dict[str, Any]:
        """JSON body."""
        return {
            "certificate": b64encode(self.certificate),
            "chain": [b64encode(c) for c in self.chain],
            "keyType": self.key_type.value,
            "token": {"label": self.token.label, "serial": self.token.serial},
        }


@dataclass(frozen=True)
class SignResponse:
    """Answer to ``POST /v1/sign``."""

    signature: bytes
    signature_algorithm: str
    certificate: bytes

    def to_wire(self) -> dict[str, Any]:
        """JSON body."""
        return {
            "signature": b64encode(self.signature),
            "signatureAlgorithm": self.signature_algorithm,
            "certificate": b64encode(self.certificate),
        }


@dataclass(frozen=True)
class BatchSignResponse:
    """Answer to ``POST /v1/sign/batch``."""

    signatures: tuple[bytes, ...]
    signature_algorithms: tuple[str, ...]
    """One per signature: items may use different hash algorithms."""
    certificate: bytes

    def to_wire(self) -> dict[str, Any]:
        """JSON body; ``signatureAlgorithm`` appears when every item shares one."""
        wire: dict[str, Any] = {
            "signatures": [b64encode(s) for s in self.signatures],
            "signatureAlgorithms": list(self.signature_algorithms),
            "certificate": b64encode(self.certificate),
        }
        if len(set(self.signature_algorithms)) == 1:
            wire["signatureAlgorithm"] = self.signature_algorithms[0]
        return wire


def b64encode(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(value: Any, field: str) -> bytes:
    """Decode a required, non-empty standard base64 string."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"'{field}' must be a non-empty base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"'{field}' is not valid base64") from exc


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Decode a request body that must be one JSON object."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest("the body is not valid JSON") from exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply") from exc
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value


@functools.lru_cache(maxsize=256)
def _looks_secret(key: str) -> bool:
    """Whether a field name looks like it carries a PIN or password."""
    word = re.sub(r"[^a-z0-9]", "", key.lower())
    return word.startswith("pin") or word.endswith("pin") or word in _SECRET_WORDS


def _refuse_secrets(value: Any, path: str = "") -> None:
    """A PIN never travels over the API: refuse any field that looks like one."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(key, str) and _looks_secret(key):
                raise BadRequest(
                    f"field '{path}{key}' is not accepted: the PIN is typed only into "
                    "Kyso Agent's own dialog, never sent by a web page"
                )
            _refuse_secrets(inner, f"{path}{key}.")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _refuse_secrets(inner, f"{path}{index}.")


def _check_fields(
    obj: Mapping[str, Any], required: frozenset[str], optional: frozenset[str], where: str
) -> None:
    _refuse_secrets(obj, where)
    unknown = sorted(set(obj) - required - optional)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(f'{where}{k}' for k in unknown)}")
    missing = sorted(required - set(obj))
    if missing:
        raise BadRequest(f"missing field(s) {', '.join(f'{where}{k}' for k in missing)}")


def _document_name(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{field}' must be a string")
    if len(value) > MAX_DOCUMENT_NAME:
        raise BadRequest(f"'{field}' is longer than {MAX_DOCUMENT_NAME} characters")
    if any(unicodedata.category(c) in _INVISIBLE for c in value):
        # Control, format (bidi overrides and isolates, zero-width marks) and separator
        # characters could make the prompt show a name other than the real one.
        raise BadRequest(f"'{field}' contains control or invisible formatting characters")
    return value.strip() or None


def _digest_item(obj: Mapping[str, Any], where: str) -> DigestToSign:
    try:
        algorithm = HashAlgorithm(obj["hashAlgorithm"])
    except (ValueError, TypeError) as exc:
        allowed = ", ".join(a.value for a in HashAlgorithm)
        raise BadRequest(f"'{where}hashAlgorithm' must be one of {allowed}") from exc
    digest = b64decode(obj["hash"], f"{where}hash")
    if len(digest) != algorithm.digest_size:
        raise BadRequest(
            f"'{where}hash' is {len(digest)} bytes but {algorithm.value} digests are "
            f"{algorithm.digest_size} bytes"
        )
    return DigestToSign(
        digest, algorithm, _document_name(obj.get("documentName"), f"{where}documentName")
    )


def _certificate(obj: Mapping[str, Any]) -> bytes | None:
    if obj.get("certificate") is None:
        return None
    return b64decode(obj["certificate"], "certificate")


def _scheme(obj: Mapping[str, Any]) -> RsaScheme | None:
    if obj.get("scheme") is None:
        return None
    try:
        return RsaScheme(obj["scheme"])
    except (ValueError, TypeError) as exc:
        raise BadRequest("'scheme' must be 'PKCS1v15' or 'PSS'") from exc


_ITEM_FIELDS: Final = frozenset({"hash", "hashAlgorithm"}), frozenset({"documentName"})


def parse_certificates_request(obj: dict[str, Any]) -> CertificatesRequest:
    """Parse ``POST /v1/certificates``."""
    _check_fields(obj, frozenset(), frozenset(), "")
    return CertificatesRequest()


def parse_sign_request(obj: dict[str, Any]) -> SignRequest:
    """Parse ``POST /v1/sign``."""
    _check_fields(
        obj,
        _ITEM_FIELDS[0],
        _ITEM_FIELDS[1] | {"certificate", "scheme"},
        "",
    )
    return SignRequest(_digest_item(obj, ""), _certificate(obj), _scheme(obj))


def parse_batch_sign_request(obj: dict[str, Any]) -> BatchSignRequest:
    """Parse ``POST /v1/sign/batch``."""
    _check_fields(obj, frozenset({"items"}), frozenset({"certificate", "scheme"}), "")
    raw_items = obj["items"]
    if not isinstance(raw_items, list) or not 1 <= len(raw_items) <= MAX_BATCH_ITEMS:
        raise BadRequest(f"'items' must be a list of 1 to {MAX_BATCH_ITEMS} objects")
    items = []
    for index, raw in enumerate(raw_items):
        where = f"items.{index}."
        if not isinstance(raw, dict):
            raise BadRequest(f"'{where[:-1]}' must be an object")
        _check_fields(raw, *_ITEM_FIELDS, where)
        items.append(_digest_item(raw, where))
    return BatchSignRequest(tuple(items), _certificate(obj), _scheme(obj))
